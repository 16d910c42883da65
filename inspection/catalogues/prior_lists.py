"""Prior lens lists: reading them and cross-matching (pure: numpy + astropy, no Django).

A prior list holds the known lenses and candidates of earlier searches, which a
search cross-matches with its own LRG sample and candidates (He et al. 2020,
Sect. 4.3.1). Its columns are found by common names, case-insensitively
(:data:`DEFAULT_COLUMNS`), or named by a mapping such as ``{"ra": "RAJ2000"}``.
Positions are ICRS ``ra``/``dec`` in degrees (float64); separations in arcsec.
"""

import importlib.util
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, SkyCoord
from astropy.table import Table
from numpy.typing import ArrayLike

from core import tables
from core.sky import iau_name

FIELDS = ("name", "ra", "dec", "grade")

#: Column names looked for (lower case, in order of preference) for each field.
DEFAULT_COLUMNS = {
    "name": ("name", "id", "object", "objname", "designation"),
    "ra": ("ra", "ra_deg", "ra [deg]", "raj2000", "_raj2000", "ra_j2000", "alpha_j2000",
           "radeg", "ra_icrs"),
    "dec": ("dec", "dec_deg", "dec [deg]", "dej2000", "dec_j2000", "decj2000", "_dej2000",
            "delta_j2000", "dedeg", "dec_icrs"),
    "grade": ("grade", "grading", "quality", "class", "rank"),
}  # fmt: skip  # aligned table of column aliases

#: Entries closer than this to an earlier entry are the same object listed twice.
DUPLICATE_RADIUS_ARCSEC = 1.0
#: Names that stand for "no name" (lenscat writes "-"): such entries get a J name.
NO_NAME = ("", "-", "--")
LENSCAT_PIN = "lenscat==1.1.3"
LENSCAT_COLUMNS = {"name": "name", "ra": "RA [deg]", "dec": "DEC [deg]", "grade": "grading"}


class PriorListError(ValueError):
    """A prior list cannot be read; the message says what is wrong and how to fix it."""


def _resolve(colnames, mapping, where):
    """``{field: actual column}``; name and grade may be absent, ra and dec may not."""
    return tables.resolve_columns(
        colnames,
        DEFAULT_COLUMNS,
        mapping,
        optional=("name", "grade"),
        where=where,
        error=PriorListError,
        what="prior-list",
        how="columns ra=COL,dec=COL, e.g. ra=RAJ2000,dec=DEJ2000",
        example="ra=RAJ2000,dec=DEJ2000",
    )


def _strings(values):
    """Any column -> stripped unicode strings, masked entries as ''."""
    mask, data = np.ma.getmaskarray(values), np.ma.getdata(values)
    if data.dtype.kind == "S":
        data = np.char.decode(data, "utf-8", errors="replace")
    elif data.dtype.kind == "O":  # VOTable strings
        data = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in data]
    out = np.char.strip(np.asarray(data, dtype=str))
    out[mask] = ""
    return out


def _rows(rows, values=None):
    shown = [f"{i + 1}" if values is None else f"{i + 1} ({values[i]:g})" for i in rows[:5]]
    return ", ".join(shown) + (", ..." if len(rows) > 5 else "")


def _degrees(values, field, column, where):
    """A coordinate column (degrees, numeric text or sexagesimal) -> float64 degrees,
    checked to be present and in range."""
    mask, data = np.ma.getmaskarray(values), np.ma.getdata(values)
    if data.dtype.kind in "iuf":
        degrees = np.array(data, dtype=np.float64)  # a plain array, not a Column with a unit
        if getattr(values, "unit", None) is not None and values.unit.physical_type == "angle":
            degrees = (degrees * values.unit).to_value(u.deg)
        mask = mask | np.isnan(degrees)
    else:
        text = _strings(values).tolist()
        degrees, mask = np.full(len(text), np.nan), mask | (np.array(text) == "")
        for i in np.flatnonzero(~mask):
            try:
                degrees[i] = float(text[i])
                continue
            except ValueError:
                pass
            # Sexagesimal RA is in hours unless marked as degrees ("133d41m38s").
            hours = field == "ra" and not any(c in text[i].lower() for c in "d°")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # 61 seconds is a typo, not a value
                    degrees[i] = Angle(text[i], unit=u.hourangle if hours else u.deg).deg
            except (ValueError, TypeError, u.UnitsError, Warning):
                raise PriorListError(
                    f"{where}, row {i + 1}: cannot read {field.upper()} {text[i]!r} in column "
                    f"{column!r}: write degrees (133.694) or sexagesimal "
                    f"({'08:54:46.55' if field == 'ra' else '-01:21:37.1'})."
                ) from None
    if mask.any():
        rows = np.flatnonzero(mask)
        raise PriorListError(
            f"{where}: {len(rows)} row(s) have no {field.upper()} in column {column!r} "
            f"(rows {_rows(rows)}): fill them in or remove them."
        )
    # Out-of-range values are reported, not wrapped: they mean a wrong column or unit.
    if field == "ra":
        bad, limits, hint = ~((degrees >= 0) & (degrees < 360)), "[0, 360)", "; RA text is hours"
    else:
        bad, limits, hint = ~((degrees >= -90) & (degrees <= 90)), "[-90, 90]", ""
    if bad.any():
        rows = np.flatnonzero(bad)
        raise PriorListError(
            f"{where}: {len(rows)} row(s) have {field.upper()} outside {limits} deg "
            f"(rows {_rows(rows, degrees)}): check that column {column!r} holds degrees "
            f"(not radians{hint}) and fix those rows."
        )
    return degrees


def _read_file(path, mapping, extra_columns=()):
    """The file's table (for CSV only the columns needed) and its resolved columns."""
    source = tables.TableFile(path, PriorListError, "prior-list")
    columns = _resolve(source.colnames, mapping, path)
    # Reading only the needed columns of a CSV skips lenscat's long reference strings.
    return source.read([*columns.values(), *extra_columns]), columns


def _prior_table(path, columns=None, extra=None):
    """:func:`read_prior_list`, keeping also the ``extra`` ``{field: column}`` as str."""
    path, extra = Path(path), extra or {}
    table, found = _read_file(path, columns, tuple(extra.values()))
    n = len(table)
    if n == 0:
        raise PriorListError(f"{path} lists no entries: upload a list with at least one row.")
    ra = _degrees(table[found["ra"]], "ra", found["ra"], path)
    dec = _degrees(table[found["dec"]], "dec", found["dec"], path)
    names = _strings(table[found["name"]]) if "name" in found else np.full(n, "")
    unnamed = np.isin(names, NO_NAME)
    if unnamed.any():
        names = names.astype(object)  # a generated name may be longer than the column's
        names[unnamed] = np.char.lstrip(iau_name(ra[unnamed], dec[unnamed], prefix=""))
        names = names.astype(str)
    grades = _strings(table[found["grade"]]) if "grade" in found else np.full(n, "")
    out = Table({"name": names, "ra": ra, "dec": dec, "grade": grades})
    out["ra"].unit = out["dec"].unit = u.deg
    for field, column in extra.items():
        out[field] = _strings(table[column])

    # Each entry within 1" of an earlier one is merged into the first of its
    # chain (the kept entry takes the grade of a duplicate if it has none).
    coords = SkyCoord(ra * u.deg, dec * u.deg)
    i, j, _, _ = coords.search_around_sky(coords, DUPLICATE_RADIUS_ARCSEC * u.arcsec)
    keeper = np.arange(n)
    np.minimum.at(keeper, j[i < j], i[i < j])
    dropped = np.flatnonzero(keeper < np.arange(n))
    for k in dropped:  # in increasing order, so keeper[keeper[k]] is final already
        keeper[k] = keeper[keeper[k]]
        if out["grade"][keeper[k]] == "":
            out["grade"][keeper[k]] = out["grade"][k]
    out = out[keeper == np.arange(n)]
    out.meta.update(n_read=n, n_duplicates=len(dropped), duplicates=names[dropped].tolist())
    return out


def read_prior_list(path: str | Path, columns: dict[str, str] | None = None) -> Table:
    """Read a prior lens list.

    Parameters
    ----------
    path : str or Path
        CSV, FITS (first table HDU; ``.fits``, ``.fit``, ``.fits.gz``, ...),
        ECSV or VOTable (``.vot``, ``.xml``, ``.votable``).
    columns : dict, str or None
        ``{field: column}`` (or ``"ra=RAJ2000,name=ID"``) overriding the
        detection of :data:`DEFAULT_COLUMNS`. RA/Dec may be degrees, numeric
        text or sexagesimal text (RA in hours, Dec in degrees).

    Returns
    -------
    astropy.table.Table
        ``name`` (str; ``JHHMMSS.ss+DDMMSS.ss`` where the list has none),
        ``ra``, ``dec`` (float64, deg) and ``grade`` (str, '' where none).
        Entries within 1" of an earlier one are merged into it:
        ``meta["n_read"]`` rows were read, ``meta["n_duplicates"]`` dropped,
        their names in ``meta["duplicates"]``.

    Raises
    ------
    PriorListError
        Naming the file, and the rows where the coordinates are at fault.
    """
    return _prior_table(path, columns)


def lenscat_csv_path() -> Path:
    """The lenscat catalogue CSV, found without importing lenscat (which needs pandas)."""
    spec = importlib.util.find_spec("lenscat")
    folders = (spec.submodule_search_locations or []) if spec else []
    path = Path(folders[0]) / "data" / "catalog.csv" if folders else None
    if path is None or not path.is_file():
        raise PriorListError(
            f"The lenscat catalogue is not installed: run pip install --no-deps {LENSCAT_PIN} "
            f"(make install does)."
        )
    return path


def read_lenscat() -> Table:
    """The lenscat catalogue as :func:`read_prior_list` returns it, plus ``kind``
    (galaxy, group or cluster); ``grade`` is 'confident' or 'probable'."""
    return _prior_table(lenscat_csv_path(), LENSCAT_COLUMNS, extra={"kind": "type"})


def crossmatch(
    ra1_deg: ArrayLike,
    dec1_deg: ArrayLike,
    ra2_deg: ArrayLike,
    dec2_deg: ArrayLike,
    radius_arcsec: float = 2.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match each position of set 1 whose nearest neighbour in set 2 lies within
    ``radius_arcsec`` (degrees in, either set may be empty).

    Returns
    -------
    idx1, idx2 : numpy arrays of int64
        Indices into set 1 (increasing) and set 2 of the matched pairs.
    sep_arcsec : numpy array of float64
        Their separations in arcsec.
    """
    if not radius_arcsec > 0:
        raise PriorListError(f"The match radius must be positive, not {radius_arcsec} arcsec.")
    ra1, dec1, ra2, dec2 = (
        np.atleast_1d(np.asarray(v, dtype=np.float64))
        for v in (ra1_deg, dec1_deg, ra2_deg, dec2_deg)
    )
    if len(ra1) != len(dec1) or len(ra2) != len(dec2):
        raise PriorListError("RA and Dec of each set must have the same length.")
    if len(ra1) == 0 or len(ra2) == 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([])
    coords1 = SkyCoord(ra1 * u.deg, dec1 * u.deg)
    idx, sep, _ = coords1.match_to_catalog_sky(SkyCoord(ra2 * u.deg, dec2 * u.deg))
    sep_arcsec = sep.to_value(u.arcsec)
    ok = sep_arcsec <= radius_arcsec
    return np.flatnonzero(ok).astype(np.int64), idx[ok].astype(np.int64), sep_arcsec[ok]
