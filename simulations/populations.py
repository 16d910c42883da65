"""Drawing the parameters of simulated lenses and non-lenses (pure: numpy).

``sample(config, labels, rng)`` returns one dict of arrays per batch; the
renderer (``simulations.render``) turns it into images. Every draw comes from
the ``numpy.random.Generator`` passed in, so a seed fixes the set.

Choices where the papers are silent or impractical (also in the README):

- Lens mass (He et al. eq. 11): for a redshift pair of Table A1, drawn
  uniformly among the pairs that can reach the theta_E range, M200 is drawn
  from ``p(M | z_d) theta_E^2`` restricted to that range, with the halo mass
  function of ``cosmology.halo_mass_function``; sigma from eq. 13.
- Subhaloes (eq. 12): 10 log mass bins between max(1% M200, 1e9 Msun) and
  5% M200, Poisson counts, positions uniform in the projected R200 disk.
  Only those within the stamp (plus 2") are kept: a distant SIS adds a
  constant deflection and a shear below 1e-3 across the stamp.
- Lens light: Faber-Jackson magnitude (``cosmology.lens_apparent_mag_r``),
  the SIE's q and position angle, Sersic n from Table 1, and an effective
  radius of 0.6-1.2 theta_E (1 to 4 arcsec), after the theta_E-R_eff scaling
  of Li et al. 2018 that He et al. cite.
- Source magnitudes: galaxy number counts, ``p(m) ~ 10^(0.3 m)`` over the
  Table 1 range, standing in for Benitez (2000)'s magnitude priors.
- Non-lenses take their central galaxy's magnitude from the same lens
  population, so brightness does not tell the classes apart; shapes follow
  Table 2. A pair's companion lies 1.5" to (half the stamp - 1") from the
  centre and is 0-2 mag fainter.
"""

import functools

import numpy as np
import torch

from simulations import cosmology
from simulations.lensing import rotate, sie_deflection

N_COMPONENTS = 2  # image-plane light components per stamp (central + one more)
MAX_SUBHALOES = 16
SUBHALO_MASS_BINS = 10
RED, BLUE = 0, 1  # colour sets: the lens's and the source's


def uniform(rng, bounds, n):
    low, high = bounds
    return rng.uniform(low, high, n)


@functools.cache
def _he2020_mass_tables(pairs, theta_range):
    """Per redshift pair: (log10 M200 grid, CDF of p(M|z_d) theta_E^2 within range)."""
    log_m = np.linspace(10.0, 16.0, 1201)
    tables = []
    for z_d, sources in pairs:
        for z_s in sources:
            sigma = cosmology.sigma_from_m200(10**log_m, z_d)
            theta = cosmology.theta_E_from_sigma(sigma, z_d, z_s)
            inside = (theta >= theta_range[0]) & (theta <= theta_range[1])
            weight = cosmology.halo_mass_function(10**log_m, z_d) * 10**log_m * theta**2 * inside
            if weight.sum() > 0:
                cdf = np.cumsum(weight)
                tables.append((z_d, z_s, log_m, cdf / cdf[-1]))
    return tuple(tables)


def sample_lens_masses(lens_cfg, n, rng):
    """z_l, z_s, sigma_v (km/s), theta_E (arcsec) of ``n`` lenses."""
    if lens_cfg["mass_weighting"] == "he2020":
        pairs = tuple(sorted((z, tuple(s)) for z, s in lens_cfg["redshift_pairs"].items()))
        tables = _he2020_mass_tables(pairs, tuple(lens_cfg["theta_e_arcsec"]))
        pick = rng.integers(len(tables), size=n)
        z_l = np.array([tables[i][0] for i in pick])
        z_s = np.array([tables[i][1] for i in pick])
        log_m = np.array([np.interp(rng.uniform(), tables[i][3], tables[i][2]) for i in pick])
        sigma = cosmology.sigma_from_m200(10**log_m, z_l)
        theta_E = cosmology.theta_E_from_sigma(sigma, z_l, z_s)
        # Interpolation may step a hair outside the range.
        theta_E = np.clip(theta_E, *lens_cfg["theta_e_arcsec"])
    else:  # "uniform-sigma" (Lanusse et al.)
        sigma = uniform(rng, lens_cfg["sigma_v_kms"], n)
        z_l = uniform(rng, lens_cfg["z_lens"], n)
        z_s = np.full(n, float(lens_cfg["z_source"]))
        theta_E = cosmology.theta_E_from_sigma(sigma, z_l, z_s)
    return z_l, z_s, sigma, theta_E


def source_magnitudes(bounds, n, rng):
    """``p(m) ~ 10^(0.3 m)`` on [low, high] by inverse transform."""
    low, high = bounds
    span = 10 ** (0.3 * (high - low)) - 1
    return low + np.log10(1 + rng.uniform(size=n) * span) / 0.3


def sample_subhaloes(sigma, z_l, z_s, half_field_arcsec, rng):
    """theta_E, x, y (arcsec) of in-field SIS subhaloes, shape (n, MAX_SUBHALOES)."""
    n = len(sigma)
    out = {k: np.zeros((n, MAX_SUBHALOES)) for k in ("theta_e", "x", "y")}
    m200 = cosmology.m200_from_sigma(sigma, z_l)
    r200_arcsec = cosmology.r200_kpc(m200, z_l) / cosmology.kpc_per_arcsec(z_l)
    for i in range(n):
        m_lo, m_hi = max(0.01 * m200[i], 1e9), 0.05 * m200[i]
        if m_lo >= m_hi:
            continue
        edges = np.geomspace(m_lo, m_hi, SUBHALO_MASS_BINS + 1)
        expected = cosmology.subhalo_count(
            edges[:-1], edges[1:], r200_arcsec[i] * cosmology.kpc_per_arcsec(z_l[i])
        )
        counts = rng.poisson(expected)
        total = counts.sum()
        if total == 0:
            continue
        bin_of = np.repeat(np.arange(SUBHALO_MASS_BINS), counts)
        masses = np.exp(rng.uniform(np.log(edges[bin_of]), np.log(edges[bin_of + 1])))
        radius = r200_arcsec[i] * np.sqrt(rng.uniform(size=total))
        angle = rng.uniform(0, 2 * np.pi, total)
        x, y = radius * np.cos(angle), radius * np.sin(angle)
        inside = (np.abs(x) < half_field_arcsec) & (np.abs(y) < half_field_arcsec)
        if not inside.any():
            continue
        masses, x, y = masses[inside], x[inside], y[inside]
        keep = np.argsort(masses)[::-1][:MAX_SUBHALOES]
        sub_sigma = cosmology.sigma_from_m200(masses[keep], z_l[i])
        k = len(keep)
        out["theta_e"][i, :k] = cosmology.theta_E_from_sigma(sub_sigma, z_l[i], z_s[i])
        out["x"][i, :k], out["y"][i, :k] = x[keep], y[keep]
    return out


def caustic_offsets(theta_E, q, phi, rng):
    """A point on each SIE's tangential caustic, arcsec.

    For an isothermal lens det A = 1 - 2 kappa, so the tangential critical
    curve is the ellipse kappa = 1/2: q x'^2 + y'^2 / q = theta_E^2; the
    caustic is its image through the lens equation.
    """
    t = rng.uniform(0, 2 * np.pi, len(theta_E))
    xp, yp = theta_E * np.cos(t) / np.sqrt(q), theta_E * np.sin(t) * np.sqrt(q)
    as_t = functools.partial(torch.as_tensor, dtype=torch.float64)
    x, y = rotate(as_t(xp), as_t(yp), -as_t(phi))
    ax, ay = sie_deflection(x, y, as_t(theta_E), as_t(q), as_t(phi))
    return (x - ax).numpy(), (y - ay).numpy()


def sample(config, labels, rng):
    """Parameters of a batch: ``labels`` (1 lens, 0 non-lens) in order."""
    labels = np.asarray(labels)
    n = len(labels)
    lens_cfg, src_cfg, neg = config["lens"], config["source"], config["negatives"]
    pix = config["pixscale_arcsec"]
    half = config["size_px"] * pix / 2
    is_lens = labels == 1

    # Every stamp's central galaxy comes from the lens population.
    z_l, z_s, sigma, theta_E = sample_lens_masses(lens_cfg, n, rng)
    q_lens = uniform(rng, lens_cfg["q"], n)
    phi_lens = np.deg2rad(uniform(rng, lens_cfg["phi_deg"], n))
    mag_central = cosmology.lens_apparent_mag_r(sigma, z_l)

    comp = {k: np.zeros((n, N_COMPONENTS)) for k in ("mag", "r_eff", "n", "q", "phi", "x", "y")}
    comp["colour"] = np.full((n, N_COMPONENTS), RED)
    comp["on"] = np.zeros((n, N_COMPONENTS), bool)
    comp["mag"][:, 0] = mag_central
    comp["on"][:, 0] = True
    comp["n"][:, 0] = uniform(rng, lens_cfg["n_sersic"], n)
    comp["q"][:, 0], comp["phi"][:, 0] = q_lens, phi_lens
    comp["r_eff"][:, 0] = np.clip(theta_E * rng.uniform(0.6, 1.2, n), 1.0, 4.0)

    kinds = np.where(is_lens, "lens", "").astype("<U10")
    negatives = np.flatnonzero(~is_lens)
    mix = neg["mix"]
    kinds[negatives] = rng.choice(list(mix), size=len(negatives), p=list(mix.values()))
    for kind in ("elliptical", "pair", "elongated"):
        idx = np.flatnonzero(kinds == kind)
        shape = neg["elongated" if kind == "elongated" else "elliptical"]
        comp["q"][idx, 0] = uniform(rng, shape["q"], len(idx))
        comp["r_eff"][idx, 0] = uniform(rng, shape["r_eff_arcsec"], len(idx))
        comp["n"][idx, 0] = uniform(rng, shape["n_sersic"], len(idx))
    idx = np.flatnonzero(kinds == "pair")
    shape = neg["elliptical"]
    radius = rng.uniform(1.5, half - 1.0, len(idx))
    angle = rng.uniform(0, 2 * np.pi, len(idx))
    comp["x"][idx, 1], comp["y"][idx, 1] = radius * np.cos(angle), radius * np.sin(angle)
    comp["mag"][idx, 1] = mag_central[idx] + rng.uniform(0, 2, len(idx))
    comp["q"][idx, 1] = uniform(rng, shape["q"], len(idx))
    comp["r_eff"][idx, 1] = uniform(rng, shape["r_eff_arcsec"], len(idx))
    comp["n"][idx, 1] = uniform(rng, shape["n_sersic"], len(idx))
    comp["phi"][idx, 1] = rng.uniform(0, np.pi, len(idx))
    comp["on"][idx, 1] = True
    idx = np.flatnonzero(kinds == "disk")
    # Bulge (component 0, red) + disk (component 1, blue), same total magnitude.
    bulge_to_disk = uniform(rng, neg["bulge_to_disk"], len(idx))
    comp["mag"][idx, 0] = mag_central[idx] - 2.5 * np.log10(bulge_to_disk / (1 + bulge_to_disk))
    comp["mag"][idx, 1] = mag_central[idx] - 2.5 * np.log10(1 / (1 + bulge_to_disk))
    for c, part in ((0, "bulge"), (1, "disk")):
        shape = neg[part]
        comp["q"][idx, c] = uniform(rng, shape["q"], len(idx))
        comp["r_eff"][idx, c] = uniform(rng, shape["r_eff_arcsec"], len(idx))
        comp["n"][idx, c] = uniform(rng, shape["n_sersic"], len(idx))
    comp["phi"][idx, 1] = rng.uniform(0, np.pi, len(idx))
    comp["colour"][idx, 1] = BLUE
    comp["on"][idx, 1] = True

    # Lensed sources, placed within one effective radius of the caustic.
    src = {k: np.zeros(n) for k in ("mag", "r_eff", "n", "q", "phi", "x", "y")}
    src["on"] = is_lens.copy()
    li = np.flatnonzero(is_lens)
    src["mag"][li] = source_magnitudes(src_cfg["mag"], len(li), rng)
    src["r_eff"][li] = uniform(rng, src_cfg["r_eff_arcsec"], len(li))
    src["n"][li] = uniform(rng, src_cfg["n_sersic"], len(li))
    src["q"][li] = uniform(rng, src_cfg["q"], len(li))
    src["phi"][li] = np.deg2rad(uniform(rng, src_cfg["phi_deg"], len(li)))
    cx, cy = caustic_offsets(theta_E[li], q_lens[li], phi_lens[li], rng)
    r_off = src["r_eff"][li] * np.sqrt(rng.uniform(size=len(li)))
    a_off = rng.uniform(0, 2 * np.pi, len(li))
    src["x"][li], src["y"][li] = cx + r_off * np.cos(a_off), cy + r_off * np.sin(a_off)

    lens = {
        "theta_e": np.where(is_lens, theta_E, 0.0),
        "q": q_lens,
        "phi": phi_lens,
        "z_l": np.where(is_lens, z_l, 0.0),
        "z_s": np.where(is_lens, z_s, 0.0),
        "sigma_v": np.where(is_lens, sigma, 0.0),
    }
    subhaloes = {k: np.zeros((n, MAX_SUBHALOES)) for k in ("theta_e", "x", "y")}
    if lens_cfg.get("subhaloes") and len(li):
        found = sample_subhaloes(sigma[li], z_l[li], z_s[li], half + 2.0, rng)
        for k in subhaloes:
            subhaloes[k][li] = found[k]

    bands = config["bands"]
    psf = np.stack([uniform(rng, config["psf_fwhm_arcsec"][b], n) for b in bands], axis=1)
    return {
        "label": labels.astype(np.int16),
        "kind": kinds,
        "lens": lens,
        "subhaloes": subhaloes,
        "components": comp,
        "source": src,
        "psf_fwhm": psf,
        "snr_scatter": uniform(rng, config["noise"].get("snr_scatter", (1.0, 1.0)), n),
        "noise_seed": rng.integers(2**63 - 1),
    }
