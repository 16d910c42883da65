"""Background jobs of the search (run by rq workers; they take ids and values)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from core.logodds import LOGIT_FLOOR, sigmoid
from core.progress import tracked
from inspection.models import RunChunk, Score
from inspection.scoring.services import check_network_unchanged
from inspection.scoring.stamp_batches import BATCH, stamp_batches

if TYPE_CHECKING:
    from core.progress import Progress


_SCORERS = {}  # a SimpleWorker keeps the network loaded between chunks


def _scorer(network):
    from classifier.services import load_scorer

    # The temperature too: the scores change with it (classifier.calibration).
    key = (network.pk, network.weights_sha256, network.temperature, network.tta)
    if key not in _SCORERS:
        _SCORERS.clear()  # one network at a time is plenty of memory
        # Log-odds, not probabilities: confident stamps keep their order.
        _SCORERS[key] = load_scorer(network, output="log-odds")
    return _SCORERS[key]


def _open_stamps(survey):
    from simulations.stampset import read_stampset

    return read_stampset(survey.stamps_file())


def _upsert_scores(run_pk, source_pks, logits):
    """Upsert each source's log-odds and its P(lens) = sigmoid(log-odds), in
    float64 (float32 probabilities round to 1 from log-odds ~17 up).

    INSERT ... ON CONFLICT DO UPDATE in one executemany (SQLite >= 3.24 and
    PostgreSQL speak it alike): a rerun chunk rewrites its rows, never adds.
    Plain SQL here because building model instances and compiling the ORM's
    bulk upsert cost a third as much as scoring the stamps."""
    # No stored log-odds below a threshold of P = 0 (core.logodds): that
    # threshold must admit every stamp.
    logits = np.maximum(np.asarray(logits, np.float64), LOGIT_FLOOR)
    scores = sigmoid(logits)
    q = connection.ops.quote_name
    sql = (
        f"INSERT INTO {q(Score._meta.db_table)} "
        f"({q('run_id')}, {q('source_id')}, {q('score')}, {q('logit')}) "
        f"VALUES (%s, %s, %s, %s) ON CONFLICT ({q('run_id')}, {q('source_id')}) "
        f"DO UPDATE SET {q('score')} = excluded.{q('score')}, {q('logit')} = excluded.{q('logit')}"
    )
    rows = [
        (run_pk, int(p), float(s), float(x))
        for p, s, x in zip(source_pks, scores, logits, strict=True)
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


@tracked
def score_chunk(progress: Progress, chunk_pk: int) -> dict:
    """Score the sources of one chunk and upsert their scores."""
    chunk = RunChunk.objects.select_related("run__survey", "run__network").get(pk=chunk_pk)
    run, survey = chunk.run, chunk.run.survey
    rows = list(
        run.sources()
        .filter(stamp_index__gte=chunk.start, stamp_index__lt=chunk.stop)
        .order_by("stamp_index")
        .values_list("pk", "stamp_index")
    )
    progress.start(total=len(rows), unit="stamps", message="loading the network")
    check_network_unchanged(run)
    scorer = _scorer(run.network)
    stamps = _open_stamps(survey)
    bands = [survey.band_list.index(b) for b in scorer.bands]
    pks = np.array([r[0] for r in rows], dtype=np.int64)
    index = np.array([r[1] for r in rows], dtype=np.int64)
    for start, cube in stamp_batches(stamps.cube, index, bands, BATCH):
        logits = scorer.score(cube, survey.pixscale_arcsec)
        _upsert_scores(run.pk, pks[start : start + BATCH], logits)
        done = start + len(cube)
        progress.update(done, message=f"scored {done} of {len(rows)}")
    progress.update(len(rows), force=True)
    return {"scored": len(rows)}


@tracked
def ingest_survey(
    progress: Progress,
    name: str,
    catalogue: str | None,
    tiles: list,
    stamps: str | None,
    columns: dict[str, str] | None,
    cuts: dict | None,
    stamp_size: int,
    user_id: int | None = None,
    uploads: str | None = None,
) -> dict:
    """Ingest a survey from files already on the server (the web form's job).

    ``uploads``: the folder of the files uploaded for this ingest alone;
    removed if the ingest fails (on success the survey's tiles point into it).
    """
    from core.uploads import discard
    from inspection.ingest import lrg_cuts as cuts_module
    from inspection.ingest.services import ingest_survey as ingest

    progress.start(total=None, unit="sources", message="reading the catalogue")

    def report(stage, done, total):
        label = "catalogue rows read" if stage == "catalogue" else "stamps cut"
        progress.update(done, total=total, message=f"{label}: {done}")

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        survey = ingest(
            name,
            catalogue=catalogue or None,
            tiles=[(b, p) for b, p in tiles],
            stamps=stamps or None,
            columns=columns,
            lrg_cuts=cuts_module.LRGCuts.from_dict(cuts),
            stamp_size=stamp_size,
            user=user,
            progress=report,
            job_pk=progress.job_pk,
        )
    except BaseException:
        if uploads:
            discard(uploads)
        raise
    return {"survey": survey.name, "sources": survey.sources.count()}


@tracked
def prerender_campaign(progress: Progress, campaign_pk: int) -> dict:
    """Render a campaign's previews ahead of the inspectors."""
    from inspection.grading.services import prerender_campaign as prerender
    from inspection.models import Campaign

    campaign = Campaign.objects.get(pk=campaign_pk)
    progress.start(total=campaign.items.count(), unit="items")
    return {"items": prerender(campaign, progress=lambda n, total: progress.update(n))}


@tracked
def build_injections(progress: Progress, campaign_pk: int) -> dict:
    """Make, score and mix in a new campaign's injected lenses
    (``inspection.completeness.services.build_injections``), scoring with the
    worker's loaded network as the run's chunks do."""
    from inspection.completeness.services import build_injections as build
    from inspection.models import Campaign

    campaign = Campaign.objects.select_related("run__survey", "run__network").get(pk=campaign_pk)
    progress.start(total=100, unit="%", message="simulating the lenses")

    def say(message, fraction):
        progress.update(int(round(100 * fraction)), message=message)

    made = build(campaign, scorer=_scorer(campaign.run.network), progress=say)
    return {"injected": made, "mixed_in": campaign.items.filter(injection__isnull=False).count()}


@tracked
def adapt_network(
    progress: Progress,
    survey_id: int,
    network_id: int,
    name: str,
    options: dict,
    user_id: int | None = None,
) -> dict:
    """The survey page's "Adapt a network": ``adapt_network`` with progress in
    per cent and the two networks' figures as the result. (Queued jobs and
    stored ``Job`` rows from before may name it ``inspection.jobs.adapt_network``:
    that path still leads here.)"""
    from classifier.models import Network
    from inspection.adaptation.services import adapt_network as adapt
    from inspection.models import Survey

    survey = Survey.objects.get(pk=survey_id)
    parent = Network.objects.get(pk=network_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    progress.start(total=100, unit="%", message="checking the survey and the network")

    def say(message, fraction):
        progress.update(int(round(100 * fraction)), message=message)

    network = adapt(survey, parent, name, user=user, progress=say, **options)
    adaptation = network.training["adaptation"]
    return {
        "network": network.name,
        "parent": parent.name,
        "test": adaptation["test"],
        "cross_simulator": adaptation["cross_simulator"],
    }


@tracked
def run_snet_rnet(progress: Progress, experiment_pk: int) -> dict:
    """The s-Net/r-Net experiment (``adaptation.services.run_snet_rnet``), with
    the classifier experiments' record keeping (``experiment_runs.run_with``)."""
    from classifier.experiment_runs import run_with
    from classifier.models import Experiment
    from inspection.adaptation.services import run_snet_rnet

    experiment = Experiment.objects.get(pk=experiment_pk)
    return run_with(experiment, progress, run_snet_rnet)
