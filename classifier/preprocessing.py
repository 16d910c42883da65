"""From stamps as surveys give them to network inputs (pure: torch, numpy).

1. ``resample``: from the stamp's pixel scale to the network's, about the
   stamp centre, cropped or zero-padded to the network's size. Downsampling
   first smooths with a Gaussian of sigma = sqrt(f^2 - 1) / 2 input pixels
   (f = the scale ratio), the usual anti-alias for bilinear resampling; for
   the CNN's 0.21 -> 0.42"/px this stands in for He et al.'s 2x2 binning.
2. ``normalise``: per stamp and band, subtract the background (median of
   the stamp's outer 5-pixel frame), divide by the background noise (1.4826
   MAD of that frame, measured on the stamp as given, before resampling),
   optionally subtract a training mean image (in units of sigma), clip at
   +-250 sigma, masked (NaN) pixels -> 0. Multiplying a stamp by any positive
   constant changes nothing: scores do not depend on a survey's pixel units.
"""

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

FRAME_PX = 5
CLIP_SIGMA = 250.0


def as_tensor(stamps, device=None):
    t = torch.as_tensor(np.asarray(stamps) if not torch.is_tensor(stamps) else stamps)
    return t.to(device=device or t.device, dtype=torch.float32)


def background(stamps):
    """(level, sigma) of each stamp and band from its outer frame: (N, B) each.

    NaN-aware; sigma is floored at 1e-6 of the stamp's largest absolute value
    (and at 1e-30) so that flat or empty stamps do not divide by zero.
    """
    t = as_tensor(stamps)
    n, b, h, w = t.shape
    f = min(FRAME_PX, h // 4, w // 4) or 1
    frame = torch.cat(
        [t[..., :f, :].reshape(n, b, -1), t[..., -f:, :].reshape(n, b, -1),
         t[..., f:-f, :f].reshape(n, b, -1), t[..., f:-f, -f:].reshape(n, b, -1)], dim=-1,
    )  # fmt: skip
    level = torch.nanmedian(frame, dim=-1).values
    mad = torch.nanmedian((frame - level[..., None]).abs(), dim=-1).values
    scale = torch.nan_to_num(t, nan=0.0).abs().amax(dim=(-2, -1))
    sigma = torch.maximum(1.4826 * mad, torch.clamp(scale * 1e-6, min=1e-30))
    return torch.nan_to_num(level, nan=0.0), torch.nan_to_num(sigma, nan=1.0)


def _gaussian_blur(t, sigma_px):
    radius = max(1, int(math.ceil(3 * sigma_px)))
    x = torch.arange(-radius, radius + 1, dtype=t.dtype, device=t.device)
    k = torch.exp(-0.5 * (x / sigma_px) ** 2)
    k = k / k.sum()
    n, b, h, w = t.shape
    flat = t.reshape(n * b, 1, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="replicate"), k.view(1, 1, -1, 1))
    return flat.reshape(n, b, h, w)


def resample(stamps, from_pixscale, to_pixscale, out_size):
    """Stamps (N, B, H, W) at ``from_pixscale`` -> (N, B, out, out) at
    ``to_pixscale`` (arcsec/px), centred on the stamp centre."""
    t = as_tensor(stamps)
    n, b, h, w = t.shape
    if from_pixscale <= 0 or to_pixscale <= 0:
        raise ValueError("Pixel scales must be positive (arcsec per pixel).")
    ratio = to_pixscale / from_pixscale
    if math.isclose(ratio, 1.0, rel_tol=1e-9) and h == w == out_size:
        return t
    if ratio > 1.0:
        t = _gaussian_blur(t, math.sqrt(ratio**2 - 1) / 2)
    # Output pixel j sits at (j - (out-1)/2) * to_pixscale arcsec from the
    # centre; grid_sample wants it in the input's [-1, 1] units (align_corners).
    offsets = (torch.arange(out_size, dtype=t.dtype, device=t.device) - (out_size - 1) / 2) * ratio
    gx = offsets / ((w - 1) / 2)
    gy = offsets / ((h - 1) / 2)
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)
    grid = grid.expand(n, out_size, out_size, 2)
    return F.grid_sample(t, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def normalise(stamps, level=None, sigma=None, mean_image=None, clip=CLIP_SIGMA):
    """Background-subtracted stamps in units of the background sigma, clipped."""
    t = as_tensor(stamps)
    if level is None or sigma is None:
        level, sigma = background(t)
    out = (t - level[..., None, None]) / sigma[..., None, None]
    if mean_image is not None:
        out = out - torch.as_tensor(mean_image, dtype=out.dtype, device=out.device)
    return torch.nan_to_num(out.clamp(-clip, clip), nan=0.0)


@dataclass
class Preprocessor:
    """What a trained network expects and records (stored as JSON with it)."""

    bands: list
    pixscale_arcsec: float
    size_px: int
    clip: float = CLIP_SIGMA
    mean_image: list | None = field(default=None, repr=False)
    method: str = "frame-median/MAD normalisation; Gaussian anti-alias + bilinear resampling"

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**data)

    def __call__(self, stamps, pixscale_arcsec, device=None):
        """Network inputs (N, B, size, size) float32 from raw survey stamps."""
        t = as_tensor(stamps, device)
        if t.ndim != 4 or t.shape[1] != len(self.bands):
            raise ValueError(
                f"The network expects {len(self.bands)} band(s) ({','.join(self.bands)}); "
                f"the stamps have shape {tuple(t.shape)}."
            )
        # Background and noise from the stamps as given (their own pixels),
        # then normalise first so that masked pixels and the padding of
        # resampling are both the background, 0.
        level, sigma = background(t)
        t = normalise(t, level, sigma, clip=math.inf)
        t = resample(t, pixscale_arcsec, self.pixscale_arcsec, self.size_px)
        return normalise(
            t, torch.zeros_like(level), torch.ones_like(sigma), self.mean_image, self.clip
        )
