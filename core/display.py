"""The one imaging layer for pictures of stamps (pure: numpy, scipy and
Pillow; no torch, no Django).

Every picture of a stamp (grading, training, known items, survey pages, the
catalogue gallery, the evaluation report, the simulator's contact sheets)
is made here, so that one stamp looks the same everywhere:

- **Scaled on the sky noise**, never on the brightest pixel: each stamp has
  its sky (median) subtracted and is divided by its noise sigma, both from
  the outer frame (``core.noise``, the networks' own estimate). The black
  point is ``LOW_SIGMA`` below the sky; the white point the 99.5th
  percentile of the *central* half of the stamp (the object looked at), at
  least ``MIN_WHITE_SIGMA``: a bright star in a corner cannot darken the
  galaxy.
- **Masked pixels** (NaN: masked blocks, tile edges, beyond the image) in
  one distinct colour, :data:`MASK_RGB`, in every picture.
- **A scale bar** in arcseconds where the pixel scale is known.
- PNGs written with ``compress_level=1`` (fast; docs/design.md).

``RENDERING`` names this look: cached previews made under another are stale.
"""

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.noise import sky_and_noise

#: Bumped whenever a picture of the same stamp changes (cached previews are dropped).
RENDERING = "2"

STRETCHES = ("asinh", "linear", "log", "zscale", "unsharp")
#: Masked (NaN) pixels, in every picture: a purple no stretch or composite gives.
MASK_RGB = (110, 0, 140)
BAR_RGB = (255, 255, 255)
SHADOW_RGB = (0, 0, 0)

#: Black point, in noise sigmas from the sky (asinh, linear, log).
LOW_SIGMA = -2.0
#: The white point is never below this many sigma (a blank stamp stays dark).
MIN_WHITE_SIGMA = 10.0
#: Percentile of the central half of the stamp that is white.
WHITE_PERCENTILE = 99.5
#: asinh softening, sigma: linear for the noise and faint arcs, logarithmic above.
SOFTENING_SIGMA = 3.0
#: ``log``: astropy's LogStretch ``a``.
LOG_A = 1000.0
#: ``zscale``: linear over this range of sigma about the sky (what IRAF's
#: zscale gives for a noise-dominated stamp).
ZSCALE_SIGMA = (-3.0, 5.0)
#: ``unsharp``: the stamp minus itself smoothed by a Gaussian of this sigma,
#: pixels (about twice a KiDS or LSST seeing sigma), shown linear over
#: ``UNSHARP_SIGMA`` noise sigmas: a lens galaxy's smooth light goes and the
#: thin arcs and rings stay, where ``zscale`` saturates a bright lens
#: (the training's reveal view; docs/design.md).
UNSHARP_SMOOTH_PX = 3.0
UNSHARP_SIGMA = (-3.0, 8.0)
#: Scale bar lengths, arcsec: the longest that is at most a quarter of the width.
BAR_ARCSEC = (0.5, 1, 2, 5, 10, 20, 30, 60)


def _check_stretch(stretch):
    if stretch not in STRETCHES:
        raise ValueError(f"Unknown stretch {stretch!r}: choose one of {', '.join(STRETCHES)}.")


def grey_band(bands: Sequence[str]) -> str:
    """The band shown as the grey image: r, else the first band."""
    return "r" if "r" in bands else bands[0]


def has_rgb(bands: Sequence[str]) -> bool:
    """Whether stamps in these bands have a g,r,i composite."""
    return all(b in bands for b in "gri")


def in_sigma(image: np.ndarray) -> np.ndarray:
    """``(image - sky) / sigma`` (float64, NaN where masked), sky and sigma
    from the outer frame (``core.noise.sky_and_noise``)."""
    image = np.asarray(image, np.float64)
    sky, sigma = sky_and_noise(image)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(image), (image - float(sky)) / float(sigma), np.nan)


def white_sigma(x: np.ndarray) -> float:
    """The white point of a stamp in sigma units (see the module docstring)."""
    h, w = x.shape
    centre = x[h // 4 : h - h // 4, w // 4 : w - w // 4]
    centre = centre[np.isfinite(centre)]
    top = np.percentile(centre, WHITE_PERCENTILE) if centre.size else 0.0
    return max(float(top), MIN_WHITE_SIGMA)


def _smoothed(x: np.ndarray, sigma_px: float) -> np.ndarray:
    """``x`` smoothed by a Gaussian, masked (NaN) pixels left out of every
    mean (normalised convolution) and kept NaN."""
    from scipy.ndimage import gaussian_filter

    good = np.isfinite(x)
    weight = gaussian_filter(good.astype(np.float64), sigma_px, mode="nearest")
    total = gaussian_filter(np.where(good, x, 0.0), sigma_px, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(good, total / weight, np.nan)


def stretch(image: np.ndarray, preset: str = "asinh") -> np.ndarray:
    """A 2-d stamp -> display levels in [0, 1] with one of :data:`STRETCHES`
    (NaN where masked).

    All are in units of the stamp's noise sigma about its sky, up to
    :func:`white_sigma`: ``asinh`` (softened at ``SOFTENING_SIGMA``),
    ``linear``, ``log`` (astropy's LogStretch, a=1000) from ``LOW_SIGMA``;
    ``zscale`` linear over ``ZSCALE_SIGMA``; ``unsharp`` the stamp minus
    its Gaussian-smoothed self, linear over ``UNSHARP_SIGMA``.
    """
    _check_stretch(preset)
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"A stretch takes a 2-d stamp, not an array of shape {image.shape}.")
    x = in_sigma(image)
    if preset == "unsharp":
        x = x - _smoothed(x, UNSHARP_SMOOTH_PX)
    if preset == "zscale":
        low, high = ZSCALE_SIGMA
    elif preset == "unsharp":
        low, high = UNSHARP_SIGMA
    else:
        low, high = LOW_SIGMA, white_sigma(x)
    if preset == "asinh":
        s = SOFTENING_SIGMA
        floor = np.arcsinh(low / s)
        out = (np.arcsinh(x / s) - floor) / (np.arcsinh(high / s) - floor)
    else:
        out = (x - low) / (high - low)
        if preset == "log":
            out = np.log1p(LOG_A * np.clip(out, 0.0, 1.0)) / np.log1p(LOG_A)
    return np.clip(out, 0.0, 1.0)


def _with_mask(rgb, bad):
    rgb[bad] = MASK_RGB
    return rgb


def grey_rgb(image: np.ndarray, preset: str = "asinh") -> np.ndarray:
    """A 2-d stamp -> (H, W, 3) uint8 grey picture, masked pixels in :data:`MASK_RGB`."""
    levels = stretch(image, preset)
    bad = np.isnan(levels)
    grey = np.round(np.nan_to_num(levels) * 255).astype(np.uint8)
    return _with_mask(np.repeat(grey[:, :, None], 3, axis=2), bad)


def lupton_rgb(
    g: np.ndarray, r: np.ndarray, i: np.ndarray, stretch_sigma: float = 5.0, Q: float = 8.0
) -> np.ndarray:
    """An RGB composite of g, r, i stamps (i -> red, r -> green, g -> blue).

    Each band has its sky subtracted and is divided by its own noise sigma
    (``core.noise``), so that the picture does not depend on the pixel units
    or zero points of the survey; then
    ``astropy.visualization.make_lupton_rgb`` (Lupton et al. 2004: asinh,
    no white point to be set by a star).

    Parameters
    ----------
    g, r, i : ndarray
        2-d stamps of one shape.
    stretch_sigma : float
        Lupton's ``stretch`` (the linear range), in units of the noise sigma.
    Q : float
        Lupton's asinh softening.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
        Pixels that are NaN in any band are :data:`MASK_RGB`.
    """
    from astropy.visualization import make_lupton_rgb  # matplotlib: only when drawn

    bands = [np.asarray(b, np.float64) for b in (i, r, g)]
    if len({b.shape for b in bands}) != 1 or bands[0].ndim != 2:
        raise ValueError(
            f"g, r and i must be 2-d stamps of one shape, not {[b.shape for b in bands]}."
        )
    scaled = [in_sigma(b) for b in bands]
    bad = np.logical_or.reduce([np.isnan(b) for b in scaled])
    scaled = [np.where(bad, 0.0, b) for b in scaled]
    # make_lupton_rgb divides 0 by 0 where all bands are 0 (masked pixels); harmless.
    with np.errstate(invalid="ignore", divide="ignore"):
        rgb = make_lupton_rgb(*scaled, minimum=0.0, stretch=stretch_sigma, Q=Q)
    return _with_mask(rgb, bad)


def picture(image: np.ndarray, preset: str = "asinh") -> np.ndarray:
    """The (H, W, 3) uint8 picture of a 2-d float stamp (:func:`grey_rgb`),
    or an (H, W, 3) uint8 image (e.g. :func:`lupton_rgb`) as it is."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        return image
    if image.ndim == 2 and min(image.shape) > 0:
        return grey_rgb(image, preset)
    raise ValueError(
        f"image must be a 2-d float stamp or an (H, W, 3) uint8 RGB image (e.g. from "
        f"lupton_rgb), not {image.dtype} of shape {image.shape}."
    )


def stamp_picture(cube: np.ndarray, bands: Sequence[str], preset: str = "asinh") -> np.ndarray:
    """The picture of a ``(B, H, W)`` stamp in ``bands``: the g,r,i composite
    where it has those bands, else its grey band (:func:`grey_band`)."""
    cube = np.asarray(cube)
    bands = list(bands)
    if has_rgb(bands):
        return lupton_rgb(*(cube[bands.index(b)] for b in "gri"))
    return grey_rgb(cube[bands.index(grey_band(bands))], preset)


def _font(px):
    return ImageFont.load_default(size=max(8, int(px)))


def draw_scale_bar(image: Image.Image, arcsec_per_px: float) -> Image.Image:
    """Draw a scale bar with its length in arcsec in the lower left corner of
    the PIL ``image`` (in place): the longest of ``BAR_ARCSEC`` that is at
    most a quarter of the width, white on a black shadow. Nothing where even
    the shortest would be under 4 pixels."""
    if not arcsec_per_px or not arcsec_per_px > 0:
        return image
    w, h = image.size
    fits = [a for a in BAR_ARCSEC if a / arcsec_per_px <= w / 4]
    if not fits or fits[-1] / arcsec_per_px < 4:
        return image
    arcsec = fits[-1]
    length = int(round(arcsec / arcsec_per_px))
    thick = max(2, h // 100)
    margin = max(3, w // 25)
    x0, y1 = margin, h - margin
    draw = ImageDraw.Draw(image)
    draw.rectangle((x0 - 1, y1 - thick - 1, x0 + length, y1), fill=SHADOW_RGB)
    draw.rectangle((x0, y1 - thick, x0 + length - 1, y1 - 1), fill=BAR_RGB)
    if h >= 64:
        text = f'{arcsec:g}"'
        size = max(9, h // 24)
        draw.text(
            (x0, y1 - thick - 3),
            text,
            fill=BAR_RGB,
            font=_font(size),
            anchor="ld",
            stroke_width=1,
            stroke_fill=SHADOW_RGB,
        )
    return image


def encode_png(image: Image.Image | np.ndarray) -> bytes:
    """PNG bytes of a PIL image or a uint8 array, ``compress_level=1``."""
    if not isinstance(image, Image.Image):
        image = Image.fromarray(np.ascontiguousarray(image))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def render(
    image: np.ndarray, stretch: str = "asinh", scale: int = 3, pixscale_arcsec: float | None = None
) -> Image.Image:
    """The PIL picture of a stamp, upscaled ``scale`` times (nearest
    neighbour: pixels stay visible), with a scale bar where
    ``pixscale_arcsec`` (arcsec per stamp pixel) is given."""
    _check_stretch(stretch)
    if isinstance(scale, bool) or not isinstance(scale, int | np.integer) or scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, not {scale!r}.")
    pixels = picture(image, stretch)
    pixels = np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)
    out = Image.fromarray(np.ascontiguousarray(pixels))
    if pixscale_arcsec:
        draw_scale_bar(out, pixscale_arcsec / scale)
    return out


def render_png(
    image: np.ndarray, stretch: str = "asinh", scale: int = 3, pixscale_arcsec: float | None = None
) -> bytes:
    """A PNG preview of a stamp.

    Parameters
    ----------
    image : ndarray
        A 2-d float stamp (grey, shown with ``stretch``) or an (H, W, 3)
        uint8 RGB image such as :func:`lupton_rgb` makes (shown as it is;
        ``stretch`` is only checked).
    stretch : str
        One of :data:`STRETCHES` (see :func:`stretch`).
    scale : int
        Upscaling factor (nearest neighbour, so pixels stay visible).
    pixscale_arcsec : float, optional
        Arcsec per stamp pixel: draws a scale bar.

    Returns
    -------
    bytes
        An RGB PNG (masked pixels in :data:`MASK_RGB`).
    """
    return encode_png(render(image, stretch, scale, pixscale_arcsec))


# --- Contact sheets ----------------------------------------------------------

BAND_COLOUR = (24, 24, 24)
TEXT_COLOUR = (255, 255, 255)
_PAD_PX = 3


def font_px(tile_px: int) -> int:
    return max(9, tile_px // 15)  # 12 px at 192: a 25-character KiDS name fits


def line_px(tile_px: int) -> int:
    return font_px(tile_px) + 3


def label_band_px(labels: Sequence[str], tile_px: int = 192) -> int:
    """Height (pixels) of the text band under every tile: one line per line of the longest label."""
    lines = max((str(label).count("\n") + 1 for label in labels), default=1)
    return lines * line_px(tile_px) + 2 * _PAD_PX


def title_band_px(tile_px: int = 192) -> int:
    """Height (pixels) of the title band at the top of a sheet that has a title."""
    return int(font_px(tile_px) * 1.5) + 2 * _PAD_PX + 4


def _tile(tile, tile_px, pixscale_arcsec):
    image = Image.fromarray(np.ascontiguousarray(picture(tile)))
    # Upscaled stamps keep visible pixels (as render does); larger ones are smoothed.
    upscale = max(image.size) <= tile_px
    resample = Image.Resampling.NEAREST if upscale else Image.Resampling.BILINEAR
    width = image.size[0]
    image = image.resize((tile_px, tile_px), resample)
    if pixscale_arcsec:
        draw_scale_bar(image, pixscale_arcsec * width / tile_px)
    return image


def _write(draw, xy, text, font):
    draw.multiline_text(xy, text, fill=TEXT_COLOUR, font=font, spacing=3)


def contact_sheet(
    rows: Sequence,
    tile_px: int = 192,
    title: str | None = None,
    row_title_px: int = 0,
    pixscale_arcsec: float | None = None,
    columns: int | None = None,
    empty_text: str = "nothing to show",
) -> bytes:
    r"""A PNG of stamps in rows, each with its label on a dark band under it.

    Parameters
    ----------
    rows : sequence of (str or None, sequence of tiles, sequence of str)
        Each row: its title (written in a column ``row_title_px`` wide at
        the left; None for none), its tiles ((H, W, 3) uint8 pictures or
        2-d float stamps, shown with the asinh stretch, of any size; each
        resized to ``tile_px`` square) and one label per tile (``"\n"``
        starts a second line; text wider than a tile is cut at its edge).
    tile_px : int
        Width and height of each stamp on the sheet, pixels (>= 16).
    title : str, optional
        Written on a band across the top.
    row_title_px : int
        Width of the row-title column (0: none).
    pixscale_arcsec : float, optional
        Arcsec per pixel of the tiles as given: a scale bar on each.
    columns : int, optional
        Width of the sheet in tiles (default: its longest row).
    empty_text : str
        What a sheet without tiles says.

    Returns
    -------
    bytes
        The PNG: ``row_title_px + columns * tile_px`` wide and
        ``len(rows) * (tile_px + label_band_px(labels, tile_px))`` high,
        plus ``title_band_px(tile_px)`` with a title.
    """
    if isinstance(tile_px, bool) or not isinstance(tile_px, int | np.integer) or tile_px < 16:
        raise ValueError(f"tile_px must be a whole number of pixels >= 16, not {tile_px!r}.")
    rows = [(row_title, list(tiles), list(labels)) for row_title, tiles, labels in rows]
    for _, tiles, labels in rows:
        if len(labels) != len(tiles):
            raise ValueError(
                f"Give one label per tile: {len(tiles)} tiles but {len(labels)} labels."
            )
    font = _font(font_px(tile_px))
    longest = max((len(tiles) for _, tiles, _ in rows), default=0)
    columns = max(longest, columns or 0)
    if longest == 0:
        sheet = Image.new("RGB", (max(2 * tile_px, 160), 2 * line_px(tile_px)), BAND_COLOUR)
        _write(ImageDraw.Draw(sheet), (2 * _PAD_PX, _PAD_PX * 2), empty_text, font)
        return encode_png(sheet)

    band_px = label_band_px([label for _, _, labels in rows for label in labels], tile_px)
    top_px = title_band_px(tile_px) if title else 0
    cell_px = tile_px + band_px
    width = row_title_px + columns * tile_px
    sheet = Image.new("RGB", (width, top_px + len(rows) * cell_px), BAND_COLOUR)
    sheet_draw = ImageDraw.Draw(sheet)
    if title:
        _write(sheet_draw, (2 * _PAD_PX, _PAD_PX + 2), str(title), _font(font_px(tile_px) * 1.5))
    band = Image.new("RGB", (tile_px, band_px))
    draw = ImageDraw.Draw(band)
    for r, (row_title, tiles, labels) in enumerate(rows):
        y = top_px + r * cell_px
        if row_title and row_title_px:  # on its own band: cut at the column's edge
            head = Image.new("RGB", (row_title_px, cell_px), BAND_COLOUR)
            _write(
                ImageDraw.Draw(head),
                (_PAD_PX, cell_px // 2 - font_px(tile_px) // 2),
                str(row_title),
                font,
            )
            sheet.paste(head, (0, y))
        for c, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
            x = row_title_px + c * tile_px
            sheet.paste(_tile(tile, tile_px, pixscale_arcsec), (x, y))
            # Drawn on its own band so that a long label is cut, not spilled onto the next cell.
            draw.rectangle((0, 0, tile_px, band_px), fill=BAND_COLOUR)
            _write(draw, (_PAD_PX, _PAD_PX), str(label), font)
            sheet.paste(band, (x, y + tile_px))
    return encode_png(sheet)
