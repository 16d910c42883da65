"""Operating points recorded as log-odds: exact where probabilities tie at 1."""

import numpy as np
import pytest
from django.core.management import call_command

from classifier import metrics
from classifier.models import Network
from classifier.services import evaluate, evaluation_report, load_scorer, register_shipped
from core.logodds import LOGIT_CEIL, sigmoid
from simulations.stampset import read_stampset


def saturated_set(rng):
    """1,000 non-lenses and 100 lenses whose float64 probabilities are all
    exactly 1.0, yet whose log-odds separate them perfectly."""
    negatives = rng.uniform(37.0, 45.0, 1000)
    positives = rng.uniform(46.0, 50.0, 100)
    logits = np.r_[negatives, positives]
    labels = np.r_[np.zeros(1000, int), np.ones(100, int)]
    return logits, labels


def test_thresholds_by_fpr_are_recorded_as_log_odds_and_separate_saturated_scores():
    logits, labels = saturated_set(np.random.default_rng(3))
    scores = sigmoid(logits)
    assert np.all(scores == 1.0)
    report = evaluation_report(scores, labels, logits=logits)
    assert set(report["threshold_logit_at_fpr"]) == {"0.01", "0.001"}
    negatives = logits[labels == 0]
    for point, allowed in (("0.01", 10), ("0.001", 1)):
        threshold = report["threshold_logit_at_fpr"][point]
        # Just above the highest non-lens that must go: at most `allowed` false positives ...
        assert (negatives >= threshold).sum() <= allowed
        assert threshold == np.nextafter(np.sort(negatives)[::-1][allowed], np.inf)
        # ... and every lens kept, which no probability threshold can do here.
        assert report["tpr_at_fpr"][point] == 1.0
        assert metrics.tpr_at_fpr(scores, labels, float(point))[1] == 0.0
    # The probability thresholds stay as before (just above 1.0: nothing passes).
    assert report["threshold_at_fpr"]["0.01"] > 1.0


def test_a_report_without_log_odds_records_no_log_odds_thresholds():
    logits, labels = saturated_set(np.random.default_rng(4))
    report = evaluation_report(sigmoid(logits / 10), labels)
    assert "threshold_logit_at_fpr" not in report


def test_the_network_threshold_in_log_odds_comes_from_the_evaluation_or_falls_back():
    evaluation = {"threshold_logit_at_fpr": {"0.01": 12.5, "0.001": 15.0}}
    recorded = Network(threshold_fpr_1pct=0.75, evaluation=evaluation)
    assert recorded.threshold_logit_fpr_1pct == 12.5
    old = Network(threshold_fpr_1pct=0.75, evaluation={"threshold_at_fpr": {"0.01": 0.75}})
    assert old.threshold_logit_fpr_1pct == pytest.approx(np.log(3.0))
    # An old threshold just above 1 (the float after a tie at 1.0) clips to a finite value.
    above_one = Network(threshold_fpr_1pct=float(np.nextafter(1.0, 2.0)), evaluation={})
    assert above_one.threshold_logit_fpr_1pct == LOGIT_CEIL
    assert Network(evaluation={}).threshold_logit_fpr_1pct is None


@pytest.mark.django_db
def test_evaluate_records_the_log_odds_thresholds_of_the_real_scoring_path(tmp_path):
    register_shipped()
    network = Network.objects.get(name="kids-r-cnn")
    path = tmp_path / "test.fits"
    call_command("simulate", "--survey", "kids-r", "--lenses", "40", "--nonlenses", "60",
                 "--seed", "5", "--out", str(path), verbosity=0)  # fmt: skip
    report, scores, _ = evaluate(network, path, device="cpu")
    stampset = read_stampset(path)
    scorer = load_scorer(network, "cpu", variant="fp32", compile=False, output="log-odds")
    logits = scorer.score_stampset(stampset)
    labels = stampset.labels
    for point in ("0.01", "0.001"):
        expected = metrics.tpr_at_fpr(logits, labels, float(point))[0]
        assert report["threshold_logit_at_fpr"][point] == expected
    # The probability threshold is the same operating point, read as P.
    assert sigmoid(report["threshold_logit_at_fpr"]["0.01"]) == pytest.approx(
        report["threshold_at_fpr"]["0.01"], abs=1e-6
    )
    assert scores == pytest.approx(sigmoid(logits), abs=1e-6)
    network.evaluation = report
    assert network.threshold_logit_fpr_1pct == report["threshold_logit_at_fpr"]["0.01"]
