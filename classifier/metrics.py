"""Classifier metrics, one definition each (DESIGN.md "Metrics"). Pure numpy.

Scores are P(lens); a stamp is called a lens when ``score >= threshold``.
"""

import numpy as np


class MetricsError(ValueError):
    """Scores and labels that no metric can be computed from."""


def _check(scores, labels):
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise MetricsError(
            f"scores {scores.shape} and labels {labels.shape} must be 1-d and alike."
        )
    if not np.all(np.isin(labels, (0, 1))):
        raise MetricsError(
            "Labels must be 1 (lens) or 0 (non-lens); unlabelled stamps (-1) cannot be evaluated."
        )
    n_pos = int((labels == 1).sum())
    if n_pos == 0 or n_pos == len(labels):
        raise MetricsError(
            "Evaluation needs both lenses and non-lenses; this set has "
            f"{n_pos} lenses and {len(labels) - n_pos} non-lenses."
        )
    if np.any(~np.isfinite(scores)):
        raise MetricsError("Some scores are NaN or infinite.")
    return scores, labels == 1


def roc_curve(scores, labels):
    """(fpr, tpr, thresholds), from the strictest threshold down; starts at (0, 0)."""
    scores, pos = _check(scores, labels)
    order = np.argsort(-scores, kind="stable")
    s, p = scores[order], pos[order]
    # The last index of each run of equal scores: one point per distinct threshold.
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(p)[last]
    fp = np.cumsum(~p)[last]
    tpr = np.r_[0.0, tp / pos.sum()]
    fpr = np.r_[0.0, fp / (~pos).sum()]
    return fpr, tpr, np.r_[np.inf, s[last]]


def auc(scores, labels):
    """Area under the ROC curve: P(score of a lens > score of a non-lens), ties half."""
    scores, pos = _check(scores, labels)
    ranks = _average_ranks(scores)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values):
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    ends = np.r_[starts[1:], len(values)]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2  # 1-based average rank of the tie group
    return ranks


def threshold_above(negative_scores, n_false_positives):
    """The lowest threshold letting at most ``n_false_positives`` non-lenses through."""
    neg = np.sort(np.asarray(negative_scores, np.float64))[::-1]
    if n_false_positives >= len(neg):
        return float(neg[-1])
    # Just above the first non-lens that must be rejected (ties are rejected together).
    return float(np.nextafter(neg[n_false_positives], np.inf))


def tpr_at_fpr(scores, labels, fpr):
    """(threshold, TPR) at the lowest threshold whose FPR on non-lenses is <= ``fpr``."""
    scores, pos = _check(scores, labels)
    neg = scores[~pos]
    threshold = threshold_above(neg, int(np.floor(fpr * len(neg) + 1e-9)))
    return threshold, float(np.mean(scores[pos] >= threshold))


def tpr0(scores, labels):
    """Metcalf et al. 2019: the TPR when no non-lens gets through."""
    scores, pos = _check(scores, labels)
    return float(np.mean(scores[pos] >= threshold_above(scores[~pos], 0)))


def tpr10(scores, labels):
    """Metcalf et al. 2019: the TPR when fewer than 10 non-lenses get through."""
    scores, pos = _check(scores, labels)
    return float(np.mean(scores[pos] >= threshold_above(scores[~pos], 9)))


def accuracy(scores, labels, threshold=0.5):
    """(TP + TN) / all (He et al. 2020)."""
    scores, pos = _check(scores, labels)
    return float(np.mean((scores >= threshold) == pos))


def completeness(scores, labels, threshold=0.5):
    """TPR = TP / (TP + FN)."""
    scores, pos = _check(scores, labels)
    return float(np.mean(scores[pos] >= threshold))


THETA_E_CUTS = (0.0, 1.0, 1.4, 2.0)
SNR_CUTS = (0.0, 20.0, 40.0, 80.0)


def completeness_grid(scores, labels, theta_e, snr, threshold, theta_e_cuts=THETA_E_CUTS,
                      snr_cuts=SNR_CUTS):  # fmt: skip
    """Completeness of the lenses with theta_E > cut (arcsec) and S/N > cut
    (Lanusse et al. 2018 Fig. 6): a list of {theta_e_min, snr_min, n, completeness}."""
    scores, pos = _check(scores, labels)
    theta_e, snr = np.asarray(theta_e, float), np.asarray(snr, float)
    grid = []
    for t in theta_e_cuts:
        for s in snr_cuts:
            chosen = pos & (theta_e > t) & (snr > s)
            n = int(chosen.sum())
            value = float(np.mean(scores[chosen] >= threshold)) if n else None
            grid.append({"theta_e_min": t, "snr_min": s, "n": n, "completeness": value})
    return grid


def prior_shift(p, train_prior, new_prior):
    """Lanusse et al. 2018 eq. 5 (Saerens et al. 2002): a score trained with a
    lens fraction ``train_prior`` converted to the fraction ``new_prior``."""
    for name, prior in (("train_prior", train_prior), ("new_prior", new_prior)):
        if not 0 < prior < 1:
            raise ValueError(f"{name} must lie strictly between 0 and 1, not {prior}.")
    p = np.asarray(p, np.float64)
    lens = new_prior / train_prior * p
    other = (1 - new_prior) / (1 - train_prior) * (1 - p)
    return lens / (lens + other)
