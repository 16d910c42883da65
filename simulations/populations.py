"""Drawing what each simulated stamp holds (pure: numpy).

``sample(config, labels, rng)`` returns a *scene* per batch: per-stamp
arrays (labels, kinds, the central galaxy, the lens, PSF, sky) and flat
tables of the light components, each row carrying the index of its stamp;
``simulations.render`` turns it into images. Every draw comes from the
``numpy.random.Generator`` passed in, so a seed fixes the set.

The rules that keep the label out of everything but the lensing itself:

- **One central galaxy population.** Every stamp draws a lens mass first
  (redshifts, velocity dispersion, theta_E): lenses use it, non-lenses keep
  it as a *phantom*. The central galaxy's magnitude (Faber-Jackson from the
  phantom or real sigma, scattered), effective radius (0.6-1.2 theta_E),
  Sersic index, axis ratio, colour and centring offset then come from the
  same distributions for both classes.
- **Noise and seeing from the survey**: sky brightness, exposure, read noise
  and a PSF (Moffat, or Gaussian for a share) drawn per stamp, whatever the
  stamp holds (``render`` turns them into the background rms).
- **The same environment for both classes**: field neighbours and stars
  from number counts, masked blocks and tile edges at fixed rates, and
  group companions at the rate the non-lens ``group`` kind has them.
- **Look-alikes as non-lens kinds** (shares in the survey dict): plain
  ellipticals, spirals with arms, knots and dust lanes, unlensed rings,
  partial rings and tidal arcs, pairs, groups and mergers, chance alignments
  of unlensed background galaxies, bright stars and compact sources. Their
  extra light (the *feature*) is drawn like a lensed arc's: blue where arcs
  are blue, at radii drawn from the phantom theta_E, and held to the same
  S/N floor as arcs.
- **Lenses as varied as the sky's**: SIE + external shear (+ subhaloes for
  KiDS), one- or two-clump sources placed for doubles, cusps, quads or
  rings (``subkind``), faint arcs down to the S/N floor.

Choices where the papers are silent or impractical (also in docs/):

- theta_E (KiDS): log-uniform over 1-5", with a He et al. Table A1 redshift
  pair drawn among those that give sigma <= ``sigma_max_kms``; eq. 11's
  ``p(M) theta_E^2`` weighting (``mass_weighting = "he2020"``) is kept as an
  option but not used by default: it puts half of the lenses above 3.5",
  where few galaxy-scale lenses are.
- Central magnitudes outside ``central.mag_r`` are redrawn (Table A1's
  z_d = 0.01 row gave r ~ 10 galaxies no LRG sample has; it is dropped).
- Source positions by configuration, from the SIE's tangential caustic
  (shear and subhaloes perturb it: the subkind is the intended one).
"""

import functools

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy import special

from simulations import cosmology
from simulations.lensing import rotate, sie_deflection

MAX_SUBHALOES = 16
SUBHALO_MASS_BINS = 10
# Magnification given to look-alike features when drawing their brightness
# from the source counts: log-uniform, the range of lensed arcs' (2-20).
FEATURE_MAGNIFICATION = (2.0, 20.0)


# --- small helpers ---------------------------------------------------------


def uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    low, high = bounds
    return rng.uniform(low, high, n)


def draw(
    rng: np.random.Generator, spec: float | tuple[float, float] | list[float], n: int
) -> np.ndarray:
    """A number (constant) or a (low, high) range (uniform), as ``n`` values."""
    if isinstance(spec, (int, float)):
        return np.full(n, float(spec))
    return uniform(rng, spec, n)


def colours(rng: np.random.Generator, colour_cfg: dict, bands: list[str], n: int) -> np.ndarray:
    """Magnitude offsets from r, ``(n, nb)``; bands the dict omits get 0."""
    return np.stack([draw(rng, colour_cfg.get(b, 0.0), n) for b in bands], axis=1)


def source_magnitudes(
    bounds: tuple[float, float] | list[float], n: int, rng: np.random.Generator
) -> np.ndarray:
    """``p(m) ~ 10^(0.3 m)`` (galaxy number counts) on [low, high]."""
    low, high = bounds
    span = 10 ** (0.3 * (high - low)) - 1
    return low + np.log10(1 + rng.uniform(size=n) * span) / 0.3


def draw_source_mags(source_cfg: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """Source magnitudes: uniform over ``mag`` (He et al.'s flat draws) or
    from galaxy number counts (``mag_distribution: "counts"``)."""
    if source_cfg.get("mag_distribution", "uniform") == "counts":
        return source_magnitudes(source_cfg["mag"], n, rng)
    return uniform(rng, source_cfg["mag"], n)


def pick(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    """``n`` names drawn with the given shares (a dict name -> share)."""
    names = list(shares)
    if n == 0:
        return np.array([], dtype="<U16")
    return rng.choice(names, size=n, p=np.asarray(list(shares.values())) / sum(shares.values()))


def truncated_lognormal(
    rng: np.random.Generator, median: float, scatter_ln: float, low: float, high: float, n: int
) -> np.ndarray:
    """``median exp(scatter N(0, 1))`` truncated to [low, high] by inverse transform."""
    if scatter_ln == 0:
        return np.clip(np.full(n, float(median)), low, high)
    a = special.ndtr(np.log(low / median) / scatter_ln)
    b = special.ndtr(np.log(high / median) / scatter_ln)
    return median * np.exp(scatter_ln * special.ndtri(rng.uniform(a, b, n)))


class Table:
    """Rows of one kind of light component, built up in pieces: each column
    a numpy array; ``stamp`` is the index of the stamp in the batch."""

    def __init__(self, columns, **defaults):
        self.parts = []
        self.columns = columns.split()
        self.defaults = defaults

    def add(self, stamp: ArrayLike, **columns) -> None:
        stamp = np.asarray(stamp, np.int64)
        if len(stamp):
            self.parts.append({"stamp": stamp, **{k: np.asarray(v) for k, v in columns.items()}})

    def done(self, nb: int) -> dict[str, np.ndarray]:
        names = {"stamp", *self.columns, *self.defaults}
        for part in self.parts:
            names |= set(part)
        out = {}
        for name in names:
            pieces = []
            for part in self.parts:
                if name in part:
                    value = np.broadcast_to(
                        part[name], (len(part["stamp"]),) + np.shape(part[name])[1:]
                    )
                else:
                    default = self.defaults.get(name, 0.0)
                    shape = (len(part["stamp"]), nb) if name == "colour" else len(part["stamp"])
                    value = np.full(shape, default)
                pieces.append(np.asarray(value))
            if pieces:
                out[name] = np.concatenate(pieces)
            else:
                out[name] = np.zeros((0, nb) if name == "colour" else 0)
        out["stamp"] = out["stamp"].astype(np.int64)
        return out


def _polar(rng, radius):
    angle = rng.uniform(0, 2 * np.pi, len(radius))
    return radius * np.cos(angle), radius * np.sin(angle), angle


# --- the lens mass, drawn for every stamp -------------------------------------


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


def _pairs(lens_cfg):
    return tuple(sorted((float(z), tuple(s)) for z, s in lens_cfg["redshift_pairs"].items()))


def sample_lens_masses(
    lens_cfg: dict, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """z_l, z_s, sigma_v (km/s), theta_E (arcsec) of ``n`` lenses, theta_E
    within ``theta_e_arcsec``."""
    theta_range = tuple(lens_cfg["theta_e_arcsec"])
    weighting = lens_cfg["mass_weighting"]
    if weighting == "theta-e":
        low, high = theta_range
        if lens_cfg.get("theta_e_distribution", "log-uniform") == "log-uniform":
            theta_E = np.exp(rng.uniform(np.log(low), np.log(high), n))
        else:
            theta_E = rng.uniform(low, high, n)
        pairs = [(z, s) for z, sources in _pairs(lens_cfg) for s in sources]
        z_l, z_s, sigma = np.zeros(n), np.zeros(n), np.zeros(n)
        todo = np.arange(n)
        # A redshift pair among those that reach theta_E with sigma <= sigma_max.
        for _ in range(64):
            k = rng.integers(len(pairs), size=len(todo))
            zl = np.array([pairs[i][0] for i in k])
            zs = np.array([pairs[i][1] for i in k])
            s = cosmology.sigma_from_theta_E(theta_E[todo], zl, zs)
            ok = np.isfinite(s) & (s <= lens_cfg.get("sigma_max_kms", np.inf))
            z_l[todo[ok]], z_s[todo[ok]], sigma[todo[ok]] = zl[ok], zs[ok], s[ok]
            todo = todo[~ok]
            if not len(todo):
                break
        else:
            raise ValueError(
                "lens.redshift_pairs cannot reach the theta_E range within lens.sigma_max_kms."
            )
        return z_l, z_s, sigma, theta_E
    if weighting == "he2020":
        tables = _he2020_mass_tables(_pairs(lens_cfg), theta_range)
        chosen = rng.integers(len(tables), size=n)
        z_l = np.array([tables[i][0] for i in chosen])
        z_s = np.array([tables[i][1] for i in chosen])
        log_m = np.array([np.interp(rng.uniform(), tables[i][3], tables[i][2]) for i in chosen])
        sigma = cosmology.sigma_from_m200(10**log_m, z_l)
        # Interpolation may step a hair outside the range.
        theta_E = np.clip(cosmology.theta_E_from_sigma(sigma, z_l, z_s), *theta_range)
        return z_l, z_s, sigma, theta_E
    # "uniform-sigma" (Lanusse et al.), redrawn until theta_E is in range.
    z_l, z_s, sigma, theta_E = (np.zeros(n) for _ in range(4))
    todo = np.arange(n)
    for _ in range(64):
        s = uniform(rng, lens_cfg["sigma_v_kms"], len(todo))
        zl = uniform(rng, lens_cfg["z_lens"], len(todo))
        zs = np.full(len(todo), float(lens_cfg["z_source"]))
        t = cosmology.theta_E_from_sigma(s, zl, zs)
        ok = (t >= theta_range[0]) & (t <= theta_range[1])
        z_l[todo[ok]], z_s[todo[ok]], sigma[todo[ok]], theta_E[todo[ok]] = (
            zl[ok],
            zs[ok],
            s[ok],
            t[ok],
        )
        todo = todo[~ok]
        if not len(todo):
            return z_l, z_s, sigma, theta_E
    raise ValueError("lens.sigma_v_kms and lens.z_lens cannot reach lens.theta_e_arcsec.")


def sample_masses_and_magnitudes(
    config: dict, n: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Masses and the central galaxy's r magnitude (Faber-Jackson, scattered),
    redrawn until the magnitude lies within ``central.mag_r``."""
    central = config["central"]
    low, high = central["mag_r"]
    out = [np.zeros(n) for _ in range(5)]
    todo = np.arange(n)
    for _ in range(64):
        z_l, z_s, sigma, theta_E = sample_lens_masses(config["lens"], len(todo), rng)
        mag = cosmology.lens_apparent_mag_r(sigma, z_l)
        mag = mag + central["mag_scatter"] * rng.standard_normal(len(todo))
        ok = (mag >= low) & (mag <= high)
        for column, values in zip(out, (z_l, z_s, sigma, theta_E, mag), strict=True):
            column[todo[ok]] = values[ok]
        todo = todo[~ok]
        if not len(todo):
            return out
    raise ValueError(
        f"central.mag_r = {list(central['mag_r'])} excludes nearly every galaxy the lens "
        "population makes: widen it or change the lens redshifts."
    )


def sample_subhaloes(
    sigma: np.ndarray,
    z_l: np.ndarray,
    z_s: np.ndarray,
    half_field_arcsec: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
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


def caustic_points(
    theta_E: np.ndarray, q: np.ndarray, phi: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points of each SIE's tangential caustic at parameters ``t`` (rad), arcsec.

    For an isothermal lens det A = 1 - 2 kappa, so the tangential critical
    curve is the ellipse kappa = 1/2: q x'^2 + y'^2 / q = theta_E^2; the
    caustic is its image through the lens equation. ``t = 0, pi/2, ...``
    are its cusps (on the axes of the ellipse).
    """
    xp, yp = theta_E * np.cos(t) / np.sqrt(q), theta_E * np.sin(t) * np.sqrt(q)
    as_t = functools.partial(torch.as_tensor, dtype=torch.float64)
    x, y = rotate(as_t(xp), as_t(yp), -as_t(phi))
    ax, ay = sie_deflection(x, y, as_t(theta_E), as_t(q), as_t(phi))
    return (x - ax).numpy(), (y - ay).numpy()


def caustic_offsets(
    theta_E: np.ndarray, q: np.ndarray, phi: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random point on each SIE's tangential caustic, arcsec."""
    return caustic_points(theta_E, q, phi, rng.uniform(0, 2 * np.pi, len(theta_E)))


def source_positions(
    configuration: np.ndarray,
    theta_E: np.ndarray,
    q: np.ndarray,
    phi: np.ndarray,
    r_eff: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Source-plane centres (x, y), arcsec, for each lens's image configuration.

    ``quad``: inside the tangential caustic (a caustic point pulled towards
    the centre); ``cusp``: just inside the caustic near a cusp; ``ring``:
    within a third of the source's size of the centre; ``double``: outside
    the caustic, up to 0.85 theta_E (inside the radial cut).
    """
    n = len(theta_E)
    x, y = np.zeros(n), np.zeros(n)
    t = rng.uniform(0, 2 * np.pi, n)
    cusp = configuration == "cusp"
    t[cusp] = rng.integers(0, 4, cusp.sum()) * np.pi / 2 + rng.normal(0, 0.08, cusp.sum())
    cx, cy = caustic_points(theta_E, q, phi, t)
    scale = np.ones(n)
    quad = configuration == "quad"
    scale[quad] = np.sqrt(rng.uniform(0.05, 0.85, quad.sum()))
    scale[cusp] = rng.uniform(0.85, 0.98, cusp.sum())
    x, y = cx * scale, cy * scale
    ring = configuration == "ring"
    rx, ry, _ = _polar(rng, r_eff[ring] / 3 * np.sqrt(rng.uniform(size=ring.sum())))
    x[ring], y[ring] = rx, ry
    double = configuration == "double"
    if double.any():
        # The caustic's extent from 24 of its points.
        tt = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        idx = np.flatnonzero(double)
        rep = np.repeat(idx, len(tt))
        px, py = caustic_points(theta_E[rep], q[rep], phi[rep], np.tile(tt, len(idx)))
        extent = np.hypot(px, py).reshape(len(idx), -1).max(axis=1)
        low = np.minimum(1.1 * extent + 0.05 * theta_E[idx], 0.8 * theta_E[idx])
        radius = rng.uniform(low, 0.85 * theta_E[idx])
        x[idx], y[idx], _ = _polar(rng, radius)
    return x, y


# --- the scene ----------------------------------------------------------------


def _lens_only(config, li, theta_E, z_l, z_s, sigma, central, scene, rng):
    """Mass, shear, subhaloes and the lensed source clumps of the lenses ``li``."""
    lens_cfg, src_cfg = config["lens"], config["source"]
    n = len(li)
    lens = scene["lens"]
    q_mass = np.clip(
        central["q"][li] + uniform(rng, lens_cfg["q_offset"], n), lens_cfg["q_min"], 1.0
    )
    lens["q"][li], lens["phi"][li] = q_mass, central["phi"][li]
    gamma = uniform(rng, lens_cfg["shear"], n)
    angle = rng.uniform(0, np.pi, n)
    lens["gamma1"][li], lens["gamma2"][li] = gamma * np.cos(2 * angle), gamma * np.sin(2 * angle)
    lens["theta_e"][li] = theta_E[li]
    lens["z_l"][li], lens["z_s"][li], lens["sigma_v"][li] = z_l[li], z_s[li], sigma[li]
    half = config["size_px"] * config["pixscale_arcsec"] / 2
    if lens_cfg.get("subhaloes") and n:
        found = sample_subhaloes(sigma[li], z_l[li], z_s[li], half + 2.0, rng)
        for k, v in found.items():
            scene["subhaloes"][k][li] = v
    configuration = pick(rng, lens_cfg["configurations"], n)
    scene["subkind"][li] = configuration
    r_eff = uniform(rng, src_cfg["r_eff_arcsec"], n)
    sx, sy = source_positions(configuration, theta_E[li], q_mass, central["phi"][li], r_eff, rng)
    # Clump positions are relative to the lens centre (its light centre).
    two = rng.uniform(size=n) < src_cfg["two_clump_share"]
    share = np.where(two, uniform(rng, (0.55, 0.8), n), 1.0)
    clumps = scene["clumps"]
    common = {
        "q": uniform(rng, src_cfg["q"], n),
        "phi": np.deg2rad(uniform(rng, src_cfg["phi_deg"], n)),
        "n": uniform(rng, src_cfg["n_sersic"], n),
    }
    clumps.add(li, weight=share, r_eff=r_eff, x=sx, y=sy, main=True, **common)
    k = np.flatnonzero(two)
    ox, oy, _ = _polar(rng, uniform(rng, (0.1, 0.6), len(k)))
    clumps.add(
        li[k],
        weight=1 - share[k],
        r_eff=r_eff[k] * uniform(rng, (0.4, 1.0), len(k)),
        x=sx[k] + ox,
        y=sy[k] + oy,
        q=uniform(rng, src_cfg["q"], len(k)),
        main=False,
        phi=rng.uniform(0, np.pi, len(k)),
        n=uniform(rng, (0.5, 2.0), len(k)),
    )
    scene["n_clumps"][li] = 1 + two
    feature = scene["feature"]
    feature["on"][li] = True
    feature["lensed"][li] = True
    feature["mag"][li] = draw_source_mags(src_cfg, n, rng)


def _feature_mags(config, n, rng):
    """Observed magnitudes of look-alike features: a source from the counts,
    as bright as a lensed one of log-uniform magnification."""
    mu = np.exp(uniform(rng, np.log(FEATURE_MAGNIFICATION), n))
    return draw_source_mags(config["source"], n, rng) - 2.5 * np.log10(mu)


def _companions(config, idx, count, radius_range, central, scene, rng, colour=None):
    """``count`` companions of the central galaxies ``idx`` at radii in ``radius_range``."""
    rep = np.repeat(idx, count)
    m = len(rep)
    if not m:
        return rep
    cx, cy, _ = _polar(rng, uniform(rng, radius_range, m))
    c = config["central"]
    scene["sersic"].add(
        rep,
        mag=central["mag"][rep] + uniform(rng, (0.0, 2.0), m),
        colour=central["colour"][rep] if colour is None else colour,
        r_eff=np.clip(central["r_eff"][rep] * uniform(rng, (0.3, 0.9), m), 0.2, None),
        n=uniform(rng, c["n_sersic"], m),
        q=uniform(rng, c["q"], m),
        phi=rng.uniform(0, np.pi, m),
        x=central["x"][rep] + cx,
        y=central["y"][rep] + cy,
        fine=True,
        role="companion",
    )
    return rep


def _lookalikes(config, kind, subkind, theta_E, central, scene, rng):
    """The light that makes each non-lens kind what it is."""
    bands = config["bands"]
    half = config["size_px"] * config["pixscale_arcsec"] / 2
    src, c = config["source"], config["central"]
    feature = scene["feature"]

    idx = np.flatnonzero(kind == "spiral")
    if len(idx):
        k = len(idx)
        # Bulge (red, the central population's component) + disk with arms.
        bulge_share = uniform(rng, (0.1, 0.5), k)
        total = central["mag"][idx]
        central["mag"][idx] = total - 2.5 * np.log10(bulge_share)
        central["r_eff"][idx] *= uniform(rng, (0.2, 0.5), k)
        central["n"][idx] = uniform(rng, (1.5, 4.0), k)
        central["q"][idx] = uniform(rng, (0.8, 1.0), k)
        sub = subkind[idx]
        q_disk = np.where(
            sub == "face-on",
            uniform(rng, (0.7, 1.0), k),
            np.where(sub == "inclined", uniform(rng, (0.35, 0.7), k), uniform(rng, (0.1, 0.3), k)),
        )
        disk_mag = total - 2.5 * np.log10(1 - bulge_share)
        disk_r_eff = uniform(rng, c["r_eff_arcsec"], k) * uniform(rng, (0.8, 1.3), k)
        phi = rng.uniform(0, np.pi, k)
        knots = uniform(rng, (0.05, 0.2), k)
        scene["spirals"].add(
            idx,
            mag=disk_mag - 2.5 * np.log10(1 - knots),
            colour=colours(rng, c["disk_colour"], bands, k),
            r_eff=disk_r_eff,
            q=q_disk,
            phi=phi,
            x=central["x"][idx],
            y=central["y"][idx],
            arm_amp=uniform(rng, (0.3, 0.8), k) * (sub != "edge-on"),
            arm_m=rng.choice([2.0, 2.0, 3.0], k),
            pitch=np.deg2rad(uniform(rng, (10, 30), k)),
            arm_phase=rng.uniform(0, 2 * np.pi, k),
            dust=(sub == "edge-on") * uniform(rng, (0.3, 0.8), k),
        )
        # Blue star-forming knots along the disk: unresolved, in its plane.
        count = rng.integers(5, 21, k)
        rep = np.repeat(np.arange(k), count)
        r = disk_r_eff[rep] * uniform(rng, (0.4, 2.0), len(rep))
        a = rng.uniform(0, 2 * np.pi, len(rep))
        kx, ky = rotate(
            torch.as_tensor(r * np.cos(a)),
            torch.as_tensor(r * np.sin(a) * q_disk[rep]),
            -torch.as_tensor(phi[rep]),
        )
        weight = rng.uniform(0.2, 1.0, len(rep))
        weight /= np.bincount(rep, weight, minlength=k)[rep]
        scene["points"].add(
            idx[rep],
            mag=disk_mag[rep] - 2.5 * np.log10(knots[rep] * weight),
            colour=colours(rng, src["colour"], bands, len(rep)),
            x=central["x"][idx[rep]] + kx.numpy(),
            y=central["y"][idx[rep]] + ky.numpy(),
            role="knot",
        )

    idx = np.flatnonzero(kind == "ring")
    if len(idx):
        k = len(idx)
        sub = subkind[idx]
        tidal = sub == "tidal-arc"
        extent = np.where(
            sub == "ring",
            2 * np.pi,
            np.where(
                sub == "partial-ring",
                uniform(rng, (np.pi / 2, 1.5 * np.pi), k),
                uniform(rng, (np.pi / 6, 2 * np.pi / 3), k),
            ),
        )
        # Tidal arcs curve about a point off the galaxy: their centre of
        # curvature is not the lens light's centre, unlike an Einstein ring.
        ox, oy, _ = _polar(
            rng, np.where(tidal, uniform(rng, (0.5, 2.5), k), uniform(rng, (0.0, 0.3), k))
        )
        # Star-forming rings are beaded, from barely (a smooth ridge, as
        # knots blend under the seeing) to mostly knots: up to 90% of their
        # light in unresolved knots along the ridge (none for tidal arcs,
        # which are smooth streams). Smooth complete rings matter most: with
        # only beaded ones in training, a network learns "beads: not a lens"
        # and takes every smooth ring for an Einstein ring.
        knotted = np.where(tidal, 0.0, uniform(rng, config["lookalikes"]["ring_knotted"], k))
        radius = theta_E[idx] * uniform(rng, (0.7, 1.3), k)
        q, phi, theta0 = (
            uniform(rng, (0.6, 1.0), k),
            rng.uniform(0, np.pi, k),
            rng.uniform(-np.pi, np.pi, k),
        )
        scene["rings"].add(
            idx,
            weight=1.0 - knotted,
            radius=radius,
            width=uniform(rng, (0.08, 0.35), k) * np.where(tidal, 1.5, 1.0),
            q=q,
            phi=phi,
            x=central["x"][idx] + ox,
            y=central["y"][idx] + oy,
            theta0=theta0,
            extent=extent,
            gradient=uniform(rng, (0.0, 0.8), k),
            knots=(sub != "tidal-arc") * uniform(rng, (0.0, 0.4), k),
        )
        count = np.where(tidal, 0, rng.integers(6, 31, k))
        rep = np.repeat(np.arange(k), count)
        t = theta0[rep] + extent[rep] * rng.uniform(-0.5, 0.5, len(rep))
        kx = radius[rep] * np.cos(t) / np.sqrt(q[rep])
        ky = radius[rep] * np.sin(t) * np.sqrt(q[rep])
        kx, ky = rotate(torch.as_tensor(kx), torch.as_tensor(ky), -torch.as_tensor(phi[rep]))
        weight = rng.uniform(0.2, 1.0, len(rep))
        weight *= (knotted / np.maximum(np.bincount(rep, weight, minlength=k), 1e-12))[rep]
        scene["feature_points"].add(
            idx[rep],
            weight=weight,
            x=central["x"][idx[rep]] + ox[rep] + kx.numpy(),
            y=central["y"][idx[rep]] + oy[rep] + ky.numpy(),
        )
        feature["on"][idx] = True
        feature["mag"][idx] = _feature_mags(config, k, rng)

    idx = np.flatnonzero(kind == "group")
    if len(idx):
        sub = subkind[idx]
        count = np.where(sub == "group", rng.integers(2, 5, len(idx)), 1)
        far = sub != "merger"
        _companions(config, idx[far], count[far], (1.5, max(half - 1.0, 2.0)), central, scene, rng)
        merger = idx[~far]
        rep = _companions(config, merger, 1, (0.4, 1.5), central, scene, rng)
        if len(rep):
            # A tidal tail: a faint curved stream in the galaxies' own colour.
            k = len(rep)
            scene["rings"].add(
                rep,
                weight=1.0,
                radius=theta_E[rep] * uniform(rng, (0.8, 1.6), k),
                width=uniform(rng, (0.2, 0.6), k),
                q=uniform(rng, (0.3, 0.8), k),
                phi=rng.uniform(0, np.pi, k),
                x=central["x"][rep] + uniform(rng, (-1.5, 1.5), k),
                y=central["y"][rep] + uniform(rng, (-1.5, 1.5), k),
                theta0=rng.uniform(-np.pi, np.pi, k),
                extent=uniform(rng, (np.pi / 4, np.pi), k),
                gradient=uniform(rng, (0.3, 1.0), k),
                knots=0.0,
            )
            feature["on"][rep] = True
            feature["mag"][rep] = central["mag"][rep] + uniform(rng, (1.5, 3.5), k)
            feature["colour"][rep] = central["colour"][rep]

    idx = np.flatnonzero(kind == "alignment")
    if len(idx):
        sub = subkind[idx]
        two = sub == "two-sided"
        rep = np.concatenate([idx, idx[two]])
        side = np.concatenate([np.zeros(len(idx)), np.ones(two.sum())])
        m = len(rep)
        radius = theta_E[rep] * uniform(rng, (0.7, 1.3), m)
        angle = rng.uniform(0, 2 * np.pi, m)
        first = np.zeros(len(kind))
        first[idx] = angle[: len(idx)]
        angle = np.where(side == 1, first[rep] + np.pi + rng.normal(0, 0.4, m), angle)
        # Tangential: the major axis perpendicular to the radius vector, as an arc's.
        tangential = np.isin(subkind[rep], ("tangential", "two-sided"))
        phi = np.where(tangential, angle + np.pi / 2, rng.uniform(0, np.pi, m))
        scene["feature_sersic"].add(
            rep,
            weight=np.where(side == 1, uniform(rng, (0.2, 0.6), m), 1.0),
            r_eff=uniform(rng, src["r_eff_arcsec"], m),
            n=uniform(rng, src["n_sersic"], m),
            q=uniform(rng, (0.2, 0.7), m),
            phi=phi,
            x=central["x"][rep] + radius * np.cos(angle),
            y=central["y"][rep] + radius * np.sin(angle),
        )
        feature["on"][idx] = True
        feature["mag"][idx] = _feature_mags(config, len(idx), rng)

    idx = np.flatnonzero(kind == "compact")
    if len(idx):
        sub = subkind[idx]
        star = idx[sub == "bright-star"]
        sx, sy, _ = _polar(rng, uniform(rng, (0.5, min(4.0, half - 0.5)), len(star)))
        env = config["environment"]
        scene["points"].add(
            star,
            mag=uniform(rng, (env["star_mag"][0] - 1.0, 19.0), len(star)),
            colour=colours(rng, env["star_colour"], bands, len(star)),
            x=central["x"][star] + sx,
            y=central["y"][star] + sy,
            role="star",
        )
        sources = idx[sub == "compact-sources"]
        count = rng.integers(1, 5, len(sources))
        rep = np.repeat(sources, count)
        radius = theta_E[rep] * uniform(rng, (0.7, 1.3), len(rep))
        px, py, _ = _polar(rng, radius)
        scene["feature_points"].add(
            rep,
            weight=rng.uniform(0.3, 1.0, len(rep)),
            x=central["x"][rep] + px,
            y=central["y"][rep] + py,
        )
        feature["on"][sources] = True
        feature["mag"][sources] = _feature_mags(config, len(sources), rng)


def _environment(config, n, central, scene, rng):
    """Neighbours, stars and artefacts, the same for lenses and non-lenses."""
    env, bands = config["environment"], config["bands"]
    pix, size = config["pixscale_arcsec"], config["size_px"]
    half = size * pix / 2
    area_arcmin2 = (2 * half / 60) ** 2
    count = rng.poisson(env["neighbours_per_arcmin2"] * area_arcmin2, n)
    rep = np.repeat(np.arange(n), count)
    m = len(rep)
    x, y = uniform(rng, (-half, half), m), uniform(rng, (-half, half), m)
    # Not on top of the central galaxy's core: a catalogue would deblend it.
    near = np.hypot(x - central["x"][rep], y - central["y"][rep]) < 1.0
    x[near] += np.sign(x[near] + 1e-9) * 1.0
    red = rng.uniform(size=m) < env["neighbour_red_share"]
    colour = np.where(
        red[:, None],
        colours(rng, config["central"]["colour"], bands, m),
        colours(rng, config["source"]["colour"], bands, m),
    )
    scene["sersic"].add(
        rep,
        mag=source_magnitudes(env["neighbour_mag"], m, rng),
        colour=colour,
        r_eff=uniform(rng, env["neighbour_r_eff_arcsec"], m),
        n=np.where(red, uniform(rng, (2.0, 4.0), m), uniform(rng, (0.5, 1.5), m)),
        q=uniform(rng, (0.2, 1.0), m),
        phi=rng.uniform(0, np.pi, m),
        x=x,
        y=y,
        fine=False,
        role="neighbour",
    )
    scene["n_neighbours"] = count.astype(np.int16)
    count = rng.poisson(env["stars_per_arcmin2"] * area_arcmin2, n)
    rep = np.repeat(np.arange(n), count)
    m = len(rep)
    scene["points"].add(
        rep,
        mag=uniform(rng, env["star_mag"], m),
        colour=colours(rng, env["star_colour"], bands, m),
        x=uniform(rng, (-half, half), m),
        y=uniform(rng, (-half, half), m),
        role="star",
    )
    scene["n_stars"] = count.astype(np.int16)
    # Masked blocks (bright-star halos, satellite trails, bad columns) away
    # from the centre (the refined sample drops masked LRGs), and tile edges.
    masks = np.full((n, 4), -1, np.int64)
    has = np.flatnonzero(rng.uniform(size=n) < env["masked_block_share"])
    if len(has):
        hw = rng.integers(3, max(4, size // 4), (len(has), 2))
        centre = rng.integers(0, size, (len(has), 2))
        c = size // 2
        keep_out = int(np.ceil(1.5 / pix))
        d = centre - c
        too_close = np.all(np.abs(d) < hw // 2 + keep_out, axis=1)
        shift = np.where(d[too_close] >= 0, 1, -1) * (hw[too_close] // 2 + keep_out)
        centre[too_close] = c + shift
        lo = np.clip(centre - hw // 2, 0, size)
        hi = np.clip(centre + (hw + 1) // 2, 0, size)
        masks[has] = np.stack([lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1]], axis=1)
    scene["mask_block"] = masks
    edge = np.zeros((n, 2), np.int64)  # (side 1-4 or 0, depth in pixels)
    has = np.flatnonzero(rng.uniform(size=n) < env["tile_edge_share"])
    edge[has, 0] = rng.integers(1, 5, len(has))
    edge[has, 1] = rng.integers(1, max(2, size // 2 - int(np.ceil(2.0 / pix))), len(has))
    scene["tile_edge"] = edge


def _observing(config, n, rng):
    """PSF FWHM (arcsec) and Moffat beta per stamp and band, sky brightness,
    and the sub-pixel offsets of correlated noise."""
    bands = config["bands"]
    fwhm = np.zeros((n, len(bands)))
    for j, band in enumerate(bands):
        seeing = config["seeing"][band]
        low, high = seeing["range_arcsec"]
        if "median_arcsec" in seeing:
            fwhm[:, j] = truncated_lognormal(
                rng, seeing["median_arcsec"], seeing["scatter_ln"], low, high, n
            )
        else:
            fwhm[:, j] = rng.uniform(low, high, n)
    psf = config["psf"]
    beta = uniform(rng, psf["moffat_beta"], n)
    beta = np.where(rng.uniform(size=n) < psf["gaussian_share"], np.inf, beta)
    depth = config["depth"]
    sky = np.stack([uniform(rng, depth["sky_mag_arcsec2"][b], n) for b in bands], axis=1)
    correlated = rng.uniform(size=n) < depth["correlated_share"]
    shift = rng.uniform(0, 1, (n, 2)) * correlated[:, None]
    return fwhm, np.repeat(beta[:, None], len(bands), axis=1), sky, shift


def central_galaxies(
    config: dict, theta_E: np.ndarray, mag: ArrayLike, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The central galaxy of each stamp from the one population: r magnitude
    ``mag``, R_eff from (phantom) theta_E, Sersic n, q, position angle,
    centring offset and colours."""
    c, n = config["central"], len(theta_E)
    offset = c["offset_px"] * config["pixscale_arcsec"]
    return {
        "mag": np.asarray(mag, np.float64),
        "r_eff": np.clip(theta_E * uniform(rng, c["r_eff_per_theta_e"], n), *c["r_eff_arcsec"]),
        "n": uniform(rng, c["n_sersic"], n),
        "q": uniform(rng, c["q"], n),
        "phi": np.deg2rad(uniform(rng, c["phi_deg"], n)),
        "x": uniform(rng, (-offset, offset), n),
        "y": uniform(rng, (-offset, offset), n),
        "colour": colours(rng, c["colour"], config["bands"], n),
    }


def new_scene(
    config: dict, labels: np.ndarray, central: dict, theta_E: np.ndarray, rng: np.random.Generator
) -> dict:
    """A scene holding only its central galaxies (no component rows yet)."""
    labels = np.asarray(labels).astype(np.int16)
    n, bands = len(labels), config["bands"]
    scene = {
        "label": labels,
        "kind": np.where(labels == 1, "lens", "").astype("<U16"),
        "subkind": np.full(n, "", "<U16"),
        "environment": np.full(n, "", "<U16"),
        "central": central,
        # As drawn, before a spiral splits its light into bulge and disk: the
        # central galaxy's magnitude and size that META records for every stamp.
        "central_drawn": {k: v.copy() for k, v in central.items()},
        "theta_e_drawn": np.asarray(theta_E, np.float64),
        "lens": {
            k: np.zeros(n)
            for k in ("theta_e", "q", "phi", "gamma1", "gamma2", "z_l", "z_s", "sigma_v")
        },
        "subhaloes": {k: np.zeros((n, MAX_SUBHALOES)) for k in ("theta_e", "x", "y")},
        "n_clumps": np.zeros(n, np.int16),
        "n_neighbours": np.zeros(n, np.int16),
        "n_stars": np.zeros(n, np.int16),
        "mask_block": np.full((n, 4), -1, np.int64),
        "tile_edge": np.zeros((n, 2), np.int64),
        "feature": {
            "on": np.zeros(n, bool),
            "lensed": np.zeros(n, bool),
            "mag": np.zeros(n),
            "colour": colours(rng, config["source"]["colour"], bands, n),
            "snr_boost": uniform(rng, config["source"]["snr_boost_dex"], n),
        },
        "sersic": Table("mag colour r_eff n q phi x y", fine=True, role=""),
        "spirals": Table("mag colour r_eff q phi x y arm_amp arm_m pitch arm_phase dust"),
        "points": Table("mag colour x y", role=""),
        "clumps": Table("weight r_eff n q phi x y", main=False),
        "rings": Table("weight radius width q phi x y theta0 extent gradient knots"),
        "feature_sersic": Table("weight r_eff n q phi x y"),
        "feature_points": Table("weight x y"),
    }
    scene["lens"]["q"][:] = 1.0
    return scene


TABLES = ("sersic", "spirals", "points", "clumps", "rings", "feature_sersic", "feature_points")


def finish(scene: dict, config: dict) -> dict:
    """Turn the scene's tables into arrays (after every row is added)."""
    for key in TABLES:
        scene[key] = scene[key].done(len(config["bands"]))
    return scene


def add_lenses(
    config: dict,
    scene: dict,
    li: ArrayLike,
    masses: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> None:
    """Make the stamps ``li`` lenses: their mass (z_l, z_s, sigma, theta_E
    arrays over the whole scene), shear, subhaloes and lensed source."""
    z_l, z_s, sigma, theta_E = masses
    _lens_only(config, np.asarray(li), theta_E, z_l, z_s, sigma, scene["central"], scene, rng)


def sample(config: dict, labels: ArrayLike, rng: np.random.Generator) -> dict:
    """The scene of a batch: ``labels`` (1 lens, 0 non-lens) in order."""
    labels = np.asarray(labels).astype(np.int16)
    n = len(labels)
    pix = config["pixscale_arcsec"]
    li = np.flatnonzero(labels == 1)

    # Every stamp draws a lens mass: non-lenses keep it as a phantom.
    z_l, z_s, sigma, theta_E, mag = sample_masses_and_magnitudes(config, n, rng)
    central = central_galaxies(config, theta_E, mag, rng)
    scene = new_scene(config, labels, central, theta_E, rng)

    ni = np.flatnonzero(labels != 1)
    kinds = pick(rng, config["nonlens_kinds"], len(ni))
    scene["kind"][ni] = kinds
    for kind in np.unique(kinds):
        shares = config.get("subkinds", {}).get(kind)
        if shares:
            sel = ni[kinds == kind]
            scene["subkind"][sel] = pick(rng, shares, len(sel))
    scene["environment"][scene["kind"] == "group"] = scene["subkind"][scene["kind"] == "group"]

    add_lenses(config, scene, li, (z_l, z_s, sigma, theta_E), rng)
    _lookalikes(config, scene["kind"], scene["subkind"], theta_E, central, scene, rng)
    # Lenses get the group environment at the rate the group kind has it.
    group = config["nonlens_kinds"].get("group", 0.0)
    sub = config.get("subkinds", {}).get("group", {})
    env_shares = {
        "": 1.0 - group * (sub.get("pair", 0) + sub.get("group", 0)),
        "pair": group * sub.get("pair", 0),
        "group": group * sub.get("group", 0),
    }
    env = pick(rng, env_shares, len(li))
    scene["environment"][li] = env
    half = config["size_px"] * pix / 2
    count = np.where(env == "group", rng.integers(2, 5, len(li)), (env == "pair").astype(int))
    _companions(config, li, count, (1.5, max(half - 1.0, 2.0)), central, scene, rng)
    _environment(config, n, central, scene, rng)

    # The central galaxy (or a spiral's bulge) is the first Sersic row of its stamp.
    scene["sersic"].parts.insert(
        0,
        {
            "stamp": np.arange(n),
            "mag": central["mag"],
            "colour": central["colour"],
            "r_eff": central["r_eff"],
            "n": central["n"],
            "q": central["q"],
            "phi": central["phi"],
            "x": central["x"],
            "y": central["y"],
            "fine": np.ones(n, bool),
            "role": np.full(n, "central"),
        },
    )
    finish(scene, config)
    fwhm, beta, sky, shift = _observing(config, n, rng)
    scene.update(
        psf_fwhm=fwhm,
        psf_beta=beta,
        sky_mag=sky,
        noise_shift=shift,
        noise_seed=rng.integers(2**63 - 1),
    )
    return scene
