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

Luminous red galaxies get g-r ~ 1.4, r-i ~ 0.5 and r = 16.5-18.5, so that the
colour cuts of He et al. (DESIGN.md) select them; blue galaxies, stars and
faint red galaxies fail one cut or another. Some LRGs lie within a stamp's
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
SKY_SIGMA = {"g": 25.0, "r": 35.0, "i": 40.0}  # counts per pixel
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


def _object_params(kinds, x, y, n_lenses, config, rng):
    """Render parameters (as populations.sample) for every object, in stamps
    of STAMP_PX centred on each object's nearest pixel."""
    n = len(kinds)
    labels = np.zeros(n, np.int16)
    lrg = np.flatnonzero(kinds == "lrg")
    lenses = lrg[:n_lenses]
    labels[lenses] = 1
    params = populations.sample(config, labels, rng)
    comp = params["components"]
    pix = config["pixscale_arcsec"]
    # One component per object, offset by its sub-pixel position.
    comp["on"][:] = False
    comp["on"][:, 0] = True
    comp["colour"][:] = populations.RED
    comp["x"][:, 0] = (x - np.round(x)) * pix
    comp["y"][:, 0] = (y - np.round(y)) * pix
    for kind, mags, r_eff, n_sersic, q in [
        ("star", (16.0, 23.0), (0.005, 0.005), (1.0, 1.0), (1.0, 1.0)),
        ("galaxy", (19.0, 23.5), (0.3, 1.5), (0.8, 2.5), (0.3, 1.0)),
        ("faint-red", (20.3, 22.5), (0.3, 0.8), (2.0, 5.0), (0.6, 1.0)),
        # R_eff >= 1.2" keeps FLUX_RADIUS (~0.9 R_eff in quadrature with the
        # seeing) above the 5 px of He et al.'s size cut, as real KiDS LRGs are.
        ("lrg", (16.5, 18.5), (1.2, 3.0), (3.0, 5.0), (0.6, 1.0)),
    ]:
        idx = np.flatnonzero(kinds == kind)
        comp["mag"][idx, 0] = rng.uniform(*mags, len(idx))
        comp["r_eff"][idx, 0] = rng.uniform(*r_eff, len(idx))
        comp["n"][idx, 0] = rng.uniform(*n_sersic, len(idx))
        comp["q"][idx, 0] = rng.uniform(*q, len(idx))
        comp["phi"][idx, 0] = rng.uniform(0, np.pi, len(idx))
        if kind in ("galaxy", "star"):
            comp["colour"][idx, 0] = populations.BLUE
    comp["mag"][np.flatnonzero(kinds == "star")[:2], 0] = 14.0  # the two masked bright stars
    # Stars are points, drawn by _render_tiles, not Sersic profiles.
    comp["on"][kinds == "star", 0] = False
    # The lens's mass follows its light, as in the training sets.
    params["lens"]["q"][lenses] = comp["q"][lenses, 0]
    params["lens"]["phi"][lenses] = comp["phi"][lenses, 0]
    params["source"]["x"][lenses] += comp["x"][lenses, 0]
    params["source"]["y"][lenses] += comp["y"][lenses, 0]
    return params, lenses


def _band_config(config):
    """Colours per band for the renderer: red = LRG, blue = field galaxies."""
    lrg, gal = COLOURS["lrg"], COLOURS["galaxy"]
    config["lens"]["colour"] = {"g": lrg[1], "r": 0.0, "i": -lrg[2]}
    config["source"]["colour"] = {"g": gal[1], "r": 0.0, "i": -gal[2]}
    return config


def _add_points(image, params, is_star, config):
    """Stars: their flux split bilinearly over the 4 pixels around their
    sub-pixel position, before the PSF."""
    comp = params["components"]
    pix = config["pixscale_arcsec"]
    c = STAMP_PX // 2
    for k in np.flatnonzero(is_star):
        dx, dy = comp["x"][k, 0] / pix, comp["y"][k, 0] / pix
        x0, y0 = int(np.floor(dx)), int(np.floor(dy))
        fx, fy = dx - x0, dy - y0
        for j, band in enumerate(config["bands"]):
            mag = comp["mag"][k, 0] + render.colour_offsets(
                config, comp["colour"][k : k + 1, 0], band
            )
            flux = float(render.mag_to_counts(mag, config, band)[0])
            for ox, oy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                              (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):  # fmt: skip
                image[k, j, c + y0 + oy, c + x0 + ox] += flux * w


def _render_tiles(params, kinds, x, y, lenses, config, size_px):
    """Noiseless g, r, i tiles: each object drawn in its own stamp and pasted."""
    n = len(x)
    tiles = np.zeros((len(BANDS), size_px, size_px))
    half = STAMP_PX // 2
    psf = np.tile([SEEING_ARCSEC[b] for b in BANDS], (n, 1))
    for start in range(0, n, 128):
        idx = np.arange(start, min(start + 128, n))
        sub = _subset(params, idx)
        image = render.galaxy_images(sub, config)
        _add_points(image, sub, kinds[idx] == "star", config)
        li = np.flatnonzero(np.isin(idx, lenses))
        if len(li):
            sources, _ = render.lensed_source_images(sub, config, li)
            image[li] += sources
        image = observe.gaussian_psf_convolve(
            image, torch.as_tensor(psf[idx], dtype=render.DTYPE), config["pixscale_arcsec"]
        ).numpy()
        for k, i in enumerate(idx):
            cx, cy = int(np.round(x[i])), int(np.round(y[i]))
            x0, y0 = cx - half, cy - half
            tx0, ty0 = max(x0, 0), max(y0, 0)
            tx1, ty1 = min(x0 + STAMP_PX, size_px), min(y0 + STAMP_PX, size_px)
            if tx0 < tx1 and ty0 < ty1:
                tiles[:, ty0:ty1, tx0:tx1] += image[k, :, ty0 - y0 : ty1 - y0, tx0 - x0 : tx1 - x0]
    return tiles


def _subset(params, idx):
    out = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out[key] = {k: v[idx] for k, v in value.items()}
        elif isinstance(value, np.ndarray) and value.shape[:1] == params["label"].shape:
            out[key] = value[idx]
        else:
            out[key] = value
    return out


def kids_name(ra_deg, dec_deg):
    """``KIDS JHHMMSS.ss+DDMMSS.ss``, truncated, as the KiDS DR3 IDs that
    He et al. 2020 list (e.g. KIDS J085446.55-012137.14)."""
    return iau_name(ra_deg, dec_deg, prefix="KIDS")


def simulate_field(folder, seed=0, n_lenses=8, n_lrgs=40, n_galaxies=250, n_stars=60,
                   n_faint_red=30, size_px=1500, center_deg=(35.0, -33.0)):  # fmt: skip
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
    config["size_px"] = STAMP_PX
    pix = config["pixscale_arcsec"]
    kinds = _kinds(n_stars, n_galaxies, n_faint_red, n_lrgs)
    x, y = _positions(kinds, size_px, pix, rng)
    params, lenses = _object_params(kinds, x, y, n_lenses, config, rng)
    signal = _render_tiles(params, kinds, x, y, lenses, config, size_px)
    generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
    tiles = torch.poisson(torch.as_tensor(np.clip(signal, 0, None)), generator=generator).numpy()
    for j, band in enumerate(BANDS):
        tiles[j] += SKY_SIGMA[band] * rng.standard_normal((size_px, size_px))

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = list(center_deg)
    wcs.wcs.crpix = [(size_px + 1) / 2, (size_px + 1) / 2]
    wcs.wcs.cdelt = [-pix / 3600, pix / 3600]
    ra, dec = wcs.pixel_to_world_values(x, y)

    r_true = params["components"]["mag"][:, 0]
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
    r_eff_px = params["components"]["r_eff"][:, 0] / pix
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
    truth["theta_e"] = np.where(truth["is_lens"], params["lens"]["theta_e"], 0.0)
    truth["source_mag"] = np.where(truth["is_lens"], params["source"]["mag"], 0.0)
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
            header["MAGZERO"] = (config["zero_point"][band], "counts of a 0 mag source")
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
