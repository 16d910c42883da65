"""Populations: He et al. 2020 Tables 1, 2, A1 and the scaling relations."""

import numpy as np
import pytest
from astropy import constants as const
from astropy import units as u

from core.stats import rank_auc
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


def test_lenses_follow_the_kids_recipe(kids):
    config, p = kids
    lens = p["label"] == 1
    theta = p["lens"]["theta_e"][lens]
    assert theta.min() >= 1.0 and theta.max() <= 5.0
    # Log-uniform over 1-5": every scale is learned (He et al.'s eq. 11 put
    # half of the lenses above 3.5"), reshaped a little by the magnitude cut.
    assert 0.35 < np.mean(theta < 2.0) < 0.55 and np.mean(theta > 4.0) > 0.05
    pairs = config["lens"]["redshift_pairs"]
    assert min(pairs) >= 0.1  # Table A1's z_d = 0.01 row is dropped
    for z_l, z_s in zip(p["lens"]["z_l"][lens], p["lens"]["z_s"][lens], strict=True):
        assert z_s in HE2020_REDSHIFT_PAIRS[round(z_l, 3)]
    assert np.all(p["lens"]["sigma_v"][lens] <= 600.0)
    assert np.all((p["lens"]["q"][lens] >= 0.5) & (p["lens"]["q"][lens] <= 1.0))
    assert np.all(np.hypot(p["lens"]["gamma1"], p["lens"]["gamma2"])[lens] <= 0.08 + 1e-12)
    clumps = p["clumps"]
    assert set(clumps["stamp"]) == set(np.flatnonzero(lens))
    assert np.all((clumps["r_eff"] > 0) & (clumps["r_eff"] <= 0.7))
    two = np.mean(p["n_clumps"][lens] == 2)
    assert two == pytest.approx(0.35, abs=0.05)
    mags = p["feature"]["mag"][lens]
    # Flat over 20.5-25.5, as He et al. draw theirs (number counts optional).
    assert np.all((mags >= 20.5) & (mags <= 25.5)) and np.mean(mags > 23.0) == pytest.approx(
        0.5, abs=0.05
    )
    counts = get_survey("kids-r")
    counts["source"]["mag_distribution"] = "counts"
    faint = populations.draw_source_mags(counts["source"], 4000, np.random.default_rng(0))
    assert np.mean(faint > 24.5) > 0.45  # p(m) ~ 10^(0.3 m) favours faint sources
    shares = config["lens"]["configurations"]
    for name, share in shares.items():
        observed = np.mean(p["subkind"][lens] == name)
        assert observed == pytest.approx(share, abs=4 * np.sqrt(share * (1 - share) / lens.sum()))


def auc_of(values, p):
    """AUC of a per-stamp value for lens vs non-lens (0.5: same distribution)."""
    return rank_auc(np.asarray(values, np.float64), p["label"] == 1)


def test_both_classes_draw_one_central_galaxy_population(kids):
    """The shortcut of He et al.'s recipe (lens galaxies bigger than
    non-lenses) is gone: every property of the central galaxy, of the
    observation and of the environment has one distribution for both."""
    _, p = kids
    # With 1500 + 2500 stamps an AUC of 0.5 is measured to +- 0.01.
    c, d = p["central"], p["central_drawn"]
    same = {
        "magnitude": d["mag"],
        "R_eff": d["r_eff"],
        "theta_E drawn": p["theta_e_drawn"],
        "axis ratio": d["q"],
        "Sersic n": d["n"],
        "offset x": c["x"],
        "seeing": p["psf_fwhm"][:, 0],
        "Moffat beta": np.where(np.isinf(p["psf_beta"][:, 0]), 99.0, p["psf_beta"][:, 0]),
        "sky": p["sky_mag"][:, 0],
        "neighbours": p["n_neighbours"],
        "stars": p["n_stars"],
        "correlated noise": p["noise_shift"].any(axis=1),
        "masked": (p["mask_block"][:, 0] >= 0) | (p["tile_edge"][:, 0] > 0),
    }
    for name, values in same.items():
        assert auc_of(values, p) == pytest.approx(0.5, abs=0.035), name
    companions = (
        np.bincount(
            p["sersic"]["stamp"][p["sersic"]["role"] == "companion"], minlength=len(p["label"])
        )
        > 0
    )
    assert auc_of(companions, p) == pytest.approx(0.5, abs=0.035)
    assert np.all(p["lens"]["theta_e"][p["label"] == 0] == 0)  # the phantom stays a phantom


def test_lenses_are_mostly_doubles_and_unlensed_rings_range_from_smooth_to_beaded(kids):
    """Generator sim-3: with most lenses near-complete rings and every unlensed
    ring beaded, a network learned "a smooth complete ring is a lens" and
    passed the unlensed rings of another renderer (docs/simulations.md,
    "Rings")."""
    config, p = kids
    shares = config["lens"]["configurations"]
    assert shares["double"] > 0.5 and shares["quad"] + shares["cusp"] + shares["ring"] < 0.5
    rings = p["rings"]
    stamp = np.asarray(rings["stamp"])
    beaded = np.isin(p["subkind"][stamp], ("ring", "partial-ring")) & (p["kind"][stamp] == "ring")
    smooth_share = np.asarray(rings["weight"])[beaded]  # the light not in knots
    assert smooth_share.max() > 0.9 and smooth_share.min() < 0.2
    assert tuple(config["lookalikes"]["ring_knotted"]) == (0.0, 0.9)
    assert np.mean(smooth_share > 0.8) == pytest.approx(2 / 9, abs=0.08)  # knots 0-0.9 of it
    complete = np.mean(p["subkind"][p["kind"] == "ring"] == "ring")
    assert complete == pytest.approx(config["subkinds"]["ring"]["ring"], abs=0.08)
    assert config["subkinds"]["ring"]["ring"] >= max(config["subkinds"]["ring"].values())


def test_non_lenses_follow_the_lookalike_shares(kids):
    config, p = kids
    kinds, subkinds = p["kind"][p["label"] == 0], p["subkind"][p["label"] == 0]
    n = len(kinds)
    for kind, share in config["nonlens_kinds"].items():
        observed = np.mean(kinds == kind)
        assert observed == pytest.approx(share, abs=4 * np.sqrt(share * (1 - share) / n)), kind
        for sub, sub_share in config["subkinds"].get(kind, {}).items():
            k = (kinds == kind).sum()
            got = np.mean(subkinds[kinds == kind] == sub)
            assert got == pytest.approx(
                sub_share, abs=4 * np.sqrt(sub_share * (1 - sub_share) / k) + 0.01
            )
    # Each kind carries the light that makes it what it is.
    stamp_of = {
        name: set(p[name]["stamp"])
        for name in ("spirals", "rings", "feature_sersic", "feature_points")
    }
    spiral = set(np.flatnonzero(p["kind"] == "spiral"))
    assert stamp_of["spirals"] == spiral
    ring = set(np.flatnonzero(p["kind"] == "ring"))
    merger = set(np.flatnonzero(p["subkind"] == "merger"))
    assert stamp_of["rings"] == ring | merger
    assert stamp_of["feature_sersic"] == set(np.flatnonzero(p["kind"] == "alignment"))
    compact = set(np.flatnonzero(p["subkind"] == "compact-sources"))
    beaded = set(
        np.flatnonzero(np.isin(p["subkind"], ("ring", "partial-ring")) & (p["kind"] == "ring"))
    )
    assert stamp_of["feature_points"] == compact | beaded
    assert not p["feature"]["lensed"][p["label"] == 0].any() and not len(
        set(p["clumps"]["stamp"]) & set(np.flatnonzero(p["label"] == 0))
    )
    # Blue knots in every spiral; edge-on disks have dust lanes and no arms.
    knots = set(p["points"]["stamp"][p["points"]["role"] == "knot"])
    assert knots == spiral
    disks = p["spirals"]
    edge = p["subkind"][disks["stamp"]] == "edge-on"
    assert np.all(disks["q"][edge] <= 0.3) and np.all(disks["dust"][edge] > 0)
    assert np.all(disks["arm_amp"][edge] == 0) and np.all(disks["arm_amp"][~edge] > 0)


def test_look_alike_features_sit_where_arcs_would(kids):
    """Rings, aligned galaxies and compact sources lie at the radii the
    (phantom) Einstein radius gives arcs: radius alone cannot tell them apart."""
    _, p = kids
    centre = p["central"]
    rings = p["rings"]
    plain = p["subkind"][rings["stamp"]] != "tidal-arc"
    plain &= p["kind"][rings["stamp"]] == "ring"
    ratio = rings["radius"][plain] / p["theta_e_drawn"][rings["stamp"][plain]]
    assert np.all((ratio >= 0.7) & (ratio <= 1.3))
    for name in ("feature_sersic", "feature_points"):
        t = p[name]
        if name == "feature_points":  # the compact sources (rings' knots follow their ring)
            keep = p["subkind"][t["stamp"]] == "compact-sources"
            t = {k: v[keep] for k, v in t.items()}
        r = np.hypot(t["x"] - centre["x"][t["stamp"]], t["y"] - centre["y"][t["stamp"]])
        ratio = r / p["theta_e_drawn"][t["stamp"]]
        assert np.all((ratio >= 0.7 - 1e-9) & (ratio <= 1.3 + 1e-9)), name


@pytest.mark.parametrize("configuration, images", [("double", 2), ("quad", 4)])
def test_sources_are_placed_for_their_image_configuration(configuration, images):
    """Against lenstronomy's lens-equation solver (an independent route):
    sources placed for doubles have two images, those for quads four."""
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver
    from lenstronomy.Util import param_util

    rng = np.random.default_rng(3)
    n = 40
    theta = rng.uniform(1.0, 3.0, n)
    q, phi = rng.uniform(0.5, 0.85, n), rng.uniform(0, np.pi, n)
    x, y = populations.source_positions(
        np.full(n, configuration), theta, q, phi, np.full(n, 0.3), rng
    )
    model = LensModel(["SIE"])
    solver = LensEquationSolver(model)
    counts = []
    for i in range(n):
        e1, e2 = param_util.phi_q2_ellipticity(phi[i], q[i])
        kwargs = [{"theta_E": theta[i], "e1": e1, "e2": e2, "center_x": 0.0, "center_y": 0.0}]
        xi, _ = solver.image_position_from_source(
            x[i], y[i], kwargs, min_distance=0.02, search_window=4 * theta[i]
        )
        counts.append(len(xi))
    # The solver misses an image now and then (e.g. a faint central one).
    assert np.mean(np.array(counts) == images) >= 0.9


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
    assert np.all((p["lens"]["theta_e"] >= 0.5) & (p["lens"]["theta_e"] <= 3.0))


def test_he2020_mass_weighting_stays_available():
    config = get_survey("kids-r")
    config["lens"].update(mass_weighting="he2020", theta_e_arcsec=(1.4, 5.0))
    z_l, z_s, sigma, theta = populations.sample_lens_masses(
        config["lens"], 2000, np.random.default_rng(0)
    )
    assert theta.min() >= 1.4 and theta.max() <= 5.0
    # Eq. 11 spreads lenses over the whole range (p(M) falls, theta_E^2 rises).
    assert np.mean(theta < 2.0) > 0.05 and np.mean(theta > 4.0) > 0.05


def test_seeing_is_a_truncated_log_normal_about_the_median():
    rng = np.random.default_rng(2)
    fwhm = populations.truncated_lognormal(rng, 0.68, 0.15, 0.45, 1.0, 20000)
    assert fwhm.min() >= 0.45 and fwhm.max() <= 1.0
    assert np.median(fwhm) == pytest.approx(0.68, rel=0.02)
    assert np.std(np.log(fwhm)) == pytest.approx(0.15, rel=0.1)
