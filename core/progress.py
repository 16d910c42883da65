"""How a job function reports progress and notices a cancel request.

A job function is a module-level function decorated with ``@tracked``; rq
calls it as ``func(job_pk, *ids)`` and the function body receives a
``Progress`` in place of the primary key::

    @tracked
    def score_chunk(progress, chunk_pk):
        progress.start(total=n, unit="stamps")
        for i in ...:
            progress.update(i + 1)   # raises JobCancelled after a cancel request

The decorator marks the ``Job`` row running, then succeeded, failed (with the
error) or cancelled, whatever the body does.

Only a queued row runs, and only once: the decorator takes it from queued to
running in one UPDATE, so an rq job whose row was cancelled, superseded by a
resumed run or already run by another worker does nothing. A running job
stops at its next progress update once its row is no longer running
(cancelled, or marked failed because its worker was thought dead and its
work given to another job), and then writes nothing over the row.
"""

import contextlib
import functools
import time
import traceback
from collections.abc import Callable, Iterator

from django.db import close_old_connections, connection
from django.utils import timezone
from rq import get_current_job

from core import installation
from core.models import Job


class JobCancelled(Exception):
    """Raised inside a job when an admin asked to cancel it, or when its row
    is no longer running (deleted, or failed by whoever gave up on it)."""


class ForeignJob(RuntimeError):
    """An rq job of another installation reached this one's worker."""


# A command that runs a job in its own process shows its progress bar from
# here (``echo_to``): the job writes to its row as anywhere else.
_echo: list[Callable[[int, int | None, str], None]] = []


@contextlib.contextmanager
def echo_to(listener: Callable[[int, int | None, str], None]) -> Iterator[None]:
    """Within the block, every progress write of a job run in this process
    also calls ``listener(done, total, message)`` (a command's progress bar)."""
    _echo.append(listener)
    try:
        yield
    finally:
        _echo.remove(listener)


class Progress:
    def __init__(self, job_pk, min_interval_s=0.5):
        self.job_pk = job_pk
        self.min_interval_s = min_interval_s
        self.done = 0
        self.total = None
        self.message = ""
        self._last_write = 0.0

    def _echo(self):
        for listener in _echo:
            listener(self.done, self.total, self.message)

    def _jobs(self):
        # Writes reach the row only while it is this job's: running.
        return Job.objects.filter(pk=self.job_pk, status=Job.Status.RUNNING)

    def start(self, total: int | None = None, unit: str | None = None, message: str = "") -> None:
        """Declare the amount of work (``total`` in ``unit``s)."""
        fields = {"total": total, "message": message, "progress_at": timezone.now()}
        if unit:
            fields["unit"] = unit
        self.total, self.message = total, message
        self._jobs().update(**fields)
        self._echo()
        self.check_cancelled()

    def update(
        self, done: int, total: int | None = None, message: str | None = None, force: bool = False
    ) -> None:
        """Record ``done`` units; writes at most every ``min_interval_s``."""
        self.done = done
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval_s:
            return
        self._last_write = now
        fields = {"done": done, "progress_at": timezone.now()}
        if total is not None:
            fields["total"] = self.total = total
        if message is not None:
            fields["message"] = self.message = message[:500]
        self._jobs().update(**fields)
        self._echo()
        self.check_cancelled()

    def set_result(self, result: dict) -> None:
        """Partial results the job page can show while the job runs (a dict)."""
        self._jobs().update(result=result)

    def advance(self, n: int = 1, message: str | None = None) -> None:
        self.update(self.done + n, message=message)

    def check_cancelled(self) -> None:
        if not self._jobs().filter(cancel_requested=False).exists():
            raise JobCancelled()


def _refuse_foreign(job_pk):
    """Raise ``ForeignJob`` when the rq job being run is not this
    installation's job ``job_pk`` (``core.installation``). rq's key prefix
    keeps installations apart already; this stops a job that reached a
    worker of another database anyway (one given the other's prefix) from
    acting on that database's row of the same pk."""
    current = get_current_job()
    if current is not None and current.id != installation.rq_job_id(job_pk):
        raise ForeignJob(
            f"rq job {current.id} is not job {job_pk} of this installation "
            f"({installation.rq_job_id(job_pk)}): a worker of another database took it; "
            "refused, nothing was changed."
        )


def tracked(func: Callable) -> Callable:
    """Run ``func(progress, *args)`` for the Job row ``job_pk``; see module doc."""

    @functools.wraps(func)
    def run(job_pk, *args, **kwargs):
        # Workers are long-lived (SimpleWorker runs jobs in-process): drop a
        # connection the database closed while the worker idled. Not inside a
        # transaction: a job run in-process (the demo set-up) must keep it.
        if not connection.in_atomic_block:
            close_old_connections()
        _refuse_foreign(job_pk)
        jobs = Job.objects.filter(pk=job_pk)
        running = jobs.filter(status=Job.Status.RUNNING)
        now = timezone.now()
        # Queued -> running in one UPDATE: of two rq jobs for one row (a
        # requeue, a stale job left in the queue) only the first runs.
        started = jobs.filter(status=Job.Status.QUEUED, cancel_requested=False).update(
            status=Job.Status.RUNNING,
            started_at=now,
            progress_at=now,
            finished_at=None,
            done=0,
            error="",
        )
        if not started:
            jobs.filter(status=Job.Status.QUEUED, cancel_requested=True).update(
                status=Job.Status.CANCELLED, finished_at=now
            )
            return None  # deleted, cancelled, superseded or run already
        progress = Progress(job_pk)
        try:
            result = func(progress, *args, **kwargs)
        except JobCancelled:
            running.update(
                status=Job.Status.CANCELLED,
                finished_at=timezone.now(),
                done=progress.done,
                message="cancelled by an admin",
            )
            return None
        except BaseException as exc:
            # BaseException: rq's job timeout and a worker's cold shutdown
            # are not Exceptions, and the page must still say what happened.
            running.update(
                status=Job.Status.FAILED,
                finished_at=timezone.now(),
                done=progress.done,
                error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=8)}",
            )
            raise
        finished = {"status": Job.Status.SUCCEEDED, "finished_at": timezone.now()}
        finished["progress_at"] = finished["finished_at"]
        finished["done"] = progress.done
        if isinstance(result, dict):
            finished["result"] = result
        running.update(**finished)
        return result

    return run
