"""Populations: He et al. 2020 Tables 1, 2, A1 and the scaling relations."""

import numpy as np
import pytest
from astropy import constants as const
from astropy import units as u

from simulations import cosmology, populations
from simulations.surveys import HE2020_REDSHIFT_PAIRS, get_survey


@pytest.fixture(scope="module")
def kids():
    config = get_survey("kids-r")
    labels = np.array([1] * 1500 + [0] * 2500)
    return config, populations.sample(config, labels, np.random.default_rng(42))


def test_einstein_radius_matches_a_direct_astropy_computation():
    d_s = cosmology.COSMO.angular_diameter_distance(2.0)
    d_ls = cosmology.COSMO.angular_diameter_distance(0.3, 2.0)
    expected = (4 * np.pi * (250 * u.km / u.s / const.c) ** 2 * d_ls / d_s).decompose() * u.rad
    got = cosmology.theta_E_from_sigma(250.0, 0.3, 2.0)
    assert got == pytest.approx(expected.to_value(u.arcsec), rel=1e-6)
    assert 1.3 < got < 1.5  # the familiar ~1.4" of a 250 km/s lens at z = 0.3
    assert cosmology.sigma_from_theta_E(got, 0.3, 2.0) == pytest.approx(250.0)


def test_m200_is_he2020_eq_13():
    h_z = cosmology.COSMO.H(0.5)
    expected = ((300 * u.km / u.s) ** 3 / (10 * const.G * h_z)).to_value(u.Msun)
    assert cosmology.m200_from_sigma(300.0, 0.5) == pytest.approx(expected, rel=1e-9)
    assert cosmology.sigma_from_m200(expected, 0.5) == pytest.approx(300.0)
    r200 = ((300 * u.km / u.s) / (10 * h_z)).to_value(u.kpc)
    assert cosmology.r200_kpc(expected, 0.5) == pytest.approx(r200, rel=1e-9)


def test_subhalo_counts_integrate_he2020_eq_12():
    m_lo, m_hi, r200 = 1e10, 5e10, 250.0
    ln_m = np.linspace(np.log(m_lo), np.log(m_hi), 100_001)
    density = 0.01 * (np.exp(ln_m) / (3e8 / cosmology.H_LITTLE)) ** -1  # per (h^-1 kpc)^2
    expected = np.trapezoid(density, ln_m) * np.pi * (r200 * cosmology.H_LITTLE) ** 2
    assert cosmology.subhalo_count(m_lo, m_hi, r200) == pytest.approx(expected, rel=1e-6)


def test_distance_ratio_agrees_with_astropy():
    for z_l, z_s in [(0.1, 0.5), (0.3, 3.5), (0.9, 1.4)]:
        d = cosmology.COSMO.angular_diameter_distance
        assert cosmology.distance_ratio(z_l, z_s) == pytest.approx(
            (d(z_l, z_s) / d(z_s)).value, rel=1e-6
        )


def test_halo_mass_function_falls_steeply_at_cluster_masses():
    m = np.array([1e12, 1e13, 1e14, 1e15])
    f = cosmology.halo_mass_function(m, 0.3)
    assert np.all(np.diff(f) < 0)
    assert f[3] / f[2] < 0.1 * f[1] / f[0]  # the exponential cut-off


def test_lenses_follow_table_1_and_table_a1(kids):
    config, p = kids
    lens = p["label"] == 1
    theta = p["lens"]["theta_e"][lens]
    assert theta.min() >= 1.4 and theta.max() <= 5.0
    # Eq. 11 spreads lenses over the whole range (p(M) falls, theta_E^2 rises).
    assert np.mean(theta < 2.0) > 0.05 and np.mean(theta > 4.0) > 0.05
    assert set(np.round(p["lens"]["z_l"][lens], 3)) <= set(HE2020_REDSHIFT_PAIRS)
    for z_l, z_s in zip(p["lens"]["z_l"][lens], p["lens"]["z_s"][lens], strict=True):
        assert z_s in HE2020_REDSHIFT_PAIRS[round(z_l, 3)]
    assert np.all((p["lens"]["q"] >= 0.7) & (p["lens"]["q"] <= 1.0))
    comp = p["components"]
    assert np.all((comp["n"][lens, 0] >= 2) & (comp["n"][lens, 0] <= 5))
    src = p["source"]
    assert np.all((src["r_eff"][lens] >= 0.2) & (src["r_eff"][lens] <= 0.7))
    assert np.all((src["n"][lens] >= 2) & (src["n"][lens] <= 5))
    assert np.all((src["mag"][lens] >= 15) & (src["mag"][lens] <= 25))
    assert np.mean(src["mag"][lens] > 23) > 0.5  # faint sources dominate the counts
    assert np.all((p["psf_fwhm"] >= 0.55) & (p["psf_fwhm"] <= 0.75))


def test_non_lenses_follow_the_table_2_mixture(kids):
    config, p = kids
    kinds = p["kind"][p["label"] == 0]
    n = len(kinds)
    for kind, share in {"elliptical": 0.4, "pair": 0.4, "elongated": 0.1, "disk": 0.1}.items():
        observed = np.mean(kinds == kind)
        assert observed == pytest.approx(share, abs=4 * np.sqrt(share * (1 - share) / n)), kind
    comp = p["components"]
    elongated = p["kind"] == "elongated"
    assert np.all((comp["q"][elongated, 0] >= 0.4) & (comp["q"][elongated, 0] <= 0.5))
    assert np.all((comp["r_eff"][elongated, 0] >= 0.2) & (comp["r_eff"][elongated, 0] <= 1.7))
    disk = p["kind"] == "disk"
    assert np.all(comp["q"][disk, 0] >= 0.95) and np.all(comp["q"][disk, 1] >= 0.4)
    assert np.all((comp["n"][disk, 1] >= 0.9) & (comp["n"][disk, 1] <= 1.1))
    pair = p["kind"] == "pair"
    assert comp["on"][pair, 1].all() and not comp["on"][p["kind"] == "elliptical", 1].any()
    separation = np.hypot(comp["x"][pair, 1], comp["y"][pair, 1])
    assert separation.min() >= 1.5
    assert not p["source"]["on"][p["label"] == 0].any()
    assert np.all(p["lens"]["theta_e"][p["label"] == 0] == 0)


def test_sources_sit_within_an_effective_radius_of_the_caustic(kids):
    config, p = kids
    lens = np.flatnonzero(p["label"] == 1)[:200]
    theta, q, phi = (p["lens"][k][lens] for k in ("theta_e", "q", "phi"))
    # The caustic traced densely; the source's distance to it is below r_eff.
    rng = np.random.default_rng(0)
    for i, a, b, c in zip(lens, theta, q, phi, strict=True):
        cx, cy = populations.caustic_offsets(
            np.full(2000, a), np.full(2000, b), np.full(2000, c), rng
        )
        d = np.hypot(cx - p["source"]["x"][i], cy - p["source"]["y"][i]).min()
        assert d <= p["source"]["r_eff"][i] + 0.01


def test_subhaloes_stay_within_the_field_and_the_mass_range(kids):
    config, p = kids
    sub = p["subhaloes"]
    present = sub["theta_e"] > 0
    assert present.any()
    half = config["size_px"] * config["pixscale_arcsec"] / 2 + 2.0
    assert np.all(np.abs(sub["x"][present]) < half) and np.all(np.abs(sub["y"][present]) < half)
    # A subhalo's Einstein radius is well below its host's (at most 5% of M200).
    ratio = sub["theta_e"].max(axis=1) / np.maximum(p["lens"]["theta_e"], 1e-9)
    assert ratio[present.any(axis=1)].max() < 0.3


def test_lsst_lenses_follow_lanusse2018():
    config = get_survey("lsst-g")
    p = populations.sample(config, np.ones(500, int), np.random.default_rng(1))
    assert np.all((p["lens"]["sigma_v"] >= 150) & (p["lens"]["sigma_v"] <= 350))
    assert np.all((p["lens"]["z_l"] >= 0.2) & (p["lens"]["z_l"] <= 0.7))
    assert np.all(p["lens"]["z_s"] == 2.0)
    assert np.all((p["lens"]["q"] >= 0.5) & (p["lens"]["q"] <= 1.0))
