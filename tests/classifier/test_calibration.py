"""Temperature scaling, reliability and ECE, and Lanusse et al.'s prior shift,
against synthetic log-odds whose true calibration is known."""

import numpy as np
import pytest
from scipy.special import expit

from classifier import metrics
from classifier.calibration import (
    CalibrationError,
    combined_prior,
    ece,
    fit_temperature,
    nll,
    prior_shift,
    reliability,
    summary,
)


def over_confident(true_t=2.5, n=20_000, seed=0):
    """Log-odds ``z`` and labels drawn from P(lens) = sigmoid(z / true_t): a
    network ``true_t`` times too sure of itself (less, for ``true_t < 1``).
    The calibrated log-odds ``z / true_t`` spread over +-5 or so: neither
    separable nor a coin toss, so that the labels pin ``true_t`` down."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.5 * true_t, n)
    return z, (rng.random(n) < expit(z / true_t)).astype(int)


@pytest.mark.parametrize("true_t", [0.6, 2.5])
def test_the_fitted_temperature_recovers_the_one_the_labels_were_drawn_with(true_t):
    z, y = over_confident(true_t)
    assert fit_temperature(z, y) == pytest.approx(true_t, rel=0.05)


def test_the_fit_minimises_the_nll():
    z, y = over_confident()
    t = fit_temperature(z, y)
    assert nll(z, y, t) < min(nll(z, y, t * 0.97), nll(z, y, t * 1.03))


def test_calibration_lowers_the_nll_and_ece_of_over_confident_scores_and_keeps_the_ranking():
    z, y = over_confident()
    t = fit_temperature(z, y)
    assert nll(z, y, t) < nll(z, y, 1.0) - 0.05
    assert ece(expit(z / t), y) < 0.02 < 0.05 < ece(expit(z), y)
    # Dividing by one positive number reorders nothing: AUC and the ROC are unchanged.
    assert metrics.auc(z / t, y) == metrics.auc(z, y)
    assert np.array_equal(metrics.roc_curve(z / t, y)[:2], metrics.roc_curve(z, y)[:2])
    s = summary(z, y, t)
    assert s["temperature"] == t and s["n"] == len(z)
    assert s["calibrated"]["nll"] == pytest.approx(nll(z, y, t))
    assert s["uncalibrated"]["ece"] == pytest.approx(ece(expit(z), y))


def test_nll_is_the_cross_entropy_and_stays_finite_for_confident_log_odds():
    z, y = np.array([2.0, -1.0, 0.5]), np.array([1, 0, 0])
    p = expit(z / 2)
    by_hand = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert nll(z, y, 2.0) == pytest.approx(by_hand, rel=1e-12)
    # A confidently wrong stamp costs its log-odds, not infinity (P rounds to 1).
    assert nll([800.0], [0]) == pytest.approx(800.0)


def test_a_set_the_network_separates_perfectly_fixes_no_temperature():
    z = np.r_[np.linspace(1, 9, 50), np.linspace(-9, -1, 50)]
    y = np.r_[np.ones(50), np.zeros(50)].astype(int)
    with pytest.raises(CalibrationError, match="separates its lenses and non-lenses perfectly"):
        fit_temperature(z, y)
    # The same log-odds for lenses as for non-lenses: they carry no information.
    noise = np.tile(np.random.default_rng(1).normal(0, 5, 50), 2)
    with pytest.raises(CalibrationError, match="apart hardly at all; train it further"):
        fit_temperature(noise, y)
    with pytest.raises(CalibrationError, match="needs lenses and non-lenses"):
        fit_temperature(z[:50], y[:50])
    with pytest.raises(CalibrationError, match="NaN or infinite"):
        fit_temperature(np.r_[z[:-1], np.nan], y)


def test_reliability_bins_and_ece_by_hand():
    p = np.array([0.05, 0.15, 0.15, 0.95, 1.0])
    y = np.array([0, 0, 1, 1, 1])
    bins = reliability(p, y, n_bins=10)
    assert bins["n"] == [1, 2, 2]  # empty bins left out; P = 1 joins the top bin
    assert bins["mean_probability"] == pytest.approx([0.05, 0.15, 0.975])
    assert bins["fraction_lenses"] == pytest.approx([0.0, 0.5, 1.0])
    assert ece(p, y, n_bins=10) == pytest.approx((0.05 + 2 * 0.35 + 2 * 0.025) / 5)


def test_prior_shift_is_lanusse2018_eq_5():
    assert prior_shift(0.5, 0.5, 0.5) == 0.5
    assert prior_shift(0.5, 0.2, 0.2) == pytest.approx(0.5)
    # Trained at 50% lenses, searching at 1 in 1000: lambda = 0.002, mu = 1.998,
    # p = 0.9 becomes 0.002 * 0.9 / (0.002 * 0.9 + 1.998 * 0.1).
    assert prior_shift(0.9, 0.5, 0.001) == pytest.approx(0.0018 / (0.0018 + 0.1998))
    p = np.array([0.0, 0.3, 1.0])
    assert np.allclose(prior_shift(prior_shift(p, 0.5, 0.01), 0.01, 0.5), p)
    with pytest.raises(ValueError, match="new_prior must lie strictly between 0 and 1"):
        prior_shift(0.5, 0.5, 0.0)


def test_the_prior_shift_is_a_shift_of_the_log_odds():
    # Eq. 5 adds log-odds(new) - log-odds(train): a committee's mean log-odds
    # carries the mean of its members' prior log-odds.
    z = np.array([-3.0, 0.2, 4.0])
    shifted = prior_shift(expit(z), 0.5, 0.01)
    assert np.allclose(np.log(shifted / (1 - shifted)), z + np.log(0.01 / 0.99))
    assert combined_prior([0.5, 0.5]) == 0.5
    assert combined_prior([0.2, 0.8]) == pytest.approx(0.5)
    assert combined_prior([0.1, 0.1]) == pytest.approx(0.1)
