"""The classifier experiments of He et al. 2020 (Sect. 5) and Lanusse et al.
2018 (Sect. 5, Fig. 9): parameter checks, the figures of merit with their
errors, and each experiment's summary (pure: no Django).

The experiments themselves (sets, training, scoring, the ``Experiment``
record) run in ``classifier.experiment_services``; everything here works on
arrays and plain values, so it is tested without a database.

Error conventions (chosen here; the papers give none):

- completeness, accuracy and TPR are binomial fractions: their error bars
  are Wilson score intervals at 1 sigma (68%), which stay inside [0, 1] and
  are not zero at 0 or 1 successes;
- an AUC's error bar is the Hanley & McNeil (1982) standard error;
- a difference of two AUCs on one test set (the complexity experiment) gets
  a paired bootstrap over the test stamps: 95% percentile interval.
"""

from __future__ import annotations

import copy
import csv
import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from classifier import metrics

KINDS = {
    "psf": "PSF robustness (He et al. 2020 Sect. 5.1)",
    "volume": "Training volume (He et al. 2020 Sect. 5.2)",
    "complexity": "Network complexity and simulation realism (Lanusse et al. 2018 Fig. 9)",
    "snet-rnet": "Simulated vs semi-real training (He et al. 2020 Table 3)",
}
DEFAULT_PSF_FACTORS = (0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0)
DEFAULT_VOLUME_SIZES = (10_000, 20_000, 40_000, 80_000)
MAX_PSF_FACTOR = 5.0
FPR = 0.01
# He et al. 2020 Sect. 3.3 / Table 2: 80% ellipticals (half of them paired),
# 10% highly elongated galaxies, 10% bulge + disk. The kinds closest to it:
# ellipticals (their axis ratios cover the elongated ones), pairs, and
# spirals (bulge + disk; ours also have arms, which He et al.'s lack).
SIMPLE_NEGATIVES = {"elliptical": 0.5, "group": 0.4, "spiral": 0.1}
SIMPLE_SUBKINDS = {"group": {"pair": 1.0}}


class ExperimentError(ValueError):
    """Parameters an experiment cannot run with; the message says which and why."""


def _numbers(text: str | Sequence[float], what: str, example: str) -> list[float]:
    """The numbers of a comma-separated list (or a sequence), each named in
    the error when it is not one."""
    items = text.split(",") if isinstance(text, str) else list(text)
    values = []
    for item in items:
        try:
            values.append(float(item))
        except (TypeError, ValueError):
            raise ExperimentError(
                f"{what} {str(item).strip()!r} is not a number: give {what.lower()}s such as "
                f"{example}."
            ) from None
    if not values:
        raise ExperimentError(f"Give at least one {what.lower()}, such as {example}.")
    return values


def parse_factors(text: str | Sequence[float]) -> list[float]:
    """PSF factors from ``"0.4,0.6,..."`` (or a sequence): each in (0, 5],
    sorted, duplicates dropped, and 1.0 added when missing: the drop is
    measured from it."""
    factors = set()
    for value in _numbers(text, "PSF factor", "0.4,0.6,1.0,1.5"):
        if not (0 < value <= MAX_PSF_FACTOR) or not math.isfinite(value):
            raise ExperimentError(
                f"PSF factor {value:g} is out of range: each factor multiplies the training "
                f"set's median FWHM and must lie in (0, {MAX_PSF_FACTOR:g}]."
            )
        factors.add(round(value, 6))
    return sorted(factors | {1.0})


def parse_sizes(text: str | Sequence[int], batch_size: int) -> list[int]:
    """Training-set sizes from ``"10000,20000,..."``: whole numbers of at least
    one batch and at least 2 (one stamp of each class), sorted, unique."""
    sizes = set()
    for value in _numbers(text, "Training size", "10000,20000,40000"):
        if not math.isfinite(value) or value != int(value):
            raise ExperimentError(f"Training size {value:g} is not a whole number of stamps.")
        if value < max(batch_size, 2):
            raise ExperimentError(
                f"Training size {int(value)} is below the batch size ({batch_size}): each "
                "network needs at least one full batch of stamps."
            )
        sizes.add(int(value))
    return sorted(sizes)


def wilson(k: int, n: int, z: float = 1.0) -> tuple[float | None, float | None]:
    """Wilson score interval of a binomial fraction ``k/n`` at ``z`` sigma
    (1: 68%); ``(None, None)`` when ``n`` is 0."""
    if n <= 0:
        return None, None
    p = k / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def auc_error(auc: float, n_lenses: int, n_nonlenses: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC measured on
    ``n_lenses`` lenses and ``n_nonlenses`` non-lenses."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (n_lenses - 1) * (q1 - auc**2) + (n_nonlenses - 1) * (q2 - auc**2)
    ) / (n_lenses * n_nonlenses)
    return math.sqrt(max(variance, 0.0))


def _fraction(found: np.ndarray) -> dict:
    k, n = int(found.sum()), int(found.size)
    low, high = wilson(k, n)
    return {"value": k / n if n else None, "low": low, "high": high, "n": n}


def set_metrics(
    scores: ArrayLike,
    labels: ArrayLike,
    threshold: float | None = None,
    theta_e: ArrayLike | None = None,
    snr: ArrayLike | None = None,
) -> dict:
    """The figures of merit of one network on one labelled set.

    Parameters
    ----------
    scores : array_like
        ``(n,)`` log-odds (any monotonic score ranks the same; thresholds
        are in its units).
    labels : array_like
        ``(n,)`` 1 lens, 0 non-lens.
    threshold : float, optional
        A fixed threshold (the network's own 1%-FPR one): accuracy and
        completeness are measured at it.
    theta_e, snr : array_like, optional
        Einstein radii (arcsec) and arc S/N, for the completeness of bright
        lenses (theta_E > 1.4", S/N > 20) at this set's 1%-FPR threshold.

    Returns
    -------
    dict
        ``auc``, ``auc_error``, ``tpr_at_1pct`` (Wilson interval), the
        threshold giving it, and with ``threshold``: ``accuracy`` and
        ``completeness`` (Wilson intervals); with ``theta_e`` and ``snr``:
        ``bright_completeness``.
    """
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels)
    lens = labels == 1
    auc = metrics.auc(scores, labels)
    at_fpr, _ = metrics.tpr_at_fpr(scores, labels, FPR)
    out = {
        "n_lenses": int(lens.sum()),
        "n_nonlenses": int((~lens).sum()),
        "auc": auc,
        "auc_error": auc_error(auc, int(lens.sum()), int((~lens).sum())),
        "threshold_at_1pct": at_fpr,
        "tpr_at_1pct": _fraction(scores[lens] >= at_fpr),
    }
    if threshold is not None:
        out["threshold"] = float(threshold)
        out["accuracy"] = _fraction((scores >= threshold) == lens)
        out["completeness"] = _fraction(scores[lens] >= threshold)
    if theta_e is not None and snr is not None:
        bright = metrics.bright_lenses(labels, theta_e, snr)
        out["bright_completeness"] = _fraction(scores[bright] >= at_fpr)
    return out


def worst_drop(rows: Sequence[Mapping], key: str) -> dict | None:
    """The factor whose ``key`` figure (``auc`` or a fraction's value) falls
    furthest below factor 1.0's, and by how much; None without factor 1.0."""

    def value(row):
        figure = row[key]
        return figure["value"] if isinstance(figure, Mapping) else figure

    reference = [value(r) for r in rows if r["factor"] == 1.0]
    if not reference or reference[0] is None:
        return None
    candidates = [(reference[0] - value(r), r["factor"]) for r in rows if value(r) is not None]
    drop, factor = max(candidates)
    return {"factor": factor, "drop": drop, "at_1": reference[0]}


def bootstrap_auc_difference(
    scores_a: ArrayLike,
    scores_b: ArrayLike,
    labels: ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """AUC(a) - AUC(b) on one test set with a paired bootstrap 95% interval
    (the same resampled stamps for both networks, lenses and non-lenses
    resampled separately so every replicate holds both classes)."""
    a, b = np.asarray(scores_a, np.float64), np.asarray(scores_b, np.float64)
    labels = np.asarray(labels)
    diff = metrics.auc(a, labels) - metrics.auc(b, labels)
    rng = np.random.default_rng(seed)
    lenses, others = np.flatnonzero(labels == 1), np.flatnonzero(labels != 1)
    replicates = np.empty(n_boot)
    for i in range(n_boot):
        pick = np.concatenate([rng.choice(lenses, len(lenses)), rng.choice(others, len(others))])
        replicates[i] = metrics.auc(a[pick], labels[pick]) - metrics.auc(b[pick], labels[pick])
    low, high = np.percentile(replicates, [2.5, 97.5])
    return {"difference": diff, "low": float(low), "high": float(high), "n_boot": n_boot}


def roc_points(scores: ArrayLike, labels: ArrayLike, max_points: int = 200) -> dict:
    """A ROC curve thinned to at most ``max_points`` points (for a results
    record that a page draws), first and last points kept."""
    fpr, tpr, _ = metrics.roc_curve(scores, labels)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr]}


def simple_config(config: dict) -> dict:
    """``config`` with He et al. 2020 Table 2's non-lenses only
    (``SIMPLE_NEGATIVES``): the 'simple' training set of the complexity
    experiment. Everything else (lenses, depth, seeing, neighbours) is kept,
    so the two sets differ only in their negatives."""
    simple = copy.deepcopy(config)
    simple["nonlens_kinds"] = dict(SIMPLE_NEGATIVES)
    simple["subkinds"] = {
        **{k: v for k, v in config.get("subkinds", {}).items() if k in SIMPLE_NEGATIVES},
        **SIMPLE_SUBKINDS,
    }
    simple["label"] = f"{config['label']} (He et al. Table 2 negatives)"
    return simple


def reference_fwhm(
    train_fwhm: Mapping[str, ArrayLike] | None, config: dict
) -> tuple[dict[str, float], str]:
    """The PSF FWHM (arcsec, per band) that factor 1.0 stands for: the median
    of the network's training set where its META has it, else the survey
    configuration's median seeing (the middle of its range where it has no
    median). Returns ``(fwhm per band, where it came from)``."""
    if train_fwhm and all(len(np.asarray(v)) for v in train_fwhm.values()):
        return (
            {b: float(np.median(np.asarray(v))) for b, v in train_fwhm.items()},
            "the median PSF FWHM of the network's training set",
        )
    out = {}
    for band in config["bands"]:
        seeing = config["seeing"][band]
        out[band] = float(seeing.get("median_arcsec", sum(seeing["range_arcsec"]) / 2))
    return out, "the survey configuration's median seeing (the training set was not readable)"


def overlap(a: Sequence, b: Sequence) -> dict:
    """How two candidate lists overlap (He et al. 2020 Table 3): their
    sizes, the ids in both and in one only, and the Jaccard index."""
    set_a, set_b = set(a), set(b)
    both = set_a & set_b
    union = set_a | set_b
    return {
        "n_a": len(set_a),
        "n_b": len(set_b),
        "both": len(both),
        "only_a": len(set_a - set_b),
        "only_b": len(set_b - set_a),
        "jaccard": len(both) / len(union) if union else None,
        "ids_both": sorted(both),
        "ids_only_a": sorted(set_a - set_b),
        "ids_only_b": sorted(set_b - set_a),
    }


def top(ids: Sequence, scores: ArrayLike, n: int) -> list:
    """The ``n`` ids of the highest scores (ties broken by id, so the list
    does not depend on the input order)."""
    scores = np.asarray(scores, np.float64)
    order = np.lexsort((np.asarray(ids), -scores))
    return [ids[i] for i in order[: max(int(n), 0)]]


# --- Exports ----------------------------------------------------------------------


def _flat(prefix: str, value: object, row: dict) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, row)
    elif not isinstance(value, list):
        row[prefix] = value


def results_table(kind: str, results: Mapping) -> list[dict]:
    """One flat row per measured point (nested keys joined by dots): per PSF
    factor, per training size, or per (network, test set) and per AUC
    difference; ROC curves are left to the JSON export."""
    if kind == "complexity":
        items = [{"row": "auc", **m} for m in results.get("matrix", [])] + [
            {"row": "difference", **d} for d in results.get("differences", [])
        ]
    elif kind == "snet-rnet":
        items = [{"comparison": k, **v} for k, v in results.get("overlaps", {}).items()] + [
            {"comparison": f"high-probability list of {c['campaign']}", **c}
            for c in results.get("campaigns", [])
        ]
    else:
        items = list(results.get("rows", []))
    table = []
    for item in items:
        row: dict = {}
        _flat("", {k: v for k, v in item.items() if k != "roc"}, row)
        table.append(row)
    return table


# What a row is about comes first; the figures follow by name. (The order must
# not come from the stored JSON: PostgreSQL's jsonb keeps its own key order.)
LEADING_COLUMNS = ("row", "comparison", "factor", "size", "network", "test", "a", "b",
                   "campaign")  # fmt: skip


def table_columns(table: Sequence[Mapping]) -> list[str]:
    """The columns of ``results_table`` rows: ``LEADING_COLUMNS`` present,
    then every other key in alphabetical order."""
    keys = {k for row in table for k in row}
    return [k for k in LEADING_COLUMNS if k in keys] + sorted(keys - set(LEADING_COLUMNS))


def results_csv(kind: str, results: Mapping) -> str:
    """``results_table`` as CSV (columns: ``table_columns``)."""
    table = results_table(kind, results)
    columns = table_columns(table)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue()
