"""Stamp-set files: one FITS file per labelled set of image stamps (docs/stampset.md).

HDU 0 PRIMARY (header keys PIXSCALE, BANDS, SURVEY, UNITS), HDU 1 STAMPS
(float32 cube, numpy shape (N, B, H, W)), HDU 2 META (one row per stamp;
``id`` and ``label`` required). Every tool of the project reads and writes
labelled stamps through this module.

The writer streams the cube to disk chunk by chunk, so memory stays flat for
any N, and writes to a temporary file that replaces the target only when the
set is complete: a failed run never leaves a half-written set behind.
"""

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from numpy.typing import ArrayLike

REQUIRED_COLUMNS = ("id", "label")
# Types of the standard columns (docs/stampset.md); other columns keep their own.
COLUMN_DTYPES = {
    "label": np.int16,
    "ra": np.float64,
    "dec": np.float64,
    "theta_e": np.float32,
    "snr": np.float32,
    "psf_fwhm": np.float32,
    "noise_sigma": np.float32,
}


class StampSetError(ValueError):
    """A stamp-set file or its contents are not as docs/stampset.md describes."""


def _as_column(name, values):
    if name in COLUMN_DTYPES:
        return np.asarray(values, dtype=COLUMN_DTYPES[name])
    values = np.asarray(values)
    if values.dtype.kind == "U" or values.dtype == object:
        return values.astype(str)
    return values


class StampSetWriter:
    """Write a stamp set of ``n`` stamps in chunks.

    Parameters
    ----------
    path : path-like
        The FITS file to create (replaced if it exists, once complete).
    n : int
        Number of stamps; the cube's size is fixed in its header up front.
    bands : sequence of str
        Band names in cube order, e.g. ``["r"]`` or ``["g", "r", "i"]``.
    shape : (int, int)
        Stamp height and width in pixels.
    pixscale_arcsec : float
        Arcsec per pixel.
    survey, units : str
        Free text for the PRIMARY header (``KiDS-like``; ``counts``).
    header : dict, optional
        More PRIMARY header keys (e.g. the seed and the generator's version).

    Examples
    --------
    >>> with StampSetWriter("set.fits", 2, ["r"], (97, 97), 0.21) as w:  # doctest: +SKIP
    ...     w.write(cube, {"id": ["a", "b"], "label": [1, 0]})
    """

    def __init__(
        self, path, n, bands, shape, pixscale_arcsec, survey="", units="counts", header=None
    ):
        if n < 0:
            raise StampSetError(f"A stamp set needs n >= 0 stamps, not {n}.")
        if not bands:
            raise StampSetError("A stamp set needs at least one band.")
        if pixscale_arcsec <= 0:
            raise StampSetError(f"PIXSCALE must be positive, not {pixscale_arcsec}.")
        self.path = Path(path)
        self.n = int(n)
        self.bands = list(bands)
        self.shape = (int(shape[0]), int(shape[1]))
        self.written = 0
        self.columns = {}
        self._late_header = {}
        self._tmp = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        self._tmp.unlink(missing_ok=True)

        primary = fits.Header()
        primary["PIXSCALE"] = (float(pixscale_arcsec), "arcsec per pixel")
        primary["BANDS"] = (",".join(self.bands), "band names in cube order")
        primary["SURVEY"] = (survey, "survey or simulation")
        primary["UNITS"] = (units, "pixel units")
        for key, value in (header or {}).items():
            primary[key] = value
        fits.PrimaryHDU(header=primary).writeto(self._tmp)

        cube = fits.Header()
        cube["XTENSION"] = "IMAGE"
        cube["BITPIX"] = -32
        cube["NAXIS"] = 4
        cube["NAXIS1"] = self.shape[1]
        cube["NAXIS2"] = self.shape[0]
        cube["NAXIS3"] = len(self.bands)
        cube["NAXIS4"] = self.n
        cube["PCOUNT"] = 0
        cube["GCOUNT"] = 1
        cube["EXTNAME"] = "STAMPS"
        # A str, not a Path: astropy takes only the file name from a Path here.
        self._stream = fits.StreamingHDU(str(self._tmp), cube)

    def write(self, stamps: np.ndarray, meta: Mapping[str, ArrayLike]) -> None:
        """Append ``stamps`` (k, B, H, W) and their ``meta`` (column -> k values)."""
        stamps = np.asarray(stamps)
        expected = (len(self.bands), *self.shape)
        if stamps.ndim != 4 or stamps.shape[1:] != expected:
            raise StampSetError(f"Stamps must have shape (k, {expected}), not {stamps.shape}.")
        k = stamps.shape[0]
        if self.written + k > self.n:
            raise StampSetError(f"More stamps than the {self.n} declared.")
        missing = [c for c in REQUIRED_COLUMNS if c not in meta]
        if missing:
            raise StampSetError(f"META needs the columns {', '.join(missing)}.")
        for name, values in meta.items():
            column = _as_column(name, values)
            if len(column) != k:
                raise StampSetError(
                    f"META column {name!r} has {len(column)} values for {k} stamps."
                )
            if self.written and name not in self.columns:
                raise StampSetError(f"META column {name!r} appeared after the first chunk.")
            self.columns.setdefault(name, []).append(column)
        if self.written and set(meta) != set(self.columns):
            raise StampSetError("Every chunk needs the same META columns as the first.")
        self._stream.write(np.ascontiguousarray(stamps, dtype=">f4"))
        self.written += k

    def set_header(self, cards: Mapping) -> None:
        """PRIMARY header cards (key -> value or (value, comment)) known only
        once the stamps are written, e.g. an audit of them; written at
        ``close``. Declare the keys in ``header`` up front (any value) so that
        the header keeps its size and is rewritten in place, not the file."""
        self._late_header.update(cards)

    def close(self) -> None:
        """Finish the file: check the count and ids, write META, move into place."""
        try:
            if self.written != self.n:
                raise StampSetError(f"{self.written} stamps written of the {self.n} declared.")
            self._stream.close()
            table = Table({name: np.concatenate(parts) for name, parts in self.columns.items()})
            if self.n == 0:
                table = Table({"id": np.array([], dtype="U1"), "label": np.array([], np.int16)})
            ids = np.asarray(table["id"])
            if len(np.unique(ids)) != len(ids):
                raise StampSetError("Stamp ids must be unique within a file.")
            meta = fits.BinTableHDU(table, name="META")
            fits.append(self._tmp, meta.data, meta.header)
            if self._late_header:
                with fits.open(self._tmp, mode="update", memmap=True) as hdul:
                    for key, value in self._late_header.items():
                        hdul[0].header[key] = value
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the partial file."""
        with contextlib.suppress(Exception):  # the stream may be broken already
            self._stream.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


@dataclass
class StampSet:
    """A stamp set read from disk; ``cube`` is memory-mapped (N, B, H, W)."""

    path: Path
    cube: np.ndarray
    meta: Table
    pixscale_arcsec: float
    bands: list
    survey: str
    units: str
    header: fits.Header = field(repr=False)

    def __len__(self):
        return len(self.meta)

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.meta["label"], dtype=np.int16)

    @property
    def ids(self) -> np.ndarray:
        return np.asarray(self.meta["id"]).astype(str)

    def stamps(self, index: int | slice | np.ndarray = slice(None)) -> np.ndarray:
        """Native-endian float32 copies of the stamps at ``index``."""
        return np.asarray(self.cube[index], dtype=np.float32)


def _native_columns(meta):
    """``meta`` with its numeric columns in native byte order (in place)."""
    for name in meta.colnames:
        # FITS is big-endian; hand callers (numpy, torch) native columns.
        dtype = meta[name].dtype
        if dtype.kind in "iuf" and not dtype.isnative:
            meta[name] = meta[name].astype(dtype.newbyteorder("="))
    return meta


def read_stampset(path: str | Path) -> StampSet:
    """Open a stamp-set file; raises ``StampSetError`` saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise StampSetError(f"{path}: no such stamp-set file.")
    try:
        hdul = fits.open(path, memmap=True)
    except OSError as exc:
        raise StampSetError(f"{path} is not a readable FITS file ({exc}).") from exc
    names = [hdu.name for hdu in hdul]
    for needed in ("STAMPS", "META"):
        if needed not in names:
            raise StampSetError(
                f"{path} has no {needed} HDU (it has {', '.join(names)}); "
                "a stamp set has PRIMARY, STAMPS and META HDUs (docs/stampset.md)."
            )
    primary = hdul[0].header
    missing = [k for k in ("PIXSCALE", "BANDS") if k not in primary]
    if missing:
        raise StampSetError(f"{path}: the PRIMARY header lacks {', '.join(missing)}.")
    cube = hdul["STAMPS"].data
    bands = [b.strip() for b in str(primary["BANDS"]).split(",") if b.strip()]
    if cube is None:
        cube = np.zeros((0, len(bands), 0, 0), np.float32)
    if cube.ndim != 4:
        raise StampSetError(f"{path}: STAMPS must be a 4-d cube (N, B, H, W), not {cube.shape}.")
    if cube.shape[1] != len(bands):
        raise StampSetError(
            f"{path}: BANDS lists {len(bands)} bands, the cube has {cube.shape[1]}."
        )
    meta = _native_columns(Table.read(hdul["META"]))
    missing = [c for c in REQUIRED_COLUMNS if c not in meta.colnames]
    if missing:
        raise StampSetError(
            f"{path}: META lacks the column(s) {', '.join(missing)} "
            f"(it has {', '.join(meta.colnames)})."
        )
    if len(meta) != cube.shape[0]:
        raise StampSetError(f"{path}: META has {len(meta)} rows for {cube.shape[0]} stamps.")
    return StampSet(
        path=path,
        cube=cube,
        meta=meta,
        pixscale_arcsec=float(primary["PIXSCALE"]),
        bands=bands,
        survey=str(primary.get("SURVEY", "")),
        units=str(primary.get("UNITS", "")),
        header=primary,
    )
