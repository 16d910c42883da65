"""Table files (core.tables): formats, column mappings, reading, atomic writing.
Pure, no database."""

import numpy as np
import pytest
from astropy.io import fits, votable
from astropy.table import MaskedColumn, Table

from core import tables
from core.tables import TableError, TableFile, parse_mapping, resolve_columns, write_table

FIELDS = ("id", "ra", "dec")
DEFAULTS = {"id": ("ID", "NAME"), "ra": ("RAJ2000", "RA"), "dec": ("DECJ2000", "DEC")}


class MyError(ValueError):
    pass


def sample():
    t = Table()
    t["name"] = np.array(["J000000.00+000000.0", "J010000.00-010000.0"])
    t["ra"] = np.array([0.0, 15.0])
    t["dec"] = np.array([0.0, -1.0])
    t["score"] = np.array([0.9, 0.5])
    t["score"].description = "network P(lens) at the training prior"
    t["grade_I1"] = MaskedColumn(np.array([2, 0], np.int16), mask=[False, True])
    t["prior_sep"] = np.array([0.3, np.nan])
    t.meta["RUN"] = 7
    return t


# --- Mappings and columns ----------------------------------------------------


def test_a_mapping_parses_from_text_or_a_dict():
    assert parse_mapping("RA=ALPHA, dec = DELTA,", FIELDS) == {"ra": "ALPHA", "dec": "DELTA"}
    assert parse_mapping({"Dec": "D"}, FIELDS) == {"dec": "D"}
    assert parse_mapping(None, FIELDS) == {} and parse_mapping("", FIELDS) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ra:ALPHA", r"entry 'ra:ALPHA' has no '=': write field=COLUMN, e\.g\. ra=RA,dec=DEC"),
        ("ra=A,z=Z", r"Unknown table field 'z' in the column mapping: the fields are id, ra, dec"),
        ("ra=", r"gives no column for 'ra': write ra=COLUMN"),
    ],
)
def test_a_bad_mapping_says_what_is_wrong_in_the_callers_error(text, message):
    with pytest.raises(MyError, match=message):
        parse_mapping(text, FIELDS, error=MyError)


def test_columns_resolve_case_insensitively_with_an_exact_match_winning():
    assert resolve_columns(["id", "ra", " DecJ2000 "], DEFAULTS) == {
        "id": "id",
        "ra": "ra",
        "dec": " DecJ2000 ",
    }
    assert resolve_columns(["RA", "ra", "DEC", "ID"], DEFAULTS)["ra"] == "RA"
    assert resolve_columns(["X", "Y", "ID"], DEFAULTS, "ra=x,dec=Y")["ra"] == "X"


def test_missing_columns_are_listed_with_the_files_columns_and_how_to_map_them():
    with pytest.raises(MyError) as info:
        resolve_columns(["ID", "ALPHA"], DEFAULTS, "dec=DELTA", where="cat.csv", error=MyError,
                        how="--columns {field}=COL")  # fmt: skip
    message = str(info.value)
    assert message.startswith("cat.csv lacks columns for: ra (looked for RAJ2000 or RA); ")
    assert "dec (no column 'DELTA', as mapped)" in message
    assert "Its columns are ID, ALPHA." in message and message.endswith("--columns ra=COL.")


def test_optional_columns_may_be_absent_unless_mapped():
    assert resolve_columns(["RA", "DEC"], DEFAULTS, optional=("id",)) == {"ra": "RA", "dec": "DEC"}
    with pytest.raises(TableError, match="id \\(no column 'N', as mapped\\)"):
        resolve_columns(["RA", "DEC"], DEFAULTS, {"id": "N"}, optional=("id",))


# --- Reading -----------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".fits", ".ecsv", ".vot", ".fits.gz"])
def test_the_reader_reads_every_format_whole_and_in_chunks(tmp_path, suffix):
    t = Table({"ID": ["a", "b", "c", "d", "e"], "RA": np.arange(5.0), "DEC": -np.arange(5.0)})
    path = tmp_path / f"cat{suffix}"
    t.write(path, format=tables.FORMATS[suffix])
    source = TableFile(path)
    assert source.colnames == ["ID", "RA", "DEC"] and len(source) == 5
    assert list(source.read(["RA"])["RA"]) == list(range(5))
    chunks = list(source.chunks(["RA", "ID"], 2, convert=lambda c: np.asarray(c["RA"]).tolist()))
    assert chunks == [[0.0, 1.0], [2.0, 3.0], [4.0]]


def test_the_reader_names_the_file_and_the_accepted_suffixes(tmp_path):
    with pytest.raises(MyError, match=r"cat\.txt: unknown catalogue format '\.txt': use one of "):
        TableFile(tmp_path / "cat.txt", MyError, "catalogue")
    with pytest.raises(MyError, match="does not exist"):
        TableFile(tmp_path / "cat.fits", MyError)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3\n4,5,6\n")
    with pytest.raises(MyError, match=r"bad\.csv is not a well-formed CSV table"):
        list(TableFile(tmp_path / "bad.csv", MyError).chunks(["a", "b"], 10))
    fits.PrimaryHDU(np.zeros((2, 2))).writeto(tmp_path / "image.fits")
    with pytest.raises(MyError, match="holds no table HDU: a FITS prior-list needs"):
        _ = TableFile(tmp_path / "image.fits", MyError, "prior-list").colnames


def test_an_error_of_the_conversion_is_reraised_naming_the_file(tmp_path):
    Table({"a": [1, 2]}).write(tmp_path / "t.ecsv")

    def convert(chunk):
        raise MyError("a numeric column holds text")

    with pytest.raises(MyError, match=r"t\.ecsv: a numeric column holds text"):
        list(TableFile(tmp_path / "t.ecsv", MyError).chunks(["a"], 1, convert))


# --- Writing -----------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".fits", ".vot"])
def test_each_format_round_trips_with_units_and_descriptions(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    assert write_table(sample(), path) == 2
    back = Table.read(path)
    assert back.colnames == sample().colnames
    assert np.allclose(back["ra"], [0, 15]) and [str(n) for n in back["name"]][1].startswith("J01")
    if suffix == ".csv":
        return  # values only
    assert back["ra"].unit == "deg" and back["dec"].unit == "deg"
    assert back["prior_sep"].unit == "arcsec"
    assert bool(np.ma.getmaskarray(back["grade_I1"])[1])
    if suffix == ".fits":  # FITS keeps descriptions as the TTYPEn comments
        header = fits.getheader(path, 1)
        assert header.comments["TTYPE4"] == "network P(lens) at the training prior"
        assert header.comments["TTYPE2"] == "right ascension (ICRS)"
    else:
        assert back["score"].description == "network P(lens) at the training prior"
        assert back["ra"].description == "right ascension (ICRS)"


def test_the_votable_carries_ucds(tmp_path):
    path = tmp_path / "out.vot"
    write_table(sample(), path)
    ucds = {f.name: f.ucd for f in votable.parse_single_table(str(path)).fields}
    assert ucds["name"] == "meta.id;meta.main"
    assert ucds["ra"] == "pos.eq.ra;meta.main" and ucds["dec"] == "pos.eq.dec;meta.main"
    assert ucds["score"] == "stat.probability" and ucds["prior_sep"] == "pos.angDistance"
    assert ucds["grade_I1"] == tables.GRADE_UCD


def test_a_columns_own_unit_description_and_ucd_win(tmp_path):
    t = sample()
    t["ra"].unit = "rad"
    t["ra"].meta["ucd"] = "pos.eq.ra"
    write_table(t, tmp_path / "out.vot")
    field = votable.parse_single_table(str(tmp_path / "out.vot")).get_field_by_id("ra")
    assert (str(field.unit), field.ucd) == ("rad", "pos.eq.ra")
    assert t["dec"].unit is None and "ucd" not in t["dec"].meta  # the caller's table is kept


def test_an_unknown_suffix_or_folder_is_refused_in_the_callers_error(tmp_path):
    with pytest.raises(MyError, match=r"Cannot tell the format of .*x\.xlsx: end it in one of"):
        write_table(sample(), tmp_path / "x.xlsx", MyError)
    with pytest.raises(MyError, match="the folder .* does not exist"):
        write_table(sample(), tmp_path / "no" / "x.csv", MyError)


def test_a_failed_write_leaves_no_partial_file_and_the_old_file_untouched(tmp_path):
    path = tmp_path / "out.fits"
    path.write_bytes(b"old")
    bad = sample()
    bad["thing"] = np.array([object(), object()], dtype=object)  # FITS cannot hold objects
    with pytest.raises(Exception):  # noqa: B017 - astropy's own error
        write_table(bad, path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.fits"]


def test_it_escapes_text_fits_cannot_hold_and_keeps_it_elsewhere(tmp_path):
    t = Table({"reason": np.array(["arc at θ ≈ 1″", "plain"]), "n": [1, 2]})
    t["reason"].description = "why"
    write_table(t, tmp_path / "t.fits")
    write_table(t, tmp_path / "t.ecsv")
    assert list(Table.read(tmp_path / "t.fits")["reason"]) == [
        "arc at \\u03b8 \\u2248 1\\u2033",
        "plain",
    ]
    assert list(Table.read(tmp_path / "t.ecsv")["reason"]) == ["arc at θ ≈ 1″", "plain"]
    assert t["reason"][0] == "arc at θ ≈ 1″"  # the caller's table is left alone
