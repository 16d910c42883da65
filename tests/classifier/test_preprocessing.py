"""Preprocessing: unit-free, pixel-scale aware, NaN-safe, on any device."""

import json

import numpy as np
import pytest
import torch

from classifier.networks import ARCHITECTURES, build, lens_probability
from classifier.preprocessing import Preprocessor, estimate_noise_sigma, normalise, resample
from core import imaging

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def sky(pixscale, size, noise_per_arcsec=0.0, seed=0):
    """A lens-like scene, drawn analytically at any pixel scale (arcsec/px):
    an elliptical Gaussian galaxy plus a 2.5" arc, in surface brightness, and
    white noise of the same density at every scale (sigma ~ 1 / pixscale)."""
    c = (np.arange(size) - (size - 1) / 2) * pixscale
    x, y = np.meshgrid(c, c)
    image = 200 * np.exp(-0.5 * (np.hypot(x, 1.5 * y) / 0.8) ** 2)
    image += 40 * np.exp(-0.5 * ((np.hypot(x, y) - 2.5) / 0.3) ** 2 - (np.arctan2(y, x) - 1) ** 2)
    noise = np.random.default_rng(seed).standard_normal(image.shape)
    return (image + noise_per_arcsec / pixscale * noise).astype(np.float32)[None, None]


PRE = Preprocessor(
    bands=["r"], **{k: ARCHITECTURES["he2020-cnn"][k] for k in ("pixscale_arcsec", "size_px")}
)


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return build("he2020-cnn").eval()


def logit_gap(net, x):
    """The CNN's lens-minus-other logit, which untrained weights still vary."""
    with torch.no_grad():
        out = net(x)
    return (out[:, 1] - out[:, 0]).numpy()


def test_scaling_a_stamp_by_any_positive_constant_leaves_its_score_unchanged(cnn):
    stamps = np.concatenate([sky(0.21, 97, 1.0, seed) for seed in range(3)])
    base = PRE(stamps, 0.21)
    for factor in (1e-6, 0.37, 2.5, 4e5):
        scaled = PRE(stamps * np.float32(factor), 0.21)
        assert torch.allclose(scaled, base, rtol=1e-5, atol=1e-4)
        with torch.no_grad():
            assert torch.allclose(
                lens_probability(cnn(scaled)), lens_probability(cnn(base)), atol=1e-6
            )


def test_the_same_sky_at_0_20_and_0_21_arcsec_per_pixel_gives_matching_inputs_and_scores(cnn):
    # Noiseless, with the noise recorded (sigma ~ 1 / pixscale): only the
    # resampling differs, by far less than turning the arc by 90 deg does.
    a = PRE(sky(0.20, 101), 0.20, sigma=1 / 0.20)
    b = PRE(sky(0.21, 97), 0.21, sigma=1 / 0.21)
    turned = PRE(np.rot90(sky(0.21, 97), 1, axes=(2, 3)), 0.21, sigma=1 / 0.21)
    assert (a - b).abs().max() < 0.01 * b.max()
    ga, gb, gt = logit_gap(cnn, torch.cat([a, b, turned]))
    assert abs(ga - gb) < 0.2 * abs(gb - gt)
    # With noise of the same density, estimated from each stamp: the same
    # signal and the same noise level (away from the galaxy) in both.
    a = PRE(sky(0.20, 101, 1.0, seed=1), 0.20)
    b = PRE(sky(0.21, 97, 1.0, seed=2), 0.21)
    assert b.max().item() == pytest.approx(a.max().item(), rel=0.05)
    noise_a, noise_b = a[..., 2:47, 2:10].std().item(), b[..., 2:47, 2:10].std().item()
    assert noise_a == pytest.approx(noise_b, rel=0.1)


def test_resampling_at_the_same_scale_and_size_is_the_identity():
    stamps = torch.randn(2, 3, 45, 45)
    assert torch.equal(resample(stamps, 0.18, 0.18, 45), stamps)


def test_resampling_by_two_is_2x2_binning():
    stamps = torch.randn(2, 3, 98, 98)
    binned = stamps.reshape(2, 3, 49, 2, 49, 2).mean(dim=(3, 5))
    assert torch.allclose(resample(stamps, 0.21, 0.42, 49), binned, atol=1e-6)


def test_resampling_crops_and_zero_pads_about_the_centre():
    stamps = torch.arange(25.0).reshape(1, 1, 5, 5) + 1
    assert torch.equal(resample(stamps, 0.2, 0.2, 3), stamps[..., 1:4, 1:4])
    padded = resample(stamps, 0.2, 0.2, 9)
    assert torch.equal(padded[..., 2:7, 2:7], stamps)
    assert padded.sum() == stamps.sum()
    # An odd stamp binned by two: its centre pixel stays the centre pixel.
    point = torch.zeros(1, 1, 97, 97)
    point[..., 48, 48] = 1
    out = resample(point, 0.21, 0.42, 49)[0, 0]
    assert out.argmax() == 24 * 49 + 24
    assert out.sum() == pytest.approx(1 / 4)  # surface brightness kept: flux / 2^2


def test_upsampling_keeps_surface_brightness():
    flat = torch.full((1, 2, 50, 50), 3.0)
    assert torch.allclose(resample(flat, 0.2, 0.18, 45), torch.tensor(3.0))


def test_a_masked_pixel_masks_only_the_output_pixels_it_touches():
    stamps = torch.ones(1, 1, 98, 98)
    stamps[..., 10, 20] = torch.nan
    out = resample(stamps, 0.21, 0.42, 49)
    assert torch.isnan(out).sum() == 1 and torch.isnan(out[..., 5, 10]).all()
    assert torch.equal(out.nan_to_num(1.0), torch.ones_like(out))


def test_the_noise_sigma_is_robust_to_the_galaxy_and_ignores_masks():
    rng = np.random.default_rng(0)
    stamps = (3.0 * rng.standard_normal((4, 2, 97, 97))).astype(np.float32)
    stamps += sky(0.21, 97)  # a bright galaxy whose wings reach the frame
    stamps[0, 0, :, :10] = np.nan
    stamps[1, 1, :3] = np.inf
    sigma = estimate_noise_sigma(stamps).numpy()
    assert sigma.shape == (4, 2)
    assert np.allclose(sigma, 3.0, rtol=0.1)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 40, 41, 1840])
def test_the_sorted_mad_is_the_lower_median_of_the_deviations(n):
    """The CPU path (one sort per row) against the definition: the lower
    median, then the lower median of |x - median|, as ``torch.nanmedian``
    gives them; with ties (integers) and without."""
    rng = np.random.default_rng(n)
    for values in (rng.normal(3.0, 2.0, (130, 2, n)), rng.integers(-3, 4, (130, 2, n))):
        x = torch.from_numpy(values.astype(np.float32))
        sigma, scale = imaging._finite_robust_sigma(x)
        med = torch.nanmedian(x, dim=-1, keepdim=True).values
        dev = (x - med).abs()
        assert torch.equal(sigma, imaging.MAD_TO_SIGMA * torch.nanmedian(dev, dim=-1).values)
        assert torch.equal(scale, dev.amax(dim=-1) + med[..., 0].abs())


def test_the_noise_sigma_is_never_zero_and_falls_back_to_the_whole_stamp():
    flat = np.zeros((1, 1, 21, 21), np.float32)
    flat[0, 0, 0, 10] = 5.0  # in the frame, which is otherwise flat: MAD 0
    assert estimate_noise_sigma(flat).item() == pytest.approx(5e-6)
    assert estimate_noise_sigma(np.zeros((1, 1, 21, 21))).item() > 0
    framed = np.full((1, 1, 21, 21), np.nan, np.float32)
    framed[0, 0, 5:16, 5:16] = 2 * np.random.default_rng(1).standard_normal((11, 11))
    assert estimate_noise_sigma(framed).item() == pytest.approx(2.0, rel=0.3)
    out = normalise(np.full((1, 1, 9, 9), np.nan))
    assert torch.equal(out, torch.zeros(1, 1, 9, 9))


def test_normalise_divides_subtracts_the_mean_image_clips_and_zeroes_masked_pixels():
    stamps = torch.tensor([[[[1.0, 2.0], [1e6, torch.nan]]], [[[-1e6, 4.0], [0.0, 2.0]]]])
    mean = torch.tensor([[[0.5, 0.5], [0.0, 0.0]]])
    out = normalise(stamps, sigma=torch.tensor([[2.0], [4.0]]), mean_image=mean, clip=250)
    assert torch.equal(out, torch.tensor([[[[0.0, 0.5], [250, 0]]], [[[-250, 0.5], [0, 0.5]]]]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sigma": [1.0, 2.0, 3.0]}, r"sigma of shape \(3,\) does not fit"),
        ({"sigma": 0.0}, "must be positive"),
        ({"mean_image": np.zeros((2, 4, 4))}, r"mean image is \(2, 4, 4\)"),
        ({"clip": 0}, "clip must be positive"),
    ],
)
def test_normalise_names_what_does_not_fit(kwargs, message):
    with pytest.raises(ValueError, match=message):
        normalise(np.ones((2, 1, 4, 4)), **kwargs)


def test_it_names_a_band_mismatch_and_a_bad_shape():
    with pytest.raises(ValueError, match=r"expects 1 band\(s\) \(r\); the stamps have shape"):
        PRE(np.zeros((2, 3, 97, 97), np.float32), 0.21)
    with pytest.raises(ValueError, match=r"\(N, bands, H, W\), not \(97, 97\)"):
        PRE(np.zeros((97, 97), np.float32), 0.21)
    with pytest.raises(ValueError, match="Pixel scales must be positive"):
        resample(np.zeros((1, 1, 9, 9)), 0.0, 0.2, 9)


def test_it_takes_big_endian_fits_data():
    stamps = sky(0.21, 97, 1.0).astype(">f4")
    assert torch.equal(PRE(stamps, 0.21), PRE(stamps.astype(np.float32), 0.21))


def test_it_round_trips_as_json_with_a_mean_image():
    pre = Preprocessor(
        bands=("g", "r", "i"), pixscale_arcsec=0.18, size_px=45, mean_image=np.ones((3, 45, 45))
    )
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert again == pre and again.bands == ["g", "r", "i"]
    out = again(np.zeros((2, 3, 45, 45), np.float32), 0.18)
    assert out.dtype == torch.float32 and torch.equal(out, -torch.ones(2, 3, 45, 45))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"resampling": "lanczos3"}, "Unknown resampling 'lanczos3'"),
        ({"noise": "sextractor"}, "Unknown noise estimate 'sextractor'"),
        ({"mean_image": [[0.0]]}, r"mean_image is \(1, 1\); this network needs \(1, 49, 49\)"),
        ({"method": "old"}, "Unknown preprocessing constants method"),
        ({"pixscale_arcsec": -0.2}, "pixscale_arcsec must be positive"),
    ],
)
def test_it_refuses_constants_it_cannot_reproduce(changes, message):
    with pytest.raises(ValueError, match=message):
        Preprocessor.from_dict({**PRE.to_dict(), **changes})


@pytest.mark.parametrize("device", DEVICES)
def test_it_computes_on_the_requested_device(device):
    stamps = sky(0.20, 101, 1.0)
    stamps[0, 0, 50, 50] = np.nan
    out = PRE(stamps, 0.20, device=device)
    assert out.device.type == device and out.shape == (1, 1, 49, 49)
    assert torch.allclose(out.cpu(), PRE(stamps, 0.20), atol=1e-4)
