"""Survey configurations as data: adding a survey means adding a dict here
(or passing one, e.g. from a JSON file, to ``simulate --survey FILE.json``).

Every ``(low, high)`` pair is sampled uniformly unless said otherwise.
Angles in arcsec (``*_arcsec``) or degrees (``*_deg``); magnitudes AB;
colours are magnitude offsets from the r band (``mag_band = mag_r + offset``),
each a number or a ``(low, high)`` range drawn per stamp.

What a configuration holds (``validate`` checks all of it):

- ``depth``: the noise model, identical for lenses and non-lenses: zero
  point (the magnitude of a source giving 1 e-/s), exposure, number of
  exposures and read noise per band, and a sky brightness drawn per stamp;
  ``correlated_share`` of the stamps get noise correlated as resampling to
  the coadd grid correlates it.
- ``seeing``: the PSF FWHM distribution per band (log-normal about a median,
  truncated to a range; or uniform over it); ``psf``: Moffat beta range and
  the share of Gaussian PSFs (beta -> infinity, the papers' own choice).
- ``central``: the one population every stamp's central galaxy comes from.
- ``lens``: the mass (Einstein radius distribution, redshifts, shear,
  subhaloes) and what only lenses have: image configurations and the source.
- ``nonlens_kinds``: the shares of the non-lens kinds (sum 1) and
  ``subkinds`` their subkind shares; ``environment``: neighbours, stars,
  companions and survey artefacts that both classes get alike.

Sources:
- ``kids-r``: He et al. 2020 Section 3 and Tables 1, 2, A1, with the
  departures that remove their shortcuts (docs/simulations.md); depth from
  KiDS DR3 (r 5-sigma limit ~25.0 in a 2" aperture, 1800 s in 5 exposures,
  median seeing ~0.7").
- ``kids-gri``: the same population in g, r, i; colours of an LRG at z ~ 0.3
  and of blue star-forming sources; KiDS g (900 s) and i (1080 s) depths and
  their worse seeing.
- ``lsst-g``: Lanusse et al. 2018 Section 4 and Table 1 (seeing 0.81",
  sky 21.7 mag/arcsec^2, 3000 s, 0.18"/px); LSST g zero point and read
  noise from Collett 2015 (LensPop).
"""

import copy
import json
import math
from pathlib import Path

from simulations.errors import SimulationError

# He et al. 2020 Table A1: lens redshift -> the source redshifts used with it.
HE2020_REDSHIFT_PAIRS = {
    0.01: (0.02, 0.03, 0.06, 3.5),
    0.1: (0.2, 0.3, 0.5, 3.5),
    0.2: (0.4, 0.55, 0.9, 3.5),
    0.3: (0.5, 0.7, 1.15, 3.5),
    0.4: (0.6, 0.85, 1.35, 3.5),
    0.5: (0.8, 0.9, 1.05, 3.5),
    0.6: (0.9, 1.2, 1.8, 3.5),
    0.7: (1.1, 1.4, 2.0, 3.5),
    0.8: (1.3, 1.65, 2.2, 3.5),
    0.9: (1.4, 1.7, 2.3, 3.5),
    1.0: (1.6, 1.95, 2.5, 3.5),
}

# The kinds of non-lens the simulator draws, with the subkinds each has.
NONLENS_KINDS = {
    "elliptical": (),
    "spiral": ("face-on", "inclined", "edge-on"),
    "ring": ("ring", "partial-ring", "tidal-arc"),
    "group": ("pair", "group", "merger"),
    "alignment": ("tangential", "random", "two-sided"),
    "compact": ("bright-star", "compact-sources"),
}
LENS_CONFIGURATIONS = ("double", "cusp", "quad", "ring")
# Image configurations of the lenses, shared by the surveys. Mostly doubles,
# as lens searches find them: a source at a random place behind the lens
# gives two images far more often than four, and magnification bias only
# raises cusps and quads to a quarter or so (Oguri & Marshall 2010). He et
# al. put every source within R_eff of the caustic, and the 0.45/0.15/0.25/
# 0.15 split used before made more than half the lenses near-complete rings:
# a network then took any complete ring for a lens, and unlensed rings (the
# hardest look-alikes) passed it (docs/simulations.md, "Rings").
LENS_CONFIGURATION_SHARES = {"double": 0.65, "cusp": 0.10, "quad": 0.15, "ring": 0.10}

# Non-lens look-alikes, shared by the surveys (shares sum to 1).
LOOKALIKE_SHARES = {
    "elliptical": 0.25,
    "spiral": 0.15,
    "ring": 0.20,
    "group": 0.15,
    "alignment": 0.15,
    "compact": 0.10,
}
# The share of an unlensed ring's light in knots, uniform over this range:
# smooth to beaded (generator lensfinder-sim-2 drew 0.2-0.9, beaded rings
# only, and a network learned that a smooth complete ring is a lens).
LOOKALIKES = {"ring_knotted": (0.0, 0.9)}
SUBKIND_SHARES = {
    "spiral": {"face-on": 0.35, "inclined": 0.40, "edge-on": 0.25},
    # Complete rings are the look-alike a network most confuses with an
    # Einstein ring: they get the largest share.
    "ring": {"ring": 0.40, "partial-ring": 0.35, "tidal-arc": 0.25},
    "group": {"pair": 0.5, "group": 0.3, "merger": 0.2},
    "alignment": {"tangential": 0.45, "random": 0.30, "two-sided": 0.25},
    "compact": {"bright-star": 0.5, "compact-sources": 0.5},
}

KIDS_R = {
    "label": "KiDS-like",
    "bands": ["r"],
    "pixscale_arcsec": 0.21,
    "size_px": 97,
    "units": "counts",
    "supersample": 2,
    "depth": {
        # 24.86 = 33.0 - 2.5 log10(1800 s): one count per photo-electron.
        "zero_point": {"r": 24.86},
        "exposure_s": {"r": 1800.0},
        "n_exposures": {"r": 5},
        "read_noise_e": {"r": 4.0},
        # Gives a 5-sigma depth of 24.7-25.1 in a 2" aperture (KiDS DR3 r: ~25.0).
        "sky_mag_arcsec2": {"r": (20.9, 21.8)},
        "correlated_share": 0.5,
    },
    "seeing": {"r": {"median_arcsec": 0.68, "scatter_ln": 0.15, "range_arcsec": (0.45, 1.0)}},
    "psf": {"moffat_beta": (2.5, 4.5), "gaussian_share": 0.2},
    "central": {
        # Faber-Jackson magnitude of the (phantom) lens, scattered, kept within
        # the LRG sample's magnitudes (He et al. select r < 20).
        "mag_scatter": 0.4,
        "mag_r": (16.0, 20.5),
        "r_eff_per_theta_e": (0.6, 1.2),
        "r_eff_arcsec": (0.8, 4.0),
        "n_sersic": (2.0, 5.0),
        # Wider than Table 1's 0.7-1.0: Table 2's elongated galaxies (q 0.4-0.5)
        # are LRGs too, so both classes draw them.
        "q": (0.4, 1.0),
        "phi_deg": (0.0, 180.0),
        "offset_px": 0.5,
        "colour": {"r": 0.0},
        "disk_colour": {"r": 0.0},
    },
    "lens": {
        "theta_e_arcsec": (1.0, 5.0),
        "theta_e_distribution": "log-uniform",
        "redshift_pairs": {z: s for z, s in HE2020_REDSHIFT_PAIRS.items() if z >= 0.1},
        "sigma_max_kms": 600.0,
        "mass_weighting": "theta-e",
        # The SIE's axis ratio: the light's plus this offset, within (q_min, 1].
        "q_offset": (-0.05, 0.15),
        "q_min": 0.5,
        "shear": (0.0, 0.08),
        "subhaloes": True,
        "configurations": LENS_CONFIGURATION_SHARES,
    },
    "source": {
        "q": (0.3, 1.0),
        "phi_deg": (0.0, 180.0),
        "r_eff_arcsec": (0.15, 0.7),
        "n_sersic": (0.5, 4.0),
        "mag": (20.5, 25.5),
        # Flat, as He et al. draw theirs: number counts (``"counts"``) put 60%
        # of the arcs at the S/N floor, where the label is hardly visible.
        "mag_distribution": "uniform",
        "two_clump_share": 0.35,
        "colour": {"r": 0.0},
        # Lenses and look-alike features fainter than this arc S/N (Lanusse
        # et al. eq. 10) are brightened to floor x 10^U(boost): invisible arcs
        # would be label noise.
        "snr_min": 10.0,
        "snr_boost_dex": (0.0, 0.4),
    },
    "nonlens_kinds": LOOKALIKE_SHARES,
    "subkinds": SUBKIND_SHARES,
    "lookalikes": LOOKALIKES,
    "environment": {
        # Galaxy counts to r ~ 25.5: ~40 per arcmin^2 (Metcalfe et al. 2001).
        "neighbours_per_arcmin2": 40.0,
        "neighbour_mag": (18.0, 25.5),
        "neighbour_r_eff_arcsec": (0.15, 1.0),
        "neighbour_red_share": 0.4,
        "stars_per_arcmin2": 1.5,
        "star_mag": (15.0, 24.0),
        "star_colour": {"r": 0.0},
        "masked_block_share": 0.03,
        "tile_edge_share": 0.02,
    },
}

KIDS_GRI = copy.deepcopy(KIDS_R)
KIDS_GRI.update(
    bands=["g", "r", "i"],
    seeing={
        "g": {"median_arcsec": 0.86, "scatter_ln": 0.15, "range_arcsec": (0.6, 1.3)},
        "r": {"median_arcsec": 0.68, "scatter_ln": 0.15, "range_arcsec": (0.45, 1.0)},
        "i": {"median_arcsec": 0.80, "scatter_ln": 0.2, "range_arcsec": (0.5, 1.3)},
    },
)
KIDS_GRI["depth"].update(
    zero_point={"g": 25.09, "r": 24.86, "i": 24.39},
    exposure_s={"g": 900.0, "r": 1800.0, "i": 1080.0},
    n_exposures={"g": 5, "r": 5, "i": 5},
    read_noise_e={"g": 4.0, "r": 4.0, "i": 4.0},
    sky_mag_arcsec2={"g": (21.8, 22.6), "r": (20.9, 21.8), "i": (19.8, 20.8)},
)
# Red lenses (an LRG at z ~ 0.3), bluer disks, blue star-forming sources.
KIDS_GRI["central"]["colour"] = {"g": (1.2, 1.6), "r": 0.0, "i": (-0.6, -0.4)}
KIDS_GRI["central"]["disk_colour"] = {"g": (0.4, 0.9), "r": 0.0, "i": (-0.4, -0.2)}
KIDS_GRI["source"]["colour"] = {"g": (-0.1, 0.6), "r": 0.0, "i": (-0.3, 0.1)}
KIDS_GRI["environment"]["star_colour"] = {"g": (0.3, 1.5), "r": 0.0, "i": (-0.6, -0.1)}

LSST_G = {
    "label": "LSST-like",
    "bands": ["g"],
    "pixscale_arcsec": 0.18,
    "size_px": 45,
    "units": "counts",
    "supersample": 2,
    "depth": {
        "zero_point": {"g": 28.30},  # e-/s for a 0 mag source (Collett 2015)
        "exposure_s": {"g": 3000.0},
        "n_exposures": {"g": 30},  # read noise adds once per exposure
        "read_noise_e": {"g": 10.0},
        "sky_mag_arcsec2": {"g": (21.3, 22.1)},  # median 21.7 (Table 1)
        "correlated_share": 0.5,
    },
    "seeing": {"g": {"median_arcsec": 0.81, "scatter_ln": 0.12, "range_arcsec": (0.55, 1.2)}},
    "psf": {"moffat_beta": (2.5, 4.5), "gaussian_share": 0.2},
    "central": {
        "mag_scatter": 0.4,
        "mag_r": (16.5, 22.0),
        "r_eff_per_theta_e": (0.6, 1.2),
        "r_eff_arcsec": (0.4, 2.5),
        "n_sersic": (2.0, 5.0),
        "q": (0.4, 1.0),
        "phi_deg": (0.0, 180.0),
        "offset_px": 0.5,
        "colour": {"g": (1.2, 1.6)},  # g - r of an elliptical; magnitudes are drawn in r
        "disk_colour": {"g": (0.4, 0.9)},
    },
    "lens": {
        "theta_e_arcsec": (0.5, 3.0),
        "sigma_v_kms": (150.0, 350.0),
        "z_lens": (0.2, 0.7),
        "z_source": 2.0,
        "mass_weighting": "uniform-sigma",
        "q_offset": (-0.05, 0.15),
        "q_min": 0.5,
        "shear": (0.0, 0.08),
        "subhaloes": False,
        "configurations": LENS_CONFIGURATION_SHARES,
    },
    "source": {
        "q": (0.3, 1.0),
        "phi_deg": (0.0, 180.0),
        "r_eff_arcsec": (0.1, 0.5),
        "n_sersic": (0.5, 2.0),
        "mag": (22.0, 27.0),
        "mag_distribution": "uniform",
        "two_clump_share": 0.35,
        "colour": {"g": (-0.1, 0.6)},
        "snr_min": 10.0,
        "snr_boost_dex": (0.0, 0.4),
    },
    "nonlens_kinds": LOOKALIKE_SHARES,
    "subkinds": SUBKIND_SHARES,
    "lookalikes": LOOKALIKES,
    "environment": {
        # Deeper than KiDS: ~80 galaxies per arcmin^2 to g ~ 27.
        "neighbours_per_arcmin2": 80.0,
        "neighbour_mag": (19.0, 27.0),
        "neighbour_r_eff_arcsec": (0.1, 0.8),
        "neighbour_red_share": 0.3,
        "stars_per_arcmin2": 2.0,
        "star_mag": (16.0, 25.0),
        "star_colour": {"g": (0.3, 1.5)},
        "masked_block_share": 0.03,
        "tile_edge_share": 0.02,
    },
}

SURVEYS = {"kids-r": KIDS_R, "kids-gri": KIDS_GRI, "lsst-g": LSST_G}


def survey_for_bands(bands: list[str] | tuple[str, ...]) -> str:
    """The name of the configuration whose bands are ``bands`` (in order), a
    KiDS-like one first: the population semi-real sets draw their lenses and
    look-alikes from."""
    matches = [name for name, config in SURVEYS.items() if config["bands"] == list(bands)]
    if not matches:
        raise SimulationError(
            f"No survey configuration has the bands {','.join(bands)}: semi-real sets need "
            + " or ".join(",".join(c["bands"]) for c in SURVEYS.values())
            + " stamps."
        )
    return sorted(matches, key=lambda name: SURVEYS[name]["label"] != "KiDS-like")[0]


SEEING_MAX_ARCSEC = 5.0
SHARE_TOLERANCE = 1e-6


def get_survey(name: str) -> dict:
    """A validated copy of the configuration ``name``: a key of ``SURVEYS``
    or the path of a JSON file holding one; a clear error otherwise."""
    if isinstance(name, dict):
        config = copy.deepcopy(name)
    elif name in SURVEYS:
        config = copy.deepcopy(SURVEYS[name])
    elif str(name).endswith(".json"):
        config = _read_json(Path(name))
    else:
        raise SimulationError(
            f"Unknown survey {name!r}: choose one of {', '.join(sorted(SURVEYS))} "
            "(or give a JSON file with a configuration, or add one to simulations/surveys.py)."
        )
    validate(config)
    return config


def _read_json(path):
    try:
        config = json.loads(path.read_text())
    except OSError as exc:
        raise SimulationError(f"Cannot read the survey file {path}: {exc.strerror}.") from exc
    except json.JSONDecodeError as exc:
        raise SimulationError(f"{path} is not valid JSON: {exc}.") from exc
    if not isinstance(config, dict):
        raise SimulationError(f"{path} must hold one JSON object (a survey configuration).")
    # JSON has no tuples and string keys only: give redshift pairs float keys back.
    pairs = config.get("lens", {}).get("redshift_pairs")
    if isinstance(pairs, dict):
        try:
            config["lens"]["redshift_pairs"] = {float(z): s for z, s in pairs.items()}
        except ValueError:
            raise SimulationError(
                f'{path}: lens.redshift_pairs keys must be lens redshifts, e.g. "0.3".'
            ) from None
    return config


def _get(config, dotted):
    value = config
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise SimulationError(
                f"The survey configuration lacks {dotted!r}: add it (see simulations/surveys.py)."
            )
        value = value[part]
    return value


def _range(config, dotted, low=-math.inf, high=math.inf, open_low=False):
    value = _get(config, dotted)
    ok = isinstance(value, (list, tuple)) and len(value) == 2
    ok = ok and all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)
    if not ok or value[0] > value[1]:
        raise SimulationError(
            f"{dotted} must be a range [low, high] with low <= high, not {value!r}."
        )
    below = value[0] <= low if open_low else value[0] < low
    if below or value[1] > high:
        opening = "(" if open_low else "["
        raise SimulationError(f"{dotted} = {list(value)} must lie within {opening}{low}, {high}].")
    return value


def _number_or_range(config, dotted):
    value = _get(config, dotted)
    if isinstance(value, (int, float)):
        return value
    return _range(config, dotted)


def _shares(config, dotted, allowed):
    shares = _get(config, dotted)
    if not isinstance(shares, dict) or not shares:
        raise SimulationError(f"{dotted} must map names to shares, e.g. {{{allowed[0]!r}: 1.0}}.")
    unknown = [k for k in shares if k not in allowed]
    if unknown:
        raise SimulationError(
            f"{dotted}: unknown kind {unknown[0]!r}; choose among {', '.join(allowed)}."
        )
    if any(not isinstance(v, (int, float)) or v < 0 for v in shares.values()):
        raise SimulationError(f"{dotted}: every share must be a number >= 0.")
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise SimulationError(
            f"{dotted}: the shares sum to {total:.6g}, not 1: scale them so that they add up to 1."
        )
    return shares


def _share(config, dotted):
    value = _get(config, dotted)
    if not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SimulationError(f"{dotted} must be a fraction in [0, 1], not {value!r}.")
    return value


def validate(config: dict) -> dict:  # noqa: C901  (a flat list of checks, one per key)
    """Check a survey configuration; raise ``SimulationError`` naming the key
    and the fix. Runs before any stamp is drawn."""
    bands = _get(config, "bands")
    if not isinstance(bands, list) or not bands or not all(isinstance(b, str) for b in bands):
        raise SimulationError('bands must be a list of band names, e.g. ["r"] or ["g", "r", "i"].')
    for key in ("pixscale_arcsec", "size_px", "supersample"):
        value = _get(config, key)
        if not isinstance(value, (int, float)) or value <= 0:
            raise SimulationError(f"{key} must be a positive number, not {value!r}.")
    if int(config["size_px"]) != config["size_px"] or config["size_px"] % 2 == 0:
        raise SimulationError(
            f"size_px must be an odd whole number of pixels, not {config['size_px']}."
        )
    for band in bands:
        for key in ("zero_point", "exposure_s", "n_exposures", "read_noise_e"):
            value = _get(config, f"depth.{key}.{band}")
            if not isinstance(value, (int, float)) or (key != "zero_point" and value < 0):
                raise SimulationError(f"depth.{key}.{band} must be a number >= 0, not {value!r}.")
        _range(config, f"depth.sky_mag_arcsec2.{band}", 10.0, 30.0)
        seeing = _get(config, f"seeing.{band}")
        low, high = _range(config, f"seeing.{band}.range_arcsec", 0.0, SEEING_MAX_ARCSEC, True)
        if "median_arcsec" in seeing:
            median = seeing["median_arcsec"]
            if not isinstance(median, (int, float)) or not low <= median <= high:
                raise SimulationError(
                    f"seeing.{band}.median_arcsec must lie within its range_arcsec {[low, high]}."
                )
            scatter = _get(config, f"seeing.{band}.scatter_ln")
            if not isinstance(scatter, (int, float)) or scatter < 0:
                raise SimulationError(f"seeing.{band}.scatter_ln must be >= 0, not {scatter!r}.")
        for part in (
            "central.colour",
            "central.disk_colour",
            "source.colour",
            "environment.star_colour",
        ):
            _number_or_range(config, f"{part}.{band}")
    _share(config, "depth.correlated_share")
    beta = _range(config, "psf.moffat_beta")
    if beta[0] <= 1:
        raise SimulationError(
            f"psf.moffat_beta = {list(beta)}: a Moffat profile needs beta > 1 (finite flux); "
            "use e.g. [2.5, 4.5], or psf.gaussian_share = 1 for Gaussian PSFs."
        )
    _share(config, "psf.gaussian_share")
    for key, lo, hi in (
        ("central.mag_r", 5, 35),
        ("central.r_eff_per_theta_e", 0, 10),
        ("central.r_eff_arcsec", 0, 30),
        ("central.n_sersic", 0.2, 10),
        ("central.q", 0.05, 1),
        ("central.phi_deg", -360, 360),
        ("lens.theta_e_arcsec", 0, 30),
        ("lens.q_offset", -1, 1),
        ("lens.shear", 0, 0.5),
        ("source.q", 0.05, 1),
        ("source.r_eff_arcsec", 0, 10),
        ("source.n_sersic", 0.2, 10),
        ("source.mag", 5, 35),
        ("source.phi_deg", -360, 360),
        ("source.snr_boost_dex", 0, 3),
        ("lookalikes.ring_knotted", 0, 1),
        ("environment.neighbour_mag", 5, 35),
        ("environment.neighbour_r_eff_arcsec", 0, 10),
        ("environment.star_mag", 5, 35),
    ):
        # Sizes and axis ratios must be positive; a shear of 0 is fine.
        positive = key.endswith((".q", "r_eff_arcsec", "theta_e_arcsec", "r_eff_per_theta_e"))
        _range(config, key, lo, hi, open_low=positive)
    if config["source"].get("mag_distribution", "uniform") not in ("uniform", "counts"):
        raise SimulationError("source.mag_distribution must be 'uniform' or 'counts'.")
    weighting = _get(config, "lens.mass_weighting")
    if weighting in ("theta-e", "he2020"):
        pairs = _get(config, "lens.redshift_pairs")
        if not isinstance(pairs, dict) or not pairs:
            raise SimulationError(
                "lens.redshift_pairs must map lens redshifts to source redshifts."
            )
        distribution = config["lens"].get("theta_e_distribution", "log-uniform")
        if weighting == "theta-e" and distribution not in ("log-uniform", "uniform"):
            raise SimulationError("lens.theta_e_distribution must be 'log-uniform' or 'uniform'.")
    elif weighting == "uniform-sigma":
        _range(config, "lens.sigma_v_kms", 0, 2000, True)
        _range(config, "lens.z_lens", 0, 5, True)
    else:
        raise SimulationError(
            f"lens.mass_weighting {weighting!r}: choose 'theta-e' (a Table A1 redshift pair, "
            "theta_E from its distribution), 'he2020' (eq. 11) or 'uniform-sigma' (Lanusse et al.)."
        )
    _shares(config, "lens.configurations", LENS_CONFIGURATIONS)
    kinds = _shares(config, "nonlens_kinds", tuple(NONLENS_KINDS))
    for kind, share in kinds.items():
        if NONLENS_KINDS[kind] and share > 0:
            _shares(config, f"subkinds.{kind}", NONLENS_KINDS[kind])
    for key in (
        "source.two_clump_share",
        "environment.neighbour_red_share",
        "environment.masked_block_share",
        "environment.tile_edge_share",
    ):
        _share(config, key)
    for key in (
        "environment.neighbours_per_arcmin2",
        "environment.stars_per_arcmin2",
        "source.snr_min",
        "central.mag_scatter",
        "central.offset_px",
    ):
        value = _get(config, key)
        if not isinstance(value, (int, float)) or value < 0:
            raise SimulationError(f"{key} must be a number >= 0, not {value!r}.")
    return config
