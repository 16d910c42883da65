"""Does a network fit a survey? Pure: no Django, no torch, so views, commands
and committees can all ask before anything is loaded or queued.

What fits follows from what the scoring path (``classifier.preprocessing``)
does to a survey's stamps:

- It takes the network's bands from the stamp cube by name, in the network's
  order: a band the survey lacks cannot be made up. Error.
- It resamples each stamp about its centre to the network's pixel scale and
  crops or zero-pads it to the network's input size. A stamp narrower than the
  network's field leaves a frame of exact zeros around the input, unlike any
  training input. Error, beyond half a network pixel a side: binning an odd
  stamp by 2 (KiDS-like 97 px at 0.21"/px into 49 px at 0.42"/px) pads a
  quarter pixel a side by construction, and the shipped CNN was trained so.
- Area-weighted resampling by a whole factor k is k x k binning: the same
  inputs, noise unit included, as a detector with k times larger pixels. Any
  other factor smooths the noise and samples the PSF unlike the training
  inputs, and a survey coarser than the input is interpolated, blurrier than
  them. Warning, when the survey's pixel scale is more than 10% off the
  nearest network_pixscale / k. (The pixel scale of the stamps a network was
  trained on is not recorded; the networks here are trained at their input
  scale or at a whole fraction of it, the CNN on 0.21"/px binned 2x2.)

Seeing is not checked: a survey records no PSF.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

PIXSCALE_TOLERANCE = 0.10  # fraction of the pixel scale the network expects
PAD_TOLERANCE_PX = 0.5  # zero padding a side that binning by 2 makes anyway, network pixels
PAD_ERROR_PX = 2.0  # zero padding a side beyond which the network's field is not covered
_EPS = 1e-9  # float slack: 97 x 0.21 / 0.42 is 48.5 only up to rounding


@dataclass(frozen=True)
class FitReport:
    """Why a network cannot score a survey (``errors``) or may score it badly
    (``warnings``); each message names both, the numbers and what to do."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def fits(self) -> bool:
        return not self.errors


def _band_list(bands: str | Sequence[str]) -> list[str]:
    # "g,r,i" as stored on the models, or a list; a bare string is never
    # taken as a sequence of one-letter bands.
    if isinstance(bands, str):
        return [b.strip() for b in bands.split(",") if b.strip()]
    return [str(b) for b in bands]


def nearest_binning(
    network_pixscale_arcsec: float, survey_pixscale_arcsec: float
) -> tuple[int, float]:
    """The whole binning factor ``k >= 1`` closest to resampling the survey to
    the network, and ``survey_pixscale / (network_pixscale / k) - 1``: how far
    the survey's pixels are from those that bin exactly (+ coarser, - finer).

    >>> nearest_binning(0.42, 0.21)
    (2, 0.0)
    """
    ratio = network_pixscale_arcsec / survey_pixscale_arcsec
    factors = {max(1, math.floor(ratio)), max(1, math.ceil(ratio))}
    k = min(
        factors, key=lambda f: (abs(survey_pixscale_arcsec * f / network_pixscale_arcsec - 1), f)
    )
    return k, survey_pixscale_arcsec * k / network_pixscale_arcsec - 1


def check_fit(
    network_bands: str | Sequence[str],
    network_pixscale_arcsec: float,
    network_size_px: int,
    survey_bands: str | Sequence[str],
    survey_pixscale_arcsec: float,
    survey_stamp_size_px: int,
    *,
    network_name: str = "the network",
    survey_name: str = "the survey",
) -> FitReport:
    """Whether a network can score a survey's stamps as it was trained to.

    Parameters
    ----------
    network_bands, survey_bands : str or sequence of str
        Band names ("g,r,i" or ``["g", "r", "i"]``); the survey's in any order.
    network_pixscale_arcsec, survey_pixscale_arcsec : float
        Pixel scales of the network input and of the survey's stamps, arcsec
        per pixel.
    network_size_px, survey_stamp_size_px : int
        Sides of the network input and of the survey's stamps, pixels.
    network_name, survey_name : str
        For the messages.

    Returns
    -------
    FitReport
        ``errors``: refuse to score (a band missing, stamps zero-padded by
        more than two network pixels a side); ``warnings``: the pixel scale
        is more than 10% off, or a thin zero frame (up to two pixels).

    Raises
    ------
    ValueError
        For a pixel scale or size that is not positive, or no network band.
    """
    n, s = network_name, survey_name
    net_bands, sur_bands = _band_list(network_bands), _band_list(survey_bands)
    if not net_bands:
        raise ValueError(f"Network {n} takes no band.")
    for label, value in (
        ("network pixel scale", network_pixscale_arcsec),
        ("survey pixel scale", survey_pixscale_arcsec),
        ("network input size", network_size_px),
        ("survey stamp size", survey_stamp_size_px),
    ):
        if not value > 0:
            raise ValueError(f"The {label} must be positive, not {value!r}.")
    net_pix, sur_pix = float(network_pixscale_arcsec), float(survey_pixscale_arcsec)
    net_size, sur_size = int(network_size_px), int(survey_stamp_size_px)
    errors, warnings = [], []

    missing = [b for b in net_bands if b not in sur_bands]
    if missing:
        errors.append(
            f"Network {n} takes bands {','.join(net_bands)}; survey {s} has "
            f"{','.join(sur_bands) or 'none'} (missing {','.join(missing)}): choose a network "
            f"for these bands, or ingest the survey again with tiles of {','.join(missing)}."
        )

    # The survey stamp's side once resampled, in network pixels.
    covered_px = sur_size * sur_pix / net_pix
    pad_px = (net_size - covered_px) / 2
    if pad_px > PAD_TOLERANCE_PX + _EPS:
        need = math.ceil(net_size * net_pix / sur_pix - _EPS)
        message = (
            f'Survey {s} has {sur_size}x{sur_size} px stamps at {sur_pix:.4g}"/px '
            f'({sur_size * sur_pix:.4g}" wide); network {n} takes {net_size}x{net_size} px at '
            f'{net_pix:.4g}"/px ({net_size * net_pix:.4g}"): resampled to its pixels a stamp is '
            f"only {covered_px:.1f} px wide, so its input is zero-padded by {pad_px:.1f} px "
            "a side. Ingest the survey again with a stamp "
            f"size of {need} px or more (--stamp-size {need}), or choose a network with a "
            "smaller field."
        )
        (errors if pad_px > PAD_ERROR_PX + _EPS else warnings).append(message)

    k, off = nearest_binning(net_pix, sur_pix)
    if abs(off) > PIXSCALE_TOLERANCE + _EPS:
        ratio = net_pix / sur_pix
        expected = f'{net_pix / k:.4g}"/px' + (
            f' (its {net_pix:.4g}"/px input binned {k}x{k})' if k > 1 else ""
        )
        if ratio < 1:
            effect = (
                f"each survey pixel is spread over {1 / ratio:.3g} network pixels a side, so "
                "galaxies, arcs and the PSF look blurrier than in its training inputs"
            )
        else:
            effect = (
                f"each network pixel averages {ratio:.3g} survey pixels a side, not a whole "
                "binning, so the noise is smoothed and the PSF sampled unlike in its training "
                "inputs"
            )
        warnings.append(
            f'Survey {s} has {sur_pix:.4g}"/px, {abs(off):.0%} '
            f"{'coarser' if off > 0 else 'finer'} than the {expected} network {n} expects: "
            f"{effect}. Its scores may be less reliable here: prefer a network trained at "
            "this pixel scale, or check its candidates against known lenses of this survey."
        )
    return FitReport(tuple(errors), tuple(warnings))
