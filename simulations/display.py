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


def contact_sheet(stamps, captions, path, columns=8, scale=2, kind="asinh"):
    """Write a PNG grid of ``stamps`` (N, B, H, W) with a caption under each."""
    stamps = np.asarray(stamps)
    n, _, h, w = stamps.shape
    rows = max(1, -(-n // columns))
    cell_w, cell_h = w * scale, h * scale + 14
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), "black")
    draw = ImageDraw.Draw(sheet)
    for i in range(n):
        arr = to_png_array(stamps[i] if stamps.shape[1] == 3 else stamps[i, 0], kind)
        tile = Image.fromarray(arr).convert("RGB").resize((w * scale, h * scale), Image.NEAREST)
        x0, y0 = (i % columns) * cell_w, (i // columns) * cell_h
        sheet.paste(tile, (x0, y0))
        draw.text((x0 + 2, y0 + h * scale + 1), str(captions[i])[:28], fill="white")
    sheet.save(path)
    return path


def write_contact_sheet(stampset_path, png_path, n=48, columns=8):
    """A contact sheet of the first ``n`` stamps of a stamp-set file, captioned
    with kind, theta_E (arcsec) and arc S/N where known."""
    from simulations.stampset import read_stampset

    s = read_stampset(stampset_path)
    idx = list(range(min(n, len(s))))
    meta = s.meta
    captions = []
    for i in idx:
        parts = [str(meta["kind"][i]) if "kind" in meta.colnames else str(meta["id"][i])]
        if "theta_e" in meta.colnames and meta["theta_e"][i] > 0:
            parts.append(f"tE={meta['theta_e'][i]:.1f}")
        if "snr" in meta.colnames and meta["snr"][i] > 0:
            parts.append(f"S/N={meta['snr'][i]:.0f}")
        captions.append(" ".join(parts))
    scale = max(1, 96 // s.cube.shape[-1] + 1)
    return contact_sheet(s.stamps(idx), captions, png_path, columns=columns, scale=scale)
