"""Scoring runs: launching, resuming, cancelling, progress, candidates and
exports. One code path for ``manage.py launch_run`` / ``export_candidates``
and the web pages.

A run is split into chunks of consecutive stamps; each chunk is one job on
the ``scoring`` queue, so any number of workers on any number of machines
share a run. A chunk's scores are upserted on (run, source), so running a
chunk twice never duplicates a score; and it is not run twice: a resume
queues only the chunks whose job failed, was cancelled or lost its worker,
and a job runs only while its row is queued (``core.progress``).

Candidates, their order and the threshold compare log-odds (``Score.logit``,
``ScoringRun.threshold_logit``): the probabilities of confident stamps tie
at 1.0, their log-odds do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.db import transaction
from django.db.models import Count, Max, Min, QuerySet
from django.utils import timezone

from classifier.fit import FitReport, check_fit
from core import queue, tables
from core.logodds import logit, sigmoid
from core.models import Job, ProgressFigures
from inspection.catalogues import dashboards
from inspection.models import RunChunk, ScoringRun
from inspection.scoring import overlap

if TYPE_CHECKING:
    from astropy.table import Table
    from django.contrib.auth.base_user import AbstractBaseUser

    from classifier.models import Network
    from inspection.models import Survey

DEFAULT_CHUNK = 2000  # stamps per job: ~0.2-3 s of work on 2 cores, small next to a run
CHUNK_TIMEOUT_S = 3600


class RunError(ValueError):
    """A run cannot be launched or changed as asked; the message says why."""


class RunNotQueued(queue.QueueUnavailable):
    """The run was created, but Redis stopped answering before its chunks
    were all queued: ``run`` exists, and resuming it queues what is missing."""

    def __init__(self, run, exc):
        self.run = run
        super().__init__(
            f"Run {run.pk} was created, but the job queue stopped answering while its "
            f"chunks were queued ({exc}). Once Redis answers, resume it (Resume on its "
            f"page, or manage.py launch_run --resume {run.pk}): the chunks not queued are "
            "queued then."
        )


class UnconfirmedWarnings(RunError):
    """The network may not suit the survey (``warnings``) and the launch did
    not say to go ahead anyway (``accept_warnings``)."""

    def __init__(self, warnings):
        self.warnings = tuple(warnings)
        super().__init__(
            " ".join(self.warnings) + " Not launched: confirm the warning(s) to launch anyway."
        )


def network_fit(survey: Survey, network: Network) -> FitReport:
    """Whether ``network`` can score ``survey``'s stamps (``classifier.fit``)."""
    return check_fit(
        network.band_list,
        network.pixscale_arcsec,
        network.stamp_size,
        survey.band_list,
        survey.pixscale_arcsec,
        survey.stamp_size,
        network_name=network.name,
        survey_name=survey.name,
    )


def check_threshold(
    network: Network,
    threshold: float | str | None = None,
    threshold_logit: float | str | None = None,
) -> tuple[float, float, str]:
    """A run's threshold as ``(P(lens), log-odds, origin)``.

    From a probability ``threshold`` in [0, 1], or from ``threshold_logit``
    (log-odds, any finite number: 12.5 is P = 1 - 3.7e-06), or, given
    neither, the network's 1% FPR threshold (its log-odds one where recorded,
    ``Network.threshold_logit_fpr_1pct``). Candidates compare the log-odds;
    a probability becomes log-odds through ``core.logodds.logit`` (0 admits
    every score, 1 those whose P rounds to 1), log-odds become the
    probability shown through ``sigmoid``.
    """
    if threshold is not None and threshold_logit is not None:
        raise RunError("Give the threshold as a probability or as log-odds, not both.")
    if threshold_logit is not None:
        try:
            x = float(threshold_logit)
        except (TypeError, ValueError):
            x = math.nan
        if not math.isfinite(x):
            raise RunError(
                f"The log-odds threshold must be a finite number (e.g. 12.5), "
                f"not {threshold_logit!r}."
            )
        return sigmoid(x), x, "explicit (log-odds)"
    if threshold is None:
        x = network.threshold_logit_fpr_1pct
        if x is None:
            raise RunError(
                f"Network {network.name} has no 1% FPR threshold (it was never evaluated): "
                "give a threshold (e.g. 0.5), or evaluate the network with --save."
            )
        return sigmoid(x), x, "the network's 1% FPR threshold"
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise RunError(f"The threshold must be a number in [0, 1], not {threshold!r}.") from None
    if not 0.0 <= threshold <= 1.0:
        raise RunError(
            f"The threshold must be in [0, 1] (a probability), not {threshold}; "
            "log-odds go in the log-odds threshold instead."
        )
    return threshold, logit(threshold), "explicit"


def launch_run(
    survey: Survey,
    network: Network,
    threshold: float | str | None = None,
    refined: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    user: AbstractBaseUser | None = None,
    enqueue: bool = True,
    accept_warnings: bool = False,
    threshold_logit: float | str | None = None,
) -> ScoringRun:
    """Create a run and queue its chunks; nothing is created when Redis does
    not answer (``core.queue.QueueUnavailable``; ``RunNotQueued`` when it
    stops answering once the run is committed), when the network does not
    fit the survey (``RunError``), or when it may not suit it and
    ``accept_warnings`` is false (``UnconfirmedWarnings``): a run costs
    hours of workers, so a warning is confirmed once, before, not missed.
    The threshold is a probability (``threshold``) or log-odds
    (``threshold_logit``), see ``check_threshold``."""
    fit = network_fit(survey, network)
    if fit.errors:
        raise RunError(" ".join(fit.errors))
    if fit.warnings and not accept_warnings:
        raise UnconfirmedWarnings(fit.warnings)
    threshold, threshold_logit, origin = check_threshold(network, threshold, threshold_logit)
    if int(chunk_size) < 1:
        raise RunError(f"The chunk size must be at least 1 stamp, not {chunk_size}.")
    index = np.fromiter(
        survey.sample(refined).order_by("stamp_index").values_list("stamp_index", flat=True),
        dtype=np.int64,
    )
    if not len(index):
        which = "refined LRGs" if refined else "LRGs with a stamp"
        raise RunError(f"Survey {survey.name} has no {which} to score.")
    if enqueue:
        queue.check_queue("scoring")
    run = None
    try:
        with transaction.atomic():
            run = ScoringRun.objects.create(
                survey=survey,
                network=network,
                sample=ScoringRun.Sample.REFINED if refined else ScoringRun.Sample.ALL,
                threshold=threshold,
                threshold_logit=threshold_logit,
                threshold_origin=origin,
                network_state=network_state(network),
                chunk_size=int(chunk_size),
                n_sources=len(index),
                created_by=user if user is not None and user.is_authenticated else None,
            )
            groups = np.array_split(index, int(np.ceil(len(index) / int(chunk_size))))
            chunks = RunChunk.objects.bulk_create(
                RunChunk(run=run, index=i, start=int(g[0]), stop=int(g[-1]) + 1, n_sources=len(g))
                for i, g in enumerate(groups)
            )
            for chunk in chunks:
                _launch_chunk(chunk, len(chunks), user, enqueue)
    except queue.QueueUnavailable as exc:
        # Raised by a chunk's enqueue once the run has committed: it exists.
        if run is None or not ScoringRun.objects.filter(pk=run.pk).exists():
            raise
        raise RunNotQueued(run, exc) from exc
    return run


def network_state(network: Network) -> dict:
    """What a run's scores depend on besides the stamps: the network's
    weights, temperature and TTA setting (a committee: also its members as it
    pinned them). Kept on the run at launch, so that every chunk scores with
    the same network even when an upgrade re-registers a shipped one."""
    state = {
        "weights_sha256": network.weights_sha256,
        "temperature": network.temperature,
        "tta": network.tta,
    }
    if network.is_committee:
        state["members"] = (network.training or {}).get("members", [])
    return state


def check_network_unchanged(run: ScoringRun) -> None:
    """Raise ``RunError`` when the run's network is no longer the one it was
    launched with (``network_state``): its scores would mix two networks."""
    if not run.network_state:
        return  # runs from before the record: nothing to compare
    now = network_state(run.network)
    if now == run.network_state:
        return
    changed = [
        f"{key} {run.network_state.get(key)!s:.12} -> {now.get(key)!s:.12}"
        for key in sorted(set(now) | set(run.network_state))
        if now.get(key) != run.network_state.get(key)
    ]
    raise RunError(
        f"{run.network.name} has changed since {run.label} was launched ({'; '.join(changed)}): "
        "its chunks would be scored by two different networks. Launch a new run with the "
        "network as it is now."
    )


def _launch_chunk(chunk, n_chunks, user=None, enqueue=True):
    run = chunk.run
    chunk.job = queue.launch(
        "inspection.jobs.score_chunk",
        chunk.pk,
        title=f"{run.label} {run.network.name} on {run.survey.name}: "
        f"chunk {chunk.index + 1}/{n_chunks}",
        queue="scoring",
        user=user,
        unit="stamps",
        timeout=CHUNK_TIMEOUT_S,
        enqueue=enqueue,
    )
    chunk.attempts += 1
    chunk.save(update_fields=["job", "attempts"])


def _supersede(job, why):
    """Take an active job's row from it: should it still be running
    somewhere, it stops at its next progress update (``core.progress``)."""
    Job.objects.filter(pk=job.pk, status__in=Job.ACTIVE).update(
        status=Job.Status.FAILED, finished_at=timezone.now(), error=f"Superseded: {why}."
    )


def run_in_process(run: ScoringRun) -> None:
    """Score every unfinished chunk here, not on a worker (the demo set-up,
    ``launch_run --in-process``)."""
    from inspection.jobs import score_chunk

    n_chunks = run.chunks.count()
    for chunk in run.chunks.select_related("job"):
        job = chunk.job
        if job is not None and job.status == Job.Status.SUCCEEDED:
            continue
        if job is None or job.status != Job.Status.QUEUED:
            if job is not None and job.is_active:
                _supersede(job, "the chunk was scored in process")
            _launch_chunk(chunk, n_chunks, enqueue=False)
        # A queued job also on the queue runs here or on a worker, not both.
        score_chunk(chunk.job.pk, chunk.pk)


def _reconciled_chunks(run):
    chunks = list(run.chunks.select_related("job"))
    for chunk in chunks:
        if chunk.job is not None and chunk.job.is_active:
            chunk.job = queue.reconcile(chunk.job)
    return chunks


@dataclass
class Resumed:
    """What ``resume`` did: chunks queued again, and chunks left as they
    were because their job is still queued or running on a live worker."""

    queued: int
    active: int


def resume(run: ScoringRun, user: AbstractBaseUser | None = None) -> Resumed:
    """Queue again every chunk whose job failed, was cancelled or lost its
    worker (``core.queue.reconcile``); the others keep their scores. A chunk
    still queued or running on a live worker is left alone: queued again,
    it would be scored twice. Raises ``QueueUnavailable`` when Redis does
    not answer."""
    queue.check_queue("scoring")
    chunks = _reconciled_chunks(run)
    active = [c for c in chunks if c.job is not None and c.job.is_active]
    again = [
        c
        for c in chunks
        if c.job is None or c.job.status in (Job.Status.FAILED, Job.Status.CANCELLED)
    ]
    with transaction.atomic():
        for chunk in again:
            _launch_chunk(chunk, len(chunks), user)
    return Resumed(queued=len(again), active=len(active))


def cancel(run: ScoringRun) -> int:
    """Ask every active chunk to stop; returns how many were asked."""
    jobs = Job.objects.filter(pk__in=run.chunks.values("job"), status__in=Job.ACTIVE)
    n = 0
    for job in jobs:
        queue.request_cancel(job)
        n += 1
    return n


def set_threshold(
    run: ScoringRun,
    threshold: float | str | None = None,
    threshold_logit: float | str | None = None,
) -> ScoringRun:
    """A new threshold (a probability or log-odds, see ``check_threshold``);
    the scores stay as they are."""
    run.threshold, run.threshold_logit, run.threshold_origin = check_threshold(
        run.network, threshold, threshold_logit
    )
    run.save(update_fields=["threshold", "threshold_logit", "threshold_origin"])
    return run


@dataclass
class RunProgress(ProgressFigures):
    """A run's progress, with a ``core.models.Job``'s figures so the
    job-progress panel and its script show it unchanged."""

    pk: int
    title: str
    status: str
    done: int
    total: int
    started_at: object
    progress_at: object
    finished_at: object
    message: str
    error: str
    cancel_requested: bool
    unit: str = "stamps"

    result: dict = field(default_factory=dict)


def progress(run: ScoringRun, reconcile: bool = True) -> RunProgress:
    """Stamps scored of the sample (rows in the database), rate, ETA and an
    overall status from the chunks' jobs."""
    chunks = _reconciled_chunks(run) if reconcile else list(run.chunks.select_related("job"))
    statuses = [c.job.status if c.job else Job.Status.QUEUED for c in chunks]
    counts = {s: statuses.count(s) for s in set(statuses)}
    if counts.get(Job.Status.RUNNING) or counts.get(Job.Status.QUEUED):
        status = (
            Job.Status.RUNNING
            if counts.get(Job.Status.RUNNING) or any(c.job and c.job.started_at for c in chunks)
            else Job.Status.QUEUED
        )
    elif counts.get(Job.Status.FAILED):
        status = Job.Status.FAILED
    elif counts.get(Job.Status.CANCELLED):
        status = Job.Status.CANCELLED
    else:
        status = Job.Status.SUCCEEDED
    jobs = Job.objects.filter(pk__in=[c.job_id for c in chunks if c.job_id])
    times = jobs.aggregate(start=Min("started_at"), last=Max("progress_at"), end=Max("finished_at"))
    done = run.scores.count()
    parts = [f"{n} {s}" for s, n in sorted(counts.items())]
    failed = [c for c in chunks if c.job and c.job.status == Job.Status.FAILED]
    error = ""
    if failed:
        first = failed[0].job.error.strip().splitlines()
        error = f"{len(failed)} chunk(s) failed; chunk {failed[0].index + 1}: " + (
            first[0] if first else ""
        )
    return RunProgress(
        pk=run.pk,
        title=str(run),
        status=status,
        done=done,
        total=run.n_sources,
        started_at=times["start"],
        progress_at=times["last"] or times["end"],
        # A run still going has not finished, whatever its finished chunks say.
        finished_at=None if status in Job.ACTIVE else times["end"],
        message=f"{len(chunks)} chunks: " + ", ".join(parts),
        error=error,
        cancel_requested=jobs.filter(cancel_requested=True, status__in=Job.ACTIVE).exists(),
    )


def candidate_rows(run: ScoringRun) -> QuerySet:
    """Candidates (logit >= threshold_logit), best first by log-odds, with
    their sources: probabilities that tie at 1.0 still rank."""
    return run.candidates().select_related("source").order_by("-logit", "source__stamp_index")


def candidate_table(run: ScoringRun) -> Table:
    """The candidates as an astropy Table (name, ra, dec, score, logit,
    is_refined, ...), best first by log-odds."""
    from astropy.table import Table

    rows = list(
        candidate_rows(run).values_list(
            "source__name",
            "source__catalogue_id",
            "source__ra_deg",
            "source__dec_deg",
            "score",
            "source__is_refined",
            "source__mag_g",
            "source__mag_r",
            "source__mag_i",
            "source__stamp_flags",
            "logit",
        )
    )
    names = [
        "name",
        "catalogue_id",
        "ra",
        "dec",
        "score",
        "is_refined",
        "mag_g",
        "mag_r",
        "mag_i",
        "stamp_flags",
        "logit",
    ]
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    table = Table()
    table["name"] = np.array(columns[0], dtype=str)
    table["catalogue_id"] = np.array(columns[1], dtype=str)
    table["ra"] = np.array(columns[2], dtype=np.float64)
    table["dec"] = np.array(columns[3], dtype=np.float64)
    table["score"] = np.array(columns[4], dtype=np.float64)
    table["score"].description = "network P(lens) = 1 / (1 + exp(-logit))"
    table["logit"] = np.array(columns[10], dtype=np.float64)
    table["is_refined"] = np.array(columns[5], dtype=bool)
    for k, band in zip((6, 7, 8), "gri", strict=True):
        table[f"mag_{band}"] = np.array(
            [np.nan if v is None else v for v in columns[k]], np.float64
        )
    table["stamp_flags"] = np.array(columns[9], dtype=np.int16)
    table.meta["RUN"] = run.pk
    table.meta["NETWORK"] = run.network.name
    table.meta["SURVEY"] = run.survey.name
    table.meta["THRESH"] = run.threshold
    table.meta["THRLOGIT"] = run.threshold_logit  # candidates: logit >= THRLOGIT
    table.meta["SAMPLE"] = run.sample
    if run.network_state:  # the weights the scores came from
        table.meta["NETSHA"] = run.network_state["weights_sha256"]
        table.meta["NETTEMP"] = run.network_state["temperature"]
        table.meta["NETTTA"] = run.network_state["tta"]
    return tables.describe(table)


def export_format(path: str | Path) -> str:
    """The astropy format an export to ``path`` is written in (``core.tables``)."""
    return tables.write_format(path, RunError)


def write_table(table: Table, path: str | Path) -> int:
    """Write an astropy table (``core.tables.write_table``): the format follows
    the suffix; units, descriptions and, in VOTable, UCDs are written. Atomic:
    a failed write leaves no file behind and an older file untouched."""
    return tables.write_table(table, path, RunError)


def export_candidates(run: ScoringRun, path: str | Path) -> int:
    """Write the candidate table; the format follows the suffix. Atomic."""
    export_format(path)
    return write_table(candidate_table(run), path)


@dataclass
class CandidatePositions:
    """A run's candidates as arrays, best first by log-odds: source ids,
    names, positions (deg) and log-odds."""

    run: ScoringRun
    source_ids: np.ndarray
    names: list[str]
    ra: np.ndarray
    dec: np.ndarray
    logits: np.ndarray

    def rows(self, indices: Sequence[int]) -> list[dict]:
        return [
            {
                "source_id": int(self.source_ids[i]),
                "name": self.names[i],
                "ra": float(self.ra[i]),
                "dec": float(self.dec[i]),
                "logit": float(self.logits[i]),
            }
            for i in indices
        ]


def candidate_positions(run: ScoringRun) -> CandidatePositions:
    """One query for a run's candidates and their positions (30,000 rows: a
    fraction of a second)."""
    rows = list(
        candidate_rows(run).values_list(
            "source_id", "source__name", "source__ra_deg", "source__dec_deg", "logit"
        )
    )
    ids, names, ra, dec, logits = zip(*rows, strict=True) if rows else ([], [], [], [], [])
    return CandidatePositions(
        run,
        np.array(ids, np.int64),
        list(names),
        np.array(ra, np.float64),
        np.array(dec, np.float64),
        np.array(logits, np.float64),
    )


@dataclass
class RunComparison:
    """He et al. 2020 Table 3 by sky position: ``matrix[i][j]`` counts the
    candidates of run i with a candidate of run j within ``radius_arcsec``
    (the diagonal: each run's candidates). With a cell (a, b) chosen,
    ``shared`` (pairs of rows, with their separation in arcsec), ``only_a``
    and ``only_b`` list its candidates."""

    runs: list
    radius_arcsec: float
    matrix: list[list[int]]
    cell: tuple[ScoringRun, ScoringRun] | None = None
    shared: list[tuple[dict, dict, float]] = field(default_factory=list)
    only_a: list[dict] = field(default_factory=list)
    only_b: list[dict] = field(default_factory=list)


def compare_runs(
    chosen: Sequence[ScoringRun],
    radius_arcsec: float = overlap.DEFAULT_RADIUS_ARCSEC,
    cell: tuple[int, int] | None = None,
) -> RunComparison:
    """Compare the candidate sets of runs by position (``scoring.overlap``):
    the same field ingested twice, or two surveys of one field, share their
    objects though not their source rows. ``cell``: the ids of two of the
    runs whose shared and unique candidates to list."""
    sets = {r.pk: candidate_positions(r) for r in chosen}
    positions = [(sets[r.pk].ra, sets[r.pk].dec) for r in chosen]
    result = RunComparison(
        list(chosen), radius_arcsec, overlap.overlap_counts(positions, radius_arcsec)
    )
    if cell is not None:
        a, b = sets[cell[0]], sets[cell[1]]
        pair = overlap.pair_overlap(a.ra, a.dec, b.ra, b.dec, radius_arcsec)
        result.cell = (a.run, b.run)
        result.shared = list(
            zip(
                a.rows(pair.shared_a),
                b.rows(pair.shared_b),
                pair.separation_arcsec.tolist(),
                strict=True,
            )
        )
        result.only_a, result.only_b = a.rows(pair.only_a), b.rows(pair.only_b)
    return result


def overlap_matrix(
    runs: Sequence[ScoringRun], radius_arcsec: float = overlap.DEFAULT_RADIUS_ARCSEC
) -> list[list[int]]:
    """He et al. 2020 Table 3 by sky position (:func:`compare_runs`)."""
    return compare_runs(runs, radius_arcsec).matrix


def score_histogram(run: ScoringRun, bins: int = 40) -> tuple[list[int], list[float]]:
    """Counts of the run's log-odds in ``bins`` equal bins, and the edges
    (``inspection.catalogues.dashboards.logit_histogram``): probabilities would pile
    every confident stamp into the last bin."""
    logits = np.fromiter(run.scores.values_list("logit", flat=True), dtype=np.float64)
    return dashboards.logit_histogram(logits, run.threshold_logit, bins)


def runs_with_counts(queryset: QuerySet) -> QuerySet:
    """The runs with their survey and network, and ``n_scored`` (scores stored)."""
    return queryset.select_related("survey", "network").annotate(n_scored=Count("scores"))
