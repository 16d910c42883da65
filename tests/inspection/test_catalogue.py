"""inspection.ingest.sources: reading survey catalogues in chunks (no database)."""

import tracemalloc

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from inspection.ingest.sources import (
    DEFAULT_COLUMNS,
    FIELDS,
    CatalogueError,
    catalogue_length,
    parse_mapping,
    read_catalogue,
    resolve_columns,
)

KIDS_COLUMNS = [
    "ID", "RAJ2000", "DECJ2000", "MAG_GAAP_u", "MAG_GAAP_g", "MAG_GAAP_r", "MAG_GAAP_i",
    "MAG_AUTO", "CLASS_STAR", "FLUX_RADIUS", "FLAG_R",
]  # fmt: skip


def kids_table(n=25, seed=0):
    rng = np.random.default_rng(seed)
    t = Table()
    t["ID"] = [f"KIDS J{k:06d}" for k in range(n)]
    t["RAJ2000"] = rng.uniform(30, 40, n)
    t["DECJ2000"] = rng.uniform(-35, -30, n)
    for band in "ugri":
        t[f"MAG_GAAP_{band}"] = rng.uniform(17, 23, n).astype(np.float32)
    t["MAG_AUTO"] = rng.uniform(16, 22, n).astype(np.float32)
    t["CLASS_STAR"] = rng.uniform(0, 1, n).astype(np.float32)
    t["FLUX_RADIUS"] = rng.uniform(1, 20, n).astype(np.float32)
    t["FLAG_R"] = rng.integers(0, 3, n).astype(np.int16)
    return t


def read_all(path, **kwargs):
    chunks = list(read_catalogue(path, **kwargs))
    return {f: np.concatenate([c[f] for c in chunks]) for f in FIELDS}, chunks


@pytest.mark.parametrize("suffix", [".fits", ".csv", ".ecsv", ".vot"])
def test_it_reads_every_format_into_typed_arrays(tmp_path, suffix):
    table = kids_table()
    path = tmp_path / f"cat{suffix}"
    table.write(path, format="votable" if suffix == ".vot" else None)
    data, _ = read_all(path)
    assert list(data["id"]) == list(table["ID"])
    assert data["id"].dtype.kind == "U"
    np.testing.assert_allclose(data["ra"], table["RAJ2000"])
    np.testing.assert_allclose(data["dec"], table["DECJ2000"])
    np.testing.assert_allclose(data["mag_g"], table["MAG_GAAP_g"], rtol=1e-6)
    np.testing.assert_array_equal(data["flag_r"], table["FLAG_R"])
    assert data["ra"].dtype == np.float64 and data["mag_auto"].dtype == np.float64
    assert data["flag_r"].dtype == np.int64


@pytest.mark.parametrize("suffix", [".fits", ".csv", ".ecsv"])
def test_it_yields_chunks_of_at_most_chunk_rows(tmp_path, suffix):
    path = tmp_path / f"cat{suffix}"
    kids_table(n=25).write(path)
    _, chunks = read_all(path, chunk_rows=10)
    assert [len(c["id"]) for c in chunks] == [10, 10, 5]


def test_it_reads_a_large_csv_in_several_chunks(tmp_path):
    # astropy's chunked reader splits by bytes (at least 1 MiB here): the rows
    # must come back complete and in order across its chunk boundaries.
    path = tmp_path / "big.csv"
    table = kids_table(n=30_000)
    table.write(path)
    data, chunks = read_all(path, chunk_rows=7_000)
    assert len(chunks) == 5
    assert list(data["id"]) == list(table["ID"])
    np.testing.assert_allclose(data["ra"], table["RAJ2000"])


def test_it_turns_non_detections_into_nan(tmp_path):
    table = kids_table(n=6)
    table["MAG_GAAP_u"][:4] = [99.0, 99.5, -99.0, np.nan]
    table["MAG_AUTO"][0] = 99.0
    path = tmp_path / "cat.fits"
    table.write(path)
    data, _ = read_all(path)
    assert np.isnan(data["mag_u"][:4]).all()
    assert np.isfinite(data["mag_u"][4:]).all()
    assert np.isnan(data["mag_auto"][0]) and np.isfinite(data["mag_auto"][1:]).all()


def test_it_keeps_invalid_coordinates_for_the_cuts_to_flag(tmp_path):
    table = kids_table(n=3)
    table["RAJ2000"][0] = np.nan
    table["DECJ2000"][1] = 95.0
    path = tmp_path / "cat.fits"
    table.write(path)
    data, _ = read_all(path)
    assert np.isnan(data["ra"][0]) and data["dec"][1] == 95.0


def test_it_turns_masked_values_into_nan(tmp_path):
    table = Table(kids_table(n=4), masked=True)
    table["MAG_GAAP_r"].mask[1] = True
    path = tmp_path / "cat.ecsv"
    table.write(path)
    data, _ = read_all(path)
    assert np.isnan(data["mag_r"][1]) and np.isfinite(data["mag_r"][[0, 2, 3]]).all()


def test_it_falls_back_to_calib_magnitudes(tmp_path):
    table = kids_table(n=5)
    table.rename_column("MAG_GAAP_g", "MAG_GAAP_g_CALIB")
    path = tmp_path / "cat.fits"
    table.write(path)
    data, _ = read_all(path)
    np.testing.assert_allclose(data["mag_g"], table["MAG_GAAP_g_CALIB"], rtol=1e-6)


def test_it_prefers_the_plain_magnitude_to_the_calib_one():
    names = [*KIDS_COLUMNS, "MAG_GAAP_r_CALIB"]
    assert resolve_columns(names)["mag_r"] == "MAG_GAAP_r"


def test_it_matches_column_names_case_insensitively():
    names = [n.lower() for n in KIDS_COLUMNS]
    columns = resolve_columns(names)
    assert columns["ra"] == "raj2000" and columns["mag_u"] == "mag_gaap_u"


def test_it_uses_a_mapping_for_other_column_names(tmp_path):
    table = kids_table(n=5)
    table.rename_columns(["RAJ2000", "DECJ2000"], ["ALPHA_J2000", "DELTA_J2000"])
    path = tmp_path / "cat.fits"
    table.write(path)
    data, _ = read_all(path, mapping="ra=ALPHA_J2000, dec=delta_j2000")
    np.testing.assert_allclose(data["ra"], table["ALPHA_J2000"])
    np.testing.assert_allclose(data["dec"], table["DELTA_J2000"])


def test_it_parses_a_mapping_from_text_or_a_dict():
    assert parse_mapping("ra=ALPHA_J2000,dec=DELTA_J2000,mag_r=MAG_R") == {
        "ra": "ALPHA_J2000",
        "dec": "DELTA_J2000",
        "mag_r": "MAG_R",
    }
    assert parse_mapping({"RA": "ALPHA"}) == {"ra": "ALPHA"}
    assert parse_mapping(None) == {} and parse_mapping("") == {}


def test_it_rejects_an_unknown_field_listing_the_valid_ones():
    with pytest.raises(CatalogueError) as info:
        parse_mapping("ra=ALPHA,redshift=Z")
    assert "'redshift'" in str(info.value)
    assert all(field in str(info.value) for field in FIELDS)


def test_it_rejects_a_mapping_entry_without_equals():
    with pytest.raises(CatalogueError, match="no '='"):
        parse_mapping("ra:ALPHA")


def test_it_says_which_columns_are_missing_and_what_the_file_has():
    names = [n for n in KIDS_COLUMNS if n not in ("DECJ2000", "MAG_GAAP_u")] + ["DELTA"]
    with pytest.raises(CatalogueError) as info:
        resolve_columns(names)
    message = str(info.value)
    assert "dec (looked for DECJ2000)" in message
    assert "mag_u (looked for MAG_GAAP_u or MAG_GAAP_u_CALIB)" in message
    assert "ra (" not in message  # found, so not reported
    assert "DELTA" in message and "FLUX_RADIUS" in message
    assert "--columns field=COLUMN" in message


def test_it_reports_missing_columns_with_the_file_name_at_the_call(tmp_path):
    table = kids_table(n=3)
    table.remove_column("FLAG_R")
    path = tmp_path / "nokey.fits"
    table.write(path)
    with pytest.raises(CatalogueError, match=r"nokey\.fits.*flag_r \(looked for FLAG_R\)"):
        read_catalogue(path)


def test_it_has_defaults_for_every_field():
    assert set(DEFAULT_COLUMNS) == set(FIELDS)
    assert resolve_columns(KIDS_COLUMNS) == dict(zip(FIELDS, KIDS_COLUMNS, strict=True))


def test_it_rejects_an_unknown_suffix(tmp_path):
    path = tmp_path / "cat.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(CatalogueError, match=r"cat\.parquet.*unknown catalogue format.*\.csv"):
        read_catalogue(path)


def test_it_rejects_a_missing_file(tmp_path):
    with pytest.raises(CatalogueError, match="does not exist"):
        read_catalogue(tmp_path / "nothere.fits")


def test_it_rejects_a_truncated_fits_file(tmp_path):
    path = tmp_path / "cat.fits"
    kids_table(n=2000).write(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.fits"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CatalogueError, match=r"cut\.fits.*truncated"):
        list(read_catalogue(cut))


def test_it_rejects_a_file_that_is_not_fits(tmp_path):
    path = tmp_path / "cat.fits"
    path.write_text("ID,RAJ2000\n1,2\n")
    with pytest.raises(CatalogueError, match=r"cat\.fits is not a readable FITS file"):
        read_catalogue(path)


def test_it_rejects_a_fits_file_without_a_table(tmp_path):
    path = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((4, 4), np.float32)).writeto(path)
    with pytest.raises(CatalogueError, match="no table HDU"):
        read_catalogue(path)


def test_it_rejects_a_malformed_csv(tmp_path):
    path = tmp_path / "cat.csv"
    # A line with more values than names (astropy pads short lines with masked values).
    lines = [",".join(KIDS_COLUMNS), ",".join(["1"] * len(KIDS_COLUMNS)), "1," * 20 + "1"]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CatalogueError, match=r"cat\.csv is not a well-formed CSV"):
        list(read_catalogue(path))


@pytest.mark.parametrize("suffix", [".fits", ".csv", ".ecsv"])
def test_it_counts_rows(tmp_path, suffix):
    path = tmp_path / f"cat{suffix}"
    kids_table(n=17).write(path)
    assert catalogue_length(path) == 17


def test_it_reads_a_million_row_fits_catalogue_in_bounded_memory(tmp_path):
    n = 1_000_000
    columns = [
        fits.Column(name="ID", format="12A", array=np.char.add("S", np.arange(n).astype("U11")))
    ]
    columns += [fits.Column(name=name, format="D", array=np.linspace(0, 1, n))
                for name in ("RAJ2000", "DECJ2000")]  # fmt: skip
    columns += [fits.Column(name=name, format="E", array=np.full(n, 20.0, np.float32))
                for name in KIDS_COLUMNS[3:-1]]  # fmt: skip
    columns.append(fits.Column(name="FLAG_R", format="I", array=np.zeros(n, np.int16)))
    hdu = fits.BinTableHDU.from_columns(columns)
    table_bytes = hdu.data.nbytes
    path = tmp_path / "big.fits"
    hdu.writeto(path)
    del hdu, columns

    tracemalloc.start()
    try:
        rows, last = 0, None
        for chunk in read_catalogue(path, chunk_rows=20_000):
            rows += len(chunk["id"])
            last = chunk["id"][-1]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == n and last == f"S{n - 1}"
    assert peak < table_bytes / 3, (
        f"peak {peak / 1e6:.0f} MB for a {table_bytes / 1e6:.0f} MB table"
    )
