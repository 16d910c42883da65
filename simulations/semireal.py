"""Semi-real training sets (He et al. 2020 Section 4.2): real LRG stamps as
lens images plus simulated lensed sources; real LRGs, alone or with an
unlensed look-alike feature, as non-lenses. Pure: numpy and torch, no Django.

Choices (also in docs/simulations.md):
- The lensed source of a positive is drawn from the survey's lens
  population (theta_E, SIE, subhaloes, a source near the caustic), rendered
  at the LRG stamp's pixel scale and size, convolved with the stamp's PSF
  (its ``psf_fwhm`` columns, or a range given by the caller), and scaled so
  that its total flux is 0.02-0.12 of the LRG's (flux within 3" of the
  centre above the stamp's median).
- The arc gets its own Poisson noise, counting ``value * gain`` photons
  (``gain`` from the header's GAIN, else 1: stamps in counts); the LRG stamp
  already carries the background noise, so none is added twice.
- **Both classes get the same transform of their LRG** before anything is
  added. He et al. rotated and cropped the negatives only: the resampling
  smooths their noise, a difference a network learns instead of arcs (the
  shortcut audit's noise sigma sees it). ``transform="dihedral"`` (the
  default) turns and mirrors by the 8 exact symmetries of the pixel grid,
  which keep the survey's own noise; ``"rotate-crop"`` is He et al.'s
  rotation by 0-360 deg and crop of 0-5 pixels at each edge, resampled back
  to the stamp size (corners exposed by the rotation get background noise at
  the stamp's level).
- **Look-alikes on real LRGs** (``lookalikes=True``): a non-lens draws a kind
  from the survey's non-lens shares; the kinds with a feature of their own
  (unlensed rings and partial rings, tidal arcs, chance alignments, compact
  sources) get it rendered, convolved with the stamp's PSF, scaled to the
  same 0.02-0.12 share of the LRG's flux as arcs and added with its Poisson
  noise, exactly as arcs are. Injected light then does not mean "lens":
  only its lensed shape does. Kinds that change the galaxy itself (plain
  ellipticals, spirals, pairs) leave the real LRG as it is. META ``subkind``
  names the feature (``plain`` where none).
- ``rows`` restricts the draws to some LRGs and ``bands`` picks bands of the
  LRG stamps (in the network's order), so that a survey's stamps can be split
  into training and test LRGs (no LRG in both) for a network of fewer bands.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from core.noise import noise_sigma
from simulations import observe, populations, render
from simulations.errors import SimulationError
from simulations.generate import check_counts, check_output, write_labelled_set
from simulations.stampset import StampSet, StampSetError, read_stampset
from simulations.surveys import get_survey, survey_for_bands

BRIGHTNESS_RATIO = (0.02, 0.12)
MAX_CROP_PX = 5
LRG_APERTURE_ARCSEC = 3.0
TRANSFORMS = ("dihedral", "rotate-crop")


def lrg_flux(stamps: np.ndarray, pixscale_arcsec: float, band: int) -> np.ndarray:
    """Flux within LRG_APERTURE_ARCSEC of the centre above the median, per stamp."""
    img = np.nan_to_num(stamps[:, band])
    h, w = img.shape[-2:]
    yy, xx = np.mgrid[:h, :w]
    inside = np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2) * pixscale_arcsec <= LRG_APERTURE_ARCSEC
    background = np.median(img.reshape(len(img), -1), axis=1)
    return ((img - background[:, None, None]) * inside).sum(axis=(1, 2))


def background_sigma(stamps: np.ndarray) -> np.ndarray:
    """Noise sigma of each stamp and band (the networks' estimate, ``core.noise``)."""
    return noise_sigma(stamps)


def rotate_and_crop(
    stamps: np.ndarray, angle_deg: np.ndarray, crop_px: int, rng: np.random.Generator
) -> np.ndarray:
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


def dihedral(stamps: np.ndarray, quarter_turns: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """Each stamp turned by ``quarter_turns`` x 90 deg counter-clockwise, then
    mirrored left-right where ``flip``: exact, pixels are only moved."""
    out = np.empty_like(stamps)
    for k in range(len(stamps)):
        turned = np.rot90(stamps[k], int(quarter_turns[k]), axes=(-2, -1))
        out[k] = turned[..., ::-1] if flip[k] else turned
    return out


def psf_columns(
    lrgs: StampSet,
    bands: list[str],
    psf_range: tuple[float, float],
    n: int,
    rng: np.random.Generator,
    pick: np.ndarray,
) -> np.ndarray:
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


def semireal_stampset(
    lrg_path: str | Path,
    n_lenses: int,
    n_nonlenses: int,
    seed: int,
    out: str | Path,
    psf_fwhm: tuple[float, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
    rows: np.ndarray | None = None,
    bands: list[str] | None = None,
    transform: str = "dihedral",
    lookalikes: bool = True,
) -> Path:
    """Write a semi-real set of ``n_lenses`` + ``n_nonlenses`` stamps made from
    ``lrg_path``: from its LRGs at ``rows`` only (default: all), in ``bands``
    (default: all of the file's, in its order). See the module docstring."""
    try:
        lrgs = read_stampset(lrg_path)
    except StampSetError as exc:
        raise SimulationError(f"--semi-real needs a stamp-set file of LRG stamps: {exc}") from exc
    if len(lrgs) == 0:
        raise SimulationError(f"{lrg_path} holds no stamps.")
    bands = list(lrgs.bands if bands is None else bands)
    missing = [b for b in bands if b not in lrgs.bands]
    if missing:
        raise SimulationError(
            f"{lrg_path} has bands {','.join(lrgs.bands)}, not {','.join(missing)}: "
            "make the semi-real set in bands the stamps have."
        )
    band_index = [lrgs.bands.index(b) for b in bands]
    rows = np.arange(len(lrgs)) if rows is None else np.asarray(rows, np.int64)
    if len(rows) == 0 or rows.min() < 0 or rows.max() >= len(lrgs):
        raise SimulationError(
            f"{lrg_path} has {len(lrgs)} stamps: the LRG rows to draw from must be a "
            "non-empty selection of them."
        )
    if transform not in TRANSFORMS:
        raise SimulationError(
            f"Unknown transform {transform!r}: use one of {', '.join(TRANSFORMS)}."
        )
    config = get_survey(survey_for_bands(bands))
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
        "bands": bands,
        "size": size,
        "pixscale_arcsec": lrgs.pixscale_arcsec,
        "survey": f"{lrgs.survey} semi-real".strip(),
        "units": lrgs.units,
        "header": {
            "SEED": seed,
            "GENERATR": "lensfinder-semireal-2",
            "LRGFILE": str(lrg_path)[-60:],
            "TRANSFRM": (transform, "the same for both classes"),
            "LOOKALIK": (bool(lookalikes), "look-alike features on non-lens LRGs"),
        },
    }
    draw = {"rows": rows, "bands": band_index, "transform": transform, "lookalikes": lookalikes}

    def make_chunk(labels, rng):
        return _chunk(lrgs, config, labels, rng, psf_fwhm, gain, ref, draw)

    return write_labelled_set(
        out, n_lenses, n_nonlenses, seed, layout, "semi", make_chunk, progress
    )


def _inject(stamps, units, rows, base, psf, config, ref, gain, rng):
    """Add the unit-flux images ``units`` (one per row of ``rows``), convolved
    with each stamp's PSF and scaled to a drawn share of its LRG's flux, with
    their own Poisson noise; returns the shares and the convolved images."""
    psf_t = torch.as_tensor(psf[rows], dtype=render.DTYPE)
    light = observe.gaussian_psf_convolve(units, psf_t, config["pixscale_arcsec"])
    # Scale each to its drawn share of the LRG's flux (reference band; the
    # other bands keep the feature's colours).
    ratio = rng.uniform(*BRIGHTNESS_RATIO, len(rows))
    target = ratio * np.maximum(lrg_flux(base[rows], config["pixscale_arcsec"], ref), 0)
    current = light[:, ref].sum(dim=(-2, -1)).double().numpy()
    scale = np.where(current > 0, target / np.maximum(current, 1e-30), 0.0)
    light = light * torch.as_tensor(scale, dtype=render.DTYPE)[:, None, None, None]
    generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
    photons = torch.poisson(torch.clamp(light * gain, min=0), generator=generator)
    stamps[rows] += (photons / gain).numpy()
    return ratio, light


def _chunk(lrgs, config, labels, rng, psf_range, gain, ref, draw):
    n = len(labels)
    rows = draw["rows"]
    pick = rows[rng.integers(len(rows), size=n)]
    order = np.argsort(pick, kind="stable")  # read the memory-mapped cube in file order
    base = np.empty((n, len(draw["bands"]), *lrgs.cube.shape[2:]), np.float32)
    base[order] = lrgs.stamps(pick[order])[:, draw["bands"]]
    psf = psf_columns(lrgs, config["bands"], psf_range, n, rng, pick)
    # The same transform of the LRG for both classes (module docstring).
    if draw["transform"] == "dihedral":
        quarter, flip = rng.integers(0, 4, n), rng.random(n) < 0.5
        base = dihedral(base, quarter, flip)
        angle, crop = 90.0 * quarter, np.zeros(n, np.int16)
    else:
        angle, crop = rng.uniform(0, 360, n), rng.integers(0, MAX_CROP_PX + 1, n)
        flip = np.zeros(n, bool)
        base = rotate_and_crop(base, angle, crop, rng)
    sigma = background_sigma(base)
    is_lens = labels == 1
    li = np.flatnonzero(is_lens)
    stamps = base.copy()
    theta_e, snr, ratio = np.zeros(n), np.zeros(n), np.zeros(n)
    subkind = np.full(n, "plain", dtype=object)
    subkind[li] = "lensed"
    if len(li):
        params = populations.sample(config, np.ones(len(li), np.int16), rng)
        sources, _ = render.lensed_sources(params, config)
        ratio[li], arcs = _inject(stamps, sources, li, base, psf, config, ref, gain, rng)
        theta_e[li] = params["lens"]["theta_e"]
        snr[li] = observe.arc_snr(arcs[:, ref], torch.as_tensor(sigma[li, ref])).numpy()
    ni = np.flatnonzero(~is_lens)
    if len(ni) and draw["lookalikes"]:
        scene = populations.sample(config, np.zeros(len(ni), np.int16), rng)
        on = np.flatnonzero(scene["feature"]["on"] & ~scene["feature"]["lensed"])
        if len(on):
            units, _ = render.feature_images(scene, config)
            rows_on = ni[on]
            ratio[rows_on], features = _inject(
                stamps, units[torch.as_tensor(on)], rows_on, base, psf, config, ref, gain, rng
            )
            snr[rows_on] = observe.arc_snr(
                features[:, ref], torch.as_tensor(sigma[rows_on, ref])
            ).numpy()
            subkind[rows_on] = [
                f"{k}/{sub}" if sub else str(k)
                for k, sub in zip(scene["kind"][on], scene["subkind"][on], strict=True)
            ]

    meta = {
        "label": labels,
        "kind": np.where(is_lens, "semi-real", "real"),
        "subkind": subkind.astype(str),
        "theta_e": theta_e,
        "snr": snr,
        "psf_fwhm": psf[:, ref],
        "lrg_id": lrgs.ids[pick],
        "brightness_ratio": ratio,
        "rotation_deg": angle,
        "flipped": flip,
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
