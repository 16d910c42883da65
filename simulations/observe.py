"""Observing a noiseless image: Gaussian PSF, noise, S/N (pure: no Django).

Batched on torch tensors of shape ``(B, nb, H, W)`` (stamps, bands, pixels).
"""

import math

import numpy as np
import torch

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))  # 2.3548


def gaussian_psf_convolve(images, fwhm_arcsec, pixscale_arcsec):
    """Convolve ``images`` with circular Gaussian PSFs, conserving flux.

    The kernel is the Gaussian sampled at pixel centres and normalised to a
    sum of 1 (a discretised PSF, as LensPop does); it is separable, so its
    transfer function is the outer product of two 1-d DFTs. Images are
    zero-padded by 5 sigma so that nothing wraps around. ``fwhm_arcsec``
    broadcasts to ``(B, nb)``.
    """
    b, nb, h, w = images.shape
    fwhm = torch.as_tensor(fwhm_arcsec, dtype=images.dtype, device=images.device)
    sigma_px = (fwhm / FWHM_PER_SIGMA / pixscale_arcsec).expand(b, nb)
    pad = int(math.ceil(5 * float(sigma_px.max()))) + 1
    # A fast FFT length (products of 2, 3, 5) at least H + 2 pad.
    ph, pw = _fast_length(h + 2 * pad), _fast_length(w + 2 * pad)
    ky = torch.fft.fft(_wrapped_gaussian(ph, sigma_px), dim=-1)
    kx = torch.fft.rfft(_wrapped_gaussian(pw, sigma_px), dim=-1)
    transfer = ky[..., :, None] * kx[..., None, :]
    out = torch.fft.irfft2(torch.fft.rfft2(images, s=(ph, pw)) * transfer, s=(ph, pw))
    # The kernel is centred on the origin, so the image stays in place; the
    # tails that wrapped fall in the padding, which is dropped.
    return out[..., :h, :w]


def _wrapped_gaussian(length, sigma_px):
    """1-d Gaussians of width ``sigma_px`` (B, nb) centred on index 0 of a
    periodic axis, each summing to 1: shape (B, nb, length)."""
    i = torch.arange(length, dtype=sigma_px.dtype, device=sigma_px.device)
    d = torch.minimum(i, length - i)
    g = torch.exp(-0.5 * (d / sigma_px[..., None]) ** 2)
    return g / g.sum(dim=-1, keepdim=True)


def _fast_length(n):
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def add_noise(signal, sigma_bg, generator):
    """``Poisson(signal) + N(0, sigma_bg^2)``; signal in counts (>= 0).

    ``sigma_bg`` (counts) broadcasts to ``(B, nb, 1, 1)``: the Gaussian sky
    and read noise of the background.
    """
    signal = torch.clamp(signal, min=0)
    shot = torch.poisson(signal, generator=generator)
    background = torch.randn(signal.shape, generator=generator, dtype=signal.dtype)
    return shot + background.to(signal.device) * sigma_bg


def kids_snr(mag, a=1.796e9, b=-0.8079, faint=15.0, faint_mag=23.0):
    """He et al. 2020 eq. 17: S/N of a KiDS galaxy of r magnitude ``mag``."""
    mag = np.asarray(mag, dtype=np.float64)
    return np.where(mag < faint_mag, a * np.exp(b * mag), faint)


def background_sigma_for_snr(flux, snr, n_aperture_px):
    """Background rms (counts) that gives a source of ``flux`` counts the S/N
    ``snr`` over ``n_aperture_px`` pixels: ``snr = F / (sigma sqrt(N))``.

    The S/N counts background noise only, like eq. 10 of Lanusse et al.;
    read this way, He et al.'s eq. 17 with the KiDS zero point implies a
    nearly constant sky (~30-40 e- per pixel from r = 17 to 23), as it should.
    """
    return np.asarray(flux, np.float64) / (np.asarray(snr) * np.sqrt(n_aperture_px))


def arc_snr(source_image, sigma_bg):
    """Lanusse et al. 2018 eq. 10: ``F_tot / (sigma sqrt(N_pix))``.

    ``source_image``: the noiseless, PSF-convolved lensed source (counts),
    shape ``(..., H, W)``; ``sigma_bg``: the background rms, broadcastable to
    ``(...)``. ``N_pix`` counts pixels above 0.5 sigma and ``F_tot`` sums the
    source flux in them; 0 where no pixel passes.
    """
    sigma = torch.as_tensor(sigma_bg, dtype=source_image.dtype, device=source_image.device)
    mask = source_image > 0.5 * sigma[..., None, None]
    n_pix = mask.sum(dim=(-2, -1)).to(source_image.dtype)
    flux = (source_image * mask).sum(dim=(-2, -1))
    return torch.where(n_pix > 0, flux / (sigma * torch.sqrt(n_pix.clamp(min=1))), 0.0)
