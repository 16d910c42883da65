"""Survey configurations as data: adding a survey means adding a dict here.

Every range is ``(low, high)`` and sampled uniformly unless said otherwise.
Angles in arcsec (``*_arcsec``) or degrees (``*_deg``); magnitudes AB.

Sources:
- ``kids-r``: He et al. 2020, Section 3 and Tables 1, 2, A1; S/N(mag) of eq. 17.
- ``kids-gri``: the same population in g, r, i. Colours are this project's
  choice (He et al. use r only): an LRG at z ~ 0.3 (g-r ~ 1.4, r-i ~ 0.5)
  and a blue star-forming source (g-r ~ 0.2, r-i ~ 0.1); per-band seeing
  ranges follow KiDS DR3 (g and i worse than r).
- ``lsst-g``: Lanusse et al. 2018, Section 4 and Table 1 (seeing 0.81",
  sky 21.7 mag/arcsec^2, 3000 s, 0.18"/px); LSST g zero point and read
  noise from Collett 2015 (LensPop).
"""

import copy

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

# He et al. 2020 Table 2 (negatives) with the Section 3.3 mixture.
HE2020_NEGATIVES = {
    "mix": {"elliptical": 0.4, "pair": 0.4, "elongated": 0.1, "disk": 0.1},
    "elliptical": {"q": (0.7, 1.0), "r_eff_arcsec": (0.2, 0.7), "n_sersic": (2.0, 5.0)},
    "elongated": {"q": (0.4, 0.5), "r_eff_arcsec": (0.2, 1.7), "n_sersic": (2.0, 5.0)},
    "disk": {"q": (0.4, 1.0), "r_eff_arcsec": (0.2, 2.0), "n_sersic": (0.9, 1.1)},
    "bulge": {"q": (0.95, 1.0), "r_eff_arcsec": (0.2, 2.0), "n_sersic": (1.5, 5.0)},
    "bulge_to_disk": (0.2, 3.0),  # luminosity ratio
}

KIDS_R = {
    "label": "KiDS-like",
    "bands": ["r"],
    "pixscale_arcsec": 0.21,
    "size_px": 97,
    "units": "counts",
    "supersample": 2,
    "psf_fwhm_arcsec": {"r": (0.55, 0.75)},
    # Photometry: counts = 10**(-0.4 (mag - zero_point)); one count = one photo-
    # electron. 33.0 is about a 1800 s VST/OmegaCAM r exposure, which makes
    # eq. 17's S/N consistent with Poisson noise (bright lenses are
    # photon-limited, faint ones background-limited).
    "zero_point": {"r": 33.0},
    "noise": {
        "model": "kids-snr",  # lens S/N from He et al. eq. 17, times U(0.9, 1.1)
        "snr_a": 1.796e9,
        "snr_b": -0.8079,
        "snr_faint": 15.0,
        "snr_faint_mag": 23.0,
        "snr_scatter": (0.9, 1.1),
        "aperture_r_eff": 2.0,  # the lens S/N is taken within 2 r_eff (at least 1")
        "min_aperture_arcsec": 1.0,
    },
    "lens": {
        "theta_e_arcsec": (1.4, 5.0),
        "q": (0.7, 1.0),
        "phi_deg": (0.0, 180.0),
        "n_sersic": (2.0, 5.0),
        "redshift_pairs": HE2020_REDSHIFT_PAIRS,
        "mass_weighting": "he2020",  # eq. 11: p(M|z_d) theta_E^2
        "subhaloes": True,
        "colour": {"r": 0.0},
    },
    "source": {
        "q": (0.7, 1.0),
        "phi_deg": (0.0, 180.0),
        "r_eff_arcsec": (0.2, 0.7),
        "n_sersic": (2.0, 5.0),
        "mag": (15.0, 25.0),
        "colour": {"r": 0.0},
    },
    "negatives": HE2020_NEGATIVES,
}

KIDS_GRI = copy.deepcopy(KIDS_R)
KIDS_GRI.update(
    label="KiDS-like",
    bands=["g", "r", "i"],
    psf_fwhm_arcsec={"g": (0.7, 1.0), "r": (0.55, 0.75), "i": (0.6, 1.0)},
    zero_point={"g": 32.6, "r": 33.0, "i": 32.6},  # KiDS exposes g 900 s, i 1080 s
)
# Colours as magnitude offsets from r: red lens, blue source.
KIDS_GRI["lens"]["colour"] = {"g": 1.4, "r": 0.0, "i": -0.5}
KIDS_GRI["source"]["colour"] = {"g": 0.2, "r": 0.0, "i": -0.1}

LSST_G = {
    "label": "LSST-like",
    "bands": ["g"],
    "pixscale_arcsec": 0.18,
    "size_px": 45,
    "units": "counts",
    "supersample": 2,
    "psf_fwhm_arcsec": {"g": (0.71, 0.91)},  # median 0.81"
    "zero_point": {"g": 28.30},  # e-/s for a 0 mag source (Collett 2015)
    "noise": {
        "model": "sky",
        "sky_mag_arcsec2": {"g": 21.7},
        "exposure_s": 3000.0,
        "read_noise_e": 10.0,
        "n_exposures": 30,  # read noise adds once per exposure
    },
    "lens": {
        "sigma_v_kms": (150.0, 350.0),
        "q": (0.5, 1.0),
        "phi_deg": (0.0, 180.0),
        "n_sersic": (2.0, 5.0),
        "z_lens": (0.2, 0.7),
        "z_source": 2.0,
        "mass_weighting": "uniform-sigma",
        "subhaloes": False,
        "colour": {"g": 1.4},  # g - r of an elliptical; magnitudes are drawn in r
    },
    "source": {
        "q": (0.5, 1.0),
        "phi_deg": (0.0, 180.0),
        "r_eff_arcsec": (0.1, 0.5),
        "n_sersic": (0.5, 2.0),
        "mag": (22.0, 26.0),
        "colour": {"g": 0.2},
    },
    "negatives": HE2020_NEGATIVES,
}

SURVEYS = {"kids-r": KIDS_R, "kids-gri": KIDS_GRI, "lsst-g": LSST_G}


def get_survey(name):
    """A copy of the configuration named ``name``; a clear error otherwise."""
    try:
        return copy.deepcopy(SURVEYS[name])
    except KeyError:
        raise SimulationError(
            f"Unknown survey {name!r}: choose one of {', '.join(sorted(SURVEYS))} "
            "(or add a configuration to simulations/surveys.py)."
        ) from None
