"""Training-time augmentation as in Lanusse et al. 2018 Section 3.3 (pure torch).

Random rotation in [-90, 90] deg, random horizontal and vertical flips and a
random zoom in [0.9, 1], with periodic (wrap) borders: content leaving one
edge comes back at the opposite one, and the stamp keeps its size. One
sampling grid and one ``grid_sample`` serve the whole batch, on the batch's
device; every band of a stamp gets the same transform.
"""

import torch
import torch.nn.functional as F

MAX_ROTATION_DEG = 90.0
ZOOM_RANGE = (0.9, 1.0)


def _per_stamp(values, n, like):
    return torch.as_tensor(values, device=like.device).to(like.dtype).expand(n)


def affine(
    x: torch.Tensor,
    angle_deg: torch.Tensor,
    zoom: torch.Tensor,
    flip_x: torch.Tensor,
    flip_y: torch.Tensor,
) -> torch.Tensor:
    """Zoom, rotate, then flip each stamp about its centre, with wrap borders.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, B, H, W)`` float stamps.
    angle_deg : float or torch.Tensor
        Rotation in degrees, one value or ``(N,)``; positive turns the +x
        (column) axis towards +y (row), i.e. counter-clockwise as displayed
        with ``origin="lower"``: 90 deg is ``torch.rot90(x, 1, dims=(-1, -2))``.
    zoom : float or torch.Tensor
        Scale of the content, one value or ``(N,)``; below 1 it shrinks
        (Lanusse et al.'s compression) and the wrapped stamp fills the edges.
    flip_x, flip_y : bool or torch.Tensor
        Mirror the columns (left-right) / the rows (up-down), one value or ``(N,)``.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``. Bilinear interpolation, so
        flips, the identity and quarter turns of square stamps are exact up
        to float rounding.
    """
    n, _, h, w = x.shape
    angle = torch.deg2rad(_per_stamp(angle_deg, n, x))
    zoom = _per_stamp(zoom, n, x)
    fx = 1 - 2 * _per_stamp(flip_x, n, x)
    fy = 1 - 2 * _per_stamp(flip_y, n, x)
    cos = (torch.cos(angle) / zoom)[:, None, None]
    sin = (torch.sin(angle) / zoom)[:, None, None]
    # Output pixel offsets from the centre, in pixels (not affine_grid's
    # [-1, 1] units, which would shear the rotation of non-square stamps),
    # mapped back to input positions: undo the flip, rotation and zoom.
    ux = (torch.arange(w, device=x.device, dtype=x.dtype) - (w - 1) / 2) * fx[:, None, None]
    uy = (torch.arange(h, device=x.device, dtype=x.dtype)[:, None] - (h - 1) / 2) * fy[
        :, None, None
    ]
    px = cos * ux + sin * uy + (w - 1) / 2
    py = -sin * ux + cos * uy + (h - 1) / 2
    # Wrap: positions modulo the stamp, into [-0.5, size - 0.5). A one-pixel
    # circular pad then gives bilinear interpolation its periodic neighbours
    # across the seam, so sampling stays inside the padded stamp.
    px = torch.remainder(px + 0.5, w) - 0.5
    py = torch.remainder(py + 0.5, h) - 0.5
    padded = F.pad(x, (1, 1, 1, 1), mode="circular")
    grid = torch.stack((2 * (px + 1) / (w + 1) - 1, 2 * (py + 1) / (h + 1) - 1), dim=-1)
    return F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=True)


def augment(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """A random rotation, zoom and pair of flips for each stamp of ``x``.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, B, H, W)`` float stamps, on any device.
    generator : torch.Generator
        Source of the random draws (on the CPU or on ``x``'s device); the
        same generator state gives the same augmentation.

    Returns
    -------
    torch.Tensor
        Augmented stamps, same shape, dtype and device as ``x``.
    """
    u = torch.rand((x.shape[0], 4), generator=generator, device=generator.device).to(x.device)
    angle = (2 * u[:, 0] - 1) * MAX_ROTATION_DEG
    zoom = ZOOM_RANGE[0] + (ZOOM_RANGE[1] - ZOOM_RANGE[0]) * u[:, 1]
    return affine(x, angle, zoom, u[:, 2] < 0.5, u[:, 3] < 0.5)
