"""inspection.catalogues.prior_lists: reading prior lens lists and cross-matching (no database)."""

import time

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

from inspection.catalogues import prior_lists as priors
from inspection.catalogues.prior_lists import (
    PriorListError,
    crossmatch,
    lenscat_csv_path,
    read_lenscat,
    read_prior_list,
)


def prior_table():
    t = Table()
    t["ID"] = ["LENS A", "LENS B", "LENS C"]
    t["RAJ2000"] = [133.6939583, 10.5, 359.25]
    t["DEJ2000"] = [-1.3603056, -45.25, 12.0]
    t["Quality"] = ["A", "B", "C"]
    return t


def write_csv(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".fits", ".fits.gz", ".ecsv", ".vot", ".xml"])
def test_it_reads_every_format_back_as_written(tmp_path, suffix):
    table = prior_table()
    path = tmp_path / f"priors{suffix}"
    table.write(path, format="votable" if suffix in (".vot", ".xml") else None)
    priors = read_prior_list(path)
    assert priors.colnames == ["name", "ra", "dec", "grade"]
    assert list(priors["name"]) == ["LENS A", "LENS B", "LENS C"]
    assert list(priors["grade"]) == ["A", "B", "C"]
    assert priors["name"].dtype.kind == "U" and priors["grade"].dtype.kind == "U"
    assert priors["ra"].dtype == np.float64 and priors["ra"].unit == u.deg
    assert priors["dec"].unit == u.deg
    np.testing.assert_allclose(priors["ra"], table["RAJ2000"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(priors["dec"], table["DEJ2000"], rtol=0, atol=1e-9)
    assert priors.meta["n_read"] == 3 and priors.meta["n_duplicates"] == 0


@pytest.mark.parametrize("unit", [u.deg, u.rad])
def test_it_converts_coordinate_columns_with_an_angle_unit_to_degrees(tmp_path, unit):
    table = prior_table()
    table["RAJ2000"] = (table["RAJ2000"] * u.deg).to(unit)
    table["DEJ2000"] = (table["DEJ2000"] * u.deg).to(unit)
    table.write(tmp_path / "priors.fits")
    priors = read_prior_list(tmp_path / "priors.fits")
    np.testing.assert_allclose(priors["ra"], [133.6939583, 10.5, 359.25], rtol=1e-12)
    assert len(crossmatch(priors["ra"], priors["dec"], [10.5], [-45.25])[0]) == 1


def test_it_turns_fits_byte_strings_into_str(tmp_path):
    table = prior_table()
    table["ID"] = table["ID"].astype("S")
    path = tmp_path / "priors.fits"
    table.write(path)
    assert Table.read(path)["ID"].dtype.kind == "S"
    priors = read_prior_list(path)
    assert priors["name"][0] == "LENS A" and priors["name"].dtype.kind == "U"


@pytest.mark.parametrize(
    "ra, dec",
    [
        ("08:54:46.55", "-01:21:37.1"),
        ("08h54m46.55s", "-01d21m37.1s"),
        ("08 54 46.55", "-01 21 37.1"),
        ("133.6939583", "-1.3603056"),
    ],
)
def test_it_reads_sexagesimal_ra_as_hours_and_dec_as_degrees(tmp_path, ra, dec):
    path = write_csv(tmp_path / "p.csv", f'name,ra,dec\nX,"{ra}","{dec}"\n')
    priors = read_prior_list(path)
    # By hand: (8 + 54/60 + 46.55/3600) * 15 and -(1 + 21/60 + 37.1/3600).
    assert priors["ra"][0] == pytest.approx(133.693958, abs=1e-6)
    assert priors["dec"][0] == pytest.approx(-1.360306, abs=1e-6)


def test_it_reads_a_negative_dec_below_one_degree(tmp_path):
    path = write_csv(tmp_path / "p.csv", "name,ra,dec\nX,01:00:00,-00:30:00\n")
    priors = read_prior_list(path)
    assert priors["ra"][0] == pytest.approx(15.0) and priors["dec"][0] == pytest.approx(-0.5)


def test_it_uses_a_column_mapping_over_detection(tmp_path):
    path = write_csv(tmp_path / "p.csv", "ra,dec,RAx,DEx,ID\n1,2,30,40,Q\n")
    priors = read_prior_list(path, columns={"ra": "rax", "dec": "DEx", "name": "ID"})
    assert (priors["ra"][0], priors["dec"][0], priors["name"][0]) == (30.0, 40.0, "Q")
    assert read_prior_list(path, columns="ra=RAx,dec=DEx")["ra"][0] == 30.0


def test_it_finds_coordinate_columns_by_common_names_in_any_case(tmp_path):
    path = write_csv(tmp_path / "p.csv", "Object,RA [deg],DEC [deg],GRADING\nX,1.5,2.5,probable\n")
    priors = read_prior_list(path)
    assert (priors["ra"][0], priors["dec"][0]) == (1.5, 2.5)
    assert (priors["name"][0], priors["grade"][0]) == ("X", "probable")


def test_it_names_unnamed_entries_from_their_coordinates(tmp_path):
    path = write_csv(tmp_path / "p.csv", "ra,dec\n08:54:46.55,-01:21:37.14\n")
    priors = read_prior_list(path)
    assert priors["name"][0] == "J085446.55-012137.14"
    assert priors["grade"][0] == ""


def test_it_lists_the_columns_when_it_cannot_find_ra_and_dec(tmp_path):
    path = write_csv(tmp_path / "p.csv", "name,x,y\nA,1,2\n")
    with pytest.raises(PriorListError, match=r"columns are name, x, y.*ra=COL,dec=COL"):
        read_prior_list(path)


def test_it_rejects_a_mapped_column_the_file_lacks(tmp_path):
    path = write_csv(tmp_path / "p.csv", "name,ra,dec\nA,1,2\n")
    with pytest.raises(PriorListError, match="no column 'RAJ2000'"):
        read_prior_list(path, columns={"ra": "RAJ2000"})


def test_it_names_the_row_column_and_value_it_cannot_parse(tmp_path):
    path = write_csv(tmp_path / "p.csv", "name,ra,dec\nA,1,2\nB,3,4\nC,08:54:xx,5\n")
    with pytest.raises(PriorListError, match=r"row 3: cannot read RA '08:54:xx' in column 'ra'"):
        read_prior_list(path)


def test_it_names_the_row_of_a_missing_coordinate(tmp_path):
    path = write_csv(tmp_path / "p.csv", "name,ra,dec\nA,1,2\nB,3,\n")
    with pytest.raises(PriorListError, match=r"1 row\(s\) have no DEC .*rows 2\)"):
        read_prior_list(path)


def test_it_rejects_dec_out_of_range_naming_the_rows(tmp_path):
    path = write_csv(tmp_path / "p.csv", "name,ra,dec\nA,1,2\nB,3,95\nC,4,-91\n")
    with pytest.raises(
        PriorListError,
        match=r"2 row\(s\) have DEC outside \[-90, 90\] deg \(rows 2 \(95\), 3 \(-91\)\)",
    ):
        read_prior_list(path)


def test_it_rejects_ra_of_360_rather_than_wrapping_it(tmp_path):
    path = write_csv(tmp_path / "p.csv", "name,ra,dec\nA,360,2\n")
    with pytest.raises(PriorListError, match=r"RA outside \[0, 360\)"):
        read_prior_list(path)


def test_it_rejects_an_empty_list(tmp_path):
    path = write_csv(tmp_path / "p.csv", "name,ra,dec\n")
    with pytest.raises(PriorListError, match="no entries"):
        read_prior_list(path)


def test_it_rejects_an_unknown_suffix_naming_the_accepted_ones(tmp_path):
    path = write_csv(tmp_path / "p.txt", "name,ra,dec\nA,1,2\n")
    with pytest.raises(PriorListError, match=r"format '\.txt': use one of") as error:
        read_prior_list(path)
    assert all(s in str(error.value) for s in (".csv", ".fits", ".fits.gz", ".ecsv", ".vot"))


def test_it_merges_entries_within_one_arcsec_into_the_first_and_counts_them(tmp_path):
    # B is 0.5" from A, C 0.6" from B (1.1" from A, a chain), D 5" away and a
    # second D 0.3" from it; neither A nor B has a grade, so A takes C's.
    one = 1 / 3600
    path = write_csv(
        tmp_path / "p.csv",
        f"name,ra,dec,grade\nA,10,0,\nB,10,{0.5 * one},\nC,10,{1.1 * one},C1\n"
        f"D,10,{5 * one},D1\nD,10,{5.3 * one},\n",
    )
    priors = read_prior_list(path)
    assert list(priors["name"]) == ["A", "D"]
    assert list(priors["grade"]) == ["C1", "D1"]
    assert priors.meta["n_read"] == 5
    assert priors.meta["n_duplicates"] == 3
    assert priors.meta["duplicates"] == ["B", "C", "D"]


def test_it_keeps_entries_just_over_one_arcsec_apart(tmp_path):
    path = write_csv(tmp_path / "p.csv", f"name,ra,dec\nA,10,0\nB,10,{1.05 / 3600}\n")
    assert len(read_prior_list(path)) == 2


def synthetic_pairs(n=200, seed=1):
    rng = np.random.default_rng(seed)
    ra, dec = rng.uniform(150, 160, n), rng.uniform(-5, 5, n)
    near = np.arange(n) < n // 2
    offset = np.where(near, rng.uniform(0.5, 1.5, n), rng.uniform(3, 10, n))
    moved = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(
        rng.uniform(0, 360, n) * u.deg, offset * u.arcsec
    )
    return ra, dec, moved.ra.deg, moved.dec.deg, offset, near


def test_crossmatch_recovers_exactly_the_pairs_within_the_radius():
    ra, dec, ra2, dec2, offset, near = synthetic_pairs()
    # The prior list in reverse order, so that matching indices differ.
    idx1, idx2, sep = crossmatch(ra, dec, ra2[::-1], dec2[::-1], radius_arcsec=2.0)
    np.testing.assert_array_equal(idx1, np.flatnonzero(near))
    np.testing.assert_array_equal(idx2, len(ra) - 1 - np.flatnonzero(near))
    np.testing.assert_allclose(sep, offset[near], rtol=0, atol=1e-3)
    assert idx1.dtype == np.int64 and idx2.dtype == np.int64


def test_crossmatch_matches_across_ra_zero():
    idx1, idx2, sep = crossmatch([359.9999, 180.0], [0.0, 0.0], [0.0001], [0.0])
    assert list(idx1) == [0] and list(idx2) == [0]
    assert sep[0] == pytest.approx(0.72, abs=1e-6)


def test_crossmatch_matches_near_the_pole_despite_a_large_ra_difference():
    idx1, idx2, sep = crossmatch([0.0], [89.9999], [10.0, 180.0], [0.0, 89.9999])
    assert list(idx1) == [0] and list(idx2) == [1]
    assert sep[0] == pytest.approx(0.72, abs=1e-6)


def test_crossmatch_returns_empty_int_arrays_when_either_set_is_empty():
    for args in (([], [], [1.0], [2.0]), ([1.0], [2.0], [], [])):
        idx1, idx2, sep = crossmatch(*args)
        assert len(idx1) == len(idx2) == len(sep) == 0
        assert idx1.dtype == np.int64 and idx2.dtype == np.int64


def test_crossmatch_rejects_a_radius_that_is_not_positive():
    with pytest.raises(PriorListError, match="must be positive"):
        crossmatch([1.0], [2.0], [1.0], [2.0], radius_arcsec=0)


def test_it_says_how_to_install_lenscat_when_it_is_missing(monkeypatch):
    monkeypatch.setattr(priors.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PriorListError, match=r"pip install --no-deps lenscat==1\.1\.3"):
        read_lenscat()


def test_it_reads_the_bundled_lenscat_catalogue_quickly():
    assert lenscat_csv_path().name == "catalog.csv"
    start = time.perf_counter()
    lenses = read_lenscat()
    assert time.perf_counter() - start < 3.0
    assert len(lenses) > 30_000
    assert lenses.meta["n_read"] == len(lenses) + lenses.meta["n_duplicates"]
    assert np.all((lenses["ra"] >= 0) & (lenses["ra"] < 360))
    assert np.all(np.abs(lenses["dec"]) <= 90)
    assert set(lenses["grade"]) == {"confident", "probable"}
    assert set(lenses["kind"]) == {"galaxy", "group", "cluster"}
    assert "-" not in set(lenses["name"])  # lenscat's placeholder became a J name
