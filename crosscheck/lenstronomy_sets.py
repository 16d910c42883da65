"""Labelled test sets from an independent renderer: lenstronomy.

The project's own simulator (``simulations/``) trains the networks; this
module makes the sets that say whether a network learned lensing or that
simulator's habits. It shares no code with ``simulations/``: the profiles,
ray tracing, PSF, magnitude-to-amplitude conversion and noise are
lenstronomy's (``SimAPI``: Gaussian PSF, sky + read noise + a Gaussian
approximation of Poisson noise), the draws below were written from the
papers and survey descriptions, and the file is written here with astropy
in the stamp-set format (PRIMARY, STAMPS, META).

Draws (uniform unless said otherwise; magnitudes AB, angles in arcsec):

- Every stamp, lens or not, holds a central early-type galaxy: Sersic with
  n 3-5, R_sersic 0.6-2.5" (KiDS; 0.3-1.5" LSST) independent of any
  Einstein radius, q 0.55-1, r 17-20 (LSST g 19-22), centred to 0.1";
  Poisson(1) faint field galaxies (mag 22-25) anywhere in the stamp.
- Lenses (He et al. 2020 Sect. 3; Lanusse et al. 2018 Sect. 4): SIE with
  the light's axis ratio and angle, plus an external shear 0-0.1;
  theta_E 1.0-3.5" (KiDS) or from sigma_v 150-350 km/s, z_l 0.2-0.7,
  z_s = 2 (LSST, flat LCDM H0 = 70, Om = 0.3); a Sersic source (R 0.1-0.5",
  n 0.5-2.5, q 0.4-1, r 21-24; LSST g 22.5-25.5) uniform within 0.5 theta_E
  of the lens centre.
- Non-lenses: ellipticals (the central galaxy alone), pairs (a second
  elliptical 2-7" away), elongated galaxies (q 0.25-0.45), spirals (bulge +
  exponential disk + two or three logarithmic arms of blue Gaussian knots),
  unlensed rings (blue knots along an ellipse of 1.2-3.5"), and blue
  galaxies 1.5-4" from the centre, tangentially elongated.
- Observing: KiDS r 0.21"/px 97x97 (5 x 360 s, zero point 24.9, sky
  20.7-21.5 mag/arcsec^2, read noise 5 e-, seeing 0.55-0.85"), KiDS g,r,i
  with their own depths and seeing; LSST g 0.18"/px 45x45 (200 x 15 s, zero
  point 28.3, sky 21.4-22.0, read noise 10 e-, seeing 0.65-0.95").

META records ``kind`` and Lanusse et al. eq. 10's arc S/N measured on the
PSF-convolved noiseless source (here, with lenstronomy's images), so that a
completeness by theta_E and S/N can be read off the same way as on the
project's own sets.
"""

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.cosmology import FlatLambdaCDM
from astropy.io import fits
from astropy.table import Table

GENERATOR = "lensfinder-crosscheck-lenstronomy-1"
CHUNK = 200
NONLENS_SHARES = {
    "elliptical": 0.30,
    "pair": 0.20,
    "elongated": 0.10,
    "spiral": 0.15,
    "ring": 0.15,
    "blue-neighbour": 0.10,
}

KIDS_BAND = {
    "g": {
        "magnitude_zero_point": 25.1,
        "exposure_time": 180.0,
        "sky": (21.8, 22.6),
        "seeing": (0.7, 1.1),
        "lens_colour": (1.35, 1.65),
        "source_colour": (0.0, 0.6),
    },
    "r": {
        "magnitude_zero_point": 24.9,
        "exposure_time": 360.0,
        "sky": (20.7, 21.5),
        "seeing": (0.55, 0.85),
        "lens_colour": (0.0, 0.0),
        "source_colour": (0.0, 0.0),
    },
    "i": {
        "magnitude_zero_point": 24.4,
        "exposure_time": 216.0,
        "sky": (19.9, 20.7),
        "seeing": (0.6, 1.1),
        "lens_colour": (-0.55, -0.35),
        "source_colour": (-0.3, 0.1),
    },
}
SURVEYS = {
    "kids-r": {
        "label": "KiDS-like (lenstronomy)",
        "bands": ["r"],
        "pixel_scale": 0.21,
        "num_pix": 97,
        "num_exposures": 5,
        "read_noise": 5.0,
        "bands_obs": KIDS_BAND,
        "lens_mag": (17.0, 20.0),
        "lens_r": (0.6, 2.5),
        "source_mag": (21.0, 24.0),
        "theta_e": (1.0, 3.5),
    },
    "lsst-g": {
        "label": "LSST-like (lenstronomy)",
        "bands": ["g"],
        "pixel_scale": 0.18,
        "num_pix": 45,
        "num_exposures": 200,
        "read_noise": 10.0,
        "bands_obs": {
            "g": {
                "magnitude_zero_point": 28.3,
                "exposure_time": 15.0,
                "sky": (21.4, 22.0),
                "seeing": (0.65, 0.95),
                "lens_colour": (0.0, 0.0),
                "source_colour": (0.0, 0.0),
            }
        },
        "lens_mag": (19.0, 22.0),
        "lens_r": (0.3, 1.5),
        "source_mag": (22.5, 25.5),
        "sigma_v": (150.0, 350.0),
        "z_lens": (0.2, 0.7),
        "z_source": 2.0,
    },
}
SURVEYS["kids-gri"] = {**SURVEYS["kids-r"], "bands": ["g", "r", "i"]}
COSMO = FlatLambdaCDM(H0=70.0, Om0=0.3)


class CrosscheckError(ValueError):
    """A request the cross-check renderer cannot serve; the message says why."""


def _ellipticity(phi, q):
    from lenstronomy.Util import param_util

    return param_util.phi_q2_ellipticity(phi, q)


def _einstein_radius(sigma_kms, z_l, z_s):
    """theta_E (arcsec) of an SIS: 4 pi (sigma/c)^2 D_ls/D_s, with astropy."""
    ratio = (COSMO.angular_diameter_distance(z_l, z_s) / COSMO.angular_diameter_distance(z_s)).value
    return float(4 * np.pi * (sigma_kms / 299792.458) ** 2 * ratio * u.rad.to(u.arcsec))


def _sersic(rng, mag, r_range, n_range, q_range, x, y):
    e1, e2 = _ellipticity(rng.uniform(0, np.pi), rng.uniform(*q_range))
    return {
        "magnitude": mag,
        "R_sersic": rng.uniform(*r_range),
        "n_sersic": rng.uniform(*n_range),
        "e1": e1,
        "e2": e2,
        "center_x": x,
        "center_y": y,
    }


def _knots(rng, mag_total, xs, ys, sigma):
    """Gaussian knots sharing ``mag_total``: lenstronomy GAUSSIAN profiles."""
    weights = rng.uniform(0.3, 1.0, len(xs))
    weights /= weights.sum()
    return [
        {"magnitude": mag_total - 2.5 * np.log10(w), "sigma": sigma, "center_x": x, "center_y": y}
        for w, x, y in zip(weights, xs, ys, strict=True)
    ]


def _draw_stamp(survey, label, rng):
    """One stamp's models (as lenstronomy keyword lists, magnitudes in r)."""
    s = SURVEYS[survey]
    half = s["num_pix"] * s["pixel_scale"] / 2
    cx, cy = rng.uniform(-0.1, 0.1, 2)
    central_q = (0.55, 1.0)
    lens_mag = rng.uniform(*s["lens_mag"])
    kind = (
        "lens" if label == 1 else rng.choice(list(NONLENS_SHARES), p=list(NONLENS_SHARES.values()))
    )
    if kind == "elongated":
        central_q = (0.25, 0.45)
    light = [
        (
            "SERSIC_ELLIPSE",
            _sersic(rng, lens_mag, s["lens_r"], (3.0, 5.0), central_q, cx, cy),
            "red",
        )
    ]
    for _ in range(rng.poisson(1.0)):
        x, y = rng.uniform(-half, half, 2)
        light.append(
            (
                "SERSIC_ELLIPSE",
                _sersic(rng, rng.uniform(22, 25), (0.1, 0.6), (0.5, 3), (0.3, 1), x, y),
                "red" if rng.uniform() < 0.4 else "blue",
            )
        )
    lens, source, theta_e = None, None, 0.0
    if kind == "lens":
        # The mass has the light's ellipticity (Lanusse et al. Sect. 4.1).
        e1, e2 = light[0][1]["e1"], light[0][1]["e2"]
        if "theta_e" in s:
            theta_e = rng.uniform(*s["theta_e"])
        else:
            theta_e = _einstein_radius(
                rng.uniform(*s["sigma_v"]), rng.uniform(*s["z_lens"]), s["z_source"]
            )
        gamma, angle = rng.uniform(0, 0.1), rng.uniform(0, np.pi)
        lens = [
            {"theta_E": theta_e, "e1": e1, "e2": e2, "center_x": cx, "center_y": cy},
            {
                "gamma1": gamma * np.cos(2 * angle),
                "gamma2": gamma * np.sin(2 * angle),
                "ra_0": cx,
                "dec_0": cy,
            },
        ]
        r = 0.5 * theta_e * np.sqrt(rng.uniform())
        a = rng.uniform(0, 2 * np.pi)
        source = _sersic(
            rng,
            rng.uniform(*s["source_mag"]),
            (0.1, 0.5),
            (0.5, 2.5),
            (0.4, 1.0),
            cx + r * np.cos(a),
            cy + r * np.sin(a),
        )
    elif kind == "pair":
        r, a = rng.uniform(2.0, min(7.0, half - 0.5)), rng.uniform(0, 2 * np.pi)
        light.append(
            (
                "SERSIC_ELLIPSE",
                _sersic(
                    rng,
                    lens_mag + rng.uniform(0, 2),
                    s["lens_r"],
                    (3, 5),
                    (0.55, 1),
                    r * np.cos(a),
                    r * np.sin(a),
                ),
                "red",
            )
        )
    elif kind == "spiral":
        disk_mag = lens_mag + rng.uniform(0.0, 1.0)
        r_disk = rng.uniform(*s["lens_r"])
        light.append(
            (
                "SERSIC_ELLIPSE",
                {**_sersic(rng, disk_mag, (r_disk, r_disk), (1, 1), (0.4, 1), cx, cy)},
                "blue",
            )
        )
        arms, pitch, phase = (
            rng.integers(2, 4),
            np.deg2rad(rng.uniform(12, 28)),
            rng.uniform(0, 2 * np.pi),
        )
        t = np.linspace(0.3, 2.2, 12)
        xs, ys = [], []
        for k in range(arms):
            angle = phase + 2 * np.pi * k / arms + np.log(t) / np.tan(pitch)
            xs += list(cx + r_disk * t * np.cos(angle))
            ys += list(cy + r_disk * t * np.sin(angle))
        for knot in _knots(rng, disk_mag + rng.uniform(0.5, 1.5), xs, ys, 0.12):
            light.append(("GAUSSIAN", knot, "blue"))
    elif kind == "ring":
        radius, q, phi = (
            rng.uniform(1.2, min(3.5, half - 1)),
            rng.uniform(0.7, 1.0),
            rng.uniform(0, np.pi),
        )
        t = np.linspace(0, 2 * np.pi, 36, endpoint=False)
        x, y = radius * np.cos(t), radius * q * np.sin(t)
        xs = cx + x * np.cos(phi) - y * np.sin(phi)
        ys = cy + x * np.sin(phi) + y * np.cos(phi)
        for knot in _knots(rng, rng.uniform(*s["source_mag"]) - 1.5, xs, ys, 0.15):
            light.append(("GAUSSIAN", knot, "blue"))
    elif kind == "blue-neighbour":
        r, a = rng.uniform(1.5, min(4.0, half - 0.5)), rng.uniform(0, 2 * np.pi)
        e1, e2 = _ellipticity(a + np.pi / 2, rng.uniform(0.2, 0.5))
        light.append(
            (
                "SERSIC_ELLIPSE",
                {
                    "magnitude": rng.uniform(*s["source_mag"]) - 1.0,
                    "R_sersic": rng.uniform(0.2, 0.6),
                    "n_sersic": rng.uniform(0.5, 1.5),
                    "e1": e1,
                    "e2": e2,
                    "center_x": cx + r * np.cos(a),
                    "center_y": cy + r * np.sin(a),
                },
                "blue",
            )
        )
    colours = {
        b: {"red": rng.uniform(*o["lens_colour"]), "blue": rng.uniform(*o["source_colour"])}
        for b, o in s["bands_obs"].items()
    }
    observing = {
        b: {"sky": rng.uniform(*o["sky"]), "seeing": rng.uniform(*o["seeing"])}
        for b, o in s["bands_obs"].items()
    }
    return {
        "kind": kind,
        "light": light,
        "lens": lens,
        "source": source,
        "theta_e": theta_e,
        "colours": colours,
        "observing": observing,
        "seed": int(rng.integers(2**31 - 1)),
    }


def _render(survey, draw):
    """Noisy stamp (bands, H, W) in e-/s, the arc S/N and the r/ref-band PSF."""
    from lenstronomy.SimulationAPI.sim_api import SimAPI

    s = SURVEYS[survey]
    images, snr, psf = [], 0.0, 0.0
    ref = "r" if "r" in s["bands"] else s["bands"][0]
    noise_rng = np.random.default_rng(draw["seed"])
    for band in s["bands"]:
        obs = s["bands_obs"][band]
        kwargs_band = {
            "pixel_scale": s["pixel_scale"],
            "exposure_time": obs["exposure_time"],
            "magnitude_zero_point": obs["magnitude_zero_point"],
            "read_noise": s["read_noise"],
            "ccd_gain": 1.0,
            "sky_brightness": draw["observing"][band]["sky"],
            "seeing": draw["observing"][band]["seeing"],
            "num_exposures": s["num_exposures"],
            "psf_type": "GAUSSIAN",
            "data_count_unit": "e-",
        }
        kwargs_model = {"lens_light_model_list": [model for model, _, _ in draw["light"]]}
        if draw["lens"] is not None:
            kwargs_model.update(
                lens_model_list=["SIE", "SHEAR"], source_light_model_list=["SERSIC_ELLIPSE"]
            )
        sim = SimAPI(s["num_pix"], kwargs_band, kwargs_model)
        shift = draw["colours"][band]
        lens_light = [{**k, "magnitude": k["magnitude"] + shift[c]} for _, k, c in draw["light"]]
        source = None
        if draw["source"] is not None:
            source = [{**draw["source"], "magnitude": draw["source"]["magnitude"] + shift["blue"]}]
        kw_light, kw_source, _ = sim.magnitude2amplitude(lens_light, source)
        model = sim.image_model_class({"supersampling_factor": 2})
        image = model.image(draw["lens"], kw_source, kw_light)
        if band == ref:
            psf = draw["observing"][band]["seeing"]
            if source is not None:
                arc = model.image(draw["lens"], kw_source, kw_light, lens_light_add=False)
                snr = arc_snr(arc, sim.background_noise)
        seed = int(noise_rng.integers(2**31 - 1))
        images.append(image + sim.noise_for_model(image, seed=seed))
    return np.stack(images).astype(np.float32), snr, psf


def arc_snr(arc, sigma):
    """Lanusse et al. 2018 eq. 10 on a noiseless arc: F / (sigma sqrt(N)) over
    the pixels above 0.5 sigma (0 when none)."""
    mask = arc > 0.5 * sigma
    n = mask.sum()
    return float(arc[mask].sum() / (sigma * np.sqrt(n))) if n else 0.0


def _chunk(args):
    survey, labels, seed = args
    rng = np.random.default_rng(seed)
    stamps, rows = [], []
    for label in labels:
        draw = _draw_stamp(survey, int(label), rng)
        image, snr, psf = _render(survey, draw)
        stamps.append(image)
        rows.append((int(label), draw["kind"], draw["theta_e"], snr, psf))
    return np.stack(stamps), rows


def make_set(survey, n_lenses, n_nonlenses, seed, out, workers=None, progress=None):
    """Write ``n_lenses`` + ``n_nonlenses`` lenstronomy stamps to ``out``.

    Labels are shuffled; chunks of ``CHUNK`` stamps are drawn from streams
    spawned from ``seed`` and rendered on ``workers`` processes (all cores by
    default): the same arguments give the same file. Returns the path.
    """
    if survey not in SURVEYS:
        raise CrosscheckError(f"Unknown survey {survey!r}: choose one of {', '.join(SURVEYS)}.")
    if min(n_lenses, n_nonlenses) < 0 or n_lenses + n_nonlenses == 0:
        raise CrosscheckError("Ask for a positive number of stamps (lenses and non-lenses >= 0).")
    s = SURVEYS[survey]
    out = Path(out)
    total = n_lenses + n_nonlenses
    order_seed, *seeds = np.random.SeedSequence([seed, 424242]).spawn(1 + -(-total // CHUNK))
    labels = np.random.default_rng(order_seed).permutation(
        np.repeat([1, 0], [n_lenses, n_nonlenses])
    )
    jobs = [(survey, labels[k * CHUNK : (k + 1) * CHUNK], seeds[k]) for k in range(len(seeds))]
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    primary = fits.Header()
    primary["PIXSCALE"] = (s["pixel_scale"], "arcsec per pixel")
    primary["BANDS"] = ",".join(s["bands"])
    primary["SURVEY"] = s["label"]
    primary["UNITS"] = "e-/s"
    primary["GENERATR"] = GENERATOR
    primary["SEED"] = seed
    fits.PrimaryHDU(header=primary).writeto(tmp, overwrite=True)
    cube = fits.Header()
    for key, value in (
        ("XTENSION", "IMAGE"),
        ("BITPIX", -32),
        ("NAXIS", 4),
        ("NAXIS1", s["num_pix"]),
        ("NAXIS2", s["num_pix"]),
        ("NAXIS3", len(s["bands"])),
        ("NAXIS4", total),
        ("PCOUNT", 0),
        ("GCOUNT", 1),
        ("EXTNAME", "STAMPS"),
    ):
        cube[key] = value
    rows, done = [], 0
    try:
        stream = fits.StreamingHDU(str(tmp), cube)
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            for stamps, chunk_rows in pool.map(_chunk, jobs):
                stream.write(np.ascontiguousarray(stamps, dtype=">f4"))
                rows += chunk_rows
                done += len(chunk_rows)
                if progress:
                    progress(done, total)
        stream.close()
        label, kind, theta_e, snr, psf = zip(*rows, strict=True)
        meta = Table(
            {
                "id": [f"lenstronomy-{seed}-{i:07d}" for i in range(total)],
                "label": np.asarray(label, np.int16),
                "kind": np.asarray(kind),
                "theta_e": np.asarray(theta_e, np.float32),
                "snr": np.asarray(snr, np.float32),
                "psf_fwhm": np.asarray(psf, np.float32),
            }
        )
        hdu = fits.BinTableHDU(meta, name="META")
        fits.append(tmp, hdu.data, hdu.header)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
