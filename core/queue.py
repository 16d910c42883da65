"""Launching, cancelling and checking background jobs (one code path for web and CLI)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import django_rq
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Worker as RqWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job as RqJob
from rq.job import JobStatus as RqStatus

from core.liveness import holder_alive, process_space
from core.models import Job
from core.stack import QUEUES
from core.worker import SPACE_FIELD

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from redis import Redis


class QueueUnavailable(RuntimeError):
    """Redis does not answer, so no job can be queued."""


def redacted(url: str) -> str:
    """A Redis URL without its password, fit for an error message."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def queue_url(queue_name: str) -> str:
    from django.conf import settings

    return settings.RQ_QUEUES[queue_name]["URL"]


def check_queue(queue_name: str = "default") -> None:
    """Raise ``QueueUnavailable`` with advice unless the queue's Redis answers."""
    try:
        django_rq.get_connection(queue_name).ping()
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(
            f"The job queue does not answer (Redis at {redacted(queue_url(queue_name))}: {exc}). "
            "Nothing was started. Start Redis — `make run` starts a private one — "
            "or point REDIS_URL at a running server, then try again."
        ) from exc


def launch(
    func: Callable,
    *args,
    title: str,
    queue: str = "default",
    user: User | None = None,
    unit: str = "steps",
    timeout: int | None = None,
    enqueue: bool = True,
    uploads: str | None = None,
) -> Job:
    """Create a ``Job`` row and queue ``func(job.pk, *args)`` once it commits.

    ``func`` must be a module-level function decorated with
    ``core.progress.tracked``, or its dotted path (so that a web process
    need not import what the job imports, e.g. torch); ``args`` are ids and
    plain values, never model instances. Raises ``QueueUnavailable`` (and
    creates nothing) when Redis does not answer. ``enqueue=False`` only
    creates the row, for a caller that runs ``func(job.pk, *args)`` itself
    (the demo set-up, before any Redis is up). ``uploads``: a folder of
    files uploaded for this job alone (``core.uploads``), removed if the job
    is cancelled before it starts or its worker dies (the job itself
    removes it when it fails).
    """
    if enqueue:
        check_queue(queue)
    job = Job.objects.create(
        title=title,
        function=func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}",
        queue=queue,
        created_by=user if (user is not None and user.is_authenticated) else None,
        unit=unit,
        result={"uploads": str(uploads)} if uploads else {},
    )

    def enqueue_after_commit():
        try:
            # commit_mode="auto": this already runs after the commit.
            django_rq.get_queue(queue, commit_mode="auto").enqueue(
                func, job.pk, *args, job_id=job.rq_job_id, job_timeout=timeout
            )
        except (RedisError, OSError) as exc:
            # Redis went away between the check and the commit: say so on
            # the job rather than leave a job that will never start.
            Job.objects.filter(pk=job.pk).update(
                status=Job.Status.FAILED,
                finished_at=timezone.now(),
                error=f"Could not queue the job: {exc}. Check REDIS_URL and launch it again.",
            )
            raise QueueUnavailable(
                f"Job {job.pk} ({job.title}) was created but could not be queued: the job "
                f"queue stopped answering ({exc}). It is marked failed; launch it again once "
                "Redis answers."
            ) from exc

    if enqueue:
        transaction.on_commit(enqueue_after_commit)
    return job


def request_cancel(job: Job) -> Job:
    """Ask a job to stop. A queued job is cancelled at once; a running one
    stops at its next progress update."""
    Job.objects.filter(pk=job.pk, status__in=Job.ACTIVE).update(cancel_requested=True)
    cancelled_now = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.CANCELLED, finished_at=timezone.now(), message="cancelled before start"
    )
    if cancelled_now:
        # The worker would skip it anyway (the row says cancelled); this only
        # tidies the queue, so a failure here changes nothing.
        with contextlib.suppress(NoSuchJobError, RedisError, OSError):
            RqJob.fetch(job.rq_job_id, connection=django_rq.get_connection(job.queue)).cancel()
    job.refresh_from_db()
    if cancelled_now:
        _discard_uploads(job)
    return job


def _discard_uploads(job):
    """Remove the upload folder of a job that ended without running to the
    end (``launch(uploads=...)``): nothing will ever read it."""
    from pathlib import Path

    from core.uploads import discard

    folder = job.result.get("uploads") if isinstance(job.result, dict) else None
    if folder and job.status in (Job.Status.CANCELLED, Job.Status.FAILED):
        discard(Path(folder))


LOST_STATUSES = {RqStatus.FAILED, RqStatus.STOPPED, RqStatus.CANCELED}


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def worker_alive(connection: Redis, worker_name: str) -> bool:
    """Whether the rq worker ``worker_name`` still lives, as far as can be told.

    Its record in Redis lapses unless it beats (``core.worker.Worker`` beats
    every 30 s while it works, so a dead one's lapses within ~90 s); where
    its PID means something here (the same machine and PID namespace), a
    process that is gone is dead at once. A plain rq worker records no
    process space: its hostname stands in for one.
    """
    key = RqWorker.redis_worker_namespace_prefix + worker_name
    pid, hostname, space, death = map(
        _text, connection.hmget(key, ["pid", "hostname", SPACE_FIELD, "death"])
    )
    if pid is None or death:
        return False
    if space is None and hostname == socket.gethostname():
        space = process_space()
    return holder_alive(int(pid), space) is not False


def reconcile(job: Job) -> Job:
    """Mark an active job failed when its worker died under it.

    A killed worker never gets to update the row; rq's registries notice
    (the job moves to failed, or disappears), and a job that rq still calls
    started is lost once its worker is gone (``worker_alive``). Called when
    a page shows the job. Redis being down is not evidence of anything, so
    it changes nothing.
    """
    if not job.is_active:
        return job
    try:
        connection = django_rq.get_connection(job.queue)
        rq_job = RqJob.fetch(job.rq_job_id, connection=connection)
        status = rq_job.get_status(refresh=True)
        why = None
        if status in LOST_STATUSES:
            why = f"the queue reports the job {status}"
        elif (
            status == RqStatus.STARTED
            and rq_job.worker_name
            and not worker_alive(connection, rq_job.worker_name)
        ):
            why = f"its worker {rq_job.worker_name} is gone"
        elif status == RqStatus.QUEUED and _dropped(connection, job, rq_job):
            why = "a worker took it from the queue and died before starting it"
    except NoSuchJobError:
        why = "the queue has no record of the job"
    except (RedisError, OSError):
        return job
    if why:
        # Re-read first: the job may have finished since the page loaded.
        lost = Job.objects.filter(pk=job.pk, status__in=Job.ACTIVE).update(
            status=Job.Status.FAILED,
            finished_at=timezone.now(),
            error=f"The worker stopped before the job finished ({why}). Launch it again.",
        )
        job.refresh_from_db()
        if lost:
            _discard_uploads(job)
    return job


# How long a job may stay out of its queue yet not started while a live
# worker consumes the queue, before it counts as dropped (s). A worker takes
# microseconds between the two; the margin covers a paused or swapping one.
DROPPED_AFTER_S = 60


def _dropped(connection: Redis, job: Job, rq_job: RqJob) -> bool:
    """Whether a job rq still calls queued was taken from its queue by a
    worker that died before marking it started.

    rq moves a job out of the queue list (into ``<queue>:intermediate`` for a
    one-queue worker, nowhere for a worker of several queues) and only then
    marks it started; a worker killed in between leaves it queued in name,
    in no list, forever (rq's own clean-up of the intermediate list comes
    only from a later worker, a minute on, and never for a worker of several
    queues). With no live worker on the queue nobody can be holding it; with
    one, it must have been missing for ``DROPPED_AFTER_S`` (the first sighting
    is recorded in Redis, so any web process can tell).
    """
    queue = django_rq.get_queue(job.queue)
    if connection.lpos(queue.key, rq_job.id) is not None:
        return False
    # A worker may have started (or finished) it since the first read.
    if rq_job.get_status(refresh=True) != RqStatus.QUEUED:
        return False
    if live_workers(job.queue) == 0:
        return True
    key = f"{queue.key}:unseen:{rq_job.id}"
    now_s = timezone.now().timestamp()
    if connection.set(key, now_s, nx=True, ex=24 * 3600):
        return False
    return now_s - float(_text(connection.get(key)) or now_s) >= DROPPED_AFTER_S


def live_workers(queue_name: str = "default") -> int:
    """How many live workers listen on this installation's queue ``queue_name``
    (a killed worker's registration outlives it: it is not counted)."""
    queue = django_rq.get_queue(queue_name)
    workers = RqWorker.all(queue=queue)
    return sum(1 for w in workers if worker_alive(queue.connection, w.name))


def no_worker_message(queue_name: str = "default") -> str:
    """What to say when no worker consumes ``queue_name``, and how to start one."""
    return (
        f"No worker consumes the {queue_name!r} queue (Redis at "
        f"{redacted(queue_url(queue_name))}): its jobs wait until one does. Start one with "
        f"`python manage.py rqworker {' '.join(QUEUES)}` (`make run` starts one) with "
        "this installation's REDIS_URL, DATABASE_URL and LENSFINDER_DATA_DIR."
    )


def queue_health() -> list[dict]:
    """Per queue: reachable, length, workers. For the admin overview."""
    health = []
    for name in QUEUES:
        try:
            queue = django_rq.get_queue(name)
            workers = live_workers(name)
            health.append({"name": name, "ok": True, "queued": len(queue), "workers": workers})
        except (RedisError, OSError) as exc:
            health.append({"name": name, "ok": False, "error": str(exc)})
    return health
