"""Rendering a scene: lensed sources against lenstronomy, Moffat PSFs,
depth-model noise, correlated noise, the S/N floor, artefacts and the
look-alike profiles."""

import numpy as np
import pytest
import torch
from lenstronomy.LightModel.Profiles.moffat import Moffat

from simulations import observe, populations, render
from simulations.light import sersic_total_flux_per_amp
from simulations.surveys import get_survey


@pytest.fixture(scope="module")
def batch():
    config = get_survey("kids-r")
    labels = np.array([1, 0] * 150, np.int16)
    scene = populations.sample(config, labels, np.random.default_rng(8))
    stamps, measured = render.render(scene, config)
    return config, scene, stamps, measured, render.metadata(scene, measured, config)


def test_a_lensed_source_matches_lenstronomy(tmp_path):
    """The traced source of one lens (SIE + shear, one clump) against
    lenstronomy's ImageModel with the same supersampling and no PSF."""
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF as LenstronomyPSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel
    from lenstronomy.Util import param_util

    config = get_survey("kids-r")
    config["lens"]["subhaloes"] = False
    config["source"]["two_clump_share"] = 0.0
    scene = populations.sample(config, np.ones(3, np.int16), np.random.default_rng(4))
    units, magnification = render.feature_images(scene, config)
    size, pix = config["size_px"], config["pixscale_arcsec"]
    data = ImageData(
        image_data=np.zeros((size, size)),
        transform_pix2angle=np.eye(2) * pix,
        ra_at_xy_0=-(size - 1) / 2 * pix,
        dec_at_xy_0=-(size - 1) / 2 * pix,
    )
    for i in range(3):
        lens, c, clump = scene["lens"], scene["central"], scene["clumps"]
        e1, e2 = param_util.phi_q2_ellipticity(lens["phi"][i], lens["q"][i])
        kw_lens = [
            {
                "theta_E": lens["theta_e"][i],
                "e1": e1,
                "e2": e2,
                "center_x": c["x"][i],
                "center_y": c["y"][i],
            },
            {
                "gamma1": lens["gamma1"][i],
                "gamma2": lens["gamma2"][i],
                "ra_0": c["x"][i],
                "dec_0": c["y"][i],
            },
        ]
        row = np.flatnonzero(clump["stamp"] == i)[0]
        se1, se2 = param_util.phi_q2_ellipticity(clump["phi"][row], clump["q"][row])
        amp = 1.0 / sersic_total_flux_per_amp(clump["r_eff"][row], clump["n"][row])
        kw_src = [
            {
                "amp": float(amp),
                "R_sersic": clump["r_eff"][row],
                "n_sersic": clump["n"][row],
                "e1": se1,
                "e2": se2,
                "center_x": clump["x"][row] + c["x"][i],
                "center_y": clump["y"][row] + c["y"][i],
            }
        ]
        model = ImageModel(
            data,
            LenstronomyPSF(psf_type="NONE"),
            LensModel(["SIE", "SHEAR"]),
            LightModel(["SERSIC_ELLIPSE"]),
            kwargs_numerics={"supersampling_factor": 2},
        )
        theirs = model.image(kw_lens, kw_src)  # flux per pixel (amp is per arcsec^2)
        ours = units[i, 0].numpy()
        # He et al.'s b_n against lenstronomy's own approximation: ~1% in flux.
        assert ours.sum() == pytest.approx(theirs.sum(), rel=0.03)
        assert magnification[i] == pytest.approx(ours.sum(), rel=1e-5)
        assert np.abs(ours - theirs).sum() / theirs.sum() < 0.06


@pytest.mark.parametrize("beta", [2.5, 4.5])
def test_moffat_psfs_have_the_drawn_width_and_wings(beta):
    fwhm, pix = 0.7, 0.21
    psf = observe.PSF([[fwhm]], [[beta]], pix, (65, 65), dtype=torch.float64)
    point = torch.zeros((1, 1, 65, 65), dtype=torch.float64)
    point[0, 0, 32, 32] = 1.0
    image = psf.convolve(point)[0, 0].numpy()
    assert image.sum() == pytest.approx(1.0, rel=1e-6)
    # Against lenstronomy's Moffat profile sampled at the pixel centres.
    d = (np.arange(65) - 32) * pix
    xx, yy = np.meshgrid(d, d)
    alpha = fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1))
    theirs = Moffat().function(xx, yy, 1.0, alpha, beta)
    theirs *= np.hypot(xx, yy) <= observe.PSF.TRUNCATE_FWHM * fwhm
    assert np.allclose(image, theirs / theirs.sum(), rtol=1e-5, atol=1e-8)
    # Half the peak at FWHM / 2 along an axis.
    half = np.interp(fwhm / 2, d[32:], image[32, 32:] / image[32, 32])
    assert half == pytest.approx(0.5, abs=0.03)


def test_a_psf_of_infinite_beta_is_the_gaussian():
    point = torch.zeros((1, 1, 45, 45))
    point[0, 0, 22, 22] = 1.0
    moffat = observe.PSF([[0.8]], [[np.inf]], 0.18, (45, 45)).convolve(point)
    gaussian = observe.gaussian_psf_convolve(point, torch.tensor([[0.8]]), 0.18)
    assert torch.allclose(moffat, gaussian, atol=1e-6)


def test_the_noise_comes_from_the_depth_model_whatever_the_stamp_holds(batch):
    config, scene, stamps, measured, meta = batch
    depth = config["depth"]
    sky = observe.counts_per_second(meta["sky_mag"], depth["zero_point"]["r"])
    expected = np.sqrt(sky * depth["exposure_s"]["r"] * 0.21**2 + 5 * 4.0**2)
    assert np.allclose(meta["noise_sigma"], expected, rtol=1e-5)
    # 5-sigma depth within a 2" aperture: KiDS r reaches ~25.
    depth_mag = -2.5 * np.log10(5 * expected * np.sqrt(np.pi / 0.21**2) / 10 ** (0.4 * 33.0))
    assert 24.6 < np.median(depth_mag) < 25.2
    sigma = meta["noise_sigma"]
    lens = meta["label"] == 1
    assert np.median(sigma[lens]) == pytest.approx(np.median(sigma[~lens]), rel=0.05)


def test_correlated_noise_keeps_the_rms_and_correlates_neighbours():
    white = torch.randn((2, 1, 200, 200), generator=torch.Generator().manual_seed(0))
    shifted = observe.correlate(white, torch.tensor([[0.5, 0.5], [0.0, 0.0]]))
    assert shifted[0].std().item() == pytest.approx(1.0, rel=0.02)
    assert torch.equal(shifted[1], white[1])

    def neighbour_correlation(a):
        return float(np.corrcoef(a[..., :-1].ravel(), a[..., 1:].ravel())[0, 1])

    assert neighbour_correlation(shifted[0].numpy()) == pytest.approx(0.5, abs=0.05)
    assert abs(neighbour_correlation(white[0].numpy())) < 0.03


def test_every_arc_reaches_the_snr_floor_and_features_alike(batch):
    config, scene, stamps, measured, meta = batch
    floor = config["source"]["snr_min"]
    lens = meta["label"] == 1
    assert np.all(meta["snr"][lens] >= floor * 0.99)
    features = meta["feature_snr"] > 0
    assert features.sum() > 50 and np.all(meta["feature_snr"][features] >= floor * 0.99)
    # Faint sources are common: the floor is reached often, not just in the tail.
    assert np.mean(meta["snr"][lens] < 2 * floor) > 0.08


def test_the_snr_solver_brightens_only_what_is_too_faint():
    arc = torch.zeros((2, 20, 20))
    arc[:, 5:8, 5:15] = 1.0 / 30  # unit flux over 30 pixels
    flux, snr = render.solve_feature_flux(
        arc, np.array([10.0, 10.0]), np.array([100.0, 1e5]), 10.0, np.array([0.0, 0.0])
    )
    assert snr[0] == pytest.approx(10.0, rel=0.01) and flux[0] > 100
    assert flux[1] == 1e5 and snr[1] == pytest.approx(1e5 / 30 * 30 / (10 * np.sqrt(30)))


def test_masked_blocks_and_tile_edges_are_nan_and_spare_the_centre(batch):
    config, scene, stamps, measured, meta = batch
    masked = np.asarray(meta["masked"])
    assert np.array_equal(np.isnan(stamps).any(axis=(1, 2, 3)), masked)
    assert not np.isnan(stamps[:, :, 41:56, 41:56]).any()
    config = get_survey("kids-r")
    config["environment"].update(masked_block_share=0.5, tile_edge_share=0.5)
    scene = populations.sample(config, np.zeros(400, np.int16), np.random.default_rng(1))
    assert np.mean(scene["mask_block"][:, 0] >= 0) == pytest.approx(0.5, abs=0.08)
    assert np.mean(scene["tile_edge"][:, 0] > 0) == pytest.approx(0.5, abs=0.08)


def test_spiral_arms_keep_the_disk_flux():
    config = get_survey("kids-r")
    x, y = render.grid(config, "cpu", 4)
    args = [
        torch.tensor(v, dtype=torch.float32).reshape(1, 1, 1)
        for v in (1.5, 0.7, 0.3, 0.0, 0.0, 0.6, 2.0, np.deg2rad(20), 1.0, 0.0)
    ]
    plain = args.copy()
    plain[5] = torch.zeros((1, 1, 1))
    arms = render.spiral_profile(x, y, *args).sum()
    disk = render.spiral_profile(x, y, *plain).sum()
    assert arms.item() == pytest.approx(disk.item(), rel=0.02)
    assert not torch.allclose(
        render.spiral_profile(x, y, *args), render.spiral_profile(x, y, *plain)
    )


def test_band_counts_follow_the_colours():
    config = get_survey("kids-gri")
    counts = render.band_counts([20.0], [[1.4, 0.0, -0.5]], config)[0]
    expected = [
        render.mag_to_counts(21.4, config, "g"),
        render.mag_to_counts(20.0, config, "r"),
        render.mag_to_counts(19.5, config, "i"),
    ]
    assert np.allclose(counts, expected)
