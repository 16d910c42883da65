"""Sersic light against lenstronomy and its analytic totals; lensing keeps
surface brightness."""

import numpy as np
import pytest
import torch
from lenstronomy.LightModel.light_model import LightModel
from lenstronomy.Util import param_util

from simulations.lensing import trace
from simulations.light import b_n, sersic, sersic_amplitude, sersic_total_flux_per_amp

GRID = np.linspace(-3.0, 3.0, 61)  # includes the axes and the centre
X, Y = (a.ravel() for a in np.meshgrid(GRID, GRID))


def t(a):
    return torch.as_tensor(a, dtype=torch.float64)


@pytest.mark.parametrize("q, phi, n", [(1.0, 0.0, 4.0), (0.6, 0.3, 3.3), (0.9999, 2.0, 1.0),
                                       (0.4, np.pi / 2, 0.8)])  # fmt: skip
def test_sersic_agrees_with_lenstronomy(q, phi, n):
    e1, e2 = param_util.phi_q2_ellipticity(phi, q)
    kwargs = {"amp": 2.5, "R_sersic": 0.8, "n_sersic": n, "e1": e1, "e2": e2,
              "center_x": 0.05, "center_y": -0.1}  # fmt: skip
    theirs = LightModel(["SERSIC_ELLIPSE"]).surface_brightness(X, Y, [kwargs])
    ours = sersic(t(X), t(Y), 2.5, 0.8, n, t(q), t(phi), 0.05, -0.1).numpy()
    assert np.max(np.abs(ours - theirs) / theirs) < 1e-6


def test_b_n_is_he2020_eq_14():
    assert b_n(4.0) == pytest.approx(1.9992 * 4 - 0.3271)


def fine_grid(half_arcsec, step, offset=0.0):
    c = np.arange(-half_arcsec, half_arcsec + step / 2, step) + offset
    x, y = np.meshgrid(c, c)
    return t(x), t(y)


@pytest.mark.parametrize("n, q", [(1.0, 1.0), (2.5, 0.7), (4.0, 0.5)])
def test_total_flux_of_an_unlensed_sersic_matches_its_analytic_total(n, q):
    r_eff, step = 0.5, 0.02
    # Cell centres off the centre: the n = 4 cusp would bias a point sample.
    x, y = fine_grid(40 * r_eff, step, offset=step / 2)
    amp = sersic_amplitude(1000.0, r_eff, n)
    flux = sersic(x, y, float(amp), r_eff, n, t(q), t(0.4)).sum().item() * step**2
    assert flux == pytest.approx(1000.0, rel=0.01)


def test_half_the_light_lies_within_the_effective_radius():
    r_eff, step = 0.5, 0.01
    x, y = fine_grid(20 * r_eff, step)
    image = sersic(x, y, 1.0, r_eff, 1.0, t(1.0), t(0.0))
    inside = image[torch.hypot(x, y) <= r_eff].sum() / image.sum()
    assert inside.item() == pytest.approx(0.5, abs=0.01)


def test_total_flux_per_amp_of_an_exponential_disk():
    # n = 1: 2 pi r^2 e^b b^-2 Gamma(2) exactly.
    b = b_n(1.0)
    assert sersic_total_flux_per_amp(0.7, 1.0) == pytest.approx(2 * np.pi * 0.49 * np.exp(b) / b**2)


def test_lensing_conserves_surface_brightness():
    x, y = fine_grid(3.0, 0.05)
    lens = {"theta_E": t(1.4), "q": t(0.7), "phi": t(0.5), "center_x": 0.0, "center_y": 0.0}
    args = (1.0, 0.3, 1.5, t(0.8), t(0.2), 0.05, 0.02)
    lensed = sersic(*trace(x, y, lens), *args)
    source_peak = sersic(t(0.05), t(0.02), *args)
    # Lensing moves brightness around but never raises it.
    assert lensed.max() <= source_peak * (1 + 1e-12)
    assert lensed.max() > 0.5 * source_peak  # and the source is seen
    # With no deflection the traced image is the source itself.
    ux, uy = trace(x, y, {**lens, "theta_E": t(0.0)})
    assert torch.equal(sersic(ux, uy, *args), sersic(x, y, *args))


def test_a_small_source_behind_an_sis_is_magnified_2_theta_E_over_beta():
    # Two images with |mu| = theta_E / beta +- 1: the total is 2 theta_E / beta.
    step, beta, theta_E = 0.004, 0.5, 1.0
    x, y = fine_grid(2.2, step)
    lens = {"theta_E": t(theta_E), "q": t(1.0), "phi": t(0.0), "center_x": 0.0, "center_y": 0.0}
    args = (1.0, 0.03, 1.0, t(1.0), t(0.0), beta, 0.0)
    lensed = sersic(*trace(x, y, lens), *args).sum() * step**2
    unlensed = sersic(x, y, *args).sum() * step**2
    assert (lensed / unlensed).item() == pytest.approx(2 * theta_E / beta, rel=0.01)
