"""Contact sheets of candidate stamps as one PNG (pure: no Django).

Like He et al. (2020, Fig. 7): a grid of g,r,i composites, each with its name
and scores written on a dark band under it. Drawn by the one imaging layer
(``core.display.contact_sheet``), which the simulator's sheets use too.
"""

from collections.abc import Sequence

import numpy as np

from core.display import (  # noqa: F401  (re-exported)
    BAND_COLOUR,
    TEXT_COLOUR,
    label_band_px,
    title_band_px,
)
from core.display import contact_sheet as _sheet


def contact_sheet(
    tiles: Sequence[np.ndarray],
    labels: Sequence[str],
    columns: int = 6,
    tile_px: int = 192,
    title: str | None = None,
    pixscale_arcsec: float | None = None,
) -> bytes:
    r"""A PNG of stamps in a grid, each with its label on a dark band under it.

    Parameters
    ----------
    tiles : sequence of ndarray
        (H, W, 3) uint8 RGB composites (:func:`core.display.lupton_rgb`)
        or 2-d float stamps (shown grey with the asinh stretch), of any size;
        each is resized to ``tile_px`` square.
    labels : sequence of str
        One per tile; ``"\n"`` starts a second line, e.g.
        ``"KIDS J085446.55-012137.14\np=0.998  total 9"``. Text wider than a
        tile is cut at the tile's edge.
    columns : int
        Tiles per row. A sheet with fewer tiles than ``columns`` is only as
        wide as its tiles.
    tile_px : int
        Width and height of each stamp on the sheet, pixels (>= 16).
    title : str, optional
        Written on a band across the top.
    pixscale_arcsec : float, optional
        Arcsec per pixel of the tiles: a scale bar on each.

    Returns
    -------
    bytes
        The PNG: ``min(columns, N) * tile_px`` wide and
        ``rows * (tile_px + label_band_px(labels, tile_px))`` high, plus
        ``title_band_px(tile_px)`` with a title. No tiles give a small PNG
        that says "no candidates".
    """
    if isinstance(columns, bool) or not isinstance(columns, int | np.integer) or columns < 1:
        raise ValueError(f"columns must be a whole number >= 1, not {columns!r}.")
    if len(labels) != len(tiles):
        raise ValueError(f"Give one label per tile: {len(tiles)} tiles but {len(labels)} labels.")
    rows = [
        (None, tiles[k : k + columns], labels[k : k + columns])
        for k in range(0, len(tiles), columns)
    ]
    return _sheet(
        rows,
        tile_px=tile_px,
        title=title,
        pixscale_arcsec=pixscale_arcsec,
        empty_text="no candidates",
    )
