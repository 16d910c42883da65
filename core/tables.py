"""Table files: formats, column mappings, reading and writing (pure: numpy + astropy, no Django).

One place for what the survey catalogues (``inspection.ingest.sources``), prior lens
lists (``inspection.catalogues.prior_lists``) and the exports (``inspection.scoring.services``,
``inspection.catalogues.services``) share:

- :data:`FORMATS`: file suffix -> astropy format, for reading and writing;
- :func:`parse_mapping` and :func:`resolve_columns`: a column mapping such as
  ``"ra=ALPHA_J2000,dec=DELTA_J2000"`` and the columns it picks, matched
  case-insensitively, with errors that list what is missing, the file's
  columns and how to name them;
- :class:`TableFile`: the one reader, by chunks with bounded memory for FITS
  (memory-mapped) and CSV (astropy's chunked reader), whole for ECSV/VOTable;
- :func:`write_table`: the one atomic writer (CSV, ECSV, FITS, VOTable), which
  gives each known column (:data:`COLUMNS`) its unit, description and, in
  VOTable, UCD (IVOA UCD1+).

Every function that can fail takes ``error``: the exception class to raise
(a caller's own ``ValueError`` subclass), so messages reach users unchanged.
"""

import csv
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
from astropy.io import ascii, fits
from astropy.table import Table

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fz", ".fits.fz")
CSV_SUFFIXES = (".csv",)
#: Suffix -> astropy format. ECSV and VOTable files are read whole.
FORMATS = {
    **dict.fromkeys(FITS_SUFFIXES, "fits"),
    ".csv": "ascii.csv",
    ".ecsv": "ascii.ecsv",
    ".vot": "votable",
    ".xml": "votable",
    ".votable": "votable",
}
#: What can be read, in the order error messages list them.
READ_SUFFIXES = tuple(FORMATS)
#: What the exports write (a compressed FITS is not offered).
WRITE_SUFFIXES = (".csv", ".ecsv", ".fit", ".fits", ".vot", ".votable", ".xml")
#: The download choices of the pages: name in the URL -> suffix.
DOWNLOADS = {"csv": ".csv", "fits": ".fits", "ecsv": ".ecsv", "vot": ".vot"}

#: Exported columns: name -> (unit, description, UCD). A column's own unit or
#: description, where it has one, wins; names not listed get nothing.
COLUMNS = {
    "name": (None, "source name (IAU style, from the J2000 position)", "meta.id;meta.main"),
    "catalogue_id": (None, "identifier in the survey catalogue", "meta.id;meta.dataset"),
    "ra": ("deg", "right ascension (ICRS)", "pos.eq.ra;meta.main"),
    "dec": ("deg", "declination (ICRS)", "pos.eq.dec;meta.main"),
    "score": (None, "network P(lens)", "stat.probability"),
    "logit": (None, "network log-odds ln(P / (1 - P)): ranks where P ties at 1.0", "stat.value"),
    "p_prior": (None, "network score mapped to the survey's lens prior", "stat.probability"),
    "posterior": (None, "Space Warps posterior P(lens) after every grade", "stat.probability"),
    "p_ds": (
        None,
        "Dawid-Skene P(lens): every grade on the whole 0/1/2 scale",
        "stat.probability",
    ),  # fmt: skip
    "is_refined": (None, "in the refined sample (FLAG_R = 0)", "meta.code"),
    "mag_g": ("mag", "g-band magnitude", "phot.mag;em.opt.B"),
    "mag_r": ("mag", "r-band magnitude", "phot.mag;em.opt.R"),
    "mag_i": ("mag", "i-band magnitude", "phot.mag;em.opt.I"),
    "stamp_flags": (None, "stamp flags: 1 at a tile edge, 2 or more outside", "meta.code.qual"),
    "total": (None, "sum of the first-round grades (He et al. 2020)", "stat.value"),
    "n_grades": (None, "number of grades", "meta.number"),
    "mean_grade": (None, "mean of the first-round grades (0-2)", "stat.value"),
    "grade_class": (
        None,
        "A, B or C by the mean grade (campaign's bounds CLASSA-C)",
        "meta.code.class",
    ),  # fmt: skip
    "second_total": (None, "total of the further vote", "stat.value"),
    "rank_total": (None, "rank by total score", "meta.number"),
    "rank_posterior": (None, "rank by posterior", "meta.number"),
    "rank_ds": (None, "rank by Dawid-Skene posterior", "meta.number"),
    "high_probability": (None, "in the high-probability catalogue", "meta.code"),
    "flags": (None, "disagree, further-vote, incomplete, edge", "meta.code"),
    "prior_match": (None, "matched prior-list entry (list:name)", "meta.id.cross"),
    "prior_sep": ("arcsec", "separation from the prior-list entry", "pos.angDistance"),
    "new": (None, "high probability and in no prior list", "meta.code"),
}
#: Columns named ``grade_<code>``: one inspector's grade.
GRADE_UCD = "meta.code.class"


class TableError(ValueError):
    """A table cannot be read or written; the message says what is wrong and how to fix it."""


# --- Formats -----------------------------------------------------------------


def suffix_of(path: str | Path) -> str:
    """The longest known suffix of ``path`` (lower case), else its last suffix."""
    name = Path(path).name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return Path(name).suffix


def write_format(path: str | Path, error: type[Exception] = TableError) -> str:
    """The astropy format to write ``path`` in, by its suffix."""
    suffix = suffix_of(path)
    if suffix not in WRITE_SUFFIXES:
        raise error(
            f"Cannot tell the format of {path}: end it in one of {', '.join(WRITE_SUFFIXES)}."
        )
    return FORMATS[suffix]


# --- Columns -----------------------------------------------------------------


def parse_mapping(
    text: str | dict[str, str] | None,
    fields: Sequence[str],
    error: type[Exception] = TableError,
    what: str = "table",
    example: str = "ra=RA,dec=DEC",
) -> dict[str, str]:
    """Parse a column mapping such as ``"ra=ALPHA_J2000,dec=DELTA_J2000"``.

    Parameters
    ----------
    text : str, dict or None
        Comma-separated ``field=COLUMN`` pairs, or a dict of the same; None
        or an empty string means no mapping.
    fields : sequence of str
        The fields a mapping may name.
    what, example : str
        How error messages name the table ("catalogue") and an example mapping.

    Returns
    -------
    dict
        ``{field: column}``, field names lower-cased, column names as given.

    Raises
    ------
    error
        On a pair without ``=``, an empty name, or a field not in ``fields``.
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
                raise error(
                    f"Column mapping entry {item.strip()!r} has no '=': write field=COLUMN, "
                    f"e.g. {example}."
                )
            pairs.append((field, column))
    mapping = {}
    for field, column in pairs:
        field, column = str(field).strip().lower(), str(column).strip()
        if field not in fields:
            raise error(
                f"Unknown {what} field {field!r} in the column mapping: "
                f"the fields are {', '.join(fields)}."
            )
        if not column:
            raise error(f"The column mapping gives no column for {field!r}: write {field}=COLUMN.")
        mapping[field] = column
    return mapping


def resolve_columns(
    colnames: Iterable[str],
    defaults: dict[str, Sequence[str]],
    mapping: dict[str, str] | None = None,
    *,
    optional: Iterable[str] = (),
    where: str = "The table",
    error: type[Exception] = TableError,
    what: str = "table",
    how: str = "columns field=COLUMN, e.g. {field}=COLUMN_NAME",
    example: str = "ra=RA,dec=DEC",
) -> dict[str, str]:
    """Find the column for every field of ``defaults``.

    Parameters
    ----------
    colnames : sequence of str
        The columns the file has.
    defaults : dict
        ``{field: (column, ...)}``: names looked for, in order of preference.
    mapping : str, dict or None
        Columns to use instead of the defaults (:func:`parse_mapping`);
        fields not named keep their defaults.
    optional : sequence of str
        Fields that may be absent (unless the mapping names them).
    where : str
        How to name the file in error messages.
    how : str
        How to name columns, ``{field}`` standing for the first missing field.

    Returns
    -------
    dict
        ``{field: actual column name}``. Names match case-insensitively
        (and ignoring surrounding blanks); an exact match wins.

    Raises
    ------
    error
        Naming every missing field, the names looked for, the columns the
        file has, and how to map them.
    """
    mapping = parse_mapping(mapping, tuple(defaults), error, what, example)
    colnames = list(colnames)
    lower = {}
    for name in colnames:
        lower.setdefault(name.strip().lower(), name)
    found, missing = {}, []
    for field, names in defaults.items():
        candidates = (mapping[field],) if field in mapping else tuple(names)
        for candidate in candidates:
            actual = candidate if candidate in colnames else lower.get(candidate.strip().lower())
            if actual is not None:
                found[field] = actual
                break
        else:
            if field in mapping:
                missing.append(f"{field} (no column {mapping[field]!r}, as mapped)")
            elif field not in optional:
                missing.append(f"{field} (looked for {' or '.join(candidates)})")
    if missing:
        field = missing[0].split(" ", 1)[0]
        raise error(
            f"{where} lacks columns for: {'; '.join(missing)}. Its columns are "
            f"{', '.join(colnames) or '(none)'}. Name the columns to use with "
            f"{how.format(field=field)}."
        )
    return found


# --- Reading -----------------------------------------------------------------


def open_fits(path: str | Path, error: type[Exception] = TableError, **options) -> fits.HDUList:
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


def _csv_chunk_bytes(path, chunk_rows):
    """Bytes per chunk for astropy's chunked CSV reader, from the first lines."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    lines = max(head.count(b"\n"), 1)
    return max(1 << 20, int(chunk_rows * len(head) / lines))


class TableFile:
    """A table file (FITS, CSV, ECSV or VOTable, by suffix), checked at once.

    ``what`` names it in messages ("catalogue", "prior-list"); ``error`` is
    raised for every problem. ECSV and VOTable files are read whole here;
    FITS and CSV only when their rows are asked for.
    """

    def __init__(self, path, error=TableError, what="table"):
        self.path, self.error, self.what = Path(path), error, what
        self.suffix = suffix_of(self.path)
        if self.suffix not in FORMATS:
            raise error(
                f"{self.path}: unknown {what} format {self.suffix or '(no suffix)'!r}: "
                f"use one of {', '.join(READ_SUFFIXES)}."
            )
        self.format = FORMATS[self.suffix]
        if not self.path.is_file():
            raise error(f"{self.path} does not exist or is not a file: check the path.")
        self._whole = None if self.format in ("fits", "ascii.csv") else self._read_whole()

    def _read_whole(self):
        try:
            return Table.read(self.path, format=self.format)
        except Exception as exc:  # astropy's readers raise many types on bad input
            raise self.error(f"{self.path} cannot be read as {self.format} ({exc}).") from None

    def _table_hdu(self, hdul):
        for hdu in hdul:
            if isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
                return hdu
        raise self.error(
            f"{self.path} holds no table HDU: a FITS {self.what} needs a binary table."
        )

    @cached_property
    def colnames(self) -> list[str]:
        """The column names (FITS: of the first table HDU; CSV: of the header line)."""
        if self.format == "fits":
            with open_fits(self.path, self.error) as hdul:
                return list(self._table_hdu(hdul).columns.names)
        if self.format == "ascii.csv":
            try:
                with open(self.path, newline="") as handle:
                    header = next(csv.reader(handle), None)
            except (OSError, UnicodeDecodeError) as exc:
                raise self.error(f"{self.path} cannot be read as text ({exc}).") from None
            if not header:
                raise self.error(
                    f"{self.path} is empty: a CSV {self.what} needs a header line of names."
                )
            return [name.strip() for name in header]
        return list(self._whole.colnames)

    def read(self, names: list[str] | None = None) -> Table:
        """The whole table (FITS: the first table HDU); CSV reads only ``names``."""
        if self._whole is not None:
            return self._whole
        try:
            if self.format == "fits":
                with open_fits(self.path, self.error) as hdul:
                    return Table.read(self._table_hdu(hdul))
            include = None if names is None else list(dict.fromkeys(names))
            return ascii.read(self.path, format="csv", guess=False, include_names=include)
        except self.error:
            raise
        except Exception as exc:  # astropy's readers raise many types on bad input
            raise self.error(f"{self.path} cannot be read as {self.format} ({exc}).") from None

    def __len__(self):
        """Rows: cheap for FITS (NAXIS2); one pass over the bytes for CSV (lines
        after the header; a quoted value with a line break counts twice)."""
        if self.format == "fits":
            with open_fits(self.path, self.error) as hdul:
                return int(self._table_hdu(hdul).header.get("NAXIS2", 0))
        if self.format == "ascii.csv":
            lines, last = 0, b"\n"
            with open(self.path, "rb") as handle:
                while block := handle.read(1 << 22):
                    lines += block.count(b"\n")
                    last = block[-1:]
            lines += last != b"\n"  # a last line without its newline
            return max(lines - 1, 0)
        return len(self._whole)

    def chunks(
        self, names: list[str], chunk_rows: int, convert: Callable[[dict], dict] = dict
    ) -> Iterator[dict]:
        """Yield ``convert({name: column})`` for runs of at most ``chunk_rows`` rows.

        Memory stays bounded by the chunk for uncompressed FITS (memory-mapped:
        only the slice's columns are converted) and CSV (astropy's chunked fast
        reader; a short line is padded with masked values). ``convert`` runs
        inside the error handling: an ``error`` it raises is re-raised naming
        the file, any other ValueError or TypeError as a damaged file.
        """
        if chunk_rows < 1:
            raise self.error(f"chunk_rows must be at least 1, not {chunk_rows}.")
        if self.format == "fits":
            return self._fits_chunks(names, chunk_rows, convert)
        if self.format == "ascii.csv":
            return self._csv_chunks(names, chunk_rows, convert)
        return self._whole_chunks(names, chunk_rows, convert)

    def _fits_chunks(self, names, chunk_rows, convert):
        with open_fits(self.path, self.error) as hdul:
            hdu = self._table_hdu(hdul)
            n_rows = hdu.header.get("NAXIS2", 0)
            data = hdu.data
            for start in range(0, n_rows, chunk_rows):
                # Slicing the memory-mapped FITS_rec first, then converting only
                # the needed columns of the slice, keeps one chunk in memory.
                rows = data[start : start + chunk_rows]
                try:
                    chunk = convert({name: rows.field(name) for name in names})
                except self.error as exc:
                    raise self.error(f"{self.path}: {exc}") from None
                except (TypeError, ValueError) as exc:
                    raise self.error(
                        f"{self.path}: cannot read rows {start}-{start + len(rows) - 1} ({exc}); "
                        f"the file may be damaged: copy or download it again."
                    ) from None
                del rows
                yield chunk

    def _csv_chunks(self, names, chunk_rows, convert):
        # astropy's fast reader splits the file into byte-sized chunks, each
        # parsed as a table with the header's names; dtypes may differ between
        # chunks (a blank column is text), which ``convert`` absorbs.
        tables = ascii.read(
            self.path,
            format="csv",
            guess=False,
            fast_reader={
                "chunk_size": _csv_chunk_bytes(self.path, chunk_rows),
                "chunk_generator": True,
            },
        )
        try:
            for table in tables:
                # A byte-sized chunk may hold more rows than asked for.
                for start in range(0, len(table), chunk_rows):
                    rows = table[start : start + chunk_rows]
                    yield convert({name: rows[name] for name in names})
        except self.error as exc:
            raise self.error(f"{self.path}: {exc}") from None
        except (ascii.InconsistentTableError, ValueError) as exc:
            raise self.error(
                f"{self.path} is not a well-formed CSV table ({exc}): every line needs as "
                f"many comma-separated values as the header has names."
            ) from None

    def _whole_chunks(self, names, chunk_rows, convert):
        for start in range(0, len(self._whole), chunk_rows):
            rows = self._whole[start : start + chunk_rows]
            try:
                yield convert({name: rows[name] for name in names})
            except self.error as exc:
                raise self.error(f"{self.path}: {exc}") from None


# --- Writing -----------------------------------------------------------------


def describe(table: Table) -> Table:
    """Give each column of :data:`COLUMNS` its unit and description where it
    has none, and its UCD (``column.meta["ucd"]``, written in VOTable)."""
    for name in table.colnames:
        column = table[name]
        unit, description, ucd = COLUMNS.get(name, (None, None, None))
        if name.startswith("grade_") and name not in COLUMNS:
            ucd = GRADE_UCD
        if unit and column.unit is None:
            column.unit = unit
        if description and not column.description:
            column.description = description
        if ucd:
            column.meta.setdefault("ucd", ucd)
    return table


def _ascii_text(table):
    r"""``table`` with non-ASCII text escaped (``θ`` -> ``\u03b8``): FITS
    strings are ASCII, and free text (a decision's reason, a prior list's
    names) may not be."""
    for name in table.colnames:
        column = table[name]
        if column.dtype.kind == "U" and not all(str(v).isascii() for v in column):
            escaped = [str(v).encode("ascii", "backslashreplace").decode() for v in column]
            table[name] = type(column)(np.array(escaped, dtype=str), name=name, meta=column.meta)
            table[name].description, table[name].unit = column.description, column.unit
    return table


def _write_fits(table, path):
    """FITS with each column's description as the comment of its TTYPE card."""
    hdu = fits.table_to_hdu(_ascii_text(table))
    for i, name in enumerate(table.colnames, start=1):
        key = f"TTYPE{i}"
        # A fixed-format value fills columns 1-30; " / " precedes the comment.
        room = 80 - max(len(fits.Card(key, hdu.header[key]).image.rstrip()), 30) - 3
        if table[name].description and room > 0:
            hdu.header.comments[key] = table[name].description[:room]
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)


def write_table(table: Table, path: str | Path, error: type[Exception] = TableError) -> int:
    """Write an astropy table in the format of ``path``'s suffix, with the
    units, descriptions and UCDs of :func:`describe`.

    Atomic: a failed write leaves no file behind and an older file untouched.

    Returns
    -------
    int
        The number of rows written.
    """
    path = Path(path)
    fmt = write_format(path, error)
    if not path.parent.is_dir():
        raise error(f"Cannot write {path}: the folder {path.parent} does not exist.")
    table = describe(table.copy(copy_data=False))
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}{path.suffix}")
    try:
        if fmt == "fits":
            _write_fits(table, tmp)
        else:
            table.write(tmp, format=fmt, overwrite=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(table)
