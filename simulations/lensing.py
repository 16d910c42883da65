"""Lens mass models and ray tracing, batched on torch tensors (pure: no Django).

Conventions follow lenstronomy, so that results compare with it directly:

- ``theta_E`` (arcsec) of the SIE is the product-average Einstein radius:
  the convergence is ``kappa = theta_E / (2 sqrt(q x'^2 + y'^2 / q))`` in the
  frame rotated by ``phi`` (He et al. 2020 eq. 9; Kormann et al. 1994).
- ``phi`` (rad) is the position angle of the major axis, counter-clockwise
  from +x; ``q`` is the minor/major axis ratio in (0, 1].
- Every argument broadcasts: pass coordinates of shape ``(H, W)`` and
  parameters of shape ``(B, 1, 1)`` to trace ``B`` lenses at once.
"""

import torch

# lenstronomy's SIE is its NIE with this core (arcsec): keeps the centre
# finite without changing anything at pixel scales.
SIE_CORE_ARCSEC = 1e-10
# Below this sqrt(1 - q^2) the closed form loses digits; use its series.
SERIES_BELOW = 1e-3


def rotate(
    x: torch.Tensor, y: torch.Tensor, phi: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates in the frame rotated counter-clockwise by ``phi`` (rad)."""
    cos, sin = torch.cos(phi), torch.sin(phi)
    return cos * x + sin * y, -sin * x + cos * y


def _atan_over(e, u):
    """``arctan(e u) / e``, exact as e -> 0."""
    z = e * u
    series = u * (1 - z * z / 3 + z**4 / 5)
    safe_e = torch.where(e < SERIES_BELOW, torch.ones_like(e), e)
    return torch.where(e < SERIES_BELOW, series, torch.atan(safe_e * u) / safe_e)


def _atanh_over(e, v):
    """``arctanh(e v) / e``, exact as e -> 0."""
    z = e * v
    series = v * (1 + z * z / 3 + z**4 / 5)
    safe_e = torch.where(e < SERIES_BELOW, torch.ones_like(e), e)
    return torch.where(e < SERIES_BELOW, series, torch.atanh(safe_e * v) / safe_e)


def check_axis_ratio(q: torch.Tensor | float) -> None:
    q = torch.as_tensor(q)
    if torch.any(q <= 0) or torch.any(q > 1):
        raise ValueError(
            f"Axis ratios q must lie in (0, 1]; got {q.min().item()}-{q.max().item()}."
        )


def sie_deflection(
    x: torch.Tensor,
    y: torch.Tensor,
    theta_E: torch.Tensor | float,
    q: torch.Tensor | float,
    phi: torch.Tensor | float,
    center_x: torch.Tensor | float = 0.0,
    center_y: torch.Tensor | float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deflection (alpha_x, alpha_y), arcsec, of a singular isothermal ellipsoid.

    Keeton & Kochanek 1998 closed form in the major-axis frame, with
    ``b = theta_E sqrt(q)``; reduces to the SIS as q -> 1.
    """
    x_, y_ = rotate(x - center_x, y - center_y, phi)
    q = torch.as_tensor(q, dtype=x_.dtype, device=x_.device)
    s = SIE_CORE_ARCSEC / torch.sqrt(q)
    e = torch.sqrt(torch.clamp(1 - q * q, min=0.0))
    psi = torch.sqrt(q * q * (s * s + x_ * x_) + y_ * y_)
    b = theta_E * torch.sqrt(q)
    ax = b * _atan_over(e, x_ / (psi + s))
    ay = b * _atanh_over(e, y_ / (psi + q * q * s))
    # Back to the sky frame: rotate by -phi.
    return rotate(ax, ay, -phi)


def sie_convergence(
    x: torch.Tensor,
    y: torch.Tensor,
    theta_E: torch.Tensor | float,
    q: torch.Tensor | float,
    phi: torch.Tensor | float,
    center_x: torch.Tensor | float = 0.0,
    center_y: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """Convergence kappa (dimensionless) of the SIE (He et al. 2020 eq. 9)."""
    x_, y_ = rotate(x - center_x, y - center_y, phi)
    q = torch.as_tensor(q, dtype=x_.dtype, device=x_.device)
    s = SIE_CORE_ARCSEC / torch.sqrt(q)
    b = theta_E * torch.sqrt(q)
    psi = torch.sqrt(q * q * (s * s + x_ * x_) + y_ * y_)
    return b / (2 * psi)


def sis_deflection(
    x: torch.Tensor,
    y: torch.Tensor,
    theta_E: torch.Tensor | float,
    center_x: torch.Tensor | float = 0.0,
    center_y: torch.Tensor | float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deflection (alpha_x, alpha_y), arcsec, of a singular isothermal sphere;
    zero at its centre."""
    dx, dy = x - center_x, y - center_y
    r = torch.sqrt(dx * dx + dy * dy)
    a = torch.where(r > 0, theta_E / torch.where(r > 0, r, torch.ones_like(r)), torch.zeros_like(r))
    return a * dx, a * dy


def sis_convergence(
    x: torch.Tensor,
    y: torch.Tensor,
    theta_E: torch.Tensor | float,
    center_x: torch.Tensor | float = 0.0,
    center_y: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    dx, dy = x - center_x, y - center_y
    return theta_E / (2 * torch.sqrt(dx * dx + dy * dy))


def shear_deflection(
    x: torch.Tensor, y: torch.Tensor, gamma1: torch.Tensor | float, gamma2: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deflection (alpha_x, alpha_y), arcsec, of an external shear about the
    origin: ``alpha = (g1 x + g2 y, g2 x - g1 y)`` (lenstronomy's SHEAR)."""
    return gamma1 * x + gamma2 * y, gamma2 * x - gamma1 * y


def trace(
    x: torch.Tensor,
    y: torch.Tensor,
    lens: dict,
    subhaloes: dict | None = None,
    shear: dict | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Source-plane positions (beta_x, beta_y) of image-plane rays (x, y).

    Parameters
    ----------
    x, y : Tensor
        Image-plane coordinates, arcsec, broadcastable against the lens
        parameters (e.g. ``(1, H, W)`` against ``(B, 1, 1)``).
    lens : dict
        ``theta_E``, ``q``, ``phi``, ``center_x``, ``center_y`` of the SIE.
    subhaloes : dict, optional
        ``theta_E``, ``center_x``, ``center_y`` tensors of shape ``(B, K, 1, 1)``
        (K subhaloes per lens; theta_E = 0 pads lenses with fewer).
    shear : dict, optional
        ``gamma1``, ``gamma2`` of an external shear about the origin.
    """
    ax, ay = sie_deflection(
        x, y, lens["theta_E"], lens["q"], lens["phi"], lens["center_x"], lens["center_y"]
    )
    if subhaloes is not None and subhaloes["theta_E"].shape[1] > 0:
        sx, sy = sis_deflection(
            x.unsqueeze(-3),
            y.unsqueeze(-3),
            subhaloes["theta_E"],
            subhaloes["center_x"],
            subhaloes["center_y"],
        )
        ax = ax + sx.sum(dim=-3)
        ay = ay + sy.sum(dim=-3)
    if shear is not None:
        gx, gy = shear_deflection(x, y, shear["gamma1"], shear["gamma2"])
        ax, ay = ax + gx, ay + gy
    return x - ax, y - ay
