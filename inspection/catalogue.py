"""Reading a survey's source catalogue in chunks (pure: numpy + astropy, no Django).

A catalogue is read as a stream of *chunks*: dicts that map the standard field
names of :data:`FIELDS` to numpy arrays of one length, so that a survey of
millions of sources is selected (``inspection.cuts``) with bounded memory.
Columns are found by KiDS-DR3-like default names (:data:`DEFAULT_COLUMNS`),
matched case-insensitively, or by an explicit mapping such as
``"ra=ALPHA_J2000,dec=DELTA_J2000"`` (``--columns`` on the command line).

Units of a chunk: ``ra``/``dec`` in degrees (float64), magnitudes in mag
(float64; non-detections are NaN), ``flux_radius`` in the catalogue's own
units (KiDS: pixels), ``class_star`` dimensionless, ``flag_r`` int64, ``id``
unicode strings. Invalid coordinates are kept (as NaN or as they are): the
cuts flag them, so that the funnel can report how many there were.
"""

import csv
import warnings
from pathlib import Path

import numpy as np
from astropy.io import ascii, fits
from astropy.table import Table

FIELDS = (
    "id", "ra", "dec", "mag_u", "mag_g", "mag_r", "mag_i",
    "mag_auto", "class_star", "flux_radius", "flag_r",
)  # fmt: skip

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

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fz", ".fits.fz")
CSV_SUFFIXES = (".csv",)
WHOLE_SUFFIXES = {".ecsv": "ascii.ecsv", ".vot": "votable", ".xml": "votable",
                  ".votable": "votable"}  # fmt: skip
SUFFIXES = FITS_SUFFIXES + CSV_SUFFIXES + tuple(WHOLE_SUFFIXES)


class CatalogueError(ValueError):
    """A catalogue cannot be read; the message says what is wrong and how to fix it."""


# --- Columns -----------------------------------------------------------------


def parse_mapping(text):
    """Parse a column mapping such as ``"ra=ALPHA_J2000,dec=DELTA_J2000"``.

    Parameters
    ----------
    text : str, dict or None
        Comma-separated ``field=COLUMN`` pairs, or a dict of the same; None
        or an empty string means no mapping.

    Returns
    -------
    dict
        ``{field: column}``, field names lower-cased, column names as given.

    Raises
    ------
    CatalogueError
        On a pair without ``=``, an empty name, or a field not in :data:`FIELDS`.
    """
    if not text:
        return {}
    if isinstance(text, dict):
        pairs = list(text.items())
    else:
        pairs = []
        for item in str(text).split(","):
            if not item.strip():
                continue
            field, sep, column = item.partition("=")
            if not sep:
                raise CatalogueError(
                    f"Column mapping entry {item.strip()!r} has no '=': write field=COLUMN, "
                    f"e.g. ra=ALPHA_J2000,dec=DELTA_J2000."
                )
            pairs.append((field, column))
    mapping = {}
    for field, column in pairs:
        field, column = str(field).strip().lower(), str(column).strip()
        if field not in FIELDS:
            raise CatalogueError(
                f"Unknown catalogue field {field!r} in the column mapping: "
                f"the fields are {', '.join(FIELDS)}."
            )
        if not column:
            raise CatalogueError(
                f"The column mapping gives no column for {field!r}: write {field}=COLUMN."
            )
        mapping[field] = column
    return mapping


def resolve_columns(colnames, mapping=None, where="The catalogue"):
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
    mapping = parse_mapping(mapping)
    colnames = list(colnames)
    lower = {}
    for name in colnames:
        lower.setdefault(name.lower(), name)
    found, missing = {}, []
    for field in FIELDS:
        candidates = (mapping[field],) if field in mapping else DEFAULT_COLUMNS[field]
        for candidate in candidates:
            actual = candidate if candidate in colnames else lower.get(candidate.lower())
            if actual is not None:
                found[field] = actual
                break
        else:
            missing.append(f"{field} (looked for {' or '.join(candidates)})")
    if missing:
        example = missing[0].split(" ", 1)[0]
        raise CatalogueError(
            f"{where} lacks columns for: {'; '.join(missing)}. Its columns are: "
            f"{', '.join(colnames) or '(none)'}. Name the columns to use with "
            f"--columns field=COLUMN, e.g. --columns {example}=COLUMN_NAME."
        )
    return found


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


def _suffix(path):
    name = Path(path).name.lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return Path(name).suffix


def open_fits(path, error=CatalogueError, **options):
    """Open a FITS file (memory-mapped where possible), checking it is complete.

    astropy only warns about a truncated file and fails later, deep inside
    the data access; here truncation is an ``error`` naming the file.
    ``options`` go to ``astropy.io.fits.open``.

    Returns
    -------
    astropy.io.fits.HDUList
        Open; the caller closes it (use it as a context manager).
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path} does not exist or is not a file: check the path.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdul = fits.open(path, memmap=True, lazy_load_hdus=False, **options)
        except (OSError, ValueError, TypeError, EOFError) as exc:
            raise error(f"{path} is not a readable FITS file ({exc}).") from None
    problems = [
        str(w.message).splitlines()[0]
        for w in caught
        if "truncated" in str(w.message) or "Error validating header" in str(w.message)
    ]
    if problems:
        hdul.close()
        raise error(f"{path} is damaged or truncated ({problems[0]}): copy or download it again.")
    return hdul


def _fits_table_hdu(hdul, path):
    for hdu in hdul:
        if isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
            return hdu
    raise CatalogueError(f"{path} holds no table HDU: a FITS catalogue needs a binary table.")


def _fits_colnames(path):
    with open_fits(path) as hdul:
        return _fits_table_hdu(hdul, path).columns.names


def _read_fits(path, columns, chunk_rows):
    with open_fits(path) as hdul:
        hdu = _fits_table_hdu(hdul, path)
        n_rows = hdu.header.get("NAXIS2", 0)
        data = hdu.data
        for start in range(0, n_rows, chunk_rows):
            # Slicing the memory-mapped FITS_rec first, then converting only
            # the needed columns of the slice, keeps one chunk in memory.
            rows = data[start : start + chunk_rows]
            try:
                chunk = _chunk_from_columns(
                    {field: rows.field(name) for field, name in columns.items()}
                )
            except (TypeError, ValueError) as exc:
                raise CatalogueError(
                    f"{path}: cannot read rows {start}-{start + len(rows) - 1} ({exc}); "
                    f"the file may be damaged: copy or download it again."
                ) from None
            del rows
            yield chunk


def _csv_header(path):
    try:
        with open(path, newline="") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path} cannot be read as text ({exc}).") from None
    if not header:
        raise CatalogueError(f"{path} is empty: a CSV catalogue needs a header line of names.")
    return [name.strip() for name in header]


def _csv_chunk_bytes(path, chunk_rows):
    """Bytes per chunk for astropy's chunked CSV reader, from the first lines."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    lines = max(head.count(b"\n"), 1)
    return max(1 << 20, int(chunk_rows * len(head) / lines))


def _read_csv(path, columns, chunk_rows):
    # astropy's fast reader splits the file into byte-sized chunks, each
    # parsed as a table with the header's names; dtypes may differ between
    # chunks (a blank column is text), which _chunk_from_columns absorbs.
    # Its csv format pads a short line with masked values (NaN here), so a
    # cut-off last line reads as a source with missing values, not an error.
    tables = ascii.read(
        path,
        format="csv",
        guess=False,
        fast_reader={"chunk_size": _csv_chunk_bytes(path, chunk_rows), "chunk_generator": True},
    )
    try:
        for table in tables:
            chunk = _chunk_from_columns({f: table[name] for f, name in columns.items()})
            # A byte-sized chunk may hold more rows than asked for.
            for start in range(0, len(table), chunk_rows):
                yield {k: v[start : start + chunk_rows] for k, v in chunk.items()}
    except CatalogueError as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    except (ascii.InconsistentTableError, ValueError) as exc:
        raise CatalogueError(
            f"{path} is not a well-formed CSV table ({exc}): every line needs as many "
            f"comma-separated values as the header has names."
        ) from None


def _read_table(path, fmt):
    try:
        return Table.read(path, format=fmt)
    except Exception as exc:  # astropy's readers raise many types on bad input
        raise CatalogueError(f"{path} cannot be read as {fmt} ({exc}).") from None


def _read_whole(table, columns, chunk_rows):
    for start in range(0, len(table), chunk_rows):
        rows = table[start : start + chunk_rows]
        yield _chunk_from_columns({field: rows[name] for field, name in columns.items()})


def read_catalogue(path, mapping=None, chunk_rows=100_000):
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
    path = Path(path)
    if chunk_rows < 1:
        raise CatalogueError(f"chunk_rows must be at least 1, not {chunk_rows}.")
    suffix = _suffix(path)
    if suffix not in SUFFIXES:
        raise CatalogueError(
            f"{path}: unknown catalogue format {suffix or '(no suffix)'!r}: "
            f"use one of {', '.join(SUFFIXES)}."
        )
    if not path.is_file():
        raise CatalogueError(f"{path} does not exist or is not a file: check the path.")
    # Columns are resolved now, so that a wrong mapping fails at the call.
    if suffix in FITS_SUFFIXES:
        columns = resolve_columns(_fits_colnames(path), mapping, where=str(path))
        return _read_fits(path, columns, chunk_rows)
    if suffix in CSV_SUFFIXES:
        columns = resolve_columns(_csv_header(path), mapping, where=str(path))
        return _read_csv(path, columns, chunk_rows)
    table = _read_table(path, WHOLE_SUFFIXES[suffix])
    columns = resolve_columns(table.colnames, mapping, where=str(path))
    return _read_whole(table, columns, chunk_rows)


def catalogue_length(path):
    """Number of rows of a catalogue, for progress bars.

    Cheap for FITS (the header's NAXIS2); one pass over the bytes for CSV
    (lines after the header; a quoted value with a line break is counted
    twice); ECSV and VOTable files are read whole.
    """
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise CatalogueError(f"{path} does not exist or is not a file: check the path.")
    if suffix in FITS_SUFFIXES:
        with open_fits(path) as hdul:
            return int(_fits_table_hdu(hdul, path).header.get("NAXIS2", 0))
    if suffix in CSV_SUFFIXES:
        lines, last = 0, b"\n"
        with open(path, "rb") as handle:
            while block := handle.read(1 << 22):
                lines += block.count(b"\n")
                last = block[-1:]
        lines += last != b"\n"  # a last line without its newline
        return max(lines - 1, 0)
    if suffix in WHOLE_SUFFIXES:
        return len(_read_table(path, WHOLE_SUFFIXES[suffix]))
    raise CatalogueError(
        f"{path}: unknown catalogue format {suffix or '(no suffix)'!r}: "
        f"use one of {', '.join(SUFFIXES)}."
    )
