"""Stamp-set files: round trip, streaming, atomic writes, clear errors."""

import numpy as np
import pytest
from astropy.io import fits

from simulations.stampset import StampSetError, StampSetWriter, read_stampset


def cube(n, bands=1, size=9, seed=0):
    return np.random.default_rng(seed).normal(size=(n, bands, size, size)).astype(np.float32)


def meta(ids, labels, **more):
    return {"id": ids, "label": labels, **more}


def test_it_round_trips_stamps_and_metadata_written_in_chunks(tmp_path):
    path = tmp_path / "set.fits"
    data = cube(5, bands=3)
    with StampSetWriter(path, 5, ["g", "r", "i"], (9, 9), 0.21, survey="KiDS-like") as w:
        w.write(data[:2], meta(["a", "b"], [1, 0], theta_e=[1.5, 0], kind=["lens", "pair"]))
        w.write(data[2:], meta(["c", "d", "e"], [0, 0, -1], theta_e=[0, 0, 0], kind=["disk"] * 3))
    s = read_stampset(path)
    assert len(s) == 5 and s.bands == ["g", "r", "i"] and s.pixscale_arcsec == 0.21
    assert s.survey == "KiDS-like" and s.units == "counts"
    np.testing.assert_array_equal(s.stamps(), data)
    assert s.stamps().dtype == np.float32 and s.stamps().dtype.isnative
    assert list(s.ids) == list("abcde") and list(s.labels) == [1, 0, 0, 0, -1]
    assert s.meta["label"].dtype == np.int16 and s.meta["theta_e"].dtype == np.float32
    assert list(s.meta["kind"]) == ["lens", "pair", "disk", "disk", "disk"]
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "STAMPS", "META"]


def test_it_writes_the_same_bytes_for_the_same_input(tmp_path):
    paths = [tmp_path / "a.fits", tmp_path / "b.fits"]
    for p in paths:
        with StampSetWriter(p, 2, ["r"], (9, 9), 0.21) as w:
            w.write(cube(2), meta(["x", "y"], [1, 0]))
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_it_leaves_nothing_behind_when_writing_fails(tmp_path):
    path = tmp_path / "set.fits"
    with pytest.raises(RuntimeError), StampSetWriter(path, 4, ["r"], (9, 9), 0.21) as w:
        w.write(cube(2), meta(["a", "b"], [1, 0]))
        raise RuntimeError("the simulator crashed")
    assert list(tmp_path.iterdir()) == []


def test_it_keeps_an_old_file_until_the_new_one_is_complete(tmp_path):
    path = tmp_path / "set.fits"
    with StampSetWriter(path, 1, ["r"], (9, 9), 0.21) as w:
        w.write(cube(1), meta(["old"], [1]))
    with (
        pytest.raises(StampSetError, match="1 stamps written of the 2 declared"),
        StampSetWriter(path, 2, ["r"], (9, 9), 0.21) as w,
    ):
        w.write(cube(1), meta(["new"], [0]))
    assert list(read_stampset(path).ids) == ["old"]
    assert [p.name for p in tmp_path.iterdir()] == ["set.fits"]


@pytest.mark.parametrize(
    "stamps, columns, message",
    [
        (cube(1, size=8), meta(["a"], [1]), "Stamps must have shape"),
        (cube(1), {"id": ["a"]}, "META needs the columns label"),
        (cube(1), meta(["a", "b"], [1, 0]), "has 2 values for 1 stamps"),
        (cube(3), meta(["a", "b", "c"], [1, 0, 0]), "More stamps than the 2 declared"),
    ],
)
def test_it_refuses_malformed_chunks(tmp_path, stamps, columns, message):
    w = StampSetWriter(tmp_path / "s.fits", 2, ["r"], (9, 9), 0.21)
    with pytest.raises(StampSetError, match=message):
        w.write(stamps, columns)
    w.abort()


def test_it_refuses_duplicate_ids(tmp_path):
    with (
        pytest.raises(StampSetError, match="ids must be unique"),
        StampSetWriter(tmp_path / "s.fits", 2, ["r"], (9, 9), 0.21) as w,
    ):
        w.write(cube(2), meta(["a", "a"], [1, 0]))


def test_it_reads_files_with_extra_columns_and_only_id_and_label(tmp_path):
    path = tmp_path / "minimal.fits"
    table = fits.BinTableHDU.from_columns(
        [fits.Column("id", "3A", array=["s1", "s2"]), fits.Column("label", "I", array=[0, 1]),
         fits.Column("seeing", "E", array=[0.7, 0.8])], name="META",
    )  # fmt: skip
    primary = fits.PrimaryHDU()
    primary.header["PIXSCALE"], primary.header["BANDS"] = 0.2, "r"
    fits.HDUList([primary, fits.ImageHDU(cube(2), name="STAMPS"), table]).writeto(path)
    s = read_stampset(path)
    assert list(s.ids) == ["s1", "s2"] and "seeing" in s.meta.colnames


def test_it_explains_what_is_wrong_with_a_file(tmp_path):
    with pytest.raises(StampSetError, match="no such stamp-set file"):
        read_stampset(tmp_path / "missing.fits")
    (tmp_path / "text.fits").write_text("not fits")
    with pytest.raises(StampSetError, match="not a readable FITS file"):
        read_stampset(tmp_path / "text.fits")
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(cube(1), name="STAMPS")]).writeto(
        tmp_path / "nometa.fits"
    )
    with pytest.raises(StampSetError, match="has no META HDU"):
        read_stampset(tmp_path / "nometa.fits")
