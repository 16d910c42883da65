"""Galaxy light profiles, batched on torch tensors (pure: no Django).

The elliptical Sersic profile of He et al. 2020 eq. 14 with
``b_n = 1.9992 n - 0.3271``, in lenstronomy's conventions: the elliptical
radius is ``R = sqrt(q x'^2 + y'^2 / q)`` (product-average half-light
radius) in the frame rotated by ``phi`` (rad, counter-clockwise from +x).
Magnitudes are turned into amplitudes at the boundary (``sersic_amplitude``),
never inside the profiles.
"""

import math

import numpy as np
import torch
from numpy.typing import ArrayLike

from simulations.lensing import rotate

# As lenstronomy: floor the radius (arcsec) so the cusp stays finite.
R_FLOOR_ARCSEC = 1e-4


def b_n(n_sersic: torch.Tensor | float) -> torch.Tensor | float:
    """He et al. 2020 eq. 14's approximation to the half-light constant."""
    return 1.9992 * n_sersic - 0.3271


def elliptical_radius(
    x: torch.Tensor,
    y: torch.Tensor,
    q: torch.Tensor | float,
    phi: torch.Tensor | float,
    center_x: torch.Tensor | float = 0.0,
    center_y: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """``sqrt(q x'^2 + y'^2 / q)``, arcsec."""
    x_, y_ = rotate(x - center_x, y - center_y, phi)
    return torch.sqrt(q * x_ * x_ + y_ * y_ / q)


def sersic(
    x: torch.Tensor,
    y: torch.Tensor,
    amp: torch.Tensor | float,
    r_eff: torch.Tensor | float,
    n_sersic: torch.Tensor | float,
    q: torch.Tensor | float,
    phi: torch.Tensor | float,
    center_x: torch.Tensor | float = 0.0,
    center_y: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """Surface brightness of an elliptical Sersic; ``amp`` is its value at ``R = r_eff``."""
    R = torch.clamp(elliptical_radius(x, y, q, phi, center_x, center_y), min=R_FLOOR_ARCSEC)
    r_eff = torch.clamp(torch.as_tensor(r_eff, dtype=R.dtype, device=R.device), min=R_FLOOR_ARCSEC)
    return amp * torch.exp(-b_n(n_sersic) * ((R / r_eff) ** (1.0 / n_sersic) - 1.0))


def sersic_total_flux_per_amp(r_eff: ArrayLike, n_sersic: ArrayLike) -> np.ndarray:
    """Integral over the plane of a Sersic with ``amp = 1``: arcsec^2.

    ``2 pi n r_eff^2 e^b b^(-2n) Gamma(2n)``; the elliptical radius keeps
    areas (q x'^2 + y'^2/q has unit Jacobian determinant), so q drops out.
    Works on numpy arrays or floats.
    """
    n = np.asarray(n_sersic, dtype=np.float64)
    b = b_n(n)
    gamma = np.vectorize(math.gamma)(2 * n)
    return 2 * np.pi * n * np.asarray(r_eff) ** 2 * np.exp(b) * b ** (-2 * n) * gamma


def sersic_amplitude(total_flux: ArrayLike, r_eff: ArrayLike, n_sersic: ArrayLike) -> np.ndarray:
    """``amp`` that gives a Sersic the total flux ``total_flux`` (flux units / arcsec^2)."""
    return total_flux / sersic_total_flux_per_amp(r_eff, n_sersic)
