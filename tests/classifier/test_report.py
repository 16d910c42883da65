"""The evaluation report (``classifier.report``): its score histogram on a
log-odds axis with the 1% FPR threshold, and the ROC of every lens taken
from the evaluation dict rather than computed again."""

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.table import Table

from classifier import metrics, report
from classifier.services import evaluation_report
from core.logodds import logit, sigmoid


@pytest.fixture
def evaluated(monkeypatch):
    """A labelled set whose scores saturate in float32 (P rounds to 0 or 1),
    its evaluation dict and a stand-in stamp set (stamps are not drawn)."""
    monkeypatch.setattr(report, "_png", lambda stamp, stampset: "")
    rng = np.random.default_rng(3)
    labels = np.repeat(np.array([1, 0], np.int16), 300)
    logits = np.where(labels == 1, rng.normal(12, 4, 600), rng.normal(-12, 4, 600))
    scores = sigmoid(logits)
    meta = Table({
        "id": np.arange(600),
        "kind": np.where(labels == 1, "lens", np.where(np.arange(600) % 2, "spiral", "pair")),
        "theta_e": np.where(labels == 1, rng.uniform(0.8, 3, 600), 0.0),
        "snr": np.where(labels == 1, rng.uniform(5, 80, 600), 0.0),
    })  # fmt: skip
    ev = evaluation_report(scores, labels, np.asarray(meta["theta_e"]), np.asarray(meta["snr"]),
                           logits, np.asarray(meta["kind"]))  # fmt: skip
    stampset = SimpleNamespace(labels=labels, meta=meta, path=Path("test.fits"), bands=["r"],
                               pixscale_arcsec=0.2, stamps=lambda i: None)  # fmt: skip
    return ev, scores, stampset


def test_the_report_histogram_is_on_log_odds_with_the_1pct_fpr_threshold(evaluated):
    ev, scores, stampset = evaluated
    fig = report.score_histogram(ev, scores, stampset.labels, stampset.meta)
    assert "log-odds" in fig.layout.xaxis.title.text
    assert [t.name for t in fig.data] == ["lenses", "pair", "spiral"]
    assert sum(sum(t.y) for t in fig.data) == 600
    # The bins are log-odds (spread over tens), not probabilities in [0, 1].
    lo, hi = fig.layout.xaxis.range
    assert lo < -10 and hi > 10
    lenses = fig.data[0]
    x = logit(scores[stampset.labels == 1])
    assert np.average(lenses.x, weights=lenses.y) == pytest.approx(x.mean(), abs=1.0)
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == ev["threshold_logit_at_fpr"]["0.01"]

    page = report.evaluation_html("cnn", ev, scores, stampset)
    assert "score P(lens)" not in page and "Log-odds by class and kind" in page
    assert "1% FPR threshold" in page
    # Each kind of non-lens at the 1% FPR operating point, from the evaluation.
    assert list(ev["by_kind"]) == ["pair", "spiral"]
    assert sum(k["n"] for k in ev["by_kind"].values()) == 300
    assert "Non-lens kinds at 1% FPR" in page and "<td>spiral</td><td>150</td>" in page
    # Standalone: plotly.js inlined, no script fetched from anywhere.
    assert "<script" in page and not re.search(r"<script[^>]*\ssrc=", page)


def test_an_older_report_marks_the_logit_of_its_probability_threshold(evaluated):
    ev, scores, stampset = evaluated
    older = {k: v for k, v in ev.items() if k != "threshold_logit_at_fpr"}
    fig = report.score_histogram(older, scores, stampset.labels, stampset.meta)
    (line,) = fig.layout.shapes
    assert line.x0 == pytest.approx(logit(ev["threshold_at_fpr"]["0.01"]))


def test_the_report_reuses_the_evaluations_roc_and_thresholds(evaluated, monkeypatch):
    ev, scores, stampset = evaluated
    calls = {"roc_curve": 0, "tpr_at_fpr": 0}
    for name in calls:
        real = getattr(metrics, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(metrics, name, counted)
    drawn = {}
    real_roc_figure = report.roc_figure
    monkeypatch.setattr(report, "roc_figure", lambda c: drawn.update(c) or real_roc_figure(c))
    report.evaluation_html("cnn", ev, scores, stampset)
    # One ROC per lens subset with a cut; every lens's is the evaluation's own.
    assert calls == {"roc_curve": len(report.CUTS) - 1, "tpr_at_fpr": 0}
    assert drawn["all lenses"] == (ev["roc"]["fpr"], ev["roc"]["tpr"])
    assert len(drawn) == len(report.CUTS)
