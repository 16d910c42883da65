"""Stamps from survey image tiles (pure: no Django).

Cutting is vectorised where it matters (docs/design.md, "Stamps and previews"):
one ``world_to_pixel_values`` call for all the sources of a tile, then plain
numpy slicing per source (~35 us per 97x97 stamp, against 170-930 us for
``Cutout2D``). Pictures of stamps (stretches, RGB composites, PNGs) are made
by ``core.display`` and re-exported here (``STRETCHES``, ``render_png``,
``lupton_rgb``, ``grey_band``, ``has_rgb``); render previews once and cache
them (``inspection.grading.services``).

Pixel convention: astropy's zero-based pixel coordinates, in which an
integer is a pixel's centre and pixel ``j`` covers ``[j - 0.5, j + 0.5)``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

# Pictures are made by the one imaging layer; re-exported for the views.
from core.display import STRETCHES, grey_band, has_rgb, lupton_rgb, render_png  # noqa: F401
from core.tables import open_fits

#: Flag bit: part of the stamp lies beyond the image; those pixels are NaN.
EDGE = 1
#: Flag bit: the source's centre is outside the image (or unknown); the stamp is all NaN.
OUTSIDE = 2

#: A compressed tile is decompressed whole: 500 million pixels take 2 GB as
#: float32 (a 21k x 21k KiDS coadd is 441 million). Uncompressed tiles are
#: memory-mapped and have no limit.
MAX_TILE_PIXELS = 500_000_000


class TileError(ValueError):
    """An image tile cannot be used; the message says what is wrong and how to fix it."""


class ScaledImage:
    """A 2-d FITS image whose pixels become float32 a section at a time.

    Integer and float64 tiles would take a float32 copy of the whole image
    if converted at once; sliced like an array, this converts only the
    pixels asked for, applying BSCALE, BZERO and BLANK (blank -> NaN) as
    astropy would, while the file stays memory-mapped.
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, raw, bscale=1.0, bzero=0.0, blank=None):
        self.raw = raw
        self.shape = tuple(raw.shape)
        self.bscale, self.bzero = float(bscale), float(bzero)
        self.blank = blank if np.issubdtype(raw.dtype, np.integer) else None

    def __getitem__(self, key):
        raw = np.asarray(self.raw[key])
        out = raw.astype(np.float64) * self.bscale + self.bzero
        if self.blank is not None:
            out[raw == self.blank] = np.nan
        return out.astype(np.float32)

    def __array__(self, dtype=None, copy=None):
        # The whole image: only for small images (tests, previews).
        return self[...] if dtype is None else self[...].astype(dtype)


@dataclass
class Tile:
    """One survey image tile.

    Attributes
    ----------
    path : Path
    data : ndarray or ScaledImage
        2-d float32 image, numpy order ``[y, x]``; memory-mapped where the
        file allows, so possibly big-endian as FITS stores it. Integer,
        scaled and float64 images are a :class:`ScaledImage`, converted to
        float32 a slice at a time.
    wcs : astropy.wcs.WCS
        The celestial WCS of the image.
    shape : tuple of int
        ``(ny, nx)`` pixels.
    band : str or None
        From the header's BAND or FILTER key.
    pixscale_arcsec : float
        Mean pixel scale (arcsec per pixel) from the WCS.
    """

    path: Path
    data: np.ndarray
    wcs: WCS
    shape: tuple
    band: str | None
    pixscale_arcsec: float


def _header_shape(header):
    """The image shape ``(ny, nx)`` from the header, degenerate leading axes
    (1, 1, ny, nx) dropped; None if it is no 2-d image. Read before the data,
    so that a compressed image is never decompressed only to be refused."""
    naxis = header.get("NAXIS", 0)
    shape = tuple(int(header.get(f"NAXIS{k}", 0)) for k in range(naxis, 0, -1))
    while len(shape) > 2 and shape[0] == 1:
        shape = shape[1:]
    return shape if len(shape) == 2 and 0 not in shape else None


def _image_hdu(hdul, path, max_pixels):
    for hdu in hdul:
        if not isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU):
            continue
        shape = _header_shape(hdu.header)
        if shape is None:
            continue
        if isinstance(hdu, fits.CompImageHDU) and shape[0] * shape[1] > max_pixels:
            raise TileError(
                f"{path}: the compressed image is {shape[1]} x {shape[0]} pixels "
                f"({shape[0] * shape[1] / 1e6:.0f} million), more than the "
                f"{max_pixels / 1e6:.0f} million a compressed tile may decompress to in "
                f"memory (LENSFINDER_MAX_TILE_MPIX): decompress it first (funpack "
                f"{Path(path).name}), as uncompressed tiles are read memory-mapped, or "
                "split it into smaller tiles."
            )
        data = hdu.data
        if data is None:
            continue
        data = data.reshape(shape)
        return hdu, _float32_pixels(data, hdu.header)
    raise TileError(
        f"{path} has no 2-d image in any HDU: give the tile of one band as a 2-d FITS image."
    )


def _float32_pixels(raw, header):
    """float32 pixels as they are, or a :class:`ScaledImage` over the raw ones."""
    bscale, bzero = header.get("BSCALE", 1.0), header.get("BZERO", 0.0)
    if raw.dtype.kind == "f" and raw.dtype.itemsize == 4 and bscale == 1 and bzero == 0:
        return raw
    return ScaledImage(raw, bscale, bzero, header.get("BLANK"))


def open_tile(path: str | Path, max_pixels: int = MAX_TILE_PIXELS) -> Tile:
    """Open a FITS image tile.

    Parameters
    ----------
    path : str or Path
    max_pixels : int
        The most pixels a compressed image may have: it is decompressed
        into memory whole.

    Returns
    -------
    Tile

    Raises
    ------
    TileError
        When the file is missing, not FITS, truncated, holds no 2-d image,
        is compressed and larger than ``max_pixels``, or has no celestial
        WCS.
    """
    path = Path(path)
    # Raw pixels: scaling is applied section by section (ScaledImage), not
    # by astropy to the whole image at once.
    hdul = open_fits(path, error=TileError, do_not_scale_image_data=True)
    # The memory map outlives the closed file as long as ``data`` is referenced.
    with hdul:
        hdu, data = _image_hdu(hdul, path, max_pixels)
        header = hdu.header
        try:
            wcs = WCS(header, hdul, naxis=2).celestial
        except Exception as exc:  # astropy.wcs raises several types on bad headers
            raise TileError(f"{path}: its WCS cannot be read ({exc}): fix the header.") from None
        if not wcs.has_celestial or wcs.naxis != 2:
            raise TileError(
                f"{path} has no celestial WCS (CTYPE1/2 like RA---TAN/DEC--TAN): add one "
                f"(CTYPE, CRVAL, CRPIX and CD or CDELT keys), e.g. from an astrometric "
                f"solution such as astrometry.net."
            )
        band = header.get("BAND", header.get("FILTER"))
        pixscale = float(np.mean(proj_plane_pixel_scales(wcs)) * 3600.0)
    return Tile(
        path=path,
        data=data,
        wcs=wcs,
        shape=tuple(data.shape),
        band=None if band is None else str(band).strip(),
        pixscale_arcsec=pixscale,
    )


def pixel_positions(tile: Tile, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates of sky positions on a tile, in one vectorised WCS call.

    Parameters
    ----------
    tile : Tile
    ra, dec : array_like
        Degrees. NaN gives NaN.

    Returns
    -------
    x, y : ndarray of float64
        Zero-based astropy pixel coordinates (integer = pixel centre).
    """
    ra = np.atleast_1d(np.asarray(ra, np.float64))
    dec = np.atleast_1d(np.asarray(dec, np.float64))
    x, y = tile.wcs.world_to_pixel_values(ra, dec)
    return np.asarray(x, np.float64), np.asarray(y, np.float64)


def _centre_pixels(x, y):
    """Nearest pixel, halves rounded up (floor(x + 0.5)); NaN -> a sentinel."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    known = np.isfinite(x) & np.isfinite(y)
    with np.errstate(invalid="ignore"):
        cx = np.where(known, np.floor(x + 0.5), 0).astype(np.int64)
        cy = np.where(known, np.floor(y + 0.5), 0).astype(np.int64)
    return cx, cy, known


def cut_stamps(
    data: np.ndarray, x: np.ndarray, y: np.ndarray, size_px: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cut square stamps around pixel positions by numpy slicing.

    Parameters
    ----------
    data : ndarray
        2-d image ``[y, x]``.
    x, y : array_like
        Zero-based astropy pixel coordinates (integer = pixel centre) of the
        stamp centres, e.g. from :func:`pixel_positions`.
    size_px : int
        Stamp width and height in pixels. The stamp is centred on the
        nearest pixel ``(floor(x + 0.5), floor(y + 0.5))``, which lands at
        index ``size_px // 2`` of the stamp in both axes: the exact centre
        for an odd size; for an even size, the pixel just above and right of
        the stamp's geometric centre.

    Returns
    -------
    stamps : ndarray of float32, shape (N, size_px, size_px)
        Pixels beyond the image are NaN.
    flags : ndarray of uint8, shape (N,)
        :data:`EDGE` where part of the stamp lies beyond the image;
        :data:`OUTSIDE` (alone) where the centre is outside the image or
        x/y is NaN, and the stamp is all NaN.
    """
    size_px = int(size_px)
    if size_px < 1:
        raise ValueError(f"size_px must be a positive number of pixels, not {size_px}.")
    if np.ndim(data) != 2:
        raise ValueError(f"data must be a 2-d image, not an array of shape {np.shape(data)}.")
    ny, nx = data.shape
    cx, cy, known = _centre_pixels(np.atleast_1d(x), np.atleast_1d(y))
    n = len(cx)
    stamps = np.full((n, size_px, size_px), np.nan, np.float32)
    flags = np.zeros(n, np.uint8)
    half = size_px // 2
    inside = known & (cx >= 0) & (cx < nx) & (cy >= 0) & (cy < ny)
    flags[~inside] = OUTSIDE
    for k in np.flatnonzero(inside):
        x0, y0 = cx[k] - half, cy[k] - half
        tx0, ty0 = max(x0, 0), max(y0, 0)
        tx1, ty1 = min(x0 + size_px, nx), min(y0 + size_px, ny)
        stamps[k, ty0 - y0 : ty1 - y0, tx0 - x0 : tx1 - x0] = data[ty0:ty1, tx0:tx1]
        if (tx1 - tx0, ty1 - ty0) != (size_px, size_px):
            flags[k] = EDGE
    return stamps, flags


def edge_distance(shape: tuple[int, int], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance (pixels) from each position to the nearest image edge.

    Positive inside the image, negative outside, ``-inf`` for NaN. The image
    covers ``[-0.5, n - 0.5]`` in astropy pixel coordinates.
    """
    ny, nx = shape
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    d = np.minimum.reduce([x + 0.5, nx - 0.5 - x, y + 0.5, ny - 0.5 - y])
    return np.where(np.isfinite(d), d, -np.inf)


def contains(tile: Tile, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where the nearest pixel of ``(x, y)`` lies on the tile."""
    cx, cy, known = _centre_pixels(x, y)
    ny, nx = tile.shape
    return known & (cx >= 0) & (cx < nx) & (cy >= 0) & (cy < ny)


def assign_tiles(
    tiles: Sequence[Tile], ra: np.ndarray, dec: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each source, the tile that holds it farthest from the tile's edge.

    For surveys with several (overlapping) tiles per band: the stamp of a
    source in an overlap comes from the tile where it is least likely to be
    cut by the edge.

    Parameters
    ----------
    tiles : sequence of Tile
        Tiles of one band.
    ra, dec : array_like
        Degrees.

    Returns
    -------
    index : ndarray of int64
        Index into ``tiles``, -1 where no tile holds the source.
    x, y : ndarray of float64
        Pixel coordinates on the chosen tile (NaN where none).
    """
    ra = np.atleast_1d(np.asarray(ra, np.float64))
    n = len(ra)
    index = np.full(n, -1, np.int64)
    x_best, y_best = np.full(n, np.nan), np.full(n, np.nan)
    best = np.full(n, -np.inf)
    for t, tile in enumerate(tiles):
        x, y = pixel_positions(tile, ra, dec)
        d = np.where(contains(tile, x, y), edge_distance(tile.shape, x, y), -np.inf)
        better = d > best
        index[better], best[better] = t, d[better]
        x_best[better], y_best[better] = x[better], y[better]
    return index, x_best, y_best


# --- Showing one set's stamps as another's ------------------------------------

#: Pixel scales closer than this (relative) count as the same.
PIXSCALE_RTOL = 0.01


def field_mismatch(
    bands: Sequence[str],
    pixscale_arcsec: float,
    shape_px: tuple[int, int],
    like_bands: Sequence[str],
    like_pixscale_arcsec: float,
    like_size_px: int,
) -> str | None:
    """Why stamps cannot be shown exactly as another set's (a survey's), or None.

    Known items mixed into a campaign must look like its candidates: the
    same field in the same pixels, the same grey band, and an RGB composite
    exactly where the survey has one. Stamps are centre-cropped to the
    survey's size but never resampled: interpolation smooths the noise,
    which the eye picks out as readily as a different colour.

    Parameters
    ----------
    bands : sequence of str
        The stamps' bands.
    pixscale_arcsec : float
        Their pixel scale, arcsec per pixel.
    shape_px : (int, int)
        Their height and width, pixels.
    like_bands, like_pixscale_arcsec, like_size_px
        The same for the survey (square stamps of ``like_size_px``).

    Returns
    -------
    str or None
        The reason, phrased to follow "the stamps ...".
    """
    grey = grey_band(like_bands)
    if grey not in bands:
        return f"lack the {grey} band that the survey's stamps are shown in"
    if has_rgb(like_bands) and not has_rgb(bands):
        return "lack the g, r and i bands of the survey's RGB composites"
    if abs(pixscale_arcsec / like_pixscale_arcsec - 1) > PIXSCALE_RTOL:
        return f'have {pixscale_arcsec:.4g}"/px where the survey has {like_pixscale_arcsec:.4g}"/px'
    if min(shape_px) < like_size_px:
        return (
            f"are {shape_px[1]}x{shape_px[0]} px, smaller than the survey's "
            f"{like_size_px}x{like_size_px} px"
        )
    return None


def centre_crop(image: np.ndarray, size_px: int) -> np.ndarray:
    """The central ``size_px`` x ``size_px`` pixels of the last two axes: the
    pixel at ``(H // 2, W // 2)`` (the centre, as :func:`cut_stamps` places
    it) lands at ``size_px // 2``."""
    height, width = image.shape[-2:]
    if min(height, width) < size_px:
        raise ValueError(f"A {width}x{height} stamp cannot be cropped to {size_px} px.")
    y0, x0 = height // 2 - size_px // 2, width // 2 - size_px // 2
    return image[..., y0 : y0 + size_px, x0 : x0 + size_px]
