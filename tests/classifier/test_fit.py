"""Does a network fit a survey: bands, pixel scale, stamp size (pure)."""

import numpy as np
import pytest

from classifier.fit import check_fit, nearest_binning
from classifier.preprocessing import resample

# The shipped CNN on the KiDS-like survey it was built for: 97 px at 0.21"/px
# binned 2x2 into 49 px at 0.42"/px.
CNN = {"network_bands": "r", "network_pixscale_arcsec": 0.42, "network_size_px": 49}
KIDS = {"survey_bands": "g,r,i", "survey_pixscale_arcsec": 0.21, "survey_stamp_size_px": 97}
NAMES = {"network_name": "my-cnn", "survey_name": "kids-dr3"}


def fit(**changes):
    return check_fit(**{**CNN, **KIDS, **NAMES, **changes})


def test_it_passes_a_network_on_the_survey_it_was_built_for():
    report = fit()
    assert report.fits and report.errors == () and report.warnings == ()


def test_it_refuses_a_network_whose_bands_the_survey_lacks():
    report = fit(network_bands=["g", "r", "z"], survey_bands=["r", "g"])
    assert not report.fits and report.warnings == ()
    (error,) = report.errors
    assert "my-cnn takes bands g,r,z; survey kids-dr3 has r,g (missing z)" in error
    assert "choose a network for these bands" in error


def test_it_takes_bands_in_any_order_and_as_a_string_or_a_list():
    assert fit(network_bands="i,g", survey_bands=["g", "r", "i"]).fits
    # "gri" is one band named gri, never three one-letter bands.
    assert not fit(network_bands="g", survey_bands="gri").fits


@pytest.mark.parametrize("survey_pixscale, direction", [(0.23, "coarser"), (0.17, "finer")])
def test_a_pixel_scale_15_percent_off_is_a_warning_that_says_by_how_much(
    survey_pixscale, direction
):
    report = fit(network_pixscale_arcsec=0.2, survey_pixscale_arcsec=survey_pixscale)
    assert report.fits
    (warning,) = report.warnings
    assert f'kids-dr3 has {survey_pixscale}"/px, 15% {direction} than the 0.2"/px' in warning
    assert "my-cnn" in warning and "prefer a network trained at this pixel scale" in warning


@pytest.mark.parametrize("survey_pixscale", [0.19, 0.21, 0.2])
def test_a_pixel_scale_5_percent_off_is_no_warning(survey_pixscale):
    report = fit(network_pixscale_arcsec=0.2, survey_pixscale_arcsec=survey_pixscale)
    assert report.fits and report.warnings == ()


def test_whole_binning_is_no_warning_and_a_fractional_one_is():
    # Real KiDS coadds (0.2"/px) binned 2x2 are within 5% of the CNN's 0.21.
    assert fit(survey_pixscale_arcsec=0.2, survey_stamp_size_px=103).warnings == ()
    assert fit(survey_pixscale_arcsec=0.14, survey_stamp_size_px=151).warnings == ()  # 3x3
    (warning,) = fit(survey_pixscale_arcsec=0.168, survey_stamp_size_px=123).warnings
    assert '20% finer than the 0.21"/px (its 0.42"/px input binned 2x2)' in warning
    assert "2.5 survey pixels a side, not a whole binning" in warning
    assert nearest_binning(0.42, 0.21) == (2, pytest.approx(0.0))
    assert nearest_binning(0.18, 0.21)[0] == 1


def test_a_thin_zero_frame_is_a_warning_with_the_size_to_ingest():
    report = fit(survey_pixscale_arcsec=0.2)  # 97 px x 0.2" = 19.4" < 49 x 0.42" = 20.6"
    assert report.fits
    (warning,) = report.warnings
    assert 'kids-dr3 has 97x97 px stamps at 0.2"/px' in warning and "my-cnn takes 49x49" in warning
    assert "zero-padded by 1.4 px a side" in warning
    assert "--stamp-size 103" in warning
    assert fit(survey_pixscale_arcsec=0.2, survey_stamp_size_px=103).warnings == ()


def test_stamps_far_too_small_for_the_network_are_refused_with_the_size_to_ingest():
    report = fit(survey_pixscale_arcsec=0.21, survey_stamp_size_px=87)  # 2.75 px a side
    (error,) = report.errors
    assert "zero-padded by 2.8 px a side" in error and "--stamp-size 98" in error


def test_larger_stamps_are_cropped_not_refused():
    assert fit(survey_stamp_size_px=301).fits


def test_it_reports_every_problem_at_once():
    report = fit(network_bands="z", survey_pixscale_arcsec=0.25, survey_stamp_size_px=20)
    assert len(report.errors) == 2 and len(report.warnings) == 1


@pytest.mark.parametrize("field", ["network_pixscale_arcsec", "survey_stamp_size_px"])
def test_nonsense_geometry_is_a_value_error(field):
    with pytest.raises(ValueError, match="must be positive"):
        fit(**{field: 0})


@pytest.mark.parametrize(
    "survey_size, survey_pixscale, network_size, network_pixscale",
    [
        (97, 0.21, 49, 0.42),  # KiDS-like into the CNN: a quarter pixel a side
        (96, 0.21, 49, 0.42),  # half a pixel a side: the limit
        (95, 0.21, 49, 0.42),
        (97, 0.2, 49, 0.42),
        (101, 0.2, 49, 0.42),
        (40, 0.2, 45, 0.18),
        (44, 0.18, 45, 0.18),
        (43, 0.18, 45, 0.18),
        (50, 0.18, 45, 0.18),
    ],
)
def test_the_size_check_agrees_with_what_the_preprocessor_pads(
    survey_size, survey_pixscale, network_size, network_pixscale
):
    """Independent route: resample a stamp of ones as scoring does; the
    middle of the input's edge is the fraction of its pixel the stamp covers."""
    ones = np.ones((1, 1, survey_size, survey_size), np.float32)
    x = resample(ones, survey_pixscale, network_pixscale, network_size).numpy()[0, 0]
    edge_cover = float(x[network_size // 2, 0])
    report = check_fit("r", network_pixscale, network_size, "r", survey_pixscale, survey_size)
    padded = [m for m in report.errors + report.warnings if "zero-padded" in m]
    assert (not padded) == (edge_cover >= 0.5 - 1e-5), edge_cover
