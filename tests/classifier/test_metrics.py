"""Metrics against hand-computed cases."""

import numpy as np
import pytest

from classifier.metrics import (
    MetricsError,
    accuracy,
    auc,
    bright_lenses,
    by_kind,
    completeness,
    completeness_grid,
    roc_curve,
    tpr0,
    tpr10,
    tpr_at_fpr,
)


def test_auc_of_separated_reversed_tied_and_a_hand_case():
    labels = np.array([1, 1, 0, 0])
    assert auc([0.9, 0.8, 0.2, 0.1], labels) == 1.0
    assert auc([0.1, 0.2, 0.8, 0.9], labels) == 0.0
    # Pairs (lens, non-lens): (0.9,0.5) win, (0.9,0.7) win, (0.6,0.5) win, (0.6,0.7) lose.
    assert auc([0.9, 0.6, 0.5, 0.7], labels) == 0.75
    assert auc([0.5, 0.5, 0.5, 0.5], labels) == 0.5  # ties count half
    # (0.7,0.7) ties: half; (0.7,0.2), (0.9,0.7), (0.9,0.2) win: 3.5/4.
    assert auc([0.7, 0.9, 0.7, 0.2], labels) == 0.875


def test_the_roc_curve_of_a_hand_case():
    fpr, tpr, thresholds = roc_curve([0.9, 0.6, 0.5, 0.7], [1, 1, 0, 0])
    assert thresholds.tolist() == [np.inf, 0.9, 0.7, 0.6, 0.5]
    assert tpr.tolist() == [0, 0.5, 0.5, 1, 1]
    assert fpr.tolist() == [0, 0, 0.5, 0.5, 1]


def test_auc_equals_the_area_under_the_roc_curve():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 500)
    scores = np.round(rng.normal(labels, 1.0), 1)  # plenty of ties
    fpr, tpr, _ = roc_curve(scores, labels)
    assert np.trapezoid(tpr, fpr) == pytest.approx(auc(scores, labels), abs=1e-12)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1


def test_tpr_at_fpr_picks_the_lowest_threshold_within_the_budget():
    neg = np.arange(100) / 100  # 0.00 .. 0.99
    pos = np.array([0.995, 0.985, 0.975, 0.5])
    scores, labels = np.r_[pos, neg], np.r_[np.ones(4), np.zeros(100)]
    threshold, tpr = tpr_at_fpr(scores, labels, 0.01)  # one false positive allowed: 0.99
    assert threshold == np.nextafter(0.98, 1)
    assert tpr == 0.5
    assert np.mean(neg >= threshold) == 0.01
    threshold, tpr = tpr_at_fpr(scores, labels, 0.1)  # ten allowed: 0.90 .. 0.99
    assert threshold == np.nextafter(0.89, 1) and tpr == 0.75
    assert tpr_at_fpr(scores, labels, 1.0) == (0.0, 1.0)
    assert tpr0(scores, labels) == 0.25  # only 0.995 beats every non-lens
    assert tpr10(scores, labels) == 0.75  # up to 9 false positives: threshold above 0.90


def test_tied_non_lenses_are_rejected_together():
    scores = [0.9, 0.8, 0.8, 0.8, 0.1]
    labels = [1, 0, 0, 1, 0]
    # One false positive allowed, but the two at 0.8 go together: none gets
    # through, nor does the lens tied with them.
    threshold, tpr = tpr_at_fpr(scores, labels, 1 / 3)
    assert 0.8 < threshold < 0.9 and tpr == 0.5
    assert tpr0(scores, labels) == 0.5


def test_accuracy_and_completeness_follow_he2020():
    scores = [0.9, 0.4, 0.6, 0.1]
    labels = [1, 1, 0, 0]
    assert accuracy(scores, labels) == 0.5
    assert completeness(scores, labels) == 0.5
    assert completeness(scores, labels, threshold=0.3) == 1.0
    assert completeness([0.9, 0.4], [1, 1]) == 0.5  # a set of lenses alone
    assert accuracy([0.9, 0.4], [0, 0]) == 0.5  # or of non-lenses alone


def test_completeness_grid_counts_lenses_above_each_cut():
    scores = np.array([0.9, 0.9, 0.1, 0.9, 0.0])
    labels = np.array([1, 1, 1, 1, 0])
    theta = np.array([0.8, 1.2, 1.5, 2.5, 3.0])
    snr = np.array([10, 50, 90, 30, 99])
    rows = completeness_grid(scores, labels, theta, snr, 0.5)
    assert [(g["theta_e_min"], g["snr_min"]) for g in rows[:5]] == [
        (0, 0), (0, 20), (0, 40), (0, 80), (1.0, 0),
    ]  # fmt: skip
    grid = {(g["theta_e_min"], g["snr_min"]): g for g in rows}
    assert len(grid) == 16
    assert grid[(0.0, 0.0)] == {"theta_e_min": 0.0, "snr_min": 0.0, "n": 4, "completeness": 0.75}
    assert grid[(1.0, 20.0)]["n"] == 3 and grid[(1.0, 20.0)]["completeness"] == pytest.approx(2 / 3)
    assert grid[(1.4, 0.0)]["n"] == 2 and grid[(1.4, 0.0)]["completeness"] == 0.5
    assert grid[(0.0, 80.0)] == {"theta_e_min": 0.0, "snr_min": 80.0, "n": 1, "completeness": 0.0}
    assert grid[(2.0, 40.0)] == {"theta_e_min": 2.0, "snr_min": 40.0, "n": 0, "completeness": None}


def test_bright_lenses_are_lenses_above_both_cuts():
    labels = np.array([1, 1, 1, 1, 0])
    theta_e = np.array([1.5, 1.4, 2.0, 3.0, 3.0])
    snr = np.array([25.0, 25.0, 20.0, 21.0, 50.0])
    assert bright_lenses(labels, theta_e, snr).tolist() == [True, False, False, True, False]


def test_by_kind_says_which_look_alikes_pass_the_threshold():
    # 4 lenses; rings score like lenses, ellipticals below every lens.
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.85, 0.65, 0.1, 0.2, 0.3, 0.05])
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    kinds = np.array(["lens"] * 4 + ["ring", "ring", "elliptical", "elliptical", "pair", "pair"])
    out = by_kind(scores, labels, kinds, threshold=0.6)
    assert list(out) == ["elliptical", "pair", "ring"]
    assert out["ring"] == {"n": 2, "auc": 0.5, "fpr": 1.0, "share_of_false_positives": 1.0}
    assert out["elliptical"]["auc"] == 1.0 and out["elliptical"]["fpr"] == 0.0
    assert out["pair"]["share_of_false_positives"] == 0.0
    # Nothing passes: no share of false positives to give.
    assert (
        by_kind(scores, labels, kinds, threshold=0.95)["ring"]["share_of_false_positives"] is None
    )
    with pytest.raises(MetricsError, match="kinds"):
        by_kind(scores, labels, kinds[:3], threshold=0.5)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: auc([0.1, 0.2], [1, 1]),
            "needs both lenses and non-lenses; this set has 2 lenses",
        ),
        (lambda: completeness([0.1, 0.2], [0, 0]), "needs lenses; this set has 0 lenses"),
        (lambda: auc([0.1, 0.2], [1, -1]), "unlabelled stamps"),
        (lambda: auc([0.1, np.nan], [1, 0]), "NaN"),
        (lambda: auc([0.1], [1, 0]), "must be 1-d and alike"),
        (lambda: tpr_at_fpr([0.1, 0.2], [1, 0], 1.5), r"fpr must lie in \[0, 1\]"),
        (lambda: completeness_grid([0.1], [1], [1.0, 2.0], [3.0], 0.5), "must match scores"),
    ],
)
def test_it_refuses_what_cannot_be_evaluated(call, message):
    with pytest.raises(ValueError, match=message):
        call()
