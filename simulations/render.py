"""Turn a drawn scene into observed stamps, a batch at a time (pure: no Django).

1. Galaxy light: every Sersic row of the scene (central galaxies, bulges,
   companions; neighbours at the native pixel scale, the rest on a grid
   supersampled ``config["supersample"]`` times per axis and averaged into
   pixels), spiral disks with arms and dust lanes, and point sources
   (stars, knots) split bilinearly over the four nearest pixels.
2. The *feature* of each stamp, rendered for unit flux: a lensed source
   (ray traced through SIE + shear + subhaloes, one or two clumps) for a
   lens, or a look-alike's extra light (ring, partial ring, tidal arc,
   unlensed background galaxies, compact sources) for a non-lens. Its
   brightness is the one drawn; where that gives an arc S/N (Lanusse et al.
   eq. 10, measured after the PSF in the reference band) below the survey's
   floor, it is raised to a drawn S/N just above it.
3. The PSF of each stamp and band (Moffat or Gaussian, ``observe.PSF``),
   Poisson noise on the signal plus the background rms of the survey's
   depth model (correlated for a share of stamps), then masked blocks and
   tile edges as NaN.
"""

import logging
import math
from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import ArrayLike

from simulations import observe
from simulations.lensing import rotate, trace
from simulations.light import b_n, sersic, sersic_amplitude

DTYPE = torch.float32
COMPONENT_CHUNK = 192  # profiles evaluated at once: bounds the memory of a batch
# Galaxy light is supersampled within this radius of the stamp centre only.
SUPERSAMPLE_BOX_ARCSEC = 2.5
SNR_BISECTIONS = 40
MAX_CLUMPS = 2  # source clumps per lens (populations draws one or two)
logger = logging.getLogger(__name__)


def reference_band(config: dict) -> str:
    return "r" if "r" in config["bands"] else config["bands"][0]


def counts_per_unit_flux(config: dict, band: str) -> float:
    """Counts (e-) of a magnitude-0 source in ``band`` over the whole exposure."""
    depth = config["depth"]
    return 10 ** (0.4 * depth["zero_point"][band]) * depth["exposure_s"][band]


def mag_to_counts(mag: ArrayLike, config: dict, band: str) -> np.ndarray:
    return counts_per_unit_flux(config, band) * 10 ** (-0.4 * np.asarray(mag, np.float64))


def counts_to_mag(counts: ArrayLike, config: dict, band: str) -> np.ndarray:
    counts = np.maximum(np.asarray(counts, np.float64), 1e-30)
    return -2.5 * np.log10(counts / counts_per_unit_flux(config, band))


def noise_sigma(scene: dict, config: dict) -> np.ndarray:
    """Background rms (counts) of each stamp and band, shape (B, nb), from
    the depth model: sky drawn per stamp, exposure, read noise."""
    depth, pix = config["depth"], config["pixscale_arcsec"]
    return np.stack(
        [
            observe.background_sigma(
                scene["sky_mag"][:, j],
                depth["zero_point"][b],
                depth["exposure_s"][b],
                depth["n_exposures"][b],
                depth["read_noise_e"][b],
                pix,
            )
            for j, b in enumerate(config["bands"])
        ],
        axis=1,
    )


def grid(
    config: dict, device: str | torch.device, supersample: int, half_px: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel (or sub-pixel) centres (x, y), arcsec, shape (1, h*s, w*s), of
    the central box of ``2 half_px + 1`` pixels (the whole stamp by default);
    the stamp's centre is the centre of its middle pixel (odd sizes)."""
    n, pix = config["size_px"], config["pixscale_arcsec"]
    half = n // 2 if half_px is None else min(int(half_px), n // 2)
    side = (2 * half + 1) * supersample
    c = ((torch.arange(side, dtype=torch.float64) + 0.5) / supersample - (half + 0.5)) * pix
    y, x = torch.meshgrid(c, c, indexing="ij")
    return x[None].to(device, DTYPE), y[None].to(device, DTYPE)


def box(image: torch.Tensor, half_px: int) -> torch.Tensor:
    """The view of the central ``2 half_px + 1`` pixels of (..., H, W) images."""
    c = image.shape[-1] // 2
    h = min(int(half_px), c)
    return image[..., c - h : c + h + 1, c - h : c + h + 1]


def box_half_px(extent_arcsec: float, config: dict) -> int:
    """Half-size (pixels) of a central box holding light out to ``extent_arcsec``,
    rounded up to 8 pixels (fewer distinct shapes to compile), at most the stamp."""
    half = math.ceil(float(np.max(extent_arcsec, initial=0.0)) / config["pixscale_arcsec"])
    return min(config["size_px"] // 2, 8 * max(1, math.ceil(half / 8)))


def bin_pixels(fine: torch.Tensor, s: int) -> torch.Tensor:
    """Average s x s sub-pixels: (B, H*s, W*s) -> (B, H, W)."""
    if s == 1:
        return fine
    return torch.nn.functional.avg_pool2d(fine[:, None], s)[:, 0]


# --- profile kernels (compiled for large sets) ---------------------------------


def component_profile(
    x: torch.Tensor,
    y: torch.Tensor,
    r_eff: torch.Tensor,
    n_sersic: torch.Tensor,
    q: torch.Tensor,
    phi: torch.Tensor,
    center_x: torch.Tensor,
    center_y: torch.Tensor,
) -> torch.Tensor:
    """Unit-amplitude Sersic profiles on the grid: (B, H*s, W*s)."""
    return sersic(x, y, 1.0, r_eff, n_sersic, q, phi, center_x, center_y)


def spiral_profile(
    x: torch.Tensor,
    y: torch.Tensor,
    r_eff: torch.Tensor,
    q: torch.Tensor,
    phi: torch.Tensor,
    center_x: torch.Tensor,
    center_y: torch.Tensor,
    arm_amp: torch.Tensor,
    arm_m: torch.Tensor,
    pitch: torch.Tensor,
    arm_phase: torch.Tensor,
    dust: torch.Tensor,
) -> torch.Tensor:
    """Unit-amplitude exponential disks with logarithmic arms and a dust lane.

    The arms modulate the disk by ``1 + A cos(m (theta - ln(r) / tan(pitch)) + phase)``
    in the disk plane (deprojected by q), fading in towards the bulge; the
    modulation averages to 1 around any circle, so the disk's total flux is
    the plain exponential's. ``dust`` dims the mid-plane of edge-on disks.
    """
    x_, y_ = rotate(x - center_x, y - center_y, phi)
    R = torch.clamp(torch.sqrt(q * x_ * x_ + y_ * y_ / q), min=1e-4)
    disk = torch.exp(-b_n(1.0) * (R / r_eff - 1.0))
    yd = y_ / q
    rd = torch.clamp(torch.sqrt(x_ * x_ + yd * yd), min=1e-4)
    theta = torch.atan2(yd, x_)
    spiral = torch.cos(arm_m * (theta - torch.log(rd / r_eff) / torch.tan(pitch)) + arm_phase)
    fade = 1 - torch.exp(-((rd / (0.5 * r_eff)) ** 2))
    lane = 1 - dust * torch.exp(-0.5 * (y_ / (0.08 * r_eff + 0.05)) ** 2)
    return disk * (1 + arm_amp * fade * spiral) * lane


def lensed_profile(
    x: torch.Tensor,
    y: torch.Tensor,
    center_x: torch.Tensor,
    center_y: torch.Tensor,
    theta_E: torch.Tensor,
    q_lens: torch.Tensor,
    phi_lens: torch.Tensor,
    gamma1: torch.Tensor,
    gamma2: torch.Tensor,
    sub_theta_E: torch.Tensor,
    sub_x: torch.Tensor,
    sub_y: torch.Tensor,
    amp: torch.Tensor,
    r_eff: torch.Tensor,
    n_sersic: torch.Tensor,
    q: torch.Tensor,
    phi: torch.Tensor,
    src_x: torch.Tensor,
    src_y: torch.Tensor,
) -> torch.Tensor:
    """Sources of C clumps (parameters (B, C, 1, 1), amplitudes ``amp``) seen
    through SIE + external shear + SIS subhaloes centred on the lens light."""
    xs, ys = x - center_x, y - center_y
    lens = {"theta_E": theta_E, "q": q_lens, "phi": phi_lens, "center_x": 0.0, "center_y": 0.0}
    subhaloes = {"theta_E": sub_theta_E, "center_x": sub_x, "center_y": sub_y}
    bx, by = trace(xs, ys, lens, subhaloes, {"gamma1": gamma1, "gamma2": gamma2})
    clumps = sersic(bx[:, None], by[:, None], amp, r_eff, n_sersic, q, phi, src_x, src_y)
    return clumps.sum(dim=1)


def ring_profile(
    x: torch.Tensor,
    y: torch.Tensor,
    radius: torch.Tensor,
    width: torch.Tensor,
    q: torch.Tensor,
    phi: torch.Tensor,
    center_x: torch.Tensor,
    center_y: torch.Tensor,
    theta0: torch.Tensor,
    extent: torch.Tensor,
    gradient: torch.Tensor,
    knots: torch.Tensor,
) -> torch.Tensor:
    """Rings and arcs that are not lensed: a Gaussian ridge of ``width`` at the
    elliptical radius ``radius`` (arcsec), kept over ``extent`` (rad) of
    azimuth about ``theta0``, brighter towards one end (``gradient``) and
    knotty (``knots``); unnormalised (the caller scales it to its flux)."""
    x_, y_ = rotate(x - center_x, y - center_y, phi)
    R = torch.sqrt(q * x_ * x_ + y_ * y_ / q)
    theta = torch.atan2(y_, x_)
    delta = torch.remainder(theta - theta0 + math.pi, 2 * math.pi) - math.pi
    window = torch.where(
        extent >= 2 * math.pi - 1e-6,
        torch.ones_like(delta),
        torch.sigmoid((extent / 2 - delta.abs()) / 0.15),
    )
    along = (1 + gradient * torch.cos(delta)) * (1 + knots * torch.sin(6 * theta + theta0))
    return torch.exp(-0.5 * ((R - radius) / width) ** 2) * window * along


_COMPILED = {}
_KERNELS = {
    "sersic": component_profile,
    "spiral": spiral_profile,
    "lensed": lensed_profile,
    "ring": ring_profile,
}


def kernel(name: str, compile: bool) -> Callable[..., torch.Tensor]:
    """A profile function, eager or fused by ``torch.compile``.

    Compiling fuses the long chains of element-wise operations (2-5x faster
    on CPU) at the price of a one-off compilation of ~30 s, so it pays for
    large sets only. Shapes are dynamic: batch and subhalo counts may vary.
    Binning stays outside: a fused reduction over sub-pixels was 6x slower
    than ``avg_pool2d`` here.
    """
    eager = _KERNELS[name]
    if not compile:
        return eager
    if name not in _COMPILED:
        _COMPILED[name] = _or_eager(torch.compile(eager, dynamic=True), eager)
    return _COMPILED[name]


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


def _t(values, device, dims=2):
    t = torch.as_tensor(np.asarray(values, np.float64), dtype=DTYPE, device=device)
    return t.reshape(t.shape + (1,) * dims)


def band_counts(mag_r: np.ndarray, colour: np.ndarray, config: dict) -> np.ndarray:
    """Counts (k, nb) in every band of sources of r magnitude ``mag_r`` (k,)
    with the magnitude offsets ``colour`` (k, nb): ``mag_band = mag_r + offset``."""
    mag_r = np.asarray(mag_r, np.float64)
    colour = np.asarray(colour, np.float64).reshape(len(mag_r), len(config["bands"]))
    return np.stack(
        [
            mag_to_counts(mag_r + colour[:, j], config, band)
            for j, band in enumerate(config["bands"])
        ],
        axis=1,
    )


def _ref_index(config):
    return config["bands"].index(reference_band(config))


# --- light ---------------------------------------------------------------------


def _render_rows(profile_fn, rows, columns, config, device, supersample, half_px=None):
    """Profiles of table ``rows`` in chunks: yields (rows, (k, h, w) images:
    the profile times the pixel area, i.e. counts per unit amplitude), over
    the central box of ``half_px`` pixels (the whole stamp when None),
    averaged over ``supersample``^2 sub-pixels per pixel."""
    x, y = grid(config, device, supersample, half_px)
    pix2 = config["pixscale_arcsec"] ** 2
    total = len(next(iter(rows.values())))
    for start in range(0, total, COMPONENT_CHUNK):
        sl = slice(start, start + COMPONENT_CHUNK)
        k = len(range(*sl.indices(total)))
        # A lone row is evaluated twice: sizes of 1 are special to torch.compile.
        args = [_t(np.resize(rows[c][sl], max(2, k)), device) for c in columns]
        yield sl, bin_pixels(profile_fn(x, y, *args), supersample)[:k] * pix2


def _core_supersampled(profile_fn, rows, columns, config, device):
    """Galaxy profiles at pixel centres over the whole stamp, and averaged
    over sub-pixels within ``SUPERSAMPLE_BOX_ARCSEC`` of the centre, where
    cuspy cores need it (beyond, a profile varies little across a pixel):
    ~3x fewer evaluations than supersampling the whole stamp."""
    s = config["supersample"]
    half = box_half_px(SUPERSAMPLE_BOX_ARCSEC, config)
    whole = _render_rows(profile_fn, rows, columns, config, device, 1)
    core = _render_rows(profile_fn, rows, columns, config, device, s, half)
    for (sl, image), (_, centre) in zip(whole, core, strict=True):
        if s > 1:
            box(image, half).copy_(centre)
        yield sl, image


def _deposit(image, stamp, x_arcsec, y_arcsec, flux, config):
    """Add point sources of ``flux`` (k, nb) counts at (x, y) arcsec to
    ``image`` (B, nb, H, W), split bilinearly over the four nearest pixels."""
    if not len(stamp):
        return
    size, pix = config["size_px"], config["pixscale_arcsec"]
    px = np.asarray(x_arcsec) / pix + (size - 1) / 2
    py = np.asarray(y_arcsec) / pix + (size - 1) / 2
    x0, y0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    fx, fy = px - x0, py - y0
    nb = image.shape[1]
    flat = image.view(-1)
    for ox, oy, w in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xi, yi = x0 + ox, y0 + oy
        inside = (xi >= 0) & (xi < size) & (yi >= 0) & (yi < size)
        if not inside.any():
            continue
        s, xi, yi = stamp[inside], xi[inside], yi[inside]
        for j in range(nb):
            index = ((s * nb + j) * size + yi) * size + xi
            values = torch.as_tensor(flux[inside, j] * w[inside], dtype=DTYPE, device=image.device)
            flat.index_add_(0, torch.as_tensor(index, device=image.device), values)


def galaxy_images(
    scene: dict, config: dict, device: str | torch.device = "cpu", compile: bool = False
) -> torch.Tensor:
    """Noiseless galaxy light before the PSF (B, nb, H, W), counts: Sersic
    rows, spiral disks and point sources."""
    bands, size = config["bands"], config["size_px"]
    image = torch.zeros((len(scene["label"]), len(bands), size, size), dtype=DTYPE, device=device)
    rows = scene["sersic"]
    columns = ("r_eff", "n", "q", "phi", "x", "y")
    for fine in (True, False):
        sel = np.flatnonzero(rows["fine"] == fine)
        if not len(sel):
            continue
        part = {k: rows[k][sel] for k in (*columns, "mag", "colour", "stamp")}
        fn = kernel("sersic", compile)
        profiles = (
            _core_supersampled(fn, part, columns, config, device)
            if fine
            else _render_rows(fn, part, columns, config, device, 1)
        )
        for sl, profile in profiles:
            counts = band_counts(part["mag"][sl], part["colour"][sl], config)
            amp = sersic_amplitude(counts, part["r_eff"][sl, None], part["n"][sl, None])
            _add_rows(image, part["stamp"][sl], profile, amp, device)
    disks = scene["spirals"]
    if len(disks["stamp"]):
        columns = ("r_eff", "q", "phi", "x", "y", "arm_amp", "arm_m", "pitch", "arm_phase", "dust")
        fn = kernel("spiral", compile)
        for sl, profile in _core_supersampled(fn, disks, columns, config, device):
            counts = band_counts(disks["mag"][sl], disks["colour"][sl], config)
            amp = sersic_amplitude(counts, disks["r_eff"][sl, None], 1.0)
            _add_rows(image, disks["stamp"][sl], profile, amp, device)
    points = scene["points"]
    flux = band_counts(points["mag"], points["colour"], config)
    _deposit(image, points["stamp"], points["x"], points["y"], flux, config)
    return image


def _add_rows(image, stamp, profile, scale, device):
    """image[stamp[k], j] += profile[k] * scale[k, j]."""
    index = torch.as_tensor(stamp, device=device)
    for j in range(image.shape[1]):
        image[:, j].index_add_(0, index, profile * _t(scale[:, j], device))


def feature_images(
    scene: dict, config: dict, device: str | torch.device = "cpu", compile: bool = False
) -> tuple[torch.Tensor, np.ndarray]:
    """Each stamp's feature for unit flux in the reference band before the
    PSF (B, nb, H, W), and the lensed sources' magnification.

    A lens's feature is its source traced through the lens, normalised to a
    unit *intrinsic* flux, so that its image sums to the magnification; a
    look-alike's (ring, unlensed galaxies, compact sources) to a unit
    observed flux within the stamp.
    """
    n, size = len(scene["label"]), config["size_px"]
    s = config["supersample"]
    unit = torch.zeros((n, size, size), dtype=DTYPE, device=device)
    clumps = scene["clumps"]
    if len(clumps["stamp"]):
        _lensed(unit, scene, config, device, compile)
    rings = scene["rings"]
    # Each look-alike is rendered over the central box that holds its light.
    extent = (
        np.hypot(rings["x"], rings["y"])
        + rings["radius"] / np.sqrt(rings["q"])
        + 3 * rings["width"]
    )
    columns = ("radius", "width", "q", "phi", "x", "y", "theta0", "extent", "gradient", "knots")
    for half, part in _by_box(rings, extent + 0.5, config):
        for sl, profile in _render_rows(
            kernel("ring", compile), part, columns, config, device, s, half
        ):
            weight = _t(part["weight"][sl], device, 0) / profile.sum(dim=(-2, -1)).clamp(min=1e-30)
            box(unit, half).index_add_(
                0,
                torch.as_tensor(part["stamp"][sl], device=device),
                profile * weight[:, None, None],
            )
    galaxies = scene["feature_sersic"]
    extent = np.hypot(galaxies["x"], galaxies["y"]) + 4 * galaxies["r_eff"]
    columns = ("r_eff", "n", "q", "phi", "x", "y")
    for half, part in _by_box(galaxies, extent + 0.5, config):
        for sl, profile in _render_rows(
            kernel("sersic", compile), part, columns, config, device, s, half
        ):
            amp = sersic_amplitude(part["weight"][sl], part["r_eff"][sl], part["n"][sl])
            box(unit, half).index_add_(
                0, torch.as_tensor(part["stamp"][sl], device=device), profile * _t(amp, device)
            )
    points = scene["feature_points"]
    if len(points["stamp"]):
        _deposit(
            unit[:, None],
            points["stamp"],
            points["x"],
            points["y"],
            points["weight"][:, None],
            config,
        )
    # Look-alikes: unit flux as seen (what lies in the stamp).
    feature = scene["feature"]
    plain = torch.as_tensor(feature["on"] & ~feature["lensed"], device=device)
    total = unit.sum(dim=(-2, -1), keepdim=True).clamp(min=1e-30)
    unit = torch.where(plain[:, None, None], unit / total, unit)
    magnification = np.where(feature["lensed"], unit.sum(dim=(-2, -1)).double().cpu().numpy(), 0.0)
    # Unit flux in the reference band; the other bands follow the colours.
    counts = band_counts(np.zeros(n), feature["colour"], config)
    scale = counts / counts[:, _ref_index(config), None]
    images = unit[:, None] * torch.as_tensor(scale, dtype=DTYPE, device=device)[..., None, None]
    return images, magnification


def _by_box(rows, extent_arcsec, config):
    """The rows of a table grouped by the central box that holds their light:
    yields (half size in pixels, sub-table)."""
    halves = np.array([box_half_px(e, config) for e in extent_arcsec], np.int64)
    for half in np.unique(halves):
        sel = np.flatnonzero(halves == half)
        yield int(half), {k: v[sel] for k, v in rows.items()}


def _lensed(unit, scene, config, device, compile):
    """Add every lens's traced source (unit intrinsic flux) to ``unit``.

    Rays are shot only within a central box holding the images: the outer
    image of a source at beta lies at theta_E + |beta| < 1.9 theta_E, plus
    the source's own extent (4 R_eff of its largest clump)."""
    pix2 = config["pixscale_arcsec"] ** 2
    s = config["supersample"]
    clumps, lens, subs, central = (
        scene["clumps"],
        scene["lens"],
        scene["subhaloes"],
        scene["central"],
    )
    fn = kernel("lensed", compile)
    lenses = np.unique(clumps["stamp"])
    n_subs = (subs["theta_e"] > 0).sum(axis=1)
    largest = np.zeros(len(scene["label"]))
    np.maximum.at(largest, clumps["stamp"], clumps["r_eff"])
    halves = np.zeros(len(scene["label"]), np.int64)
    halves[lenses] = [
        box_half_px(1.9 * lens["theta_e"][i] + 4 * largest[i] + 0.5, config) for i in lenses
    ]
    # Every lens gets MAX_CLUMPS clump slots (zero flux pads) and the
    # subhalo slots of the most-subhaloed lens of its call, with or without
    # subhaloes apart: few distinct shapes, so few compiled graphs (sizes
    # of 1 are special to the compiler, hence at least 2 of everything).
    slots = {k: np.zeros((len(scene["label"]), MAX_CLUMPS)) for k in clumps if k != "stamp"}
    slots["r_eff"][:] = 1.0
    slots["n"][:] = 1.0
    slots["q"][:] = 1.0
    rank = np.where(clumps["main"], 0, 1)  # a source's main clump, then its second
    for k in slots:
        slots[k][clumps["stamp"], rank] = clumps[k]
    step = max(2, COMPONENT_CHUNK // 2)
    keys = zip((n_subs[lenses] > 0).tolist(), halves[lenses].tolist(), strict=True)
    for has_subs, half in sorted(set(keys)):
        group = lenses[((n_subs[lenses] > 0) == has_subs) & (halves[lenses] == half)]
        x, y = grid(config, device, s, half)
        for start in range(0, len(group), step):
            li = group[start : start + step]
            padded = np.resize(li, max(2, len(li)))  # a lone lens is repeated, then dropped
            amp = sersic_amplitude(
                slots["weight"][padded], slots["r_eff"][padded], slots["n"][padded]
            )
            k_sub = max(2, int(n_subs[padded].max())) if has_subs else 0
            sub = [
                torch.as_tensor(subs[key][padded, :k_sub], dtype=DTYPE, device=device)[
                    ..., None, None
                ]
                for key in ("theta_e", "x", "y")
            ]
            per_lens = [
                _t(v[padded], device)
                for v in (
                    central["x"],
                    central["y"],
                    lens["theta_e"],
                    lens["q"],
                    lens["phi"],
                    lens["gamma1"],
                    lens["gamma2"],
                )
            ]
            per_clump = [
                _t(v, device)
                for v in (amp, *(slots[k][padded] for k in ("r_eff", "n", "q", "phi", "x", "y")))
            ]
            binned = bin_pixels(fn(x, y, *per_lens, *sub, *per_clump), s)[: len(li)] * pix2
            box(unit, half).index_add_(0, torch.as_tensor(li, device=device), binned)


def lensed_sources(
    scene: dict, config: dict, device: str | torch.device = "cpu", compile: bool = False
) -> tuple[torch.Tensor, np.ndarray]:
    """The lensed sources alone for unit intrinsic flux in the reference band,
    (B, nb, H, W) before the PSF, and their magnification (semi-real sets)."""
    return feature_images(scene, config, device, compile)


# --- observing -----------------------------------------------------------------


def solve_feature_flux(
    convolved_ref: torch.Tensor,
    sigma_ref: ArrayLike,
    flux: np.ndarray,
    snr_min: float,
    boost_dex: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature fluxes (counts) raised where their S/N is below ``snr_min``.

    ``convolved_ref`` (k, H, W): the feature for unit flux after the PSF, in
    the reference band; ``flux`` (k,) its drawn flux. A feature whose S/N
    at that flux falls short is brightened to S/N = ``snr_min`` x
    10^``boost_dex`` (bisection: S/N grows with flux). Returns (flux, S/N).
    """
    sigma = torch.as_tensor(sigma_ref, dtype=DTYPE, device=convolved_ref.device)

    def snr_at(f):
        scale = torch.as_tensor(f, dtype=DTYPE, device=convolved_ref.device)[:, None, None]
        return observe.arc_snr(convolved_ref * scale, sigma).double().cpu().numpy()

    flux = np.asarray(flux, np.float64).copy()
    snr = snr_at(flux)
    faint = np.flatnonzero((snr < snr_min) & (convolved_ref.sum(dim=(-2, -1)).cpu().numpy() > 0))
    if len(faint) and snr_min > 0:
        target = snr_min * 10 ** np.asarray(boost_dex)[faint]
        lo = np.log(np.maximum(flux[faint], 1e-3))
        hi = lo + np.log(1e7)
        sub = convolved_ref[torch.as_tensor(faint, device=convolved_ref.device)]
        sub_sigma = sigma[torch.as_tensor(faint, device=sigma.device)]
        scale = torch.as_tensor(np.exp(hi), dtype=DTYPE, device=sub.device)[:, None, None]
        # A feature almost wholly outside the stamp cannot reach the floor: left as drawn.
        reachable = observe.arc_snr(sub * scale, sub_sigma).double().cpu().numpy() >= target
        for _ in range(SNR_BISECTIONS):
            mid = (lo + hi) / 2
            scale = torch.as_tensor(np.exp(mid), dtype=DTYPE, device=sub.device)[:, None, None]
            reached = observe.arc_snr(sub * scale, sub_sigma).double().cpu().numpy() >= target
            hi, lo = np.where(reached, mid, hi), np.where(reached, lo, mid)
        flux[faint] = np.where(reachable, np.exp(hi), flux[faint])
        snr[faint] = snr_at(flux)[faint]
    return flux, snr


def apply_artefacts(stamps: np.ndarray, scene: dict) -> np.ndarray:
    """Masked blocks and tile edges as NaN, in every band (in place)."""
    size = stamps.shape[-1]
    for i in np.flatnonzero(scene["mask_block"][:, 0] >= 0):
        y0, y1, x0, x1 = scene["mask_block"][i]
        stamps[i, :, y0:y1, x0:x1] = np.nan
    for i in np.flatnonzero(scene["tile_edge"][:, 0] > 0):
        side, depth = scene["tile_edge"][i]
        sl = {
            1: np.s_[:, :, :depth],
            2: np.s_[:, :, size - depth :],
            3: np.s_[:, :depth, :],
            4: np.s_[:, size - depth :, :],
        }[int(side)]
        stamps[i][sl] = np.nan
    return stamps


def render(
    scene: dict,
    config: dict,
    device: str | torch.device = "cpu",
    compile: bool = False,
    feature_flux: np.ndarray | None = None,
    same_sky: bool = False,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Observed stamps (B, nb, H, W) float32 and per-stamp measurements.

    ``feature_flux`` (B,) counts in the reference band: each feature at this
    flux, as measured by an earlier render of the same scene (its
    ``measured["flux"]``), instead of the drawn one raised to the S/N
    floor; the S/N is then only measured. The PSF experiment renders one
    scene under several PSFs this way, so a wider PSF dims the arcs' S/N
    rather than brightening them back to the floor.

    ``same_sky``: the sky noise from its own stream of the scene's seed
    (``observe.add_noise``'s ``sky_generator``), identical in every render
    of the scene whatever its signal."""
    bands = config["bands"]
    ref = bands.index(reference_band(config))
    n = len(scene["label"])
    image = galaxy_images(scene, config, device, compile)
    sigma = noise_sigma(scene, config)
    psf = observe.PSF(
        scene["psf_fwhm"], scene["psf_beta"], config["pixscale_arcsec"], image.shape[-2:], device
    )
    feature = scene["feature"]
    flux, snr = np.zeros(n), np.zeros(n)
    magnification = np.zeros(n)
    on = np.flatnonzero(feature["on"])
    if len(on):
        units, magnification = feature_images(scene, config, device, compile)
        on_t = torch.as_tensor(on, device=device)
        convolved = psf.convolve(units[on_t, ref : ref + 1], slice(ref, ref + 1), on_t)[:, 0]
        if feature_flux is None:
            drawn = band_counts(feature["mag"][on], feature["colour"][on], config)[:, ref]
            snr_min = config["source"]["snr_min"]
        else:
            drawn, snr_min = np.asarray(feature_flux, np.float64)[on], 0.0
        flux[on], snr[on] = solve_feature_flux(
            convolved, sigma[on, ref], drawn, snr_min, feature["snr_boost"][on]
        )
        image += units * torch.as_tensor(flux, dtype=DTYPE, device=device)[:, None, None, None]
    observed = psf.convolve(image)
    generator = torch.Generator(device="cpu").manual_seed(int(scene["noise_seed"]))
    sky = None
    if same_sky:
        sky = torch.Generator(device="cpu").manual_seed(int(scene["noise_seed"]) ^ 0x5EED)
    noisy = observe.add_noise(
        observed.cpu(),
        torch.as_tensor(sigma, dtype=DTYPE)[..., None, None],
        generator,
        torch.as_tensor(scene["noise_shift"]) if scene["noise_shift"].any() else None,
        sky,
    )
    stamps = apply_artefacts(noisy.numpy(), scene)
    return stamps, {"noise_sigma": sigma, "snr": snr, "flux": flux, "magnification": magnification}


def metadata(scene: dict, measured: dict, config: dict) -> dict[str, np.ndarray]:
    """The META columns of a batch (docs/stampset.md plus what was drawn)."""
    bands = config["bands"]
    ref = bands.index(reference_band(config))
    lens, central, feature = scene["lens"], scene["central"], scene["feature"]
    is_lens = scene["label"] == 1
    clumps = scene["clumps"]
    main = clumps["main"].astype(bool)
    # The source's main clump.
    first = {k: np.zeros(len(is_lens)) for k in ("r_eff", "n", "q", "x", "y")}
    for k in first:
        first[k][clumps["stamp"][main]] = clumps[k][main]
    # Magnitudes in r, as drawn (the reference band's flux less its colour).
    measured_mag = counts_to_mag(measured["flux"], config, bands[ref]) - feature["colour"][:, ref]
    feature_on = feature["on"] & ~feature["lensed"]
    sersic = scene["sersic"]
    companions = np.bincount(sersic["stamp"][sersic["role"] == "companion"], minlength=len(is_lens))
    masked = (scene["mask_block"][:, 0] >= 0) | (scene["tile_edge"][:, 0] > 0)
    meta = {
        "label": scene["label"],
        "kind": scene["kind"],
        "subkind": scene["subkind"],
        "environment": scene["environment"],
        "theta_e": lens["theta_e"],
        "snr": np.where(is_lens, measured["snr"], 0.0),
        "feature_snr": np.where(feature_on, measured["snr"], 0.0),
        "psf_fwhm": scene["psf_fwhm"][:, ref],
        "psf_beta": scene["psf_beta"][:, ref],
    }
    if len(bands) == 1:
        meta["noise_sigma"] = measured["noise_sigma"][:, 0]
        meta["sky_mag"] = scene["sky_mag"][:, 0]
    else:
        for j, band in enumerate(bands):
            meta[f"psf_fwhm_{band}"] = scene["psf_fwhm"][:, j]
            meta[f"noise_sigma_{band}"] = measured["noise_sigma"][:, j]
            meta[f"sky_mag_{band}"] = scene["sky_mag"][:, j]
    meta.update(
        correlated_noise=scene["noise_shift"].any(axis=1),
        masked=masked,
        theta_e_drawn=scene["theta_e_drawn"],
        z_lens=lens["z_l"],
        z_source=lens["z_s"],
        sigma_v=lens["sigma_v"],
        lens_q=np.where(is_lens, lens["q"], scene["central_drawn"]["q"]),
        lens_phi_deg=np.rad2deg(np.where(is_lens, lens["phi"], central["phi"])),
        shear=np.hypot(lens["gamma1"], lens["gamma2"]),
        lens_mag=scene["central_drawn"]["mag"],
        lens_r_eff=scene["central_drawn"]["r_eff"],
        lens_n_sersic=scene["central_drawn"]["n"],
        n_companions=companions.astype(np.int16),
        n_neighbours=scene["n_neighbours"],
        n_stars=scene["n_stars"],
        source_mag=np.where(is_lens, measured_mag, 0.0),
        source_r_eff=first["r_eff"],
        source_n_sersic=first["n"],
        source_q=first["q"],
        source_x=first["x"],
        source_y=first["y"],
        n_clumps=scene["n_clumps"],
        magnification=measured["magnification"],
        n_subhaloes=(scene["subhaloes"]["theta_e"] > 0).sum(axis=1).astype(np.int16),
        feature_mag=np.where(feature_on, measured_mag, 0.0),
    )
    return {k: (v.astype(np.float32) if v.dtype == np.float64 else v) for k, v in meta.items()}


def simulate_batch(
    config: dict,
    labels: np.ndarray,
    rng: np.random.Generator,
    device: str | torch.device = "cpu",
    compile: bool = False,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Stamps (B, nb, H, W) and META columns for ``labels``, drawn from ``rng``."""
    from simulations import populations

    scene = populations.sample(config, labels, rng)
    stamps, measured = render(scene, config, device, compile)
    return stamps, metadata(scene, measured, config)
