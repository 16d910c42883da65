"""Semi-real training sets (He et al. 2020 Section 4.2): real LRG stamps as
lens images plus simulated lensed sources; rotated and cropped real LRGs as
non-lenses. Pure: numpy and torch, no Django.

Choices (also in the README):
- The lensed source of a positive is drawn from the survey's lens
  population (theta_E, SIE, subhaloes, a source near the caustic), rendered
  at the LRG stamp's pixel scale and size, convolved with the stamp's PSF
  (its ``psf_fwhm`` columns, or a range given by the caller), and scaled so
  that its total flux is 0.02-0.12 of the LRG's (flux within 3" of the
  centre above the stamp's median).
- The arc gets its own Poisson noise, counting ``value * gain`` photons
  (``gain`` from the header's GAIN, else 1: stamps in counts); the LRG stamp
  already carries the background noise, so none is added twice.
- Non-lenses: an LRG rotated by 0-360 deg and cropped by 0-5 pixels at each
  edge, resampled back to the stamp size (one bilinear affine resampling;
  corners exposed by the rotation get background noise at the stamp's level).
"""

import numpy as np
import torch

from core.imaging import estimate_noise_sigma
from simulations import observe, populations, render
from simulations.errors import SimulationError
from simulations.generate import check_counts, check_output, write_labelled_set
from simulations.stampset import StampSetError, read_stampset
from simulations.surveys import SURVEYS, get_survey

BRIGHTNESS_RATIO = (0.02, 0.12)
MAX_CROP_PX = 5
LRG_APERTURE_ARCSEC = 3.0


def survey_for_bands(bands):
    for name, config in SURVEYS.items():
        if config["bands"] == list(bands) and config["label"] == "KiDS-like":
            return name
    raise SimulationError(
        f"No KiDS-like configuration has the bands {','.join(bands)}: semi-real sets "
        "need r or g,r,i stamps."
    )


def lrg_flux(stamps, pixscale_arcsec, band):
    """Flux within LRG_APERTURE_ARCSEC of the centre above the median, per stamp."""
    img = np.nan_to_num(stamps[:, band])
    h, w = img.shape[-2:]
    yy, xx = np.mgrid[:h, :w]
    inside = np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2) * pixscale_arcsec <= LRG_APERTURE_ARCSEC
    background = np.median(img.reshape(len(img), -1), axis=1)
    return ((img - background[:, None, None]) * inside).sum(axis=(1, 2))


def background_sigma(stamps):
    """Noise sigma of each stamp and band (the networks' estimate, ``core.imaging``)."""
    return estimate_noise_sigma(stamps).numpy()


def rotate_and_crop(stamps, angle_deg, crop_px, rng):
    """Rotate (deg, counter-clockwise) and crop ``crop_px`` from every edge,
    resampling back to the stamp size: one ``grid_sample`` for the batch.

    Corners that the rotation brings in from outside the stamp are filled with
    background noise of the stamp's own level (a reflection would mirror
    neighbours into the stamp, a pattern no real stamp has).
    """
    t = torch.as_tensor(np.nan_to_num(stamps), dtype=torch.float32)
    n, _, h, w = t.shape
    angle = torch.as_tensor(np.deg2rad(angle_deg), dtype=torch.float32)
    zoom = torch.as_tensor(1 - 2 * np.asarray(crop_px) / w, dtype=torch.float32)
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    zero = torch.zeros(n)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = torch.nn.functional.affine_grid(theta, (n, 1, h, w), align_corners=False)
    out = torch.nn.functional.grid_sample(t, grid, mode="bilinear", align_corners=False)
    covered = torch.nn.functional.grid_sample(
        torch.ones((n, 1, h, w)), grid, mode="bilinear", align_corners=False
    ).numpy()
    level = np.nanmedian(stamps.reshape(*stamps.shape[:2], -1), axis=-1)[..., None, None]
    fill = level + background_sigma(stamps)[..., None, None] * rng.standard_normal(stamps.shape)
    return (out.numpy() + (1 - covered) * fill).astype(np.float32)


def psf_columns(lrgs, bands, psf_range, n, rng, pick):
    """PSF FWHM (arcsec) per stamp and band: the LRG's own, else drawn from psf_range."""
    meta = lrgs.meta.colnames
    out = np.zeros((n, len(bands)))
    for j, band in enumerate(bands):
        column = f"psf_fwhm_{band}" if f"psf_fwhm_{band}" in meta else "psf_fwhm"
        if column in meta:
            out[:, j] = np.asarray(lrgs.meta[column], float)[pick]
        elif psf_range is not None:
            out[:, j] = rng.uniform(*psf_range, n)
        else:
            raise SimulationError(
                f"{lrgs.path} has no psf_fwhm column: give the PSF range with --psf-fwhm LOW,HIGH."
            )
    if np.any(~np.isfinite(out)) or np.any(out <= 0):
        raise SimulationError(f"{lrgs.path}: psf_fwhm must be positive (arcsec) for every stamp.")
    return out


def semireal_stampset(lrg_path, n_lenses, n_nonlenses, seed, out, psf_fwhm=None, progress=None):
    """Write a semi-real set of ``n_lenses`` + ``n_nonlenses`` stamps made from ``lrg_path``."""
    try:
        lrgs = read_stampset(lrg_path)
    except StampSetError as exc:
        raise SimulationError(f"--semi-real needs a stamp-set file of LRG stamps: {exc}") from exc
    if len(lrgs) == 0:
        raise SimulationError(f"{lrg_path} holds no stamps.")
    config = get_survey(survey_for_bands(lrgs.bands))
    size = lrgs.cube.shape[-1]
    if lrgs.cube.shape[-2] != size or size % 2 == 0:
        raise SimulationError(
            f"{lrg_path}: semi-real sets need square, odd-sized stamps, not {lrgs.cube.shape[-2:]}."
        )
    config.update(size_px=size, pixscale_arcsec=lrgs.pixscale_arcsec)
    check_counts(n_lenses, n_nonlenses)
    out = check_output(out)
    gain = float(lrgs.header.get("GAIN", 1.0))
    ref = config["bands"].index(render.reference_band(config))
    layout = {
        "bands": lrgs.bands,
        "size": size,
        "pixscale_arcsec": lrgs.pixscale_arcsec,
        "survey": f"{lrgs.survey} semi-real".strip(),
        "units": lrgs.units,
        "header": {
            "SEED": seed,
            "GENERATR": "lensfinder-semireal-1",
            "LRGFILE": str(lrg_path)[-60:],
        },
    }

    def make_chunk(labels, rng):
        return _chunk(lrgs, config, labels, rng, psf_fwhm, gain, ref)

    return write_labelled_set(
        out, n_lenses, n_nonlenses, seed, layout, "semi", make_chunk, progress
    )


def _chunk(lrgs, config, labels, rng, psf_range, gain, ref):
    n = len(labels)
    pick = rng.integers(len(lrgs), size=n)
    order = np.argsort(pick)  # read the memory-mapped cube in file order
    base = np.empty((n, *lrgs.cube.shape[1:]), np.float32)
    base[order] = lrgs.stamps(pick[order])
    sigma = background_sigma(base)
    psf = psf_columns(lrgs, config["bands"], psf_range, n, rng, pick)
    is_lens = labels == 1
    li = np.flatnonzero(is_lens)
    params = populations.sample(config, np.ones(len(li), np.int16), rng)
    stamps = base.copy()
    theta_e, snr, ratio = np.zeros(n), np.zeros(n), np.zeros(n)
    angle, crop = np.zeros(n), np.zeros(n, np.int16)
    if len(li):
        sources, _ = render.lensed_sources(params, config)
        psf_t = torch.as_tensor(psf[li], dtype=render.DTYPE)
        arcs = observe.gaussian_psf_convolve(sources, psf_t, config["pixscale_arcsec"])
        # Scale each arc to its drawn share of the LRG's flux (reference band;
        # the other bands keep the source's colours).
        ratio[li] = rng.uniform(*BRIGHTNESS_RATIO, len(li))
        target = ratio[li] * np.maximum(lrg_flux(base[li], config["pixscale_arcsec"], ref), 0)
        current = arcs[:, ref].sum(dim=(-2, -1)).double().numpy()
        scale = np.where(current > 0, target / np.maximum(current, 1e-30), 0.0)
        arcs = arcs * torch.as_tensor(scale, dtype=render.DTYPE)[:, None, None, None]
        generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
        photons = torch.poisson(torch.clamp(arcs * gain, min=0), generator=generator)
        stamps[li] += (photons / gain).numpy()
        theta_e[li] = params["lens"]["theta_e"]
        snr[li] = observe.arc_snr(arcs[:, ref], torch.as_tensor(sigma[li, ref])).numpy()
    ni = np.flatnonzero(~is_lens)
    if len(ni):
        angle[ni] = rng.uniform(0, 360, len(ni))
        crop[ni] = rng.integers(0, MAX_CROP_PX + 1, len(ni))
        stamps[ni] = rotate_and_crop(base[ni], angle[ni], crop[ni], rng)

    meta = {
        "label": labels,
        "kind": np.where(is_lens, "semi-real", "real"),
        "theta_e": theta_e,
        "snr": snr,
        "psf_fwhm": psf[:, ref],
        "lrg_id": lrgs.ids[pick],
        "brightness_ratio": ratio,
        "rotation_deg": angle,
        "crop_px": crop,
    }
    if len(config["bands"]) == 1:
        meta["noise_sigma"] = sigma[:, 0]
    else:
        for j, band in enumerate(config["bands"]):
            meta[f"noise_sigma_{band}"] = sigma[:, j]
    for column in ("ra", "dec"):
        if column in lrgs.meta.colnames:
            meta[column] = np.asarray(lrgs.meta[column], np.float64)[pick]
    keep_double = ("ra", "dec")
    for key, value in meta.items():
        if value.dtype == np.float64 and key not in keep_double:
            meta[key] = value.astype(np.float32)
    return stamps, meta
