"""Augmentation: exact flips and quarter turns, wrap borders, determinism."""

import pytest
import torch

from classifier.augment import MAX_ROTATION_DEG, ZOOM_RANGE, affine, augment

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pattern(n=2, bands=2, h=9, w=9):
    return torch.rand(n, bands, h, w, generator=torch.Generator().manual_seed(0)) + 0.1


def test_zero_angle_unit_zoom_and_no_flip_is_the_identity():
    x = pattern()
    assert torch.allclose(affine(x, 0.0, 1.0, False, False), x, atol=1e-6)


def test_flips_are_exact():
    x = pattern()
    assert torch.allclose(affine(x, 0.0, 1.0, True, False), x.flip(-1), atol=1e-6)
    assert torch.allclose(affine(x, 0.0, 1.0, False, True), x.flip(-2), atol=1e-6)
    assert torch.allclose(affine(x, 0.0, 1.0, True, True), x.flip(-1, -2), atol=1e-6)


def test_a_quarter_turn_is_rot90_from_x_towards_y():
    x = pattern()
    assert torch.allclose(
        affine(x, 90.0, 1.0, False, False), torch.rot90(x, 1, (-1, -2)), atol=1e-5
    )
    assert torch.allclose(
        affine(x, -90.0, 1.0, False, False), torch.rot90(x, 1, (-2, -1)), atol=1e-5
    )


def test_a_quarter_turn_of_a_non_square_stamp_moves_a_point_by_90_deg():
    x = torch.zeros(1, 1, 7, 11)
    x[..., 3, 7] = 1.0  # 2 px right of the centre (3, 5)
    out = affine(x, 90.0, 1.0, False, False)[0, 0]
    assert out[5, 5] == pytest.approx(1.0, abs=1e-5)  # now 2 px down the rows
    assert out.sum() == pytest.approx(1.0, abs=1e-5)


def test_borders_wrap_periodically():
    # Zoom 1/2 samples every other pixel from the centre outwards; beyond the
    # edge it must continue from the opposite side.
    x = pattern(h=9, w=9)
    idx = (2 * torch.arange(9) - 4) % 9
    out = affine(x, 0.0, 0.5, False, False)
    assert torch.allclose(out, x[..., idx, :][..., idx], atol=1e-6)


def test_interpolation_across_the_seam_uses_the_opposite_edge():
    # On an 8-pixel stamp zoom 1/2 lands half-way between pixels, the
    # outermost ones half-way between an edge pixel and the opposite edge.
    x = pattern(h=8, w=8)
    lo = torch.floor(2 * torch.arange(8) - 3.5).long()
    a, b = lo % 8, (lo + 1) % 8
    expected = (
        x[..., a, :][..., a] + x[..., a, :][..., b] + x[..., b, :][..., a] + x[..., b, :][..., b]
    ) / 4
    assert torch.allclose(affine(x, 0.0, 0.5, False, False), expected, atol=1e-6)


def test_rotations_lose_no_pixels_to_padding():
    x = pattern(h=16, w=16)
    out = affine(x, 45.0, 0.9, False, False)
    assert out.min() > 0.099  # corners came from the other side, not from zeros


def test_each_stamp_gets_its_own_transform_and_all_its_bands_the_same():
    x = pattern(n=3, bands=2)
    out = affine(x, torch.tensor([0.0, 90.0, 0.0]), 1.0, torch.tensor([False, False, True]), False)
    assert torch.allclose(out[0], x[0], atol=1e-6)
    assert torch.allclose(out[1], torch.rot90(x[1], 1, (-1, -2)), atol=1e-5)
    assert torch.allclose(out[2], x[2].flip(-1), atol=1e-6)


def test_the_generator_fixes_the_draws():
    x = pattern(n=8)
    a = augment(x, torch.Generator().manual_seed(5))
    b = augment(x, torch.Generator().manual_seed(5))
    c = augment(x, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype


def test_the_draws_stay_within_lanusse2018_ranges():
    # A rotated and zoomed single bright pixel lands within zoom x the
    # diagonal of where it started.
    x = torch.zeros(64, 1, 45, 45)
    x[..., 22, 30] = 1.0  # 8 px from the centre
    out = augment(x, torch.Generator().manual_seed(0))
    rows, cols = torch.meshgrid(torch.arange(45.0), torch.arange(45.0), indexing="ij")
    weight = out[:, 0] / out[:, 0].sum(dim=(-2, -1), keepdim=True)
    r = torch.hypot((weight * (rows - 22)).sum((-2, -1)), (weight * (cols - 22)).sum((-2, -1)))
    assert bool(((r > 8 * ZOOM_RANGE[0] - 0.5) & (r < 8 * ZOOM_RANGE[1] + 0.5)).all())
    assert MAX_ROTATION_DEG == 90.0


@pytest.mark.parametrize("device", DEVICES)
def test_it_runs_on_the_batch_device_with_a_cpu_generator(device):
    x = pattern(n=4).to(device)
    out = augment(x, torch.Generator().manual_seed(1))
    assert out.device.type == device
    assert torch.allclose(out.cpu(), augment(x.cpu(), torch.Generator().manual_seed(1)), atol=1e-5)
