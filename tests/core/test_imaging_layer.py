"""core.noise and core.display: the one sky/noise estimate and the one imaging
layer every picture of a stamp goes through (no database)."""

import io

import numpy as np
import pytest
from PIL import Image

from core import display, imaging, noise
from inspection.catalogues import gallery
from tests.test_layering import python

# --- One noise estimate -------------------------------------------------------


def random_stamps(rng, trial):
    n, h, w = rng.integers(1, 4), rng.integers(3, 60), rng.integers(3, 60)
    x = rng.normal(rng.uniform(-5, 5), rng.uniform(0.1, 10), (n, 2, h, w)).astype(np.float32)
    if trial % 3:  # masked pixels, up to all of them
        x[rng.random(x.shape) < rng.uniform(0, 1)] = np.nan
    if trial % 7 == 0:
        x[0, 0] = np.nan  # a wholly masked band
    if trial % 5 == 0:
        x[0, 1] = 3.0  # a flat one
    if trial % 11 == 0:
        x[..., 0, 0] = np.inf
    if trial % 13 == 0:
        x = np.round(x)  # ties
    return x


def test_the_numpy_and_torch_noise_estimates_are_one_definition():
    rng = np.random.default_rng(16)
    for trial in range(150):
        x = random_stamps(rng, trial)
        expected = imaging.estimate_noise_sigma(x).numpy()
        np.testing.assert_array_equal(noise.noise_sigma(x), expected, err_msg=str(trial))
        for border in (1, 3):
            np.testing.assert_array_equal(
                noise.noise_sigma(x, border), imaging.estimate_noise_sigma(x, border).numpy()
            )


def test_the_noise_estimate_is_the_mad_of_the_frame_and_its_sky_the_median():
    rng = np.random.default_rng(2)
    stamp = rng.normal(7.0, 2.0, (61, 61))
    stamp[20:41, 20:41] += 1000.0  # the galaxy: inside the frame, ignored
    sky, sigma = noise.sky_and_noise(stamp)
    assert sky.shape == sigma.shape == ()
    assert sky == pytest.approx(7.0, abs=0.2) and sigma == pytest.approx(2.0, rel=0.1)
    stamp[:, :] = np.nan
    assert noise.sky_and_noise(stamp) == (0.0, np.finfo(np.float32).tiny)


def test_the_display_layer_imports_no_torch():
    code = (
        "import sys, core.display, core.noise, inspection.catalogues.gallery\n"
        "import inspection.ingest.cutouts\n"
        "import simulations.display\n"
        "print('torch' in sys.modules)"
    )
    assert python(code) == "False"


# --- Stretches ----------------------------------------------------------------


def galaxy_with_a_bright_star(size=97, seed=0):
    """A 30-sigma galaxy at the centre and a saturating star (10^5 sigma,
    wide wings) in a corner: more bright pixels than any top percentile."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    c = size // 2
    galaxy = 30.0 * np.exp(-((xx - c) ** 2 + (yy - c) ** 2) / (2 * 4.0**2))
    star = 1e5 * np.exp(-((xx - 12) ** 2 + (yy - 12) ** 2) / (2 * 5.0**2))
    return 100.0 + galaxy + star + rng.normal(0, 1.0, (size, size))


@pytest.mark.parametrize("stretch", display.STRETCHES)
def test_a_bright_star_in_a_corner_does_not_blank_the_galaxy(stretch):
    stamp = galaxy_with_a_bright_star()
    pixels = np.asarray(Image.open(io.BytesIO(display.render_png(stamp, stretch, scale=1))))
    centre = pixels[46:51, 46:51, 0]
    assert centre.min() > 128, centre  # well visible, not black
    assert pixels[12, 12, 0] == 255  # the star is white
    sky = pixels[80:, 60:, 0]
    assert np.median(sky) < centre.min() - 60  # and the galaxy stands out of the sky


def test_pictures_are_scaled_on_the_sky_noise_not_on_units_or_offsets():
    stamp = galaxy_with_a_bright_star(seed=3)
    for stretch in display.STRETCHES:
        picture = display.grey_rgb(stamp, stretch).astype(int)
        other = display.grey_rgb(1000 * stamp - 5e4, stretch).astype(int)
        assert np.abs(other - picture).max() <= 1  # the float32 sky and sigma round


def test_a_blank_stamp_stays_dark_and_a_masked_one_is_all_mask_colour():
    noise_only = np.random.default_rng(1).normal(0, 1, (41, 41))
    for stretch in ("asinh", "linear"):  # log brightens the noise, by design
        assert np.median(display.grey_rgb(noise_only, stretch)[..., 0]) < 128
    masked = np.full((41, 41), np.nan)
    assert (display.grey_rgb(masked) == display.MASK_RGB).all()


# --- Masked pixels and scale bars in every picture ------------------------------


def masked_cube(size=41):
    rng = np.random.default_rng(5)
    cube = rng.normal(0, 1, (3, size, size))
    cube[:, size // 2, size // 2] += 50
    cube[1, :6, :10] = np.nan  # a masked block in r
    cube[:, :, -3:] = np.nan  # a tile edge
    return cube


def is_mask(pixels):
    return (pixels == display.MASK_RGB).all(axis=-1)


def test_masked_pixels_have_their_own_colour_in_grey_and_rgb_pictures():
    cube = masked_cube()
    for picture in (display.stamp_picture(cube, "gri"), display.stamp_picture(cube[1:2], "r")):
        mask = is_mask(picture)
        assert mask[:6, :10].all() and mask[:, -3:].all()
        assert mask.sum() == 6 * 10 + 41 * 3  # nowhere else
    grey = display.stamp_picture(cube, "gri"[:2])  # g, r: no composite, the r band
    assert (grey[20, :-3, 0] == grey[20, :-3, 1]).all()


def test_a_scale_bar_in_arcsec_is_drawn_where_the_pixel_scale_is_known():
    stamp = np.random.default_rng(0).normal(0, 1, (97, 97))
    plain = np.asarray(display.render(stamp, scale=3))
    barred = np.asarray(display.render(stamp, scale=3, pixscale_arcsec=0.2))
    changed = (plain != barred).any(axis=-1)
    rows, cols = np.nonzero(changed)
    assert rows.min() > 291 // 2 and cols.max() < 291 // 2  # the lower left corner only
    white = (barred == display.BAR_RGB).all(axis=-1)
    # 19.4" wide: a 2" bar, 10 stamp pixels = 30 pixels at scale 3.
    assert white.sum(axis=1).max() == pytest.approx(30, abs=1)


def test_contact_sheets_keep_the_mask_colour_and_draw_scale_bars():
    cube = masked_cube(size=48)
    picture = display.stamp_picture(cube, "gri")
    sheet = np.asarray(Image.open(io.BytesIO(
        gallery.contact_sheet([picture], ["one"], tile_px=96, pixscale_arcsec=0.2))))  # fmt: skip
    tile = sheet[:96, :96]
    assert is_mask(tile[:12, :20]).all() and is_mask(tile[:96, -6:]).all()
    assert (tile[60:, :48] == display.BAR_RGB).all(axis=-1).sum() > 10


def test_contact_sheets_lay_out_titled_rows():
    tiles = [np.random.default_rng(k).normal(0, 1, (20, 20)) for k in range(5)]
    rows = [("lens double (3)", tiles[:3], ["a", "b", "c"]), ("spiral (2)", tiles[3:], ["d", "e"])]
    png = display.contact_sheet(rows, tile_px=40, row_title_px=100, columns=4)
    image = np.asarray(Image.open(io.BytesIO(png)))
    band = display.label_band_px(["a"], 40)
    assert image.shape == (2 * (40 + band), 100 + 4 * 40, 3)
    assert (image[: 40 + band, :100].min(axis=-1) > 200).any()  # the row title
    assert (image[:40, 100 + 3 * 40 :] == display.BAND_COLOUR).all()  # an empty cell
    with pytest.raises(ValueError, match="one label per tile"):
        display.contact_sheet([("x", tiles[:2], ["a"])])


# --- Cached previews ------------------------------------------------------------


def test_cached_previews_rendered_under_another_rendering_are_dropped(
    settings, tmp_path, monkeypatch
):
    from inspection.grading import services as grading

    settings.DATA_DIR = tmp_path
    monkeypatch.setattr(grading, "_CURRENT", set())
    folder = grading._cache_folder("7")
    (folder / "0-r-asinh.png").write_bytes(b"today's")
    assert grading._cache_folder("7") == folder and (folder / "0-r-asinh.png").exists()
    monkeypatch.setattr(grading, "_CURRENT", set())  # a new process, same rendering
    grading._cache_folder("7")
    assert (folder / "0-r-asinh.png").exists()
    monkeypatch.setattr(display, "RENDERING", "next")
    monkeypatch.setattr(grading, "_CURRENT", set())  # a process with another rendering
    grading._cache_folder("7")
    assert not (folder / "0-r-asinh.png").exists()
    assert (folder / ".rendering").read_text() == "next"


def test_the_unsharp_stretch_shows_a_faint_ring_that_zscale_hides_in_a_bright_lens():
    """The training's reveal view: a 6-sigma ring on a bright galaxy's halo
    is lost in zscale (ring and halo saturate alike) and stands out from the
    halo around it once the smooth light is taken away."""
    size, c = 61, 30
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx - c, yy - c)
    galaxy = 2000.0 * np.exp(-(r**2) / (2 * 6.0**2))
    ring = 6.0 * np.exp(-((r - 9.0) ** 2) / (2 * 0.8**2))
    stamp = 100.0 + galaxy + ring + np.random.default_rng(2).normal(0, 1.0, (size, size))
    on = (r > 8.5) & (r < 9.5)
    off = (r > 12) & (r < 13)  # just outside the ring, still deep in the halo

    def contrast(preset):
        levels = display.stretch(stamp, preset)
        return levels[on].mean() - levels[off].mean()

    assert abs(contrast("zscale")) < 0.02  # all white: the ring is invisible
    assert contrast("unsharp") > 0.25
