"""A small simulated survey field for demos and end-to-end tests (pure: no Django).

``simulate_field(folder, seed)`` writes, for a KiDS-like patch of sky:

- ``g.fits``, ``r.fits``, ``i.fits``: image tiles in counts with a celestial
  TAN WCS (header keys BAND, PIXSCALE, SEEING, MAGZERO, GAIN, BUNIT);
- ``catalogue.fits``: a source catalogue with KiDS-DR3-like columns
  (ID, RAJ2000, DECJ2000, MAG_GAAP_u/g/r/i, MAGERR_GAAP_*, MAG_AUTO,
  CLASS_STAR, FLUX_RADIUS in pixels, FLAG_R with masked regions);
- ``truth.fits``: what each catalogue entry really is (star, galaxy,
  faint red galaxy, LRG, lens), with its true magnitudes, Einstein radius
  and pixel position;
- ``field.json``: the manifest (seed, centre, counts, files).

Luminous red galaxies, lensed or not, come from the central-galaxy population
of the training sets (``simulations.populations``), kept to r = 16-18.4 and
R_eff >= 1.15" so that He et al.'s cuts select them, with g-r ~ 1.4, r-i ~ 0.5;
the lensed ones get their mass, shear and sources from the same recipe, their
arcs raised to S/N >= 25 so that a demo shows them. Blue galaxies, stars and
faint red galaxies fail one cut or another. PSFs are Moffat (beta 3.5) at the
seeing of each band; the sky noise follows the kids-gri depth model. Some LRGs lie within a stamp's
half-width of the tile edge. Two bright stars carry masks (FLAG_R = 4) that
cover the objects within 15" of them.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from core.sky import iau_name
from simulations import observe, populations, render
from simulations.errors import SimulationError
from simulations.surveys import get_survey

BANDS = ("g", "r", "i")
SEEING_ARCSEC = {"g": 0.85, "r": 0.65, "i": 0.8}
MOFFAT_BETA = 3.5
STAMP_PX = 161  # wide enough for the wings of bright LRGs
MASK_RADIUS_ARCSEC = 15.0
U_LIMIT = 24.5  # fainter in u: a non-detection, MAG_GAAP_u = 99
COLOURS = {  # (u-g, g-r, r-i)
    "lrg": (1.8, 1.4, 0.5),
    "faint-red": (1.8, 1.4, 0.5),
    "galaxy": (0.9, 0.5, 0.2),
    "star": (1.2, 0.6, 0.25),
}


def _kinds(n_stars, n_galaxies, n_faint_red, n_lrgs):
    return np.array(
        ["star"] * n_stars
        + ["galaxy"] * n_galaxies
        + ["faint-red"] * n_faint_red
        + ["lrg"] * n_lrgs
    )


def _positions(kinds, size_px, pix, rng):
    """Pixel positions (x, y). On purpose: a few LRGs near the left edge (their
    stamps need padding) and two next to the first two stars, which are
    bright and masked (FLAG_R)."""
    x = rng.uniform(5, size_px - 5, len(kinds))
    y = rng.uniform(5, size_px - 5, len(kinds))
    lrg = np.flatnonzero(kinds == "lrg")
    edge = lrg[-max(2, len(lrg) // 10) - 2 : -2]
    x[edge] = rng.uniform(3, 30, len(edge))
    stars = np.flatnonzero(kinds == "star")[:2]
    for star, near in zip(stars, lrg[-2:], strict=False):
        x[star] = np.clip(x[star], 200, size_px - 200)
        x[near], y[near] = x[star] + 8 / pix, y[star]
    return x, y


# Field LRGs come from the training sets' central population, kept to what
# the LRG selection passes: bright enough for the colour cut r < 14 + c_par/0.3
# at these colours, and large enough for FLUX_RADIUS >= 5 px.
LRG_MAG_R = (16.0, 18.4)
LRG_MIN_R_EFF_ARCSEC = 1.15
DEMO_SNR_MIN = 25.0  # demo arcs a person can see at a glance


def _lrg_population(config, n, rng):
    """Masses, magnitudes and central galaxies of ``n`` field LRGs, drawn
    from the population the training sets use until they pass the cuts."""
    parts = {k: [] for k in ("z_l", "z_s", "sigma", "theta_E", "mag")}
    drawn = 0
    while drawn < n:
        z_l, z_s, sigma, theta_E, mag = populations.sample_masses_and_magnitudes(config, 4 * n, rng)
        low = config["central"]["r_eff_per_theta_e"][1] * theta_E
        ok = (mag >= LRG_MAG_R[0]) & (mag <= LRG_MAG_R[1]) & (low >= LRG_MIN_R_EFF_ARCSEC)
        for key, value in zip(parts, (z_l, z_s, sigma, theta_E, mag), strict=True):
            parts[key].append(value[ok])
        drawn += int(ok.sum())
    z_l, z_s, sigma, theta_E, mag = (np.concatenate(parts[k])[:n] for k in parts)
    central = populations.central_galaxies(config, theta_E, mag, rng)
    central["r_eff"] = np.maximum(central["r_eff"], LRG_MIN_R_EFF_ARCSEC)
    return (z_l, z_s, sigma, theta_E), central


def _object_scene(kinds, x, y, n_lenses, config, rng):
    """The scene of every object, each in a stamp of STAMP_PX centred on its
    nearest pixel: LRGs (the first ``n_lenses`` lensed) from the training
    population, other galaxies and stars from simple recipes."""
    n = len(kinds)
    pix = config["pixscale_arcsec"]
    labels = np.zeros(n, np.int16)
    lrg = np.flatnonzero(kinds == "lrg")
    lenses = lrg[:n_lenses]
    labels[lenses] = 1
    masses = [np.zeros(n) for _ in range(4)]
    lrg_masses, lrg_central = _lrg_population(config, len(lrg), rng)
    for full, part in zip(masses, lrg_masses, strict=True):
        full[lrg] = part
    central = {k: np.zeros((n, len(BANDS)) if k == "colour" else n) for k in lrg_central}
    for key, value in lrg_central.items():
        central[key][lrg] = value
    for kind, mags, r_eff, n_sersic, q in [
        ("galaxy", (19.0, 23.5), (0.3, 1.5), (0.8, 2.5), (0.3, 1.0)),
        ("faint-red", (20.3, 22.5), (0.3, 0.8), (2.0, 5.0), (0.6, 1.0)),
        ("star", (16.0, 23.0), (0.1, 0.1), (1.0, 1.0), (1.0, 1.0)),
    ]:
        idx = np.flatnonzero(kinds == kind)
        central["mag"][idx] = rng.uniform(*mags, len(idx))
        central["r_eff"][idx] = rng.uniform(*r_eff, len(idx))
        central["n"][idx] = rng.uniform(*n_sersic, len(idx))
        central["q"][idx] = rng.uniform(*q, len(idx))
        central["phi"][idx] = rng.uniform(0, np.pi, len(idx))
    # Colours as the catalogue states them (offsets from r).
    central["colour"] = np.array([[COLOURS[k][1], 0.0, -COLOURS[k][2]] for k in kinds])
    central["mag"][np.flatnonzero(kinds == "star")[:2]] = 14.0  # the two masked bright stars
    # Each object sits at its sub-pixel offset from the centre of its stamp.
    central["x"], central["y"] = (x - np.round(x)) * pix, (y - np.round(y)) * pix
    scene = populations.new_scene(config, labels, central, masses[3], rng)
    populations.add_lenses(config, scene, lenses, masses, rng)
    galaxies = np.flatnonzero(kinds != "star")
    scene["sersic"].add(
        galaxies,
        **{k: central[k][galaxies] for k in ("mag", "colour", "r_eff", "n", "q", "phi", "x", "y")},
        role="central",
    )
    stars = np.flatnonzero(kinds == "star")
    scene["points"].add(
        stars, **{k: central[k][stars] for k in ("mag", "colour", "x", "y")}, role="star"
    )
    return populations.finish(scene, config), lenses


def _band_config(config):
    """The field's survey: KiDS-like g, r, i in stamps of STAMP_PX, arcs held
    to the demo's S/N floor."""
    config["size_px"] = STAMP_PX
    config["source"]["snr_min"] = DEMO_SNR_MIN
    return config


def sky_sigma(config: dict) -> dict[str, float]:
    """Background rms (counts) of the field's tiles per band: the depth model
    at the middle of the survey's sky-brightness range."""
    depth = config["depth"]
    return {
        band: float(
            observe.background_sigma(
                np.mean(depth["sky_mag_arcsec2"][band]),
                depth["zero_point"][band],
                depth["exposure_s"][band],
                depth["n_exposures"][band],
                depth["read_noise_e"][band],
                config["pixscale_arcsec"],
            )
        )
        for band in BANDS
    }


def _render_tiles(scene, x, y, config, size_px):
    """Noiseless g, r, i tiles: each object drawn in its own stamp and pasted;
    lensed arcs at their drawn brightness, raised to the demo's S/N floor."""
    n = len(x)
    tiles = np.zeros((len(BANDS), size_px, size_px))
    half = STAMP_PX // 2
    sigma = sky_sigma(config)
    ref = BANDS.index("r")
    fwhm = np.tile([SEEING_ARCSEC[b] for b in BANDS], (n, 1))
    snr = np.zeros(n)
    for start in range(0, n, 128):
        idx = np.arange(start, min(start + 128, n))
        sub = _subset(scene, idx)
        image = render.galaxy_images(sub, config)
        psf = observe.PSF(fwhm[idx], MOFFAT_BETA, config["pixscale_arcsec"], image.shape[-2:])
        lensed = np.flatnonzero(sub["feature"]["lensed"])
        if len(lensed):
            units, _ = render.feature_images(sub, config)
            li = torch.as_tensor(lensed)
            convolved = psf.convolve(units[li, ref : ref + 1], slice(ref, ref + 1), li)[:, 0]
            drawn = render.band_counts(
                sub["feature"]["mag"][lensed], sub["feature"]["colour"][lensed], config
            )[:, ref]
            flux, snr[idx[lensed]] = render.solve_feature_flux(
                convolved,
                np.full(len(lensed), sigma["r"]),
                drawn,
                config["source"]["snr_min"],
                sub["feature"]["snr_boost"][lensed],
            )
            image[li] += units[li] * torch.as_tensor(flux, dtype=render.DTYPE)[:, None, None, None]
        image = psf.convolve(image).numpy()
        for k, i in enumerate(idx):
            cx, cy = int(np.round(x[i])), int(np.round(y[i]))
            x0, y0 = cx - half, cy - half
            tx0, ty0 = max(x0, 0), max(y0, 0)
            tx1, ty1 = min(x0 + STAMP_PX, size_px), min(y0 + STAMP_PX, size_px)
            if tx0 < tx1 and ty0 < ty1:
                tiles[:, ty0:ty1, tx0:tx1] += image[k, :, ty0 - y0 : ty1 - y0, tx0 - x0 : tx1 - x0]
    return tiles, snr


def _subset(scene, idx):
    """The objects ``idx`` of a scene, their table rows renumbered."""
    n = len(scene["label"])
    new_index = np.full(n, -1)
    new_index[idx] = np.arange(len(idx))
    out = {}
    for key, value in scene.items():
        if key in populations.TABLES:
            keep = np.isin(value["stamp"], idx)
            out[key] = {k: v[keep] for k, v in value.items()}
            out[key]["stamp"] = new_index[value["stamp"][keep]]
        elif isinstance(value, dict):
            out[key] = {k: v[idx] for k, v in value.items()}
        elif isinstance(value, np.ndarray) and value.shape[:1] == (n,):
            out[key] = value[idx]
        else:
            out[key] = value
    return out


def kids_name(ra_deg: float, dec_deg: float) -> str:
    """``KIDS JHHMMSS.ss+DDMMSS.ss``, truncated, as the KiDS DR3 IDs that
    He et al. 2020 list (e.g. KIDS J085446.55-012137.14)."""
    return iau_name(ra_deg, dec_deg, prefix="KIDS")


def simulate_field(
    folder: str | Path,
    seed: int = 0,
    n_lenses: int = 8,
    n_lrgs: int = 40,
    n_galaxies: int = 250,
    n_stars: int = 60,
    n_faint_red: int = 30,
    size_px: int = 1500,
    center_deg: tuple[float, float] = (35.0, -33.0),
) -> tuple[Path, dict]:
    """Write a simulated field into ``folder`` (created; replaced if it holds a field)."""
    folder = Path(folder)
    if n_lenses > n_lrgs:
        raise SimulationError(f"Only LRGs are lensed: ask for at most {n_lrgs} lenses.")
    if min(n_lenses, n_lrgs, n_galaxies, n_stars, n_faint_red) < 0 or size_px < 2 * STAMP_PX:
        raise SimulationError(f"Counts must be >= 0 and the field at least {2 * STAMP_PX} px wide.")
    if folder.exists() and any(folder.iterdir()) and not (folder / "field.json").exists():
        raise SimulationError(f"{folder} exists and is not a simulated field: choose a new folder.")
    if not folder.parent.is_dir():
        raise SimulationError(f"Cannot write {folder}: the folder {folder.parent} does not exist.")

    rng = np.random.default_rng(np.random.SeedSequence([seed, 7777]))
    config = _band_config(get_survey("kids-gri"))
    pix = config["pixscale_arcsec"]
    kinds = _kinds(n_stars, n_galaxies, n_faint_red, n_lrgs)
    x, y = _positions(kinds, size_px, pix, rng)
    scene, lenses = _object_scene(kinds, x, y, n_lenses, config, rng)
    signal, arc_snr = _render_tiles(scene, x, y, config, size_px)
    generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
    tiles = torch.poisson(torch.as_tensor(np.clip(signal, 0, None)), generator=generator).numpy()
    sigma = sky_sigma(config)
    for j, band in enumerate(BANDS):
        tiles[j] += sigma[band] * rng.standard_normal((size_px, size_px))

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = list(center_deg)
    wcs.wcs.crpix = [(size_px + 1) / 2, (size_px + 1) / 2]
    wcs.wcs.cdelt = [-pix / 3600, pix / 3600]
    ra, dec = wcs.pixel_to_world_values(x, y)

    r_true = scene["central"]["mag"]
    colours = np.array([COLOURS[k] for k in kinds])
    mags = {"r": r_true, "g": r_true + colours[:, 1], "i": r_true - colours[:, 2]}
    mags["u"] = mags["g"] + colours[:, 0]
    bright = np.argsort(np.where(kinds == "star", r_true, np.inf))[:2]
    sep = np.hypot(x[:, None] - x[bright], y[:, None] - y[bright]).min(axis=1) * pix
    masked = sep <= MASK_RADIUS_ARCSEC

    catalogue = Table()
    names = list(kids_name(ra, dec))
    catalogue["ID"] = names
    catalogue["RAJ2000"] = ra
    catalogue["RAJ2000"].unit = "deg"
    catalogue["DECJ2000"] = dec
    catalogue["DECJ2000"].unit = "deg"
    for band in ("u", "g", "r", "i"):
        err = 0.01 + 0.05 * 10 ** (0.4 * (mags[band] - 23.0))
        observed = mags[band] + err * rng.standard_normal(len(kinds))
        if band == "u":
            observed = np.where(mags["u"] > U_LIMIT, 99.0, observed)
            err = np.where(mags["u"] > U_LIMIT, 99.0, err)
        catalogue[f"MAG_GAAP_{band}"] = observed.astype(np.float32)
        catalogue[f"MAG_GAAP_{band}"].unit = "mag"
        catalogue[f"MAGERR_GAAP_{band}"] = err.astype(np.float32)
        catalogue[f"MAGERR_GAAP_{band}"].unit = "mag"
    catalogue["MAG_AUTO"] = (mags["r"] - 0.05 + 0.02 * rng.standard_normal(len(kinds))).astype(
        np.float32
    )
    catalogue["MAG_AUTO"].unit = "mag"
    is_star = kinds == "star"
    class_star = np.where(
        is_star, rng.uniform(0.9, 1.0, len(kinds)), rng.uniform(0, 0.3, len(kinds))
    )
    catalogue["CLASS_STAR"] = class_star.astype(np.float32)
    seeing_px = SEEING_ARCSEC["r"] / pix / 2
    r_eff_px = np.where(kinds == "star", 0.0, scene["central"]["r_eff"]) / pix
    catalogue["FLUX_RADIUS"] = np.hypot(r_eff_px * 0.9, seeing_px).astype(np.float32)
    catalogue["FLUX_RADIUS"].unit = "pix"
    catalogue["FLAG_R"] = np.where(masked, 4, 0).astype(np.int16)

    truth = Table()
    truth["ID"] = names
    truth["kind"] = np.where(np.isin(np.arange(len(kinds)), lenses), "lens", kinds)
    truth["is_lrg"] = np.isin(kinds, ["lrg"])
    truth["is_lens"] = np.isin(np.arange(len(kinds)), lenses)
    truth["x_pix"], truth["y_pix"] = x, y
    truth["RAJ2000"], truth["DECJ2000"] = ra, dec
    for band in ("u", "g", "r", "i"):
        truth[f"mag_{band}"] = mags[band]
    truth["theta_e"] = np.where(truth["is_lens"], scene["lens"]["theta_e"], 0.0)
    truth["snr"] = np.where(truth["is_lens"], arc_snr, 0.0)
    truth["lens_configuration"] = np.where(truth["is_lens"], scene["subkind"], "")
    truth["masked"] = masked

    tmp = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for j, band in enumerate(BANDS):
            header = wcs.to_header()
            header["BAND"] = band
            header["FILTER"] = band
            header["PIXSCALE"] = (pix, "arcsec per pixel")
            header["SEEING"] = (SEEING_ARCSEC[band], "PSF FWHM, arcsec")
            header["MAGZERO"] = (
                float(2.5 * np.log10(render.counts_per_unit_flux(config, band))),
                "magnitude of a source of 1 count",
            )
            header["GAIN"] = (1.0, "photons per count")
            header["BUNIT"] = "counts"
            fits.PrimaryHDU(tiles[j].astype(np.float32), header=header).writeto(
                tmp / f"{band}.fits"
            )
        catalogue.write(tmp / "catalogue.fits")
        truth.write(tmp / "truth.fits")
        manifest = {
            "seed": seed,
            "center_deg": list(center_deg),
            "size_px": size_px,
            "pixscale_arcsec": pix,
            "bands": list(BANDS),
            "tiles": {b: f"{b}.fits" for b in BANDS},
            "catalogue": "catalogue.fits",
            "truth": "truth.fits",
            "counts": {
                k: int((truth["kind"] == k).sum())
                for k in ("star", "galaxy", "faint-red", "lrg", "lens")
            },
        }
        (tmp / "field.json").write_text(json.dumps(manifest, indent=2))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder, manifest
