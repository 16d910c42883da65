"""Rank statistics shared by the classifier's metrics and the simulator's
shortcut audit (pure: numpy only)."""

import numpy as np


def rank_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic.

    The probability that a random positive scores above a random negative,
    ties counting half. ``scores`` are finite floats, ``positive`` a boolean
    mask of the same shape with both classes present (callers check).
    """
    scores = np.asarray(scores, np.float64)
    positive = np.asarray(positive, bool)
    # Average 1-based ranks: a tie group spanning ranks a+1..b gets (a+b+1)/2.
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2)[inverse]
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
