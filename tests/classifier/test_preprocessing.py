"""Preprocessing: unit-free, pixel-scale aware, NaN-safe."""

import numpy as np
import pytest
import torch

from classifier.networks import he2020_cnn, lens_probability
from classifier.preprocessing import Preprocessor, background, normalise, resample


def lens_like(pixscale, size, seed=0, noise=1.0):
    """An elliptical blob and an arc of radius 2", drawn analytically at any scale."""
    c = (np.arange(size) - (size - 1) / 2) * pixscale
    x, y = np.meshgrid(c, c)
    r = np.hypot(x, y)
    image = 200 * np.exp(-np.hypot(x, 1.5 * y) / 0.6)
    image += 30 * np.exp(-0.5 * ((r - 2.0) / 0.15) ** 2) * (np.arctan2(y, x) > 0.3)
    rng = np.random.default_rng(seed)
    return (image + noise * rng.standard_normal(image.shape)).astype(np.float32)[None, None]


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    net = he2020_cnn(1).eval()
    # Untrained weights give near-constant scores; sharpen them so that the
    # tests below can tell inputs apart.
    with torch.no_grad():
        net.classifier[-1].weight.mul_(50)
    return net


PRE = Preprocessor(bands=["r"], pixscale_arcsec=0.42, size_px=49)


def score(net, stamps, pixscale):
    with torch.no_grad():
        return lens_probability(net(PRE(stamps, pixscale))).numpy()


def test_scaling_a_stamp_by_any_positive_constant_leaves_its_score_unchanged(cnn):
    stamp = lens_like(0.21, 97)
    base = score(cnn, stamp, 0.21)
    for factor in (1e-6, 0.37, 1.0, 2.5, 4e5):
        assert score(cnn, stamp * factor, 0.21) == pytest.approx(base, rel=1e-4, abs=1e-6)
    assert torch.allclose(PRE(stamp * 1e4, 0.21), PRE(stamp, 0.21), atol=1e-3)


def test_a_stamp_at_0_20_and_at_0_21_arcsec_per_pixel_score_alike(cnn):
    a = PRE(lens_like(0.20, 101, noise=0.0) + 0.0, 0.20)
    b = PRE(lens_like(0.21, 97, noise=0.0) + 0.0, 0.21)
    # Same sky, same network input, to a few per cent of the peak.
    assert (a - b).abs().max() < 0.05 * a.abs().max()
    sa = score(cnn, lens_like(0.20, 101), 0.20)
    sb = score(cnn, lens_like(0.21, 97), 0.21)
    other = score(cnn, np.rot90(lens_like(0.21, 97), 1, axes=(2, 3)).copy(), 0.21)
    assert abs(sa - sb) < 0.5 * abs(sb - other) + 1e-3


def test_resampling_keeps_the_stamp_centred_and_conserves_surface_brightness():
    stamp = lens_like(0.21, 97, noise=0.0)
    same = resample(stamp, 0.21, 0.21, 97)
    assert torch.equal(same, torch.as_tensor(stamp))
    half = resample(stamp, 0.21, 0.42, 49)[0, 0].numpy()
    assert np.unravel_index(np.argmax(half), half.shape) == (24, 24)
    # Surface brightness (per pixel, smoothed) is kept: the peak halves at most.
    assert 0.4 * stamp.max() < half.max() <= stamp.max()


def test_masked_pixels_become_background_and_outliers_are_clipped():
    stamp = lens_like(0.21, 97)
    stamp[0, 0, 10:20, 10:20] = np.nan
    stamp[0, 0, 48, 48] = 1e9
    out = PRE(stamp, 0.21)
    assert torch.isfinite(out).all()
    assert out.max() <= 250 and out.abs()[0, 0, 5:10, 5:10].max() < 5


def test_background_is_the_frame_median_and_mad():
    rng = np.random.default_rng(0)
    stamp = (7.0 + 3.0 * rng.standard_normal((2, 1, 97, 97))).astype(np.float32)
    level, sigma = background(stamp)
    assert np.allclose(level.numpy(), 7.0, atol=0.2) and np.allclose(sigma.numpy(), 3.0, rtol=0.1)
    flat = np.zeros((1, 1, 21, 21), np.float32)
    assert torch.isfinite(normalise(flat)).all()


def test_it_names_a_band_mismatch():
    with pytest.raises(
        ValueError, match=r"expects 1 band\(s\) \(r\); the stamps have shape \(2, 3, 97, 97\)"
    ):
        PRE(np.zeros((2, 3, 97, 97), np.float32), 0.21)


def test_it_round_trips_as_json():
    pre = Preprocessor(bands=["g", "r", "i"], pixscale_arcsec=0.18, size_px=45)
    assert Preprocessor.from_dict(pre.to_dict()) == pre
