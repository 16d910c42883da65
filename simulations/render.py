"""Turn drawn parameters into observed stamps, a batch at a time (pure: no Django).

Light is evaluated on a grid supersampled ``config["supersample"]`` times
per axis and averaged into pixels; lensed sources are ray traced through the
SIE and its subhaloes; then every band is convolved with its Gaussian PSF
and gets Poisson noise on the signal plus Gaussian background noise.
"""

import logging

import numpy as np
import torch

from simulations import observe, populations
from simulations.lensing import trace
from simulations.light import sersic, sersic_amplitude

DTYPE = torch.float32
logger = logging.getLogger(__name__)


def reference_band(config):
    return "r" if "r" in config["bands"] else config["bands"][0]


def counts_per_unit_flux(config, band):
    """Counts of a magnitude-0 source in ``band``: ``10^(0.4 ZP)`` (times the
    exposure for surveys whose zero point is per second)."""
    scale = 10 ** (0.4 * config["zero_point"][band])
    if config["noise"]["model"] == "sky":
        scale *= config["noise"]["exposure_s"]
    return scale


def mag_to_counts(mag, config, band):
    return counts_per_unit_flux(config, band) * 10 ** (-0.4 * np.asarray(mag, np.float64))


def fine_grid(config, device):
    """Sub-pixel centres (x, y), arcsec, shape (1, H*s, W*s); the stamp's
    centre is the centre of its middle pixel (odd sizes)."""
    n, s, pix = config["size_px"], config["supersample"], config["pixscale_arcsec"]
    c = ((torch.arange(n * s, dtype=torch.float64) + 0.5) / s - n / 2) * pix
    y, x = torch.meshgrid(c, c, indexing="ij")
    return x[None].to(device, DTYPE), y[None].to(device, DTYPE)


def bin_pixels(fine, s):
    """Average s x s sub-pixels: (B, H*s, W*s) -> (B, H, W)."""
    return torch.nn.functional.avg_pool2d(fine[:, None], s)[:, 0]


def component_profile(x, y, r_eff, n_sersic, q, phi, center_x, center_y):
    """Unit-amplitude Sersic profiles on the fine grid: (B, H*s, W*s)."""
    return sersic(x, y, 1.0, r_eff, n_sersic, q, phi, center_x, center_y)


def lensed_profile(x, y, theta_E, q_lens, phi_lens, sub_theta_E, sub_x, sub_y,
                   r_eff, n_sersic, q, phi, center_x, center_y):  # fmt: skip
    """Unit-amplitude Sersic sources seen through SIE + SIS subhaloes, fine grid."""
    lens = {"theta_E": theta_E, "q": q_lens, "phi": phi_lens, "center_x": 0.0, "center_y": 0.0}
    subhaloes = {"theta_E": sub_theta_E, "center_x": sub_x, "center_y": sub_y}
    bx, by = trace(x, y, lens, subhaloes)
    return sersic(bx, by, 1.0, r_eff, n_sersic, q, phi, center_x, center_y)


_COMPILED = {}


def kernels(compile):
    """The two profile functions, eager or fused by ``torch.compile``.

    Compiling fuses the long chains of element-wise operations (2-5x faster
    on CPU) at the price of a one-off compilation of ~30 s, so it pays for
    large sets only. Shapes are dynamic: batch and subhalo counts may vary.
    Binning stays outside: a fused reduction over sub-pixels was 6x slower
    than ``avg_pool2d`` here.
    """
    if not compile:
        return component_profile, lensed_profile
    if not _COMPILED:
        _COMPILED["c"] = _or_eager(
            torch.compile(component_profile, dynamic=True), component_profile
        )
        _COMPILED["l"] = _or_eager(torch.compile(lensed_profile, dynamic=True), lensed_profile)
    return _COMPILED["c"], _COMPILED["l"]


def _or_eager(compiled, eager):
    """``compiled``, falling back to ``eager`` for good if compilation fails
    (no C compiler, an unsupported platform): slower, never wrong."""
    current = [compiled]

    def call(*args):
        if current[0] is compiled:
            try:
                return compiled(*args)
            except Exception as exc:  # torch raises many kinds here
                logger.warning("torch.compile failed (%s); rendering without it.", exc)
                current[0] = eager
        return eager(*args)

    return call


def _t(values, device):
    return torch.as_tensor(np.asarray(values), dtype=DTYPE, device=device)[:, None, None]


def colour_offsets(config, colour_set, band):
    """Magnitude offset from r of each entry of ``colour_set`` (RED lens / BLUE source)."""
    red = config["lens"]["colour"].get(band, 0.0)
    blue = config["source"]["colour"].get(band, 0.0)
    return np.where(colour_set == populations.RED, red, blue)


def central_galaxy_counts(params, config, band):
    """Counts of each stamp's central galaxy in ``band``: component 0, plus
    component 1 when it is the disk of a bulge+disk galaxy (not a companion)."""
    comp = params["components"]
    counts = np.zeros(len(params["label"]))
    for c in range(populations.N_COMPONENTS):
        part_of_central = comp["on"][:, c] & ((c == 0) | (comp["colour"][:, c] == populations.BLUE))
        mag = comp["mag"][:, c] + colour_offsets(config, comp["colour"][:, c], band)
        counts += np.where(part_of_central, mag_to_counts(mag, config, band), 0.0)
    return counts


def noise_sigma(params, config):
    """Background rms (counts) of each stamp and band, shape (B, nb)."""
    noise = config["noise"]
    pix = config["pixscale_arcsec"]
    bands = config["bands"]
    out = np.zeros((len(params["label"]), len(bands)))
    for j, band in enumerate(bands):
        if noise["model"] == "kids-snr":
            # The central galaxy's S/N from He et al. eq. 17 (scattered by
            # 0.9-1.1) fixes the noise, within an aperture of 2 r_eff.
            flux = central_galaxy_counts(params, config, band)
            mag = -2.5 * np.log10(flux / counts_per_unit_flux(config, band))
            snr = params["snr_scatter"] * observe.kids_snr(
                mag, noise["snr_a"], noise["snr_b"], noise["snr_faint"], noise["snr_faint_mag"]
            )
            radius = np.maximum(
                noise["aperture_r_eff"] * params["components"]["r_eff"][:, 0],
                noise["min_aperture_arcsec"],
            )
            out[:, j] = observe.background_sigma_for_snr(flux, snr, np.pi * (radius / pix) ** 2)
        else:  # "sky": sky brightness, exposure and read noise (Lanusse et al. Table 1)
            sky = mag_to_counts(noise["sky_mag_arcsec2"][band], config, band) * pix**2
            out[:, j] = np.sqrt(sky + noise["n_exposures"] * noise["read_noise_e"] ** 2)
    return out


def galaxy_images(params, config, device="cpu", compile=False):
    """Noiseless image-plane galaxies (lens light, companions, disks): (B, nb, H, W)."""
    component, _ = kernels(compile)
    bands, size = config["bands"], config["size_px"]
    s, pix = config["supersample"], config["pixscale_arcsec"]
    x, y = fine_grid(config, device)
    comp = params["components"]
    image = torch.zeros((len(params["label"]), len(bands), size, size), dtype=DTYPE, device=device)
    # One unit-amplitude profile per component, scaled per band.
    for c in range(populations.N_COMPONENTS):
        on = np.flatnonzero(comp["on"][:, c])
        if len(on) == 0:
            continue
        fine = component(
            x, y, _t(comp["r_eff"][on, c], device), _t(comp["n"][on, c], device),
            _t(comp["q"][on, c], device), _t(comp["phi"][on, c], device),
            _t(comp["x"][on, c], device), _t(comp["y"][on, c], device),
        )  # fmt: skip
        profile = bin_pixels(fine, s) * pix**2
        for j, band in enumerate(bands):
            mag = comp["mag"][on, c] + colour_offsets(config, comp["colour"][on, c], band)
            counts = mag_to_counts(mag, config, band)
            amp = sersic_amplitude(counts, comp["r_eff"][on, c], comp["n"][on, c])
            image[on, j] += profile * _t(amp, device)
    return image


def lensed_source_images(params, config, li, device="cpu", compile=False):
    """Noiseless lensed sources of stamps ``li``: (len(li), nb, H, W), and
    their magnification in the reference band."""
    _, lensed = kernels(compile)
    bands, size = config["bands"], config["size_px"]
    s, pix = config["supersample"], config["pixscale_arcsec"]
    x, y = fine_grid(config, device)
    src, lens, subs = params["source"], params["lens"], params["subhaloes"]
    # Always at least one (possibly empty, theta_E = 0) subhalo slot: one graph.
    k = max(1, int((subs["theta_e"][li] > 0).sum(axis=1).max()))
    sub = [
        torch.as_tensor(subs[key][li, :k], dtype=DTYPE, device=device)[..., None, None]
        for key in ("theta_e", "x", "y")
    ]
    fine = lensed(
        x, y, _t(lens["theta_e"][li], device), _t(lens["q"][li], device),
        _t(lens["phi"][li], device), *sub,
        _t(src["r_eff"][li], device), _t(src["n"][li], device),
        _t(src["q"][li], device), _t(src["phi"][li], device),
        _t(src["x"][li], device), _t(src["y"][li], device),
    )  # fmt: skip
    profile = bin_pixels(fine, s) * pix**2
    images = torch.zeros((len(li), len(bands), size, size), dtype=DTYPE, device=device)
    magnification = np.zeros(len(li))
    for j, band in enumerate(bands):
        mag = src["mag"][li] + config["source"]["colour"].get(band, 0.0)
        total = mag_to_counts(mag, config, band)
        images[:, j] = profile * _t(sersic_amplitude(total, src["r_eff"][li], src["n"][li]), device)
        if band == reference_band(config):
            magnification = images[:, j].sum(dim=(-2, -1)).double().cpu().numpy() / total
    return images, magnification


def measure_arc_snr(source_images, psf_fwhm, sigma_bg, config):
    """Lanusse et al. eq. 10 in the reference band, after the PSF."""
    ref = config["bands"].index(reference_band(config))
    observed = observe.gaussian_psf_convolve(
        source_images[:, ref : ref + 1], psf_fwhm[:, ref : ref + 1], config["pixscale_arcsec"]
    )
    sigma = torch.as_tensor(sigma_bg[:, ref], dtype=DTYPE, device=observed.device)
    return observe.arc_snr(observed[:, 0], sigma).cpu().numpy()


def render(params, config, device="cpu", compile=False):
    """Observed stamps (B, nb, H, W) float32 and per-stamp measurements."""
    n = len(params["label"])
    image = galaxy_images(params, config, device, compile)
    psf = torch.as_tensor(params["psf_fwhm"], dtype=DTYPE, device=device)
    sigma = noise_sigma(params, config)
    snr, magnification = np.zeros(n), np.zeros(n)
    li = np.flatnonzero(params["source"]["on"])
    if len(li):
        sources, magnification[li] = lensed_source_images(params, config, li, device, compile)
        image[li] += sources
        snr[li] = measure_arc_snr(sources, psf[li], sigma[li], config)
    observed = observe.gaussian_psf_convolve(image, psf, config["pixscale_arcsec"])
    generator = torch.Generator(device="cpu").manual_seed(int(params["noise_seed"]))
    noisy = observe.add_noise(
        observed.cpu(), torch.as_tensor(sigma, dtype=DTYPE)[..., None, None], generator
    )
    return noisy.numpy(), {"noise_sigma": sigma, "snr": snr, "magnification": magnification}


def metadata(params, measured, config):
    """The META columns of a batch (STAMPSET.md plus the drawn parameters)."""
    bands = config["bands"]
    ref = bands.index(reference_band(config))
    lens, src, comp = params["lens"], params["source"], params["components"]
    is_lens = params["label"] == 1
    meta = {
        "label": params["label"],
        "kind": params["kind"],
        "theta_e": lens["theta_e"],
        "snr": measured["snr"],
        "psf_fwhm": params["psf_fwhm"][:, ref],
    }
    if len(bands) == 1:
        meta["noise_sigma"] = measured["noise_sigma"][:, 0]
    else:
        for j, band in enumerate(bands):
            meta[f"psf_fwhm_{band}"] = params["psf_fwhm"][:, j]
            meta[f"noise_sigma_{band}"] = measured["noise_sigma"][:, j]
    meta.update(
        z_lens=lens["z_l"],
        z_source=lens["z_s"],
        sigma_v=lens["sigma_v"],
        lens_q=np.where(is_lens, lens["q"], comp["q"][:, 0]),
        lens_phi_deg=np.rad2deg(np.where(is_lens, lens["phi"], comp["phi"][:, 0])),
        lens_mag=comp["mag"][:, 0],
        lens_r_eff=comp["r_eff"][:, 0],
        lens_n_sersic=comp["n"][:, 0],
        companion_mag=np.where(comp["on"][:, 1], comp["mag"][:, 1], 0.0),
        source_mag=src["mag"],
        source_r_eff=src["r_eff"],
        source_n_sersic=src["n"],
        source_q=src["q"],
        source_x=src["x"],
        source_y=src["y"],
        magnification=measured["magnification"],
        n_subhaloes=(params["subhaloes"]["theta_e"] > 0).sum(axis=1).astype(np.int16),
    )
    return {k: (v.astype(np.float32) if v.dtype == np.float64 else v) for k, v in meta.items()}


def simulate_batch(config, labels, rng, device="cpu", compile=False):
    """Stamps (B, nb, H, W) and META columns for ``labels``, drawn from ``rng``."""
    params = populations.sample(config, labels, rng)
    stamps, measured = render(params, config, device, compile)
    return stamps, metadata(params, measured, config)
