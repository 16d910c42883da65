"""Reading a survey's source catalogue in chunks (pure: numpy + astropy, no Django).

A catalogue is read as a stream of *chunks*: dicts that map the standard field
names of :data:`FIELDS` to numpy arrays of one length, so that a survey of
millions of sources is selected (``inspection.ingest.lrg_cuts``) with bounded memory.
Columns are found by KiDS-DR3-like default names (:data:`DEFAULT_COLUMNS`),
matched case-insensitively, or by an explicit mapping such as
``"ra=ALPHA_J2000,dec=DELTA_J2000"`` (``--columns`` on the command line).

Units of a chunk: ``ra``/``dec`` in degrees (float64), magnitudes in mag
(float64; non-detections are NaN), ``flux_radius`` in the catalogue's own
units (KiDS: pixels), ``class_star`` dimensionless, ``flag_r`` int64, ``id``
unicode strings. Invalid coordinates are kept (as NaN or as they are): the
cuts flag them, so that the funnel can report how many there were.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from core import tables

FIELDS = (
    "id", "ra", "dec", "mag_u", "mag_g", "mag_r", "mag_i",
    "mag_auto", "class_star", "flux_radius", "flag_r",
)  # fmt: skip  # columns grouped: position, magnitudes, shape

#: Column names looked for, in order of preference, for each field (KiDS DR3).
DEFAULT_COLUMNS = {
    "id": ("ID",),
    "ra": ("RAJ2000",),
    "dec": ("DECJ2000",),
    **{f"mag_{b}": (f"MAG_GAAP_{b}", f"MAG_GAAP_{b}_CALIB") for b in "ugri"},
    "mag_auto": ("MAG_AUTO",),
    "class_star": ("CLASS_STAR",),
    "flux_radius": ("FLUX_RADIUS",),
    "flag_r": ("FLAG_R",),
}

MAGNITUDES = ("mag_u", "mag_g", "mag_r", "mag_i", "mag_auto")
#: SExtractor and KiDS write 99 (sometimes -99) for a magnitude that was not measured.
NON_DETECTION_MAG = 99.0

#: Suffixes read (``core.tables.FORMATS``): FITS, CSV, ECSV and VOTable.
SUFFIXES = tables.READ_SUFFIXES

EXAMPLE = "ra=ALPHA_J2000,dec=DELTA_J2000"


class CatalogueError(ValueError):
    """A catalogue cannot be read; the message says what is wrong and how to fix it."""


# --- Columns -----------------------------------------------------------------


def parse_mapping(text: str | dict[str, str] | None) -> dict[str, str]:
    """Parse a column mapping such as ``"ra=ALPHA_J2000,dec=DELTA_J2000"`` (str,
    dict or None) into ``{field: column}`` (``core.tables.parse_mapping``);
    :class:`CatalogueError` for a field not in :data:`FIELDS` or a bad entry."""
    return tables.parse_mapping(text, FIELDS, CatalogueError, "catalogue", EXAMPLE)


def resolve_columns(
    colnames: Iterable[str], mapping: dict[str, str] | None = None, where: str = "The catalogue"
) -> dict[str, str]:
    """Find the catalogue column for every field of :data:`FIELDS`.

    Parameters
    ----------
    colnames : sequence of str
        The columns the file has.
    mapping : str, dict or None
        Columns to use instead of the defaults (see :func:`parse_mapping`);
        fields not named keep their defaults.
    where : str
        How to name the catalogue in error messages (e.g. its file name).

    Returns
    -------
    dict
        ``{field: actual column name}``. Names match case-insensitively; an
        exact match wins over one that differs only in case.

    Raises
    ------
    CatalogueError
        Naming every missing field, the column names looked for, the
        columns the file has, and how to map them.
    """
    return tables.resolve_columns(
        colnames,
        DEFAULT_COLUMNS,
        mapping,
        where=where,
        error=CatalogueError,
        what="catalogue",
        how="--columns field=COLUMN, e.g. --columns {field}=COLUMN_NAME",
        example=EXAMPLE,
    )


# --- Values ------------------------------------------------------------------


def _floats(values):
    """Any column -> float64 with masked or unparseable entries as NaN."""
    mask = np.ma.getmaskarray(values)
    data = np.ma.getdata(values)
    if data.dtype.kind in "US":
        # A CSV chunk where a column happens to be blank is read as strings.
        data = np.char.strip(data.astype(str))
        out = np.full(data.shape, np.nan)
        ok = (data != "") & ~mask
        try:
            out[ok] = data[ok].astype(np.float64)
        except ValueError as exc:
            raise CatalogueError(f"a numeric column holds text: {exc}") from None
        return out
    out = np.array(data, dtype=np.float64)
    out[mask] = np.nan
    return out


def _chunk_from_columns(columns):
    """``{field: raw column}`` -> ``{field: typed numpy array}`` as documented."""
    chunk = {}
    for field in FIELDS:
        values = columns[field]
        if field == "id":
            data = np.ma.getdata(values)
            if data.dtype.kind == "S":
                data = np.char.decode(data, "ascii", errors="replace")
            chunk[field] = np.char.strip(np.asarray(data).astype(str))
        elif field == "flag_r":
            flags = _floats(values)
            # A missing flag is not evidence of a clean source: call it flagged.
            chunk[field] = np.where(np.isfinite(flags), flags, -1).astype(np.int64)
        else:
            floats = _floats(values)
            if field in MAGNITUDES:
                with np.errstate(invalid="ignore"):
                    bad = np.abs(floats) >= NON_DETECTION_MAG
                floats[bad] = np.nan
            chunk[field] = floats
    return chunk


# --- Files -------------------------------------------------------------------


def read_catalogue(
    path: str | Path, mapping: dict[str, str] | None = None, chunk_rows: int = 100_000
) -> Iterator[dict[str, np.ndarray]]:
    """Read a catalogue as a stream of chunks of at most ``chunk_rows`` rows.

    Parameters
    ----------
    path : str or Path
        A FITS table (``.fits``, ``.fit``, ``.fts``, ``.fits.gz``, ``.fz``;
        the first table HDU), a CSV file with a header line (``.csv``), an
        ECSV file (``.ecsv``) or a VOTable (``.vot``, ``.xml``, ``.votable``).
    mapping : str, dict or None
        Columns to use instead of :data:`DEFAULT_COLUMNS`, see
        :func:`parse_mapping`.
    chunk_rows : int
        Rows per chunk.

    Returns
    -------
    iterator of dict
        Chunks ``{field: numpy array}`` for every field of :data:`FIELDS`
        (units in the module docstring). Magnitudes of 99 or more in
        absolute value, NaN or masked are NaN; a masked FLAG_R is -1 (so it
        fails ``FLAG_R = 0``).

    Raises
    ------
    CatalogueError
        At the call for an unknown suffix, a missing, unreadable or
        truncated file, or missing columns; while iterating for rows that
        cannot be parsed.

    Notes
    -----
    Memory stays bounded by the chunk for uncompressed FITS (memory-mapped)
    and CSV (astropy's chunked fast reader). Gzipped FITS, ECSV and VOTable
    files are read whole first: convert a large one to FITS or CSV.
    """
    if chunk_rows < 1:
        raise CatalogueError(f"chunk_rows must be at least 1, not {chunk_rows}.")
    source = tables.TableFile(path, CatalogueError, "catalogue")
    # Columns are resolved now, so that a wrong mapping fails at the call.
    columns = resolve_columns(source.colnames, mapping, where=str(source.path))

    def convert(raw):
        return _chunk_from_columns({field: raw[name] for field, name in columns.items()})

    return source.chunks(list(dict.fromkeys(columns.values())), chunk_rows, convert)


def catalogue_length(path: str | Path) -> int:
    """Number of rows of a catalogue, for progress bars.

    Cheap for FITS (the header's NAXIS2); one pass over the bytes for CSV
    (lines after the header; a quoted value with a line break is counted
    twice); ECSV and VOTable files are read whole.
    """
    return len(tables.TableFile(path, CatalogueError, "catalogue"))
