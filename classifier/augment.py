"""Training-time augmentation as in Lanusse et al. 2018 (pure torch).

Random rotation in [-90, 90] deg, horizontal and vertical flips, zoom in
[0.9, 1], with periodic (wrap) borders -- one ``grid_sample`` for the whole
batch, on the batch's device.
"""

import math

import torch
import torch.nn.functional as F

MAX_ROTATION_DEG = 90.0
ZOOM = (0.9, 1.0)


def affine(x, angle_deg, zoom, flip_x, flip_y):
    """Rotate (deg, counter-clockwise), zoom (>1 magnifies) and flip each stamp
    of ``x`` (N, B, H, W); content leaving one edge re-enters at the other."""
    n = x.shape[0]
    dev, dt = x.device, x.dtype
    angle = torch.as_tensor(angle_deg, dtype=dt, device=dev).expand(n) * (math.pi / 180)
    scale = 1 / torch.as_tensor(zoom, dtype=dt, device=dev).expand(n)
    fx = torch.where(torch.as_tensor(flip_x, device=dev).expand(n), -1.0, 1.0).to(dt)
    fy = torch.where(torch.as_tensor(flip_y, device=dev).expand(n), -1.0, 1.0).to(dt)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    # Output pixel -> input position: flip, then rotate and scale.
    theta = torch.stack(
        [torch.stack([cos * fx, -sin * fy, torch.zeros_like(cos)], 1),
         torch.stack([sin * fx, cos * fy, torch.zeros_like(cos)], 1)], 1,
    )  # fmt: skip
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    grid = torch.remainder(grid + 1, 2) - 1  # periodic borders
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def augment(x, generator):
    """A random augmentation of each stamp of ``x``; ``generator`` (CPU) fixes the draws."""
    n = x.shape[0]
    u = torch.rand((n, 4), generator=generator)
    angle = (2 * u[:, 0] - 1) * MAX_ROTATION_DEG
    zoom = ZOOM[0] + (ZOOM[1] - ZOOM[0]) * u[:, 1]
    return affine(x, angle.to(x.device), zoom.to(x.device), (u[:, 2] < 0.5).to(x.device),
                  (u[:, 3] < 0.5).to(x.device))  # fmt: skip
