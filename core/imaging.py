"""Image measurements shared by the simulator, the shortcut audit and the
classifier's preprocessing (pure: numpy and torch, no Django).

One noise estimate serves everything: the background sigma of a stamp is
1.4826 x the median absolute deviation of its outer frame. The shortcut
audit measures the same quantity the networks divide by, so that a label
hidden in the noise level shows up in the audit before a network finds it.
"""

import numpy as np
import torch

BORDER_PX = 5
MAD_TO_SIGMA = 1.4826  # sigma of a Gaussian per unit median absolute deviation
# Relative to a stamp's data scale: a flat or empty stamp divides by this, not by 0.
SIGMA_FLOOR = 1e-6


def as_stamps(stamps, device=None):
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


def _sorted_mad(a, k):
    """(MAD about the lower median, max |a - median| + |median|) of each row
    of the float32 array ``a``, from one sort. The k+1 values nearest the
    median are k+1 consecutive sorted values that include it, so the MAD
    (the (k+1)-th smallest deviation) is the least, over the windows
    ``s[lo : lo + k + 1]`` with ``lo <= k``, of the window's larger
    deviation: the same float32 differences a second selection would rank."""
    s = np.sort(a, axis=-1)
    med = s[:, k : k + 1]
    mad = np.maximum(med - s[:, : k + 1], s[:, k : 2 * k + 1] - med).min(axis=-1)
    scale = np.maximum(med[:, 0] - s[:, 0], s[:, -1] - med[:, 0]) + np.abs(med[:, 0])
    return mad, scale


def _finite_robust_sigma(x):
    """``_robust_sigma`` where every value is finite: the same lower medians
    (the element ``torch.nanmedian`` returns), found by selection or a sort.
    On the CPU numpy sorts each row once (``_sorted_mad``): ~1.3x faster than
    two numpy selections (``bench/rewrites.py``), which are ~4x faster than
    torch's on these short rows.
    (Sharing the rows among threads gains nothing in a scoring run: torch's
    OpenMP workers spin on the cores for a while after each operation.)"""
    k = (x.shape[-1] - 1) // 2
    if x.device.type == "cpu":
        mad, scale = _sorted_mad(x.reshape(-1, x.shape[-1]).numpy(), k)
        shape = x.shape[:-1]
        return (MAD_TO_SIGMA * torch.from_numpy(mad).reshape(shape),
                torch.from_numpy(scale).reshape(shape))  # fmt: skip
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
    """The pixels of the outer ``k``-pixel frame of each stamp, ``(N, B, n)``:
    four slices, cheaper than a boolean mask (order does not matter here)."""
    h, w = t.shape[-2:]
    parts = (t[..., :k, :], t[..., h - k :, :], t[..., k : h - k, :k], t[..., k : h - k, w - k :])
    return torch.cat([p.reshape(*t.shape[:2], -1) for p in parts], dim=-1)


def estimate_noise_sigma(stamps, border_px=BORDER_PX):
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
    k = max(1, min(border_px, h // 4, w // 4))
    sigma, scale = _robust_sigma(_frame(t, k))
    empty = torch.isnan(sigma)
    if empty.any():
        whole_sigma, whole_scale = _robust_sigma(t.reshape(n, b, -1))
        sigma = torch.where(empty, whole_sigma, sigma)
        scale = torch.where(empty, whole_scale, scale)
    floor = torch.clamp(SIGMA_FLOOR * scale, min=torch.finfo(torch.float32).tiny)
    return torch.maximum(torch.nan_to_num(sigma, nan=0.0), floor)
