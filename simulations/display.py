"""Contact sheets of stamp sets (pure: no torch, no Django).

Drawn by the one imaging layer (``core.display``): the same pictures as the
web pages' (g,r,i composite where the set has those bands, else its grey
band; sky-noise scaling, masked pixels in one colour, a scale bar).
"""

from pathlib import Path

import numpy as np

from core import display

#: Width of the column that names each row's kind and count, pixels.
ROW_TITLE_PX = 150


def _caption(meta, i):
    parts = []
    if "theta_e" in meta.colnames and meta["theta_e"][i] > 0:
        parts.append(f"tE={meta['theta_e'][i]:.1f}")
    if "snr" in meta.colnames and meta["snr"][i] > 0:
        parts.append(f"S/N={meta['snr'][i]:.0f}")
    elif "feature_snr" in meta.colnames and meta["feature_snr"][i] > 0:
        parts.append(f"S/N={meta['feature_snr'][i]:.0f}")
    return " ".join(parts)


def write_contact_sheet(
    stampset_path: str | Path, png_path: str | Path, columns: int = 8
) -> str | Path:
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
        shown = members[:columns]
        tiles = [display.stamp_picture(s.stamps(int(i)), s.bands) for i in shown]
        rows.append((f"{group} ({len(members)})", tiles, [_caption(meta, i) for i in shown]))
    w = s.cube.shape[-1]
    tile_px = w * max(1, 96 // max(w, 1) + 1)
    png = display.contact_sheet(
        rows,
        tile_px=max(16, tile_px),
        row_title_px=ROW_TITLE_PX,
        pixscale_arcsec=s.pixscale_arcsec,
        columns=columns,
    )
    with open(png_path, "wb") as out:
        out.write(png)
    return png_path
