"""Contact sheets of candidate stamps as one PNG (pure: no Django).

Like He et al. (2020, Fig. 7): a grid of g,r,i composites, each with its name
and scores written on a dark band under it.
"""

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from inspection.cutouts import stretch_grey

BAND_COLOUR = (24, 24, 24)
TEXT_COLOUR = (255, 255, 255)
_PAD_PX = 3


def _font_px(tile_px):
    return max(9, tile_px // 15)  # 12 px at 192: a 25-character KiDS name fits


def _line_px(tile_px):
    return _font_px(tile_px) + 3


def label_band_px(labels, tile_px=192):
    """Height (pixels) of the text band under every tile: one line per line of the longest label."""
    lines = max((str(label).count("\n") + 1 for label in labels), default=1)
    return lines * _line_px(tile_px) + 2 * _PAD_PX


def title_band_px(tile_px=192):
    """Height (pixels) of the title band at the top of a sheet that has a title."""
    return int(_font_px(tile_px) * 1.5) + 2 * _PAD_PX + 4


def _rgb(tile, tile_px):
    tile = np.asarray(tile)
    if tile.ndim == 3 and tile.shape[2] == 3 and tile.dtype == np.uint8:
        pixels = tile
    elif tile.ndim == 2 and min(tile.shape) > 0:
        pixels = np.repeat(stretch_grey(tile, "asinh")[:, :, None], 3, axis=2)
    else:
        raise ValueError(
            f"Each tile must be an (H, W, 3) uint8 RGB image (e.g. from "
            f"inspection.cutouts.lupton_rgb) or a 2-d float stamp, not {tile.dtype} of "
            f"shape {tile.shape}."
        )
    image = Image.fromarray(np.ascontiguousarray(pixels))
    # Upscaled stamps keep visible pixels (as render_png does); larger ones are smoothed.
    upscale = max(image.size) <= tile_px
    resample = Image.Resampling.NEAREST if upscale else Image.Resampling.BILINEAR
    return image.resize((tile_px, tile_px), resample)


def _write(draw, xy, text, font):
    draw.multiline_text(xy, text, fill=TEXT_COLOUR, font=font, spacing=3)


def _png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def contact_sheet(tiles, labels, columns=6, tile_px=192, title=None):
    """A PNG of stamps in a grid, each with its label on a dark band under it.

    Parameters
    ----------
    tiles : sequence of ndarray
        (H, W, 3) uint8 RGB composites (:func:`inspection.cutouts.lupton_rgb`)
        or 2-d float stamps (shown grey with an asinh stretch), of any size;
        each is resized to ``tile_px`` square.
    labels : sequence of str
        One per tile; ``"\\n"`` starts a second line, e.g.
        ``"KIDS J085446.55-012137.14\\np=0.998  total 9"``. Text wider than a
        tile is cut at the tile's edge.
    columns : int
        Tiles per row. A sheet with fewer tiles than ``columns`` is only as
        wide as its tiles.
    tile_px : int
        Width and height of each stamp on the sheet, pixels (>= 16).
    title : str, optional
        Written on a band across the top.

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
    if isinstance(tile_px, bool) or not isinstance(tile_px, int | np.integer) or tile_px < 16:
        raise ValueError(f"tile_px must be a whole number of pixels >= 16, not {tile_px!r}.")
    if len(labels) != len(tiles):
        raise ValueError(f"Give one label per tile: {len(tiles)} tiles but {len(labels)} labels.")
    font = ImageFont.load_default(size=_font_px(tile_px))
    if len(tiles) == 0:
        sheet = Image.new("RGB", (max(2 * tile_px, 160), 2 * _line_px(tile_px)), BAND_COLOUR)
        _write(ImageDraw.Draw(sheet), (2 * _PAD_PX, _PAD_PX * 2), "no candidates", font)
        return _png(sheet)

    columns = min(columns, len(tiles))
    rows = -(-len(tiles) // columns)
    band_px = label_band_px(labels, tile_px)
    top_px = title_band_px(tile_px) if title else 0
    cell_px = tile_px + band_px
    sheet = Image.new("RGB", (columns * tile_px, top_px + rows * cell_px), BAND_COLOUR)
    if title:
        title_font = ImageFont.load_default(size=int(_font_px(tile_px) * 1.5))
        _write(ImageDraw.Draw(sheet), (2 * _PAD_PX, _PAD_PX + 2), str(title), title_font)
    band = Image.new("RGB", (tile_px, band_px))
    draw = ImageDraw.Draw(band)
    for k, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        x, y = (k % columns) * tile_px, top_px + (k // columns) * cell_px
        sheet.paste(_rgb(tile, tile_px), (x, y))
        # Drawn on its own band so that a long label is cut, not spilled onto the next cell.
        draw.rectangle((0, 0, tile_px, band_px), fill=BAND_COLOUR)
        _write(draw, (_PAD_PX, _PAD_PX), str(label), font)
        sheet.paste(band, (x, y + tile_px))
    return _png(sheet)
