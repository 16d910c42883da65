"""Image measurements shared by the simulator, the shortcut audit and the
classifier's preprocessing (pure: numpy and torch, no Django).

One noise estimate serves everything: the background sigma of a stamp is
1.4826 x the median absolute deviation of its outer frame. The shortcut
audit measures the same quantity the networks divide by, so that a label
hidden in the noise level shows up in the audit before a network finds it.
This is its torch form, for batches on a device; ``core.noise`` defines it
in numpy (pictures, the web process: no torch) and the two agree
(tests/core/test_imaging_layer.py).
"""

import numpy as np
import torch
from numpy.typing import ArrayLike

from core.noise import BORDER_PX, MAD_TO_SIGMA, SIGMA_FLOOR, frame, frame_width, sorted_mad

__all__ = ["BORDER_PX", "MAD_TO_SIGMA", "SIGMA_FLOOR", "as_stamps", "estimate_noise_sigma"]


def as_stamps(
    stamps: ArrayLike | torch.Tensor, device: str | torch.device | None = None
) -> torch.Tensor:
    """``(N, B, H, W)`` float32 tensor of ``stamps`` (numpy or torch), on ``device``."""
    if torch.is_tensor(stamps):
        t = stamps
    else:
        # FITS cubes arrive big-endian and views may have negative strides;
        # torch takes neither, so copy to native float32 first.
        t = torch.from_numpy(np.ascontiguousarray(stamps, dtype=np.float32))
    t = t.to(device=device if device is not None else t.device, dtype=torch.float32)
    if t.ndim != 4:
        raise ValueError(f"Stamps must be shaped (N, bands, H, W), not {tuple(t.shape)}.")
    return t


def _finite_robust_sigma(x):
    """``_robust_sigma`` where every value is finite.

    The same lower medians (the element ``torch.nanmedian`` returns), found
    by selection or a sort. On the CPU numpy sorts each row once
    (``core.noise.sorted_mad``): ~1.3x faster than two numpy selections
    (``bench/rewrites.py``), which are ~4x faster than torch's on these
    short rows.
    (Sharing the rows among threads gains nothing in a scoring run: torch's
    OpenMP workers spin on the cores for a while after each operation.)"""
    k = (x.shape[-1] - 1) // 2
    if x.device.type == "cpu":
        mad, scale, _ = sorted_mad(x.reshape(-1, x.shape[-1]).numpy(), k)
        shape = x.shape[:-1]
        return (
            MAD_TO_SIGMA * torch.from_numpy(mad).reshape(shape),
            torch.from_numpy(scale).reshape(shape),
        )
    med = torch.kthvalue(x, k + 1, dim=-1, keepdim=True).values
    dev = (x - med).abs()
    mad = torch.kthvalue(dev, k + 1, dim=-1).values
    scale = dev.amax(dim=-1) + med[..., 0].abs()
    return MAD_TO_SIGMA * mad, scale


def _robust_sigma(x):
    """(1.4826 x MAD, max |x - median| + |median|) along the last axis over
    finite values; (NaN, 0) where there are none."""
    if bool(torch.isfinite(x).all()):  # the usual case: no masked pixel
        return _finite_robust_sigma(x)
    x = x.nan_to_num(nan=torch.nan, posinf=torch.nan, neginf=torch.nan)
    med = torch.nanmedian(x, dim=-1, keepdim=True).values
    dev = (x - med).abs()
    sigma = MAD_TO_SIGMA * torch.nanmedian(dev, dim=-1).values
    scale = dev.nan_to_num_(nan=0.0).amax(dim=-1) + med[..., 0].abs().nan_to_num_(nan=0.0)
    return sigma, scale


def _frame(t, k):
    """The outer ``k``-pixel frame of each stamp, ``(N, B, n)`` (``core.noise.frame``)."""
    return frame(t, k, concatenate=lambda parts, axis: torch.cat(parts, dim=axis))


def estimate_noise_sigma(
    stamps: ArrayLike | torch.Tensor, border_px: int = BORDER_PX
) -> torch.Tensor:
    """Background noise sigma of each stamp and band, in the stamps' units.

    1.4826 x the median absolute deviation of the outer ``border_px`` frame
    (the median is robust to the wings of the central galaxy and to
    neighbours there). Masked (non-finite) pixels are ignored; where the
    whole frame is masked the whole stamp is used. Never 0: floored at 1e-6
    of the data scale of the pixels used (max |x - median| + |median|), so
    that it stays proportional to the data, and at the smallest normal
    float32 where those pixels are all 0.

    Parameters
    ----------
    stamps : array_like or torch.Tensor
        ``(N, B, H, W)``.
    border_px : int
        Width of the frame, pixels (at most a quarter of the stamp).

    Returns
    -------
    torch.Tensor
        ``(N, B)`` float32, on the stamps' device.
    """
    t = as_stamps(stamps)
    n, b, h, w = t.shape
    k = frame_width(h, w, border_px)
    sigma, scale = _robust_sigma(_frame(t, k))
    empty = torch.isnan(sigma)
    if empty.any():
        whole_sigma, whole_scale = _robust_sigma(t.reshape(n, b, -1))
        sigma = torch.where(empty, whole_sigma, sigma)
        scale = torch.where(empty, whole_scale, scale)
    floor = torch.clamp(SIGMA_FLOOR * scale, min=torch.finfo(torch.float32).tiny)
    return torch.maximum(torch.nan_to_num(sigma, nan=0.0), floor)
