"""Stretches and contact sheets for looking at stamps (pure: numpy + Pillow)."""

import numpy as np
from PIL import Image, ImageDraw

STRETCHES = ("asinh", "linear", "log", "zscale")


def _robust_sigma(image):
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return 1.0
    mad = np.median(np.abs(finite - np.median(finite)))
    return 1.4826 * mad if mad > 0 else (finite.std() or 1.0)


def stretch(image, kind="asinh", softening=3.0):
    """Map a 2-d image to [0, 1] for display; NaN -> 0.

    ``asinh``: Lupton-style, ``asinh(x / (softening sigma))`` scaled to the
    99.5th percentile; ``linear`` and ``log`` between the 1st and 99.5th
    percentiles; ``zscale``: linear within median +- 2.5 sigma (a robust
    cousin of IRAF's zscale).
    """
    if kind not in STRETCHES:
        raise ValueError(f"Unknown stretch {kind!r}: choose one of {', '.join(STRETCHES)}.")
    img = np.nan_to_num(np.asarray(image, np.float64), nan=0.0)
    sigma = _robust_sigma(img)
    sky = np.median(img)
    if kind == "asinh":
        scaled = np.arcsinh((img - sky) / (softening * sigma))
        top = np.percentile(scaled, 99.5) or 1.0
        out = scaled / top
    elif kind == "zscale":
        out = (img - (sky - 2.5 * sigma)) / (5 * sigma)
    else:
        low, high = np.percentile(img, [1.0, 99.5])
        out = (img - low) / ((high - low) or 1.0)
        if kind == "log":
            out = np.log10(1 + 999 * np.clip(out, 0, 1)) / 3
    return np.clip(out, 0.0, 1.0)


def to_png_array(stamp, kind="asinh"):
    """(H, W) grey or (3, H, W) colour stamp -> uint8 (H, W) or (H, W, 3)."""
    stamp = np.asarray(stamp)
    if stamp.ndim == 3 and stamp.shape[0] == 3:
        # g, r, i -> b, g, r: one shared stretch keeps the colours.
        rgb = np.stack([stamp[2], stamp[1], stamp[0]], axis=-1)
        flat = stretch(rgb.reshape(rgb.shape[0], -1), kind).reshape(rgb.shape)
        return (flat * 255).astype(np.uint8)
    if stamp.ndim == 3:
        stamp = stamp[stamp.shape[0] // 2]
    return (stretch(stamp, kind) * 255).astype(np.uint8)


def _caption(meta, i):
    parts = []
    if "theta_e" in meta.colnames and meta["theta_e"][i] > 0:
        parts.append(f"tE={meta['theta_e'][i]:.1f}")
    if "snr" in meta.colnames and meta["snr"][i] > 0:
        parts.append(f"S/N={meta['snr'][i]:.0f}")
    elif "feature_snr" in meta.colnames and meta["feature_snr"][i] > 0:
        parts.append(f"S/N={meta['feature_snr'][i]:.0f}")
    return " ".join(parts)


def write_contact_sheet(stampset_path, png_path, columns=8):
    """A contact sheet of a stamp-set file with one row per kind and subkind
    (META ``kind``/``subkind``), the first ``columns`` stamps of each, so that
    a person sees at a glance what the set holds. Each row starts with its
    kind and count; stamps are captioned with theta_E (arcsec) and arc S/N
    where known. Sets without ``kind`` get rows of ``label``."""
    from simulations.stampset import read_stampset

    s = read_stampset(stampset_path)
    meta = s.meta
    if "kind" in meta.colnames:
        kind = np.asarray(meta["kind"]).astype(str)
        sub = np.asarray(meta["subkind"]).astype(str) if "subkind" in meta.colnames else None
        groups = kind if sub is None else np.char.add(np.char.add(kind, " "), sub)
    else:
        groups = np.char.add("label ", s.labels.astype(str))
    groups = np.char.strip(groups.astype(str))
    rows = []
    for group in sorted(set(groups), key=lambda g: (not g.startswith("lens"), g)):
        members = np.flatnonzero(groups == group)
        rows.append((f"{group} ({len(members)})", members[:columns]))
    h, w = s.cube.shape[-2:]
    scale = max(1, 96 // w + 1)
    label_w, cell_w, cell_h = 150, w * scale, h * scale + 14
    sheet = Image.new("RGB", (label_w + columns * cell_w, max(1, len(rows)) * cell_h), "black")
    draw = ImageDraw.Draw(sheet)
    for r, (title, members) in enumerate(rows):
        y0 = r * cell_h
        draw.text((4, y0 + cell_h // 2 - 6), title[:24], fill="white")
        for c, i in enumerate(members):
            stamp = s.stamps(int(i))
            arr = to_png_array(stamp if stamp.shape[0] == 3 else stamp[0])
            tile = Image.fromarray(arr).convert("RGB").resize((cell_w, h * scale), Image.NEAREST)
            x0 = label_w + c * cell_w
            sheet.paste(tile, (x0, y0))
            draw.text((x0 + 2, y0 + h * scale + 1), _caption(meta, i)[:28], fill="white")
    sheet.save(png_path)
    return png_path
