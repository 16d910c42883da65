"""SIE and SIS against lenstronomy (an independent implementation) and
against the analytic identities they must satisfy."""

import numpy as np
import pytest
import torch
from lenstronomy.LensModel.lens_model import LensModel
from lenstronomy.LensModel.Profiles.nie import NIEMajorAxis
from lenstronomy.Util import param_util

from simulations.lensing import (
    check_axis_ratio,
    shear_deflection,
    sie_convergence,
    sie_deflection,
    sis_convergence,
    sis_deflection,
    trace,
)

# A grid that includes the axes (x = 0 or y = 0) and avoids the singular centre.
GRID = np.linspace(-4.0, 4.0, 41)
X, Y = (a.ravel() for a in np.meshgrid(GRID, GRID))
OFF_CENTRE = np.hypot(X - 0.1, Y + 0.2) > 1e-3
X, Y = X[OFF_CENTRE], Y[OFF_CENTRE]


def t(a):
    return torch.as_tensor(a, dtype=torch.float64)


def relative(ours, theirs):
    ours = ours.numpy() if isinstance(ours, torch.Tensor) else ours
    return np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-10))


@pytest.mark.parametrize("q", [0.5, 0.7, 0.93, 0.999, 0.99999])
@pytest.mark.parametrize("phi", [0.0, 0.6, np.pi / 2])
def test_sie_deflection_agrees_with_lenstronomy(q, phi):
    e1, e2 = param_util.phi_q2_ellipticity(phi, q)
    kwargs = [{"theta_E": 1.7, "e1": e1, "e2": e2, "center_x": 0.1, "center_y": -0.2}]
    ax, ay = LensModel(["SIE"]).alpha(X, Y, kwargs)
    ours_x, ours_y = sie_deflection(t(X), t(Y), 1.7, t(q), t(phi), 0.1, -0.2)
    assert relative(ours_x, ax) < 1e-6
    assert relative(ours_y, ay) < 1e-6


@pytest.mark.parametrize("q", [0.5, 0.8, 0.9999])
def test_sie_convergence_agrees_with_lenstronomy(q):
    # lenstronomy's SIE convergence comes from finite differences; its NIE
    # major-axis profile gives the analytic value (b = theta_E sqrt(q)).
    theta_E = 2.3
    s = 1e-10 / np.sqrt(q)
    theirs = NIEMajorAxis.kappa(X, Y, theta_E * np.sqrt(q), s, q)
    assert relative(sie_convergence(t(X), t(Y), theta_E, t(q), t(0.0)), theirs) < 1e-6


def test_sis_agrees_with_lenstronomy():
    ax, ay = LensModel(["SIS"]).alpha(X, Y, [{"theta_E": 1.3, "center_x": 0.1, "center_y": -0.2}])
    ours_x, ours_y = sis_deflection(t(X), t(Y), 1.3, 0.1, -0.2)
    assert relative(ours_x, ax) < 1e-6 and relative(ours_y, ay) < 1e-6
    zero_x, zero_y = sis_deflection(t([0.1]), t([-0.2]), 1.3, 0.1, -0.2)
    assert zero_x.item() == 0 and zero_y.item() == 0


def test_sie_becomes_the_sis_as_q_goes_to_one():
    sx, sy = sis_deflection(t(X), t(Y), 1.5)
    for q in (1.0, 1 - 1e-9, 1 - 1e-7, 1 - 1e-5):
        ex, ey = sie_deflection(t(X), t(Y), 1.5, t(q), t(0.4))
        # The SIE departs from the SIS at first order in 1 - q, no more.
        atol = 1.5 * (1 - q) + 1e-9
        assert torch.allclose(ex, sx, rtol=0, atol=atol)
        assert torch.allclose(ey, sy, rtol=0, atol=atol)


def test_convergence_is_half_the_divergence_of_the_deflection():
    h = 1e-5
    x, y, q, phi = t(X), t(Y), t(0.6), t(0.3)
    far = torch.hypot(x, y) > 0.2

    def alpha(xx, yy):
        return sie_deflection(xx, yy, 1.9, q, phi)

    div = (alpha(x + h, y)[0] - alpha(x - h, y)[0] + alpha(x, y + h)[1] - alpha(x, y - h)[1]) / (
        2 * h
    )
    kappa = sie_convergence(x, y, 1.9, q, phi)
    assert torch.allclose((div / 2)[far], kappa[far], rtol=1e-5)


def test_mean_convergence_inside_the_einstein_radius_is_one():
    r = np.linspace(1e-6, 1.0, 200_001)
    # <kappa> within theta_E of an SIS: (2 / theta_E^2) int kappa r dr.
    kappa = sis_convergence(t(r), t(np.zeros_like(r)), 1.0).numpy()
    assert np.trapezoid(kappa * r, r) * 2 == pytest.approx(1.0, rel=1e-4)


def test_tracing_subhaloes_adds_their_deflections():
    x, y = t(np.array([[0.5, 1.5]])), t(np.array([[1.0, -0.5]]))
    lens = {"theta_E": t(1.2), "q": t(0.8), "phi": t(0.2), "center_x": 0.0, "center_y": 0.0}
    sub = {"theta_E": t([[[[0.1]], [[0.0]]]]), "center_x": t([[[[1.0]], [[3.0]]]]),
           "center_y": t([[[[1.0]], [[3.0]]]])}  # fmt: skip
    bx, by = trace(x, y, lens, sub)
    ax, ay = sie_deflection(x, y, 1.2, t(0.8), t(0.2))
    sx, sy = sis_deflection(x, y, 0.1, 1.0, 1.0)
    assert torch.allclose(bx, x - ax - sx) and torch.allclose(by, y - ay - sy)


def test_external_shear_agrees_with_lenstronomy_and_traces_with_the_sie():
    kwargs = [{"gamma1": 0.04, "gamma2": -0.07, "ra_0": 0.0, "dec_0": 0.0}]
    ax, ay = LensModel(["SHEAR"]).alpha(X, Y, kwargs)
    ours_x, ours_y = shear_deflection(t(X), t(Y), 0.04, -0.07)
    assert relative(ours_x, ax) < 1e-9 and relative(ours_y, ay) < 1e-9
    # SIE + shear through trace() against lenstronomy's ray shooting.
    e1, e2 = param_util.phi_q2_ellipticity(0.3, 0.75)
    model = LensModel(["SIE", "SHEAR"])
    bx, by = model.ray_shooting(
        X, Y, [{"theta_E": 1.4, "e1": e1, "e2": e2, "center_x": 0.0, "center_y": 0.0}] + kwargs
    )
    lens = {"theta_E": t(1.4), "q": t(0.75), "phi": t(0.3), "center_x": 0.0, "center_y": 0.0}
    ours_bx, ours_by = trace(t(X), t(Y), lens, shear={"gamma1": 0.04, "gamma2": -0.07})
    assert np.max(np.abs(ours_bx.numpy() - bx)) < 1e-6
    assert np.max(np.abs(ours_by.numpy() - by)) < 1e-6


def test_it_refuses_axis_ratios_outside_zero_to_one():
    with pytest.raises(ValueError, match=r"Axis ratios q must lie in \(0, 1\]"):
        check_axis_ratio(torch.tensor([0.5, 1.2]))
