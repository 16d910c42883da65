"""Scores that keep their order at the top (issue 14): every score stores the
network's log-odds, and candidates, their order, thresholds, exports and the
run's histogram all use them, so probabilities that round to 1.0 still rank."""

import io
import math

import numpy as np
import pytest
from astropy.table import Table
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from classifier.models import Network
from classifier.services import load_scorer, register_shipped
from core.logodds import LOGIT_CEIL, LOGIT_FLOOR, LOGIT_SHOWN_MIN, sigmoid
from inspection.catalogues import dashboards
from inspection.models import Score, ScoringRun, Source, Survey
from inspection.scoring import services as runs
from simulations.field import simulate_field
from simulations.stampset import read_stampset

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    folder, _ = simulate_field(tmp_path_factory.mktemp("logits") / "field", seed=7, n_lenses=4,
                               n_lrgs=12, n_galaxies=60, n_stars=20, n_faint_red=10)  # fmt: skip
    return folder


@pytest.fixture
def survey(field, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    register_shipped()
    call_command("ingest_survey", "field", "--catalog", str(field / "catalogue.fits"),
                 *[f"--tile={b}={field / (b + '.fits')}" for b in "gri"], verbosity=0)  # fmt: skip
    return Survey.objects.get(name="field")


@pytest.fixture
def scored(survey):
    run = runs.launch_run(survey, Network.objects.get(name="kids-r-cnn"), threshold=0.0,
                          enqueue=False, accept_warnings=True)  # fmt: skip
    runs.run_in_process(run)
    return run


# Log-odds of the constructed run: two pairs whose probabilities are exactly
# 1.0 in float64, listed in stamp order, so that ranking by probability (then
# stamp index) would give a different order from ranking by log-odds.
SATURATED = {"A": 40.0, "B": 45.0, "C": 37.0, "D": 38.5}
ORDINARY = {"E": 2.0, "F": -3.0, "G": LOGIT_FLOOR}


@pytest.fixture
def constructed(settings, tmp_path):
    """A run whose scores are written directly: no pixels, no network call."""
    settings.DATA_DIR = tmp_path
    register_shipped()
    survey = Survey.objects.create(name="constructed", bands="g,r,i", pixscale_arcsec=0.21,
                                   stamp_size=97, stamps_path="none.fits")  # fmt: skip
    run = ScoringRun.objects.create(survey=survey, network=Network.objects.get(name="kids-r-cnn"),
                                    threshold=0.5, threshold_logit=0.0, chunk_size=10,
                                    n_sources=7)  # fmt: skip
    for i, (name, x) in enumerate({**SATURATED, **ORDINARY}.items()):
        source = Source.objects.create(survey=survey, name=f"KIDS J{name}", catalogue_id=name,
                                       ra_deg=130 + i, dec_deg=0.0, stamp_index=i)  # fmt: skip
        Score.objects.create(run=run, source=source, score=sigmoid(x), logit=x)
    assert all(sigmoid(x) == 1.0 for x in SATURATED.values())
    return run


def names(rows):
    return [r.source.catalogue_id for r in rows]


# --- The scoring job ---------------------------------------------------------


def test_the_scoring_job_stores_log_odds_consistent_with_the_scores(scored):
    survey = scored.survey
    rows = list(scored.scores.select_related("source").order_by("source__stamp_index"))
    assert len(rows) == scored.n_sources > 0
    logits = np.array([r.logit for r in rows])
    scores = np.array([r.score for r in rows])
    assert np.all(np.isfinite(logits)) and np.all(logits >= LOGIT_FLOOR)
    # P is the float64 sigmoid of the stored log-odds ...
    assert scores.tolist() == [sigmoid(x) for x in logits]
    # ... and agrees with the network's own probability output (float32).
    network = scored.network
    scorer = load_scorer(network, "cpu", compile=False)
    stamps = read_stampset(survey.stamps_file())
    bands = [survey.band_list.index(b) for b in scorer.bands]
    cube = stamps.cube[[r.source.stamp_index for r in rows]][:, bands].astype(np.float32)
    assert scorer.score(cube, survey.pixscale_arcsec) == pytest.approx(scores, abs=1e-6)


# --- Ranking and thresholds ----------------------------------------------------------


def test_probabilities_that_round_to_one_still_rank_by_log_odds(constructed):
    assert names(runs.candidate_rows(constructed)) == ["B", "A", "D", "C", "E"]


def test_candidates_compare_the_log_odds_threshold(constructed):
    run = runs.set_threshold(constructed, threshold_logit=39.0)
    # P = sigmoid(39) reads 1.0, but only log-odds 39 and up are candidates.
    assert run.threshold == 1.0 and run.threshold_logit == 39.0
    assert run.threshold_origin == "explicit (log-odds)"
    assert sorted(run.candidates().values_list("source__catalogue_id", flat=True)) == ["A", "B"]
    # A probability of 1 admits the scores whose P rounds to 1; 0 admits every score.
    runs.set_threshold(run, 1.0)
    assert run.threshold_logit == LOGIT_CEIL
    assert set(run.candidates().values_list("source__catalogue_id", flat=True)) == set(SATURATED)
    runs.set_threshold(run, 0.0)
    assert run.candidates().count() == 7
    runs.set_threshold(run, 0.5)
    assert run.threshold_logit == 0.0 and run.candidates().count() == 5
    run.refresh_from_db()
    assert (run.threshold, run.threshold_logit) == (0.5, 0.0)


@pytest.mark.parametrize("value", ["twelve", "inf", "nan", ""])
def test_a_malformed_log_odds_threshold_is_refused(constructed, value):
    with pytest.raises(runs.RunError, match="log-odds threshold must be a finite number"):
        runs.set_threshold(constructed, threshold_logit=value)


def test_a_threshold_given_twice_is_refused(constructed):
    with pytest.raises(runs.RunError, match="not both"):
        runs.set_threshold(constructed, 0.5, 3.0)


def test_the_default_threshold_is_the_networks_log_odds_one(survey):
    network = Network.objects.get(name="kids-r-cnn")
    network.evaluation = {**network.evaluation, "threshold_logit_at_fpr": {"0.01": 3.25}}
    network.save()
    run = runs.launch_run(survey, network, enqueue=False, accept_warnings=True)
    assert run.threshold_logit == 3.25 and run.threshold == sigmoid(3.25)
    assert run.threshold_origin == "the network's 1% FPR threshold"
    # A network evaluated before log-odds were recorded: the log-odds of its P threshold.
    del network.evaluation["threshold_logit_at_fpr"]
    network.threshold_fpr_1pct = 0.75
    network.save()
    old = runs.launch_run(survey, network, enqueue=False, accept_warnings=True)
    assert old.threshold_logit == pytest.approx(math.log(3)) and old.threshold == pytest.approx(
        0.75
    )


def test_launch_run_takes_a_threshold_as_log_odds(survey):
    out = io.StringIO()
    call_command("launch_run", "--survey", survey.name, "--network", "kids-r-cnn",
                 "--threshold-logit", "-2.5", "--in-process", "--accept-warnings",
                 stdout=out, stderr=io.StringIO(), verbosity=0)  # fmt: skip
    run = ScoringRun.objects.get()
    assert run.threshold_logit == -2.5 and run.threshold == sigmoid(-2.5)
    n = run.scores.filter(logit__gte=-2.5).count()
    assert run.candidates().count() == n
    assert f"run {run.pk}: {n} candidates (log-odds >= -2.5, P >= 0.0759)" in out.getvalue()
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("launch_run", "--survey", survey.name, "--network", "kids-r-cnn",
                     "--threshold", "0.5", "--threshold-logit", "3")  # fmt: skip


def test_an_admin_sets_a_log_odds_threshold_from_the_run_page(admin_client, constructed):
    url = reverse("inspection:run_threshold", args=[constructed.pk])
    response = admin_client.post(url, {"threshold_logit": "42"}, follow=True)
    constructed.refresh_from_db()
    assert constructed.threshold_logit == 42.0
    assert "1 candidates" in response.content.decode()
    response = admin_client.post(url, {"threshold_logit": "lots"}, follow=True)
    assert response.status_code == 200 and "finite number" in response.content.decode()
    response = admin_client.post(url, {"threshold": "0.5", "threshold_logit": "1"}, follow=True)
    assert "not both" in response.content.decode()
    constructed.refresh_from_db()
    assert constructed.threshold_logit == 42.0


def test_a_malformed_log_odds_threshold_at_launch_is_a_400(admin_client, constructed):
    network = constructed.network
    url = reverse("inspection:run_launch", args=[constructed.survey.name])
    response = admin_client.post(url, {"network": network.pk, "threshold_logit": "high",
                                       "accept_warnings": "on"})  # fmt: skip
    assert response.status_code == 400 and "finite number" in response.content.decode()
    assert ScoringRun.objects.count() == 1


# --- What people see -----------------------------------------------------------------


def test_the_run_page_shows_saturated_scores_apart_and_in_log_odds_order(admin_client, constructed):
    page = admin_client.get(reverse("inspection:run", args=[constructed.pk])).content.decode()
    shown = ["1 − 2.9e-20", "1 − 4.2e-18", "1 − 1.9e-17", "1 − 8.5e-17", "0.8808"]  # B A D C E
    positions = [page.index(f">{text}</b>") for text in shown]
    assert positions == sorted(positions)
    assert "log-odds ≥ 0.0000" in page
    assert 'id="fig-scores"' in page and "vendor/plotly/plotly.min.js" in page


def test_exports_carry_the_log_odds_best_first(constructed, tmp_path):
    runs.set_threshold(constructed, threshold_logit=1.0)
    for suffix, fmt in ((".csv", "ascii.csv"), (".fits", "fits"), (".ecsv", "ascii.ecsv"),
                        (".vot", "votable")):  # fmt: skip
        path = tmp_path / f"cands{suffix}"
        call_command("export_candidates", str(constructed.pk), "--out", str(path), verbosity=0)
        table = Table.read(path, format=fmt)
        assert list(table["catalogue_id"].astype(str)) == ["B", "A", "D", "C", "E"], suffix
        assert list(table["logit"]) == [45.0, 40.0, 38.5, 37.0, 2.0], suffix
        assert list(table["score"]) == [1.0, 1.0, 1.0, 1.0, sigmoid(2.0)], suffix
        if fmt in ("fits", "ascii.ecsv"):
            assert table.meta["THRLOGIT"] == 1.0
    path = tmp_path / "lower.csv"
    call_command("export_candidates", str(constructed.pk), "--out", str(path),
                 "--threshold-logit", "-5", verbosity=0)  # fmt: skip
    assert len(Table.read(path, format="ascii.csv")) == 6


def test_the_score_histogram_has_a_log_odds_axis_and_the_threshold_line(constructed):
    counts, edges = runs.score_histogram(constructed)
    assert sum(counts) == 7
    # The bins spread the saturated scores (log-odds 37-45) apart, and the
    # lowest one (-744) counts in the first bin rather than squashing the rest.
    assert edges[0] == LOGIT_SHOWN_MIN and edges[-1] == 45.0
    assert sum(1 for c in counts if c) >= 5
    fig = dashboards.score_histogram_figure(counts, edges, constructed.threshold_logit)
    assert "log-odds" in fig.layout.xaxis.title.text
    (line,) = [s for s in fig.layout.shapes if s.type == "line"]
    assert line.x0 == line.x1 == constructed.threshold_logit == 0.0
    assert "threshold" in fig.layout.annotations[0].text


def test_a_threshold_far_below_the_scores_is_named_not_drawn():
    counts, edges = dashboards.logit_histogram([10.0, 12.0, 20.0], LOGIT_FLOOR, bins=5)
    assert edges[0] == 10.0 and edges[-1] == 20.0
    fig = dashboards.score_histogram_figure(counts, edges, LOGIT_FLOOR)
    assert not [s for s in fig.layout.shapes if s.type == "line"]
    assert "off the axis" in fig.layout.annotations[0].text
    counts, edges = dashboards.logit_histogram([10.0, 12.0, 20.0], 25.0, bins=5)
    assert edges[-1] == 25.0  # a threshold near the scores widens the axis


# --- The migration ---------------------------------------------------------------------

# The classifier app as it was when these migrations were written: its later
# required columns (evaluation_cross_simulator) would refuse the old models' rows.
CLASSIFIER_THEN = ("classifier", "0003_experiment")


def test_the_migration_fills_log_odds_from_the_stored_probabilities():
    before, after = ("inspection", "0003_consensus"), ("inspection", "0005_score_logit_required")
    executor = MigrationExecutor(connection)
    executor.migrate([before, CLASSIFIER_THEN])
    old = executor.loader.project_state([before, CLASSIFIER_THEN]).apps
    network = old.get_model("classifier", "Network").objects.create(
        name="old-net", architecture="he2020-cnn", bands="r", pixscale_arcsec=0.42,
        stamp_size=49, preprocessing={}, weights_path="x.pt", weights_sha256="0" * 64,
    )  # fmt: skip
    survey = old.get_model("inspection", "Survey").objects.create(
        name="old", bands="r", pixscale_arcsec=0.2, stamp_size=97, stamps_path="s.fits"
    )
    Run, Source, Score = (old.get_model("inspection", m) for m in ("ScoringRun", "Source", "Score"))
    thresholds = (1.0, 0.5, 0.0)
    scored = (0.0, 0.5, 1.0)
    for threshold in thresholds:
        run = Run.objects.create(survey=survey, network=network, threshold=threshold,
                                 chunk_size=10, n_sources=3)  # fmt: skip
        for k, p in enumerate(scored):
            source, _ = Source.objects.get_or_create(
                survey=survey, stamp_index=k,
                defaults={"name": f"S{k}", "catalogue_id": str(k), "ra_deg": 0, "dec_deg": 0},
            )  # fmt: skip
            Score.objects.create(run=run, source=source, score=p)
    try:
        executor.loader.build_graph()
        executor.migrate([after])
        new = executor.loader.project_state([after]).apps
        Score = new.get_model("inspection", "Score")
        fill = {p: set(Score.objects.filter(score=p).values_list("logit", flat=True))
                for p in scored}  # fmt: skip
        assert fill == {0.0: {LOGIT_FLOOR}, 0.5: {0.0}, 1.0: {LOGIT_CEIL}}
        Run = new.get_model("inspection", "ScoringRun")
        filled = dict(Run.objects.values_list("threshold", "threshold_logit"))
        assert filled == {1.0: LOGIT_CEIL, 0.5: 0.0, 0.0: LOGIT_FLOOR}
        # The old candidates, score >= threshold, are the new ones, logit >= threshold_logit.
        for run in Run.objects.all():
            old_rule = Score.objects.filter(run=run, score__gte=run.threshold)
            new_rule = Score.objects.filter(run=run, logit__gte=run.threshold_logit)
            assert set(old_rule) == set(new_rule)
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_migration_records_the_network_of_existing_runs():
    before, after = (
        ("inspection", "0006_known_items_for_training"),
        (
            "inspection",
            "0007_run_network_state",
        ),
    )
    executor = MigrationExecutor(connection)
    executor.migrate([before, CLASSIFIER_THEN])
    old = executor.loader.project_state([before, CLASSIFIER_THEN]).apps
    network = old.get_model("classifier", "Network").objects.create(
        name="old-net", architecture="he2020-cnn", bands="r", pixscale_arcsec=0.42,
        stamp_size=49, preprocessing={}, weights_path="x.pt", weights_sha256="a" * 64,
        training={"tta": True, "calibration": {"temperature": 1.25}},
    )  # fmt: skip
    survey = old.get_model("inspection", "Survey").objects.create(
        name="old", bands="r", pixscale_arcsec=0.2, stamp_size=97, stamps_path="s.fits"
    )
    old.get_model("inspection", "ScoringRun").objects.create(
        survey=survey, network=network, threshold=0.5, threshold_logit=0.0, chunk_size=10,
        n_sources=3,
    )  # fmt: skip
    try:
        executor.loader.build_graph()
        executor.migrate([after])
        new = executor.loader.project_state([after]).apps
        run = new.get_model("inspection", "ScoringRun").objects.get()
        assert run.network_state == {"weights_sha256": "a" * 64, "temperature": 1.25, "tta": True}
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
