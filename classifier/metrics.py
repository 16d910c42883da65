"""Classifier metrics, one definition each (docs/design.md "Metrics"). Pure numpy.

Scores are P(lens) (any monotonic score works); labels are 1 (lens) or 0
(non-lens). A stamp is called a lens when ``score >= threshold``, so tied
scores are always called alike.

- TPR (completeness) = TP / (TP + FN), FPR = FP / (FP + TN), accuracy =
  (TP + TN) / all (He et al. 2020); AUC of the ROC curve.
- Operating point by FPR (Lanusse et al. 2018): ``tpr_at_fpr``.
- Lens Finding Challenge (Metcalf et al. 2019): ``tpr0``, ``tpr10``.
- Completeness by Einstein radius and arc S/N (Lanusse et al. Fig. 6).

Calibration (NLL, ECE, temperature) and the class-prior mapping of Lanusse
et al. eq. 5 are in ``classifier.calibration``.
"""

import numpy as np
from numpy.typing import ArrayLike

from core.stats import rank_auc


class MetricsError(ValueError):
    """Scores and labels that the metric cannot be computed from."""


def _check(scores, labels, need=("lens", "non-lens")):
    """Scores as float64 and a boolean lens mask; ``need`` names the classes
    that must be present."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 1 or scores.shape != labels.shape:
        raise MetricsError(
            f"scores {scores.shape} and labels {labels.shape} must be 1-d and alike."
        )
    if not np.all(np.isin(labels, (0, 1))):
        raise MetricsError(
            "Labels must be 1 (lens) or 0 (non-lens); unlabelled stamps (-1) cannot be evaluated."
        )
    if not np.all(np.isfinite(scores)):
        raise MetricsError("Some scores are NaN or infinite.")
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if ("lens" in need and not n_pos) or ("non-lens" in need and not n_neg):
        wanted = "both lenses and non-lenses" if len(need) == 2 else "lenses"
        raise MetricsError(
            f"Evaluation needs {wanted}; this set has {n_pos} lenses and {n_neg} non-lenses."
        )
    return scores, pos


def roc_curve(scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve, one point per distinct score.

    Parameters
    ----------
    scores, labels : array_like
        ``(n,)`` scores and 0/1 labels.

    Returns
    -------
    fpr, tpr, thresholds : ndarray
        From the strictest threshold (``inf``: nothing called a lens, the
        point (0, 0)) down to the lowest score (everything called, (1, 1));
        point k has ``fpr[k]``, ``tpr[k]`` for ``score >= thresholds[k]``.
    """
    scores, pos = _check(scores, labels)
    order = np.argsort(-scores, kind="stable")
    s, p = scores[order], pos[order]
    # The last index of each run of equal scores: ties enter together.
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(p)[last]
    fp = np.cumsum(~p)[last]
    tpr = np.r_[0.0, tp / pos.sum()]
    fpr = np.r_[0.0, fp / (~pos).sum()]
    return fpr, tpr, np.r_[np.inf, s[last]]


def auc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve.

    Computed as the Mann-Whitney statistic: the probability that a random
    lens scores above a random non-lens, ties counting half; equal to the
    trapezoidal area under ``roc_curve``.

    Returns
    -------
    float
        In [0, 1]; 1 for perfectly separated scores, 0 for reversed ones.
    """
    scores, pos = _check(scores, labels)
    return rank_auc(scores, pos)


def _threshold_admitting(scores, negative_scores, n_false_positives):
    """The lowest threshold that calls at most ``n_false_positives`` non-lenses lenses."""
    neg = np.sort(negative_scores)[::-1]
    if n_false_positives >= len(neg):
        return float(scores.min())
    # Just above the highest non-lens that must be rejected; non-lenses tied
    # with it are rejected too, so ties can leave fewer false positives.
    return float(np.nextafter(neg[n_false_positives], np.inf))


def tpr_at_fpr(scores: ArrayLike, labels: ArrayLike, fpr: float) -> tuple[float, float]:
    """Operating point by false-positive rate (Lanusse et al. 2018).

    Parameters
    ----------
    scores, labels : array_like
        ``(n,)`` scores and 0/1 labels.
    fpr : float
        Target FPR on the non-lenses, e.g. 0.01 or 0.001.

    Returns
    -------
    threshold : float
        The lowest threshold whose FPR is <= ``fpr``, i.e. that lets through
        at most floor(fpr x n_non-lenses) non-lenses: the smallest float above
        the score of the first non-lens (from the top) that must be rejected.
        Non-lenses tied with that one are all rejected, so with ties the FPR
        can fall below the target; it never exceeds it.
    tpr : float
        The fraction of lenses with ``score >= threshold``.
    """
    if not 0 <= fpr <= 1:
        raise ValueError(f"fpr must lie in [0, 1], not {fpr}.")
    scores, pos = _check(scores, labels)
    neg = scores[~pos]
    # The small tolerance keeps e.g. 0.01 x 1000 from flooring to 9.
    threshold = _threshold_admitting(scores, neg, int(np.floor(fpr * len(neg) + 1e-9)))
    return threshold, float(np.mean(scores[pos] >= threshold))


def tpr0(scores: ArrayLike, labels: ArrayLike) -> float:
    """TPR0 (Metcalf et al. 2019): the TPR at the lowest threshold that still
    admits no false positive, i.e. the fraction of lenses scoring above every
    non-lens (a lens tied with the top non-lens does not count)."""
    scores, pos = _check(scores, labels)
    return float(np.mean(scores[pos] >= _threshold_admitting(scores, scores[~pos], 0)))


def tpr10(scores: ArrayLike, labels: ArrayLike) -> float:
    """TPR10 (Metcalf et al. 2019): the TPR at the lowest threshold admitting
    fewer than 10 false positives (at most 9)."""
    scores, pos = _check(scores, labels)
    return float(np.mean(scores[pos] >= _threshold_admitting(scores, scores[~pos], 9)))


def accuracy(scores: ArrayLike, labels: ArrayLike, threshold: float = 0.5) -> float:
    """(TP + TN) / all at ``threshold`` (He et al. 2020); any mix of classes."""
    scores, pos = _check(scores, labels, need=())
    return float(np.mean((scores >= threshold) == pos))


def completeness(scores: ArrayLike, labels: ArrayLike, threshold: float = 0.5) -> float:
    """TPR = TP / (TP + FN) at ``threshold``; non-lenses, if any, are ignored."""
    scores, pos = _check(scores, labels, need=("lens",))
    return float(np.mean(scores[pos] >= threshold))


THETA_E_CUTS = (0.0, 1.0, 1.4, 2.0)
SNR_CUTS = (0.0, 20.0, 40.0, 80.0)
# Bright lenses, as every evaluation of the project quotes them (Lanusse et
# al. 2018's completeness target): theta_E in arcsec, arc S/N (their eq. 10).
BRIGHT_THETA_E, BRIGHT_SNR = 1.4, 20.0


def bright_lenses(labels: ArrayLike, theta_e: ArrayLike, snr: ArrayLike) -> np.ndarray:
    """Mask of the lenses with theta_E > ``BRIGHT_THETA_E`` and arc S/N >
    ``BRIGHT_SNR``."""
    return (
        (np.asarray(labels) == 1)
        & (np.asarray(theta_e) > BRIGHT_THETA_E)
        & (np.asarray(snr) > BRIGHT_SNR)
    )


def completeness_grid(
    scores: ArrayLike,
    labels: ArrayLike,
    theta_e: ArrayLike,
    snr: ArrayLike,
    threshold: float,
    theta_e_cuts: ArrayLike = THETA_E_CUTS,
    snr_cuts: ArrayLike = SNR_CUTS,
) -> np.ndarray:
    """Completeness of the lenses above each pair of cuts (Lanusse et al. 2018 Fig. 6).

    Parameters
    ----------
    scores, labels : array_like
        ``(n,)`` scores and 0/1 labels; only lenses count.
    theta_e : array_like
        ``(n,)`` Einstein radii, arcsec (ignored for non-lenses).
    snr : array_like
        ``(n,)`` arc S/N (Lanusse et al. eq. 10).
    threshold : float
        Score threshold, usually the one at 1% FPR (``tpr_at_fpr``).
    theta_e_cuts : sequence of float
        Lower cuts on theta_E, arcsec; a lens counts when theta_E > cut.
    snr_cuts : sequence of float
        Lower cuts on S/N; a lens counts when S/N > cut.

    Returns
    -------
    list of dict
        ``{"theta_e_min", "snr_min", "n", "completeness"}`` for every pair of
        cuts, theta_E outermost; ``completeness`` is None where ``n`` is 0.
    """
    scores, pos = _check(scores, labels, need=("lens",))
    theta_e, snr = np.asarray(theta_e, np.float64), np.asarray(snr, np.float64)
    if theta_e.shape != scores.shape or snr.shape != scores.shape:
        raise MetricsError(
            f"theta_e {theta_e.shape} and snr {snr.shape} must match scores {scores.shape}."
        )
    found = scores >= threshold
    grid = []
    for t in theta_e_cuts:
        for s in snr_cuts:
            chosen = pos & (theta_e > t) & (snr > s)
            n = int(chosen.sum())
            value = float(found[chosen].mean()) if n else None
            grid.append({"theta_e_min": t, "snr_min": s, "n": n, "completeness": value})
    return grid


def by_kind(
    scores: ArrayLike, labels: ArrayLike, kinds: ArrayLike, threshold: float
) -> dict[str, dict]:
    """How each kind of non-lens fares against the lenses: which look-alikes
    a network confuses with lenses, and which fill its candidate list.

    Parameters
    ----------
    scores, labels : array_like
        ``(n,)`` scores and 0/1 labels.
    kinds : array_like of str
        ``(n,)`` the stamps' kinds (META ``kind``); lenses' kinds are ignored.
    threshold : float
        The operating point, usually the one at 1% FPR (``tpr_at_fpr``).

    Returns
    -------
    dict
        For each non-lens kind, sorted by name: ``n``; ``auc``, of all the
        lenses against that kind alone; ``fpr``, the share of that kind at or
        above ``threshold``; ``share_of_false_positives``, its share of all
        the non-lenses there (None when there are none).
    """
    scores, pos = _check(scores, labels)
    kinds = np.asarray(kinds).astype(str)
    if kinds.shape != scores.shape:
        raise MetricsError(f"kinds {kinds.shape} must match scores {scores.shape}.")
    passed = scores >= threshold
    n_false = int((passed & ~pos).sum())
    out = {}
    for kind in sorted(set(kinds[~pos])):
        mine = ~pos & (kinds == kind)
        chosen = pos | mine
        out[kind] = {
            "n": int(mine.sum()),
            "auc": auc(scores[chosen], pos[chosen].astype(int)),
            "fpr": float(passed[mine].mean()),
            "share_of_false_positives": (
                float((passed & mine).sum() / n_false) if n_false else None
            ),
        }
    return out
