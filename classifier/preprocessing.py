"""From stamps as surveys give them to network inputs (pure: torch and numpy).

Stamps are ``(N, B, H, W)`` arrays or tensors (N stamps, B bands), sky
subtracted as survey coadds and simulations are, in any pixel units, with NaN
for masked pixels. Everything here is batched and runs on the stamps' device.

1. ``estimate_noise_sigma``: the background noise of each stamp and band,
   1.4826 x the median absolute deviation of the stamp's outer frame, measured
   on the stamp as given (before resampling correlates its noise).
2. ``resample``: area-weighted resampling about the stamp centre to the
   network's pixel scale, cropped or zero-padded to its size. Each output
   pixel is the mean of the input surface brightness over its footprint
   (drizzle with pixfrac 1, or reproject's "exact"): equal scales are the
   identity and a factor of 2 on an even stamp is 2x2 binning. An odd stamp
   (KiDS 97x97) keeps its centre pixel central, so each output pixel then
   takes 1/4, 1/2, 1/4 of three input pixels along each axis.
3. ``normalise``: divide by the noise sigma, subtract the training mean image
   (kept in sigma units, so it carries no survey units), clip at +-250 sigma
   and set masked pixels to 0 (Lanusse et al. 2018 Section 3.3). The sigma
   is that of a network pixel for the same white noise per unit area,
   sigma x (stamp pixel scale / network pixel scale), so that the same sky at
   the same depth gives the same inputs whatever the survey's pixel scale
   (KiDS coadds 0.2"/px, He et al. sims 0.21"/px). It is a unit, not the
   pixel noise of the resampled stamp, which smoothing lowers further (to
   0.75 of it for an odd stamp binned by 2; exactly 1 for even-stamp binning).

Multiplying a stamp by any positive constant scales its sigma alike, so the
inputs, and the scores, do not depend on a survey's pixel units.
"""

from dataclasses import asdict, dataclass, field, fields
from functools import cached_property, lru_cache
from typing import Any, Self

import numpy as np
import torch
from numpy.typing import ArrayLike

from core.imaging import BORDER_PX, estimate_noise_sigma
from core.imaging import as_stamps as _as_stamps

CLIP_SIGMA = 250.0
RESAMPLING_METHODS = ("area",)
NOISE_METHODS = ("border-mad",)
STRETCHES = ("linear", "asinh")
# asinh stretch: linear (slope 1) within a few sigma, logarithmic above.
STRETCH_SIGMA = 3.0


def _per_band(values, shape, device, name):
    """``values`` (scalar, (B,), (N, 1) or (N, B)) as an (N, B) float32 tensor."""
    t = torch.as_tensor(values, dtype=torch.float32, device=device)
    try:
        return torch.broadcast_to(t, shape)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(t.shape)} does not fit stamps of (N, bands) = {tuple(shape)}."
        ) from None


def _area_weights(n_in, n_out, ratio, device):
    """(n_out, n_in): the fraction of each output pixel's footprint (``ratio``
    input pixels wide, centred like the stamp) that falls on each input pixel."""
    return _area_weights_cpu(n_in, n_out, ratio).to(device=device)


@lru_cache(maxsize=64)
def _area_weights_cpu(n_in, n_out, ratio):
    # Cached: a scoring run resamples every batch with the same weights, and
    # building them costs more than applying them to a batch of small stamps.
    # Never inference tensors, which training could not use.
    with torch.inference_mode(False):
        # float64 so that equal scales and centres give an exact identity.
        i = torch.arange(n_in, dtype=torch.float64)
        lo = (torch.arange(n_out, dtype=torch.float64) - (n_out - 1) / 2 - 0.5) * ratio
        lo = lo + (n_in - 1) / 2
        hi = lo + ratio
        overlap = torch.minimum(hi[:, None], i + 0.5) - torch.maximum(lo[:, None], i - 0.5)
        return (overlap.clamp(min=0.0) / ratio).to(dtype=torch.float32)


def resample(
    stamps: ArrayLike | torch.Tensor, from_pixscale: float, to_pixscale: float, out_size: int
) -> torch.Tensor:
    """Stamps at ``from_pixscale`` resampled to ``to_pixscale``, centred and
    cropped or zero-padded to ``out_size`` x ``out_size``.

    Area-weighted: each output pixel is the mean surface brightness over its
    footprint, so surface brightness (pixel values) is kept, flux per
    arcsec^2 too; an output pixel that touches a masked (non-finite) input
    pixel is NaN. Pixels outside the stamp count as 0 (zero padding).

    Parameters
    ----------
    stamps : array_like or torch.Tensor
        ``(N, B, H, W)``.
    from_pixscale, to_pixscale : float
        Pixel scales of the stamps and of the output, arcsec per pixel.
    out_size : int
        Output side, pixels.

    Returns
    -------
    torch.Tensor
        ``(N, B, out_size, out_size)`` float32, on the stamps' device.
    """
    t = _as_stamps(stamps)
    if not (from_pixscale > 0 and to_pixscale > 0):
        raise ValueError(
            f"Pixel scales must be positive (arcsec/px), not {from_pixscale} and {to_pixscale}."
        )
    if int(out_size) != out_size or out_size < 1:
        raise ValueError(f"out_size must be a positive number of pixels, not {out_size!r}.")
    ratio = to_pixscale / from_pixscale
    wy = _area_weights(t.shape[-2], int(out_size), ratio, t.device)
    wx = _area_weights(t.shape[-1], int(out_size), ratio, t.device)
    out = wy @ t @ wx.T
    # A masked pixel spoils its whole row and column band of the product
    # (NaN x 0 = NaN), so the small output tells cheaply whether to redo it
    # masking only the output pixels whose footprints touch masked ones.
    # (The sum tests finiteness in one cheap pass; an overflow only costs the redo.)
    if not torch.isfinite(out.sum()):
        valid = torch.isfinite(t)
        out = wy @ torch.where(valid, t, 0.0) @ wx.T
        touched = (wy @ (~valid).to(t.dtype) @ wx.T) > 0
        out = out.masked_fill(touched, torch.nan)
    return out


def normalise(
    stamps: ArrayLike | torch.Tensor,
    sigma: ArrayLike | torch.Tensor | None = None,
    mean_image: ArrayLike | torch.Tensor | None = None,
    clip: float = CLIP_SIGMA,
) -> torch.Tensor:
    """Stamps in units of their noise sigma, minus the mean image, clipped.

    Parameters
    ----------
    stamps : array_like or torch.Tensor
        ``(N, B, H, W)``.
    sigma : array_like or torch.Tensor, optional
        Noise sigma per stamp and band in the stamps' units, ``(N, B)`` or
        broadcastable to it (``(B,)``, scalar); estimated with
        ``estimate_noise_sigma`` when not given.
    mean_image : array_like or torch.Tensor, optional
        ``(B, H, W)`` training mean image in sigma units, subtracted after the
        division.
    clip : float
        Values are clipped to +-``clip`` sigma.

    Returns
    -------
    torch.Tensor
        ``(N, B, H, W)`` float32 with masked (NaN) pixels set to 0.
    """
    t = _as_stamps(stamps)
    if not clip > 0:
        raise ValueError(f"clip must be positive (in units of sigma), not {clip}.")
    if sigma is None:
        sigma = estimate_noise_sigma(t)
    sigma = _per_band(sigma, t.shape[:2], t.device, "sigma")
    if not bool((sigma > 0).all()):
        raise ValueError("The noise sigma must be positive for every stamp and band.")
    out = t / sigma[..., None, None]
    if mean_image is not None:
        mean = torch.as_tensor(mean_image, dtype=torch.float32, device=t.device)
        if mean.shape != t.shape[1:]:
            raise ValueError(
                f"The mean image is {tuple(mean.shape)}; the stamps need {tuple(t.shape[1:])}."
            )
        out.sub_(mean)
    # Masked pixels go to 0 last, after the mean subtraction (Lanusse et al.);
    # in place, as ``out`` is new and passes over the batch dominate the cost.
    return out.clamp_(-clip, clip).nan_to_num_(nan=0.0)


@dataclass
class Preprocessor:
    """What a network expects, stored as JSON with it, and the callable that
    turns survey stamps into its inputs.

    Parameters
    ----------
    bands : list of str
        Band names in input order, e.g. ``["g", "r", "i"]``.
    pixscale_arcsec : float
        Pixel scale of the network input, arcsec per pixel.
    size_px : int
        Side of the network input, pixels.
    clip : float
        Clip level, in units of sigma.
    mean_image : list, optional
        ``(bands, size_px, size_px)`` training mean image in sigma units
        (nested lists, for JSON), or None.
    resampling, noise : str
        Method names (``RESAMPLING_METHODS``, ``NOISE_METHODS``), recorded
        so that a stored network says how its inputs were made.
    noise_border_px : int
        Frame width used by the noise estimate, pixels of the given stamps.
    stretch : str
        ``"linear"`` (the papers') or ``"asinh"``: after clipping, inputs
        become ``s asinh(x / s)`` with ``s = stretch_sigma``, unchanged for
        the noise and faint arcs (a few sigma) and compressed for bright
        cores (250 sigma -> 15), so that a network need not span a dynamic
        range of hundreds to see a faint arc beside its galaxy.
    stretch_sigma : float
        ``s`` above, in units of sigma.
    """

    bands: list
    pixscale_arcsec: float
    size_px: int
    clip: float = CLIP_SIGMA
    mean_image: list | None = field(default=None, repr=False)
    resampling: str = RESAMPLING_METHODS[0]
    noise: str = NOISE_METHODS[0]
    noise_border_px: int = BORDER_PX
    stretch: str = STRETCHES[0]
    stretch_sigma: float = STRETCH_SIGMA

    def __post_init__(self):
        self.bands = list(self.bands)
        if not self.bands:
            raise ValueError("A network takes at least one band.")
        if not self.pixscale_arcsec > 0:
            raise ValueError(f"pixscale_arcsec must be positive, not {self.pixscale_arcsec}.")
        if int(self.size_px) != self.size_px or self.size_px < 1:
            raise ValueError(f"size_px must be a positive integer, not {self.size_px!r}.")
        if not self.clip > 0:
            raise ValueError(f"clip must be positive (in units of sigma), not {self.clip}.")
        if self.resampling not in RESAMPLING_METHODS:
            raise ValueError(
                f"Unknown resampling {self.resampling!r}: this code does "
                f"{', '.join(RESAMPLING_METHODS)}."
            )
        if self.stretch not in STRETCHES:
            raise ValueError(f"Unknown stretch {self.stretch!r}: choose {' or '.join(STRETCHES)}.")
        if not self.stretch_sigma > 0:
            raise ValueError(f"stretch_sigma must be positive, not {self.stretch_sigma}.")
        if self.noise not in NOISE_METHODS:
            raise ValueError(
                f"Unknown noise estimate {self.noise!r}: this code does {', '.join(NOISE_METHODS)}."
            )
        if self.mean_image is not None:
            mean = np.asarray(self.mean_image, dtype=np.float32)
            expected = (len(self.bands), self.size_px, self.size_px)
            if mean.shape != expected:
                raise ValueError(f"mean_image is {mean.shape}; this network needs {expected}.")
            self.mean_image = mean.tolist()

    @cached_property
    def _mean_tensor(self):
        # Built once: the nested lists are for JSON, not for every batch.
        if self.mean_image is None:
            return None
        return torch.tensor(self.mean_image, dtype=torch.float32)

    def to_dict(self) -> dict[str, Any]:
        """The constants as a JSON-serialisable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """The inverse of ``to_dict``; unknown keys raise ``ValueError``."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(
                f"Unknown preprocessing constants {', '.join(sorted(unknown))}: "
                "this code would not reproduce the inputs the network was trained on."
            )
        return cls(**data)

    def __call__(self, stamps, pixscale_arcsec, device=None, sigma=None):
        """Network inputs from survey stamps: resample, then normalise.

        Parameters
        ----------
        stamps : array_like or torch.Tensor
            ``(N, B, H, W)`` in any units, bands in ``self.bands`` order.
        pixscale_arcsec : float
            Pixel scale of the stamps, arcsec per pixel.
        device : torch.device or str, optional
            Where to compute; by default the stamps' device (CPU for numpy).
        sigma : array_like, optional
            Noise sigma per stamp and band of the stamps as given (``(N, B)``
            or broadcastable), where the data record it; estimated otherwise.

        Returns
        -------
        torch.Tensor
            ``(N, B, size_px, size_px)`` float32.
        """
        t = _as_stamps(stamps, device)
        if t.shape[1] != len(self.bands):
            raise ValueError(
                f"The network expects {len(self.bands)} band(s) ({','.join(self.bands)}); "
                f"the stamps have shape {tuple(t.shape)}."
            )
        if sigma is None:
            sigma = estimate_noise_sigma(t, self.noise_border_px)
        sigma = _per_band(sigma, t.shape[:2], t.device, "sigma")
        x = resample(t, pixscale_arcsec, self.pixscale_arcsec, self.size_px)
        x = normalise(
            x, sigma * (pixscale_arcsec / self.pixscale_arcsec), self._mean_tensor, self.clip
        )
        if self.stretch == "asinh":
            x = x.div_(self.stretch_sigma).asinh_().mul_(self.stretch_sigma)
        return x
