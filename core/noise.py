"""The one sky and noise estimate of a stamp, in numpy (pure: no torch, no Django).

The background noise sigma of a stamp is 1.4826 x the median absolute
deviation of its outer ``BORDER_PX`` frame, the sky its median there (lower
medians, over the finite pixels). Everything that measures a stamp's noise
uses this definition: pictures (``core.display``), the networks'
normalisation and the shortcut audit (``core.imaging``, its torch twin,
tested to agree), semi-real sets. The web process uses this module, never
torch.
"""

from collections.abc import Callable

import numpy as np

BORDER_PX = 5
MAD_TO_SIGMA = 1.4826  # sigma of a Gaussian per unit median absolute deviation
# Relative to a stamp's data scale: a flat or empty stamp divides by this, not by 0.
SIGMA_FLOOR = 1e-6
_TINY = np.finfo(np.float32).tiny


def frame_width(height: int, width: int, border_px: int = BORDER_PX) -> int:
    """Width of the frame used: ``border_px``, at most a quarter of the stamp, at least 1."""
    return max(1, min(border_px, height // 4, width // 4))


def frame(stamps: np.ndarray, k: int, concatenate: Callable = np.concatenate) -> np.ndarray:
    """The pixels of the outer ``k``-pixel frame of each stamp, ``(..., n)``:
    four slices, cheaper than a boolean mask (order does not matter to a
    median). ``concatenate(parts, axis)``: numpy's, or torch's for tensors."""
    h, w = stamps.shape[-2:]
    lead = stamps.shape[:-2]
    parts = (
        stamps[..., :k, :],
        stamps[..., h - k :, :],
        stamps[..., k : h - k, :k],
        stamps[..., k : h - k, w - k :],
    )
    return concatenate([p.reshape(*lead, -1) for p in parts], axis=-1)


def sorted_mad(a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(MAD about the lower median, max |a - median| + |median|, median) of
    each row of the finite float32 array ``a``, from one sort. The k+1 values
    nearest the median are k+1 consecutive sorted values that include it, so
    the MAD (the (k+1)-th smallest deviation) is the least, over the windows
    ``s[lo : lo + k + 1]`` with ``lo <= k``, of the window's larger
    deviation: the same float32 differences a second selection would rank."""
    s = np.sort(a, axis=-1)
    med = s[:, k : k + 1]
    mad = np.maximum(med - s[:, : k + 1], s[:, k : 2 * k + 1] - med).min(axis=-1)
    scale = np.maximum(med[:, 0] - s[:, 0], s[:, -1] - med[:, 0]) + np.abs(med[:, 0])
    return mad, scale, med[:, 0]


def _robust_stats(x):
    """(lower median, 1.4826 x MAD, data scale) of each row of the float32
    ``(M, n)`` array ``x`` over its finite values; (NaN, NaN, 0) where none."""
    finite = np.isfinite(x)
    if finite.all():
        mad, scale, med = sorted_mad(x, (x.shape[-1] - 1) // 2)
        return med, MAD_TO_SIGMA * mad, scale
    count = finite.sum(axis=-1)
    kth = np.maximum(count - 1, 0)[:, None] // 2
    x = np.where(finite, x, np.float32(np.nan))
    med = np.take_along_axis(np.sort(x, axis=-1), kth, axis=-1)  # NaN sort last
    dev = np.abs(x - med)
    mad = np.take_along_axis(np.sort(dev, axis=-1), kth, axis=-1)[:, 0]
    with np.errstate(invalid="ignore"):
        scale = np.nan_to_num(dev, nan=0.0).max(axis=-1) + np.nan_to_num(np.abs(med[:, 0]))
    return med[:, 0], MAD_TO_SIGMA * mad, scale


def sky_and_noise(stamps: np.ndarray, border_px: int = BORDER_PX) -> tuple[np.ndarray, np.ndarray]:
    """Sky level and background noise sigma of each stamp (and band).

    The sky is the (lower) median of the finite pixels of the outer
    ``border_px`` frame, the sigma 1.4826 x their median absolute deviation
    (robust to the wings of the central galaxy and to neighbours there).
    Where the whole frame is masked the whole stamp is used; where the whole
    stamp is, the sky is 0. The sigma is never 0: floored at 1e-6 of the
    data scale of the pixels used (max |x - median| + |median|), so that it
    stays proportional to the data, and at the smallest normal float32 where
    those pixels are all 0.

    Parameters
    ----------
    stamps : array_like
        ``(..., H, W)``: one stamp, a cube, or ``(N, B, H, W)``.
    border_px : int
        Width of the frame, pixels (at most a quarter of the stamp).

    Returns
    -------
    sky, sigma : ndarray of float32
        Shaped ``stamps.shape[:-2]``.
    """
    a = np.asarray(stamps, dtype=np.float32)
    if a.ndim < 2:
        raise ValueError(f"Stamps must be at least 2-d (..., H, W), not shaped {a.shape}.")
    lead, (h, w) = a.shape[:-2], a.shape[-2:]
    rows = a.reshape(-1, h, w)
    sky, sigma, scale = _robust_stats(frame(rows, frame_width(h, w, border_px)))
    empty = np.isnan(sigma)
    if empty.any():
        whole = _robust_stats(rows[empty].reshape(int(empty.sum()), -1))
        sky[empty], sigma[empty], scale[empty] = whole
    floor = np.maximum(np.float32(SIGMA_FLOOR) * scale, _TINY)
    sigma = np.maximum(np.nan_to_num(sigma, nan=0.0), floor).astype(np.float32)
    sky = np.nan_to_num(sky, nan=0.0).astype(np.float32)
    return sky.reshape(lead), sigma.reshape(lead)


def noise_sigma(stamps: np.ndarray, border_px: int = BORDER_PX) -> np.ndarray:
    """Background noise sigma of each stamp (and band): ``sky_and_noise``'s
    sigma, the numpy twin of ``core.imaging.estimate_noise_sigma``.
    ``(N, B, H, W)`` gives ``(N, B)`` float32."""
    return sky_and_noise(stamps, border_px)[1]
