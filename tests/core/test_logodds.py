"""Log-odds and probabilities (core.logodds): pure, no database."""

import math

import numpy as np
import pytest

from core.logodds import LOGIT_CEIL, LOGIT_FLOOR, format_p_lens, logit, sigmoid


def test_sigmoid_matches_the_textbook_formula_where_that_does_not_overflow():
    x = np.linspace(-30, 30, 121)
    assert sigmoid(x) == pytest.approx([1 / (1 + math.exp(-v)) for v in x], rel=1e-14)


def test_sigmoid_is_finite_and_exact_in_its_tails():
    x = np.array([-1e4, -800.0, -40.0, 40.0, 800.0, 1e4])
    p = sigmoid(x)
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    # 1 - P from sigmoid(-x) keeps full precision where P itself rounds to 1.
    assert sigmoid(40.0) == 1.0 and sigmoid(-40.0) == pytest.approx(math.exp(-40), rel=1e-14)


def test_logit_inverts_sigmoid():
    x = np.array([-30.0, -5.0, -0.1, 0.0, 0.1, 5.0, 20.0])
    # Within 1e-6: P near 1 carries 1 - P to ~1e-16 only (hence stored log-odds).
    assert logit(sigmoid(x)) == pytest.approx(x, abs=1e-6)
    assert logit(0.5) == 0.0 and isinstance(logit(0.25), float)


def test_logit_clips_0_and_1_to_finite_values_that_keep_the_order():
    assert logit(0.0) == LOGIT_FLOOR == pytest.approx(-744.44, abs=0.01)
    assert logit(1.0) == LOGIT_CEIL == pytest.approx(36.7368, abs=1e-4)
    below_one = np.nextafter(1.0, 0.0)  # the largest float64 under 1
    assert logit(below_one) <= LOGIT_CEIL and logit(1 - 1e-12) < LOGIT_CEIL
    assert logit(5e-324) >= LOGIT_FLOOR and logit(1e-300) > LOGIT_FLOOR
    assert logit(1.0 + 2e-16) == LOGIT_CEIL  # a threshold just above 1 (nextafter) too


def test_probabilities_that_tie_at_one_read_apart():
    assert sigmoid(40.0) == sigmoid(45.0) == 1.0
    assert format_p_lens(40.0) == "1 − 4.2e-18"
    assert format_p_lens(45.0) == "1 − 2.9e-20"
    assert format_p_lens(45.0, minus="-") == "1 - 2.9e-20"


def test_ordinary_probabilities_read_as_decimals():
    assert format_p_lens(0.0) == "0.5000"
    assert format_p_lens(logit(0.999)) == "0.9990"  # the switch is strictly above 0.999
    assert format_p_lens(logit(0.9991)) == "1 − 9.0e-04"
    assert format_p_lens(-20.0) == "2.1e-09"
    assert format_p_lens(2.0, digits=3) == "0.881"
    assert format_p_lens(None) == format_p_lens(float("nan")) == "–"


def test_one_binning_serves_the_run_page_and_the_report():
    from classifier.figures import logit_histogram_figure
    from core.logodds import LOGIT_SHOWN_MIN, logit_bin_edges
    from inspection.catalogues.dashboards import logit_histogram

    x = [-744.0, -3.0, 0.5, 12.0]
    edges = logit_bin_edges(x, threshold_logit=20.0, bins=10)
    assert edges[0] == LOGIT_SHOWN_MIN and edges[-1] == 20.0 and len(edges) == 11
    assert logit_bin_edges([], 1.0).size == 0
    assert logit_bin_edges([5.0, 6.0], threshold_logit=-744.0)[0] == 5.0  # far: not widened
    counts, run_edges = logit_histogram(x, 20.0, bins=10)
    assert run_edges == edges.tolist() and sum(counts) == 4
    bars = logit_histogram_figure({"all": x}, 20.0, bins=10).data[0]
    assert list(bars.y) == counts
