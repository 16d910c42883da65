"""inspection.ingest.cutouts: stamps from tiles, RGB composites, PNG previews (no database).

The pictures are core.display's, re-exported (tests/core/test_imaging_layer.py)."""

import io

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image

from core.display import MASK_RGB
from inspection.ingest.cutouts import (
    EDGE,
    OUTSIDE,
    STRETCHES,
    TileError,
    assign_tiles,
    centre_crop,
    contains,
    cut_stamps,
    edge_distance,
    field_mismatch,
    lupton_rgb,
    open_tile,
    pixel_positions,
    render_png,
)

PIX_ARCSEC = 0.2
NY, NX = 120, 150  # not square, so that x and y cannot be swapped unnoticed


def tan_wcs(center=(35.0, -33.0)):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = list(center)
    wcs.wcs.crpix = [(NX + 1) / 2, (NY + 1) / 2]
    wcs.wcs.cdelt = [-PIX_ARCSEC / 3600, PIX_ARCSEC / 3600]
    return wcs


def write_tile(path, wcs=None, band="r", data=None):
    data = np.arange(NY * NX, dtype=np.float32).reshape(NY, NX) if data is None else data
    header = (wcs or tan_wcs()).to_header() if wcs is not False else fits.Header()
    if band:
        header["BAND"] = band
    fits.PrimaryHDU(data, header=header).writeto(path)
    return path


@pytest.fixture
def tile(tmp_path):
    return open_tile(write_tile(tmp_path / "r.fits"))


def test_it_opens_a_tile_with_its_wcs_band_and_pixel_scale(tile):
    assert tile.shape == (NY, NX) and tile.data.dtype.type is np.float32
    assert tile.band == "r"
    assert tile.pixscale_arcsec == pytest.approx(PIX_ARCSEC)
    assert tile.wcs.has_celestial


def test_it_reads_the_band_from_filter_when_band_is_absent(tmp_path):
    path = tmp_path / "g.fits"
    header = tan_wcs().to_header()
    header["FILTER"] = "g"
    fits.PrimaryHDU(np.zeros((NY, NX), np.float32), header=header).writeto(path)
    assert open_tile(path).band == "g"


def test_it_finds_the_image_in_an_extension(tmp_path):
    path = tmp_path / "ext.fits"
    image = fits.ImageHDU(np.ones((NY, NX), np.float32), header=tan_wcs().to_header())
    fits.HDUList([fits.PrimaryHDU(), image]).writeto(path)
    assert open_tile(path).shape == (NY, NX)


def test_it_cuts_the_stamp_around_the_pixel_of_a_sky_position(tile):
    # An independent route: the pixel from the WCS of the file, then plain slicing.
    wcs = WCS(fits.getheader(tile.path))
    ra, dec = wcs.pixel_to_world_values(70.2, 40.4)
    x, y = pixel_positions(tile, [ra], [dec])
    np.testing.assert_allclose([x[0], y[0]], [70.2, 40.4], atol=1e-6)
    stamps, flags = cut_stamps(tile.data, x, y, 11)
    np.testing.assert_array_equal(stamps[0], tile.data[40 - 5 : 40 + 6, 70 - 5 : 70 + 6])
    assert flags.tolist() == [0]


def test_it_centres_an_even_stamp_on_index_half_the_size(tile):
    stamps, _ = cut_stamps(tile.data, [70.0, 70.6], [40.0, 40.5], 10)
    np.testing.assert_array_equal(stamps[0], tile.data[35:45, 65:75])
    assert stamps[0, 5, 5] == tile.data[40, 70]
    # Halves round up: (70.6, 40.5) -> pixel (71, 41).
    assert stamps[1, 5, 5] == tile.data[41, 71]


def test_it_pads_a_stamp_beyond_the_edge_with_nan_and_flags_it(tile):
    stamps, flags = cut_stamps(tile.data, [2.0, NX - 1.0], [50.0, NY - 2.0], 9)
    assert flags.tolist() == [EDGE, EDGE]
    assert np.isnan(stamps[0, :, :2]).all()
    np.testing.assert_array_equal(stamps[0, :, 2:], tile.data[46:55, 0:7])
    assert np.isnan(stamps[1, 6:, :]).all() and np.isnan(stamps[1, :, 5:]).all()
    np.testing.assert_array_equal(stamps[1, :6, :5], tile.data[NY - 6 :, NX - 5 :])


def test_it_flags_a_source_outside_the_image_and_gives_it_no_pixels(tile):
    stamps, flags = cut_stamps(
        tile.data, [-3.0, NX + 0.2, 10.0, np.nan], [10.0, 10.0, np.nan, 5.0], 7
    )
    assert flags.tolist() == [OUTSIDE] * 4
    assert np.isnan(stamps).all()


def test_it_treats_the_outer_half_pixel_as_inside(tile):
    _, flags = cut_stamps(tile.data, [-0.49, -0.51], [10.0, 10.0], 1)
    assert flags.tolist() == [0, OUTSIDE]


def test_it_rejects_a_stamp_size_below_one(tile):
    with pytest.raises(ValueError, match="size_px must be a positive"):
        cut_stamps(tile.data, [1.0], [1.0], 0)


def test_it_picks_the_tile_where_a_source_is_farthest_from_the_edge(tmp_path):
    # Two tiles overlapping by 50 pixels in x (the second shifted by 100 px).
    left = open_tile(write_tile(tmp_path / "a.fits"))
    shifted = tan_wcs()
    shifted.wcs.crpix = [(NX + 1) / 2 - 100, (NY + 1) / 2]
    right = open_tile(write_tile(tmp_path / "b.fits", wcs=shifted))
    x_left = np.array([10.0, 110.0, 140.0, 240.0, 500.0])
    ra, dec = left.wcs.pixel_to_world_values(x_left, np.full(5, 60.0))
    index, x, y = assign_tiles([left, right], ra, dec)
    assert index.tolist() == [0, 0, 1, 1, -1]
    np.testing.assert_allclose(x[:4], [10.0, 110.0, 40.0, 140.0], atol=1e-6)
    assert np.isnan(x[4]) and np.isnan(y[4])
    assert contains(left, x_left, np.full(5, 60.0)).tolist() == [True, True, True, False, False]


def test_it_measures_the_distance_to_the_nearest_edge():
    d = edge_distance((10, 20), [0.0, 19.0, 5.0, -2.0, np.nan], [5.0, 5.0, 9.0, 5.0, 5.0])
    np.testing.assert_allclose(d, [0.5, 0.5, 0.5, -1.5, -np.inf])


def test_it_refuses_a_tile_without_a_celestial_wcs(tmp_path):
    path = write_tile(tmp_path / "nowcs.fits", wcs=False)
    with pytest.raises(TileError, match=r"nowcs\.fits has no celestial WCS \(CTYPE1/2 .*add one"):
        open_tile(path)


def test_it_refuses_a_truncated_tile(tmp_path):
    path = write_tile(tmp_path / "r.fits")
    data = path.read_bytes()
    cut = tmp_path / "cut.fits"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TileError, match=r"cut\.fits.*truncated"):
        open_tile(cut)


def test_it_refuses_a_file_that_is_not_fits(tmp_path):
    path = tmp_path / "r.fits"
    path.write_text("not an image")
    with pytest.raises(TileError, match="not a readable FITS file"):
        open_tile(path)


def test_it_refuses_a_fits_file_without_an_image(tmp_path):
    path = tmp_path / "table.fits"
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.ones(3))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with pytest.raises(TileError, match="no 2-d image in any HDU"):
        open_tile(path)


# --- Display -----------------------------------------------------------------


def galaxy_stamp(seed=0, size=41):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - size // 2
    return 500 * np.exp(-(xx**2 + yy**2) / 20.0) + rng.normal(0, 5, (size, size))


def png_pixels(png):
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.asarray(image)


@pytest.mark.parametrize("stretch", STRETCHES)
def test_it_renders_a_grey_png_upscaled_for_every_stretch(stretch):
    stamp = galaxy_stamp()
    stamp[0, 0] = np.nan
    pixels = png_pixels(render_png(stamp, stretch=stretch, scale=3))
    assert pixels.shape == (123, 123, 3) and pixels.dtype == np.uint8
    assert (pixels[:3, :3] == MASK_RGB).all()  # the NaN pixel, in the mask colour and 3x3
    assert (pixels[:3, 3] != MASK_RGB).any()
    assert (pixels[..., 0] == pixels[..., 2])[3:, 3:].all()  # grey elsewhere
    assert pixels[61, 61].min() > 200  # the galaxy's centre is bright
    assert (pixels[::3, ::3] == pixels[1::3, 1::3]).all()  # nearest-neighbour blocks


def test_its_stretches_give_different_pixels():
    stamp = galaxy_stamp()
    images = {s: png_pixels(render_png(stamp, stretch=s, scale=1)) for s in STRETCHES}
    for a in STRETCHES:
        for b in STRETCHES:
            if a < b:
                assert not np.array_equal(images[a], images[b]), (a, b)


def test_it_renders_an_rgb_image_as_it_is():
    rgb = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    pixels = png_pixels(render_png(rgb, scale=2))
    assert pixels.shape == (40, 60, 3)
    np.testing.assert_array_equal(pixels[::2, ::2], rgb)


def test_it_rejects_an_unknown_stretch_listing_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown stretch 'sqrt': choose one of asinh, linear"):
        render_png(galaxy_stamp(), stretch="sqrt")


def test_it_rejects_a_scale_that_is_not_a_whole_number():
    with pytest.raises(ValueError, match="scale must be a whole number"):
        render_png(galaxy_stamp(), scale=1.5)


def test_its_rgb_does_not_depend_on_pixel_units():
    g, r, i = galaxy_stamp(1), 2 * galaxy_stamp(2), 3 * galaxy_stamp(3)
    rgb = lupton_rgb(g, r, i)
    assert rgb.shape == (41, 41, 3) and rgb.dtype == np.uint8
    assert rgb.max() > 150
    np.testing.assert_array_equal(lupton_rgb(1000 * g, 1000 * r, 1000 * i), rgb)


def test_its_rgb_puts_i_in_red_and_g_in_blue():
    noise = np.random.default_rng(4).normal(0, 1, (3, 41, 41))
    g, r, i = noise[0], noise[1], noise[2] + 100 * (galaxy_stamp(0, 41) > 250)
    rgb = lupton_rgb(g, r, i).astype(int)
    assert rgb[20, 20, 0] > rgb[20, 20, 1] and rgb[20, 20, 0] > rgb[20, 20, 2]


def test_its_rgb_shows_nan_pixels_in_the_mask_colour():
    g, r, i = galaxy_stamp(1), galaxy_stamp(2), galaxy_stamp(3)
    r[20, 20] = np.nan
    rgb = lupton_rgb(g, r, i)
    assert (rgb[20, 20] == MASK_RGB).all() and (rgb[20, 21] != MASK_RGB).any()


def write_compressed_tile(path, data):
    image = fits.CompImageHDU(data, header=tan_wcs().to_header(), compression_type="RICE_1")
    fits.HDUList([fits.PrimaryHDU(), image]).writeto(path)
    return path


def test_it_reads_a_compressed_tile(tmp_path):
    data = np.arange(NY * NX, dtype=np.int32).reshape(NY, NX)
    tile = open_tile(write_compressed_tile(tmp_path / "r.fits.fz", data))
    assert tile.shape == (NY, NX)
    np.testing.assert_array_equal(tile.data[10:13, 20:24], data[10:13, 20:24])


def test_it_refuses_a_compressed_tile_that_decompresses_past_the_cap(tmp_path):
    """A decompression bomb: a few kB on disk that would take 2.4 GB."""
    path = write_compressed_tile(tmp_path / "bomb.fits.fz", np.zeros((NY, NX), np.int32))
    assert path.stat().st_size < 20_000
    with pytest.raises(TileError, match=r"bomb\.fits\.fz: the compressed image is 150 x 120 .*"
                       r"funpack bomb\.fits\.fz"):  # fmt: skip
        open_tile(path, max_pixels=NY * NX - 1)
    assert open_tile(path, max_pixels=NY * NX).shape == (NY, NX)


def test_it_scales_integer_tiles_a_section_at_a_time(tmp_path):
    raw = (np.arange(NY * NX) % 30000).astype(np.int16).reshape(NY, NX)
    raw[5, 7] = -32768
    path = tmp_path / "int.fits"
    hdu = fits.PrimaryHDU(raw, header=tan_wcs().to_header(), do_not_scale_image_data=True)
    hdu.header.update(BSCALE=0.5, BZERO=10.0, BLANK=-32768)
    hdu.writeto(path)
    with fits.open(path) as hdul:  # astropy's own scaling, whole image
        expected = hdul[0].data.astype(np.float32)
    assert np.isnan(expected[5, 7]) and expected[0, 1] == 10.5

    tile = open_tile(path)
    assert not isinstance(tile.data, np.ndarray)  # nothing converted yet
    assert tile.data.dtype == np.float32 and tile.shape == (NY, NX)
    np.testing.assert_array_equal(tile.data[0:10, 0:12], expected[0:10, 0:12])
    stamps, _ = cut_stamps(tile.data, [7.0], [5.0], 5)
    np.testing.assert_array_equal(stamps[0], expected[3:8, 5:10])


# --- Known items shown as a survey's stamps ------------------------------------


def test_it_crops_a_stamp_keeping_the_centre_pixel_where_cut_stamps_puts_it(tile):
    for size in (101, 100):
        big = np.zeros((3, size, size))
        big[:, size // 2, size // 2] = 1
        small = centre_crop(big, 97)
        assert small.shape == (3, 97, 97) and small[:, 48, 48].tolist() == [1, 1, 1]
    # The same as cutting the smaller stamp from the image at the same place.
    data = tile.data
    assert np.array_equal(
        centre_crop(cut_stamps(data, [70.0], [60.0], 41)[0][0], 21),
        cut_stamps(data, [70.0], [60.0], 21)[0][0],
    )
    with pytest.raises(ValueError, match="cannot be cropped"):
        centre_crop(np.zeros((3, 61, 61)), 97)


def test_it_says_when_stamps_cannot_look_like_a_surveys():
    gri = ["g", "r", "i"]
    assert field_mismatch(gri, 0.21, (101, 101), gri, 0.2099, 97) is None
    assert field_mismatch(gri, 0.21, (97, 97), ["r"], 0.21, 97) is None  # rgb simply unused
    assert "g, r and i" in field_mismatch(["r"], 0.21, (97, 97), gri, 0.21, 97)
    assert "lack the r band" in field_mismatch(["g", "i"], 0.21, (97, 97), ["r"], 0.21, 97)
    assert '0.2"/px' in field_mismatch(gri, 0.2, (97, 97), gri, 0.21, 97)
    assert "smaller" in field_mismatch(gri, 0.21, (61, 61), gri, 0.21, 97)
