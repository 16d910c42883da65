"""Band names of a survey's tiles: checked, parsed from ``BAND=FILE``
arguments and read off uploaded tiles' file names; and ``IngestError``, the
ingest's refusal."""

import re
from collections.abc import Iterable
from pathlib import Path

# A band name goes into the survey's comma-separated band list and into
# stamp-set headers: letters and digits only (u, g, r, i, z, Y, J, Ks, NB921).
BAND_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,9}$")
FITS_EXTENSIONS = (".gz", ".fz", ".fits", ".fit", ".fts")


class IngestError(ValueError):
    """The survey cannot be ingested as given; the message says what to fix."""


def parse_tile_args(values: Iterable[str]) -> list[tuple[str, Path]]:
    """``["r=tiles/r.fits", "g=tiles/g.fits"]`` -> ``[("r", Path), ...]``."""
    out = []
    for value in values or []:
        band, sep, path = str(value).partition("=")
        if not sep or not band.strip() or not path.strip():
            raise IngestError(f"A tile is given as BAND=FILE (e.g. r=tile_r.fits), not {value!r}.")
        out.append((check_band(band.strip(), value), Path(path.strip())))
    return out


def check_band(band: str, given_as: str) -> str:
    """``band`` if it is a band name (letters and digits), else an ``IngestError``."""
    if not BAND_RE.match(band):
        raise IngestError(
            f"Tile {given_as}: {band!r} is not a band name; use letters and digits "
            "(g, r, i, Ks, NB921)."
        )
    return band


def band_from_file_name(file_name: str) -> str:
    """The band an uploaded tile's name ends in: ``KIDS_35_-33_r.fits`` -> ``r``."""
    base = Path(file_name).name
    while base.lower().endswith(FITS_EXTENSIONS):
        base = base.rsplit(".", 1)[0]
    band = re.split(r"[_.]", base)[-1]
    if not BAND_RE.match(band):
        raise IngestError(
            f"Tile {file_name}: its name does not end in a band ({band!r}); name uploaded "
            "tiles NAME_BAND.fits, e.g. KIDS_35_-33_r.fits."
        )
    return band
