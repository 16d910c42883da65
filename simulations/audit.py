"""Shortcut audit: how well single, no-learning summaries of a stamp tell
lenses from non-lenses (pure: numpy and torch, no Django).

A training set hands a network a shortcut when something other than the
lensed light separates the classes: lens galaxies bigger or brighter than
non-lenses, a noise level that depends on the label. Each summary below is
one number per stamp, measured on the reference band as a network would see
it (no fit, no learning); its AUC for lens vs non-lens is 0.5 when it
carries no information and 0 or 1 when it separates the classes. A set
passes when every summary's AUC lies within [0.2, 0.8] and the noise
sigma's within 0.5 +- 0.05 (the noise must know nothing of the label).
A small set measures an AUC only to its standard error (0.5 +- 0.04 for
100 + 100 stamps), so a summary is flagged when it is outside its range by
more than two standard errors; for the 10^4-10^6 stamps of a training set
that is the plain range. The
arcs themselves add light, so fluxes may lean a little towards lenses; a
network must beat the best summary by far.

``simulate`` runs it on every set it writes (printed, and stored in the
file's header as ``AUD_*`` keys); ``evaluate_network`` reports it beside
the network's AUC on any labelled set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from core.imaging import BORDER_PX, estimate_noise_sigma
from core.stats import rank_auc

if TYPE_CHECKING:
    from simulations.stampset import StampSet


# name -> (FITS header key, what it is)
SUMMARIES = {
    "flux_0.5": ("AUD_F05", 'flux within 0.5" of the centre'),
    "flux_1": ("AUD_F1", 'flux within 1"'),
    "peak": ("AUD_PEAK", 'brightest pixel within 1"'),
    "total_flux": ("AUD_TOT", "flux of the whole stamp"),
    "concentration": ("AUD_CONC", 'flux within 0.5" / total'),
    "noise_sigma": ("AUD_NOIS", "background noise sigma (the networks' estimate)"),
    "lens_mag": ("AUD_LMAG", "central galaxy magnitude (META)"),
    "lens_r_eff": ("AUD_LREF", "central galaxy R_eff (META)"),
}
AUC_RANGE = (0.2, 0.8)
NOISE_AUC_RANGE = (0.45, 0.55)
META_SUMMARIES = ("lens_mag", "lens_r_eff")


def reference_band_index(bands: list[str]) -> int:
    """The band the audit measures: r where there is one, else the first."""
    bands = list(bands)
    return bands.index("r") if "r" in bands else 0


def summaries(
    stamps: ArrayLike, pixscale_arcsec: float, band: int = 0, meta: Mapping | None = None
) -> dict[str, np.ndarray]:
    """The per-stamp summaries of ``stamps`` (N, B, H, W) in ``band``.

    Fluxes are sums over circular apertures about the stamp centre, after
    subtracting the median of the outer frame (the local sky); masked (NaN)
    pixels count as 0. ``meta`` (a mapping of columns) supplies the central
    galaxy's ``lens_mag`` and ``lens_r_eff`` where it has them.
    """
    stamps = np.asarray(stamps, np.float32)
    image = stamps[:, band]
    n, h, w = image.shape
    frame = np.concatenate(
        [
            image[:, :BORDER_PX].reshape(n, -1),
            image[:, -BORDER_PX:].reshape(n, -1),
            image[:, :, :BORDER_PX].reshape(n, -1),
            image[:, :, -BORDER_PX:].reshape(n, -1),
        ],
        axis=1,
    )
    sky = np.nan_to_num(np.nanmedian(frame, axis=1)) if n else np.zeros(0)
    flat = np.nan_to_num(image - sky[:, None, None])
    yy, xx = np.mgrid[:h, :w]
    radius = np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2) * pixscale_arcsec
    within_half, within_one = radius <= 0.5, radius <= 1.0
    out = {
        "flux_0.5": (flat * within_half).sum(axis=(1, 2)),
        "flux_1": (flat * within_one).sum(axis=(1, 2)),
        "peak": np.where(within_one, flat, -np.inf).max(axis=(1, 2)) if n else np.zeros(0),
        "total_flux": flat.sum(axis=(1, 2)),
    }
    out["concentration"] = out["flux_0.5"] / np.where(
        out["total_flux"] > 0, out["total_flux"], np.inf
    )
    out["noise_sigma"] = estimate_noise_sigma(stamps[:, band : band + 1]).numpy()[:, 0]
    for name in META_SUMMARIES:
        if meta is not None and name in meta:
            out[name] = np.asarray(meta[name], np.float64)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


@dataclass
class Audit:
    """Summaries gathered chunk by chunk (a set streamed to disk), then scored."""

    pixscale_arcsec: float
    band: int = 0
    parts: list = field(default_factory=list)
    labels: list = field(default_factory=list)

    def add(self, stamps: ArrayLike, labels: ArrayLike, meta: Mapping | None = None) -> None:
        self.parts.append(summaries(stamps, self.pixscale_arcsec, self.band, meta))
        self.labels.append(np.asarray(labels))

    def result(self) -> dict[str, float]:
        """{summary: AUC}, or {} when the set lacks a class."""
        if not self.parts:
            return {}
        labels = np.concatenate(self.labels)
        names = [k for k in self.parts[0] if all(k in p for p in self.parts)]
        merged = {k: np.concatenate([p[k] for p in self.parts]) for k in names}
        return aucs(merged, labels)


def auc_standard_error(n_lenses: int, n_nonlenses: int) -> float:
    """Standard error of an AUC of 0.5 (no information) between classes of
    these sizes: ``sqrt((n1 + n2 + 1) / (12 n1 n2))`` (Mann-Whitney)."""
    return float(np.sqrt((n_lenses + n_nonlenses + 1) / (12.0 * n_lenses * n_nonlenses)))


def aucs(values: dict[str, np.ndarray], labels: ArrayLike) -> dict[str, float]:
    """AUC of each summary for lens (label 1) vs non-lens (0), and under
    ``"n_lenses"``/``"n_nonlenses"`` the class sizes; {} when a class is
    missing. Unlabelled stamps (-1) are left out."""
    labels = np.asarray(labels)
    keep = labels >= 0
    positive = labels[keep] == 1
    if positive.all() or not positive.any():
        return {}
    out = {}
    for name, v in values.items():
        v = np.asarray(v, np.float64)[keep]
        finite = np.isfinite(v)
        v = np.where(finite, v, np.nanmin(np.where(finite, v, np.nan)) if finite.any() else 0.0)
        out[name] = rank_auc(v, positive)
    out["n_lenses"], out["n_nonlenses"] = int(positive.sum()), int((~positive).sum())
    return out


def _flagged(result):
    """(name, AUC, range) of the summaries significantly outside their range."""
    se = auc_standard_error(result["n_lenses"], result["n_nonlenses"])
    out = []
    for name in SUMMARIES:
        if name not in result:
            continue
        low, high = NOISE_AUC_RANGE if name == "noise_sigma" else AUC_RANGE
        value = result[name]
        if value < low - 2 * se or value > high + 2 * se:
            out.append((name, value, (low, high)))
    return out


def problems(result: dict[str, float]) -> list[str]:
    """The summaries that give the label away, as sentences (empty: passes)."""
    return [
        f"{name} ({SUMMARIES[name][1]}) separates lenses from non-lenses with AUC {value:.3f}, "
        f"outside [{low}, {high}]: a network can learn it instead of arcs."
        for name, value, (low, high) in _flagged(result)
    ]


def best_summary(result: dict[str, float]) -> dict | None:
    """The summary furthest from 0.5 (either way) as ``{"name", "auc",
    "separation"}``, separation being the AUC it gives when turned the
    right way up; None without a result."""
    names = [k for k in SUMMARIES if k in result]
    if not names:
        return None
    name = max(names, key=lambda k: abs(result[k] - 0.5))
    return {"name": name, "auc": result[name], "separation": 0.5 + abs(result[name] - 0.5)}


def header_cards(result: dict[str, float]) -> dict[str, tuple]:
    """FITS header cards (key -> (value, comment)) of an audit result."""
    cards = {
        key: (round(float(result[name]), 4), f"shortcut audit AUC: {name}")
        for name, (key, _) in SUMMARIES.items()
        if name in result
    }
    if result:
        cards["AUD_NL"] = (result["n_lenses"], "shortcut audit: lenses")
        cards["AUD_NN"] = (result["n_nonlenses"], "shortcut audit: non-lenses")
        cards["AUD_PASS"] = (not problems(result), "shortcut audit passed")
    return cards


HEADER_KEYS = [key for key, _ in SUMMARIES.values()] + ["AUD_NL", "AUD_NN", "AUD_PASS"]


def from_header(header: Mapping) -> dict[str, float]:
    """The audit result stored in a stamp-set header ({} if none: a set of
    one class has no audit, its placeholders stay at -1)."""
    out = {
        name: float(header[key])
        for name, (key, _) in SUMMARIES.items()
        if key in header and float(header[key]) >= 0
    }
    if out:
        out["n_lenses"], out["n_nonlenses"] = int(header["AUD_NL"]), int(header["AUD_NN"])
    return out


def audit_stampset(stampset: StampSet, chunk: int = 2048) -> dict[str, float]:
    """The audit of a labelled stamp set read from disk (any source)."""
    audit = Audit(stampset.pixscale_arcsec, reference_band_index(stampset.bands))
    meta = stampset.meta
    present = [c for c in META_SUMMARIES if c in meta.colnames]
    for start in range(0, len(stampset), chunk):
        sl = slice(start, start + chunk)
        audit.add(
            stampset.stamps(sl), stampset.labels[sl], {c: np.asarray(meta[c][sl]) for c in present}
        )
    return audit.result()


def report_lines(result: dict[str, float]) -> list[str]:
    """One line per summary, flagged where it gives the label away."""
    flagged = {name for name, _, _ in _flagged(result)}
    se = auc_standard_error(result["n_lenses"], result["n_nonlenses"])
    lines = [
        f"  ({result['n_lenses']} lenses, {result['n_nonlenses']} non-lenses: each AUC +- {se:.3f})"
    ]
    for name in SUMMARIES:
        if name in result:
            flag = "   <-- shortcut" if name in flagged else ""
            lines.append(f"  {name:14s} AUC {result[name]:.3f}{flag}")
    return lines
