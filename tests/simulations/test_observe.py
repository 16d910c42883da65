"""PSF, noise and S/N."""

import numpy as np
import pytest
import torch

from simulations.observe import (
    FWHM_PER_SIGMA,
    add_noise,
    arc_snr,
    gaussian_psf_convolve,
)


def point_sources(n=2, size=65):
    img = torch.zeros((n, 1, size, size), dtype=torch.float64)
    img[:, 0, size // 2, size // 2] = 1000.0
    return img


def test_psf_convolution_preserves_flux():
    rng = np.random.default_rng(0)
    img = torch.zeros((3, 2, 45, 45), dtype=torch.float64)
    # Light well inside the stamp, so that the PSF wings stay in it too.
    img[..., 14:31, 14:31] = torch.as_tensor(rng.uniform(0, 5, (3, 2, 17, 17)))
    out = gaussian_psf_convolve(img, torch.tensor([[0.6, 0.9]] * 3), 0.21)
    assert torch.allclose(out.sum(dim=(-2, -1)), img.sum(dim=(-2, -1)), rtol=1e-9)


@pytest.mark.parametrize("fwhm", [0.55, 0.75, 1.2])
def test_psf_has_the_requested_width_and_stays_centred(fwhm):
    pix = 0.21
    out = gaussian_psf_convolve(point_sources(), torch.tensor(fwhm), pix)[0, 0].numpy()
    c = np.arange(out.shape[0]) - out.shape[0] // 2
    yy, xx = np.meshgrid(c, c, indexing="ij")
    total = out.sum()
    assert (out * xx).sum() / total == pytest.approx(0, abs=1e-9)
    sigma_px = np.sqrt((out * xx**2).sum() / total)
    assert sigma_px * pix * FWHM_PER_SIGMA == pytest.approx(fwhm, rel=0.02)


def test_noise_has_the_configured_variance_and_follows_the_seed():
    signal = torch.full((4, 1, 100, 100), 400.0)
    sigma_bg = torch.tensor(30.0)
    a = add_noise(signal, sigma_bg, torch.Generator().manual_seed(7))
    b = add_noise(signal, sigma_bg, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    # Poisson variance = signal, plus the background variance.
    assert (a - signal).var().item() == pytest.approx(400 + 900, rel=0.03)
    assert (a - signal).mean().item() == pytest.approx(0, abs=0.5)


def test_poisson_noise_scales_with_the_signal():
    rng = torch.Generator().manual_seed(1)
    faint = add_noise(torch.full((1, 1, 200, 200), 4.0), torch.tensor(0.0), rng)
    assert faint.var().item() == pytest.approx(4.0, rel=0.05)
    assert torch.equal(faint, faint.round())  # counts are whole numbers


def test_arc_snr_is_lanusse2018_eq_10():
    src = torch.zeros((1, 10, 10))
    src[0, 2:4, 2:5] = 10.0  # 6 pixels of 10 counts
    src[0, 8, 8] = 0.4  # below 0.5 sigma: not part of the arc
    assert arc_snr(src, torch.tensor([1.0])).item() == pytest.approx(60 / np.sqrt(6))
    assert arc_snr(torch.zeros((1, 5, 5)), torch.tensor([1.0])).item() == 0.0
