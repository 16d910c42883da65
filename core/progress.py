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
"""

import functools
import time
import traceback

from django.db import close_old_connections, connection
from django.utils import timezone

from core.models import Job


class JobCancelled(Exception):
    """Raised inside a job when an admin asked to cancel it."""


class Progress:
    def __init__(self, job_pk, min_interval_s=0.5):
        self.job_pk = job_pk
        self.min_interval_s = min_interval_s
        self.done = 0
        self._last_write = 0.0

    def _jobs(self):
        return Job.objects.filter(pk=self.job_pk)

    def start(self, total=None, unit=None, message=""):
        """Declare the amount of work (``total`` in ``unit``s)."""
        fields = {"total": total, "message": message, "progress_at": timezone.now()}
        if unit:
            fields["unit"] = unit
        self._jobs().update(**fields)
        self.check_cancelled()

    def update(self, done, total=None, message=None, force=False):
        """Record ``done`` units; writes at most every ``min_interval_s``."""
        self.done = done
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval_s:
            return
        self._last_write = now
        fields = {"done": done, "progress_at": timezone.now()}
        if total is not None:
            fields["total"] = total
        if message is not None:
            fields["message"] = message[:500]
        self._jobs().update(**fields)
        self.check_cancelled()

    def set_result(self, result):
        """Partial results the job page can show while the job runs (a dict)."""
        self._jobs().update(result=result)

    def advance(self, n=1, message=None):
        self.update(self.done + n, message=message)

    def check_cancelled(self):
        if self._jobs().filter(cancel_requested=True).exists():
            raise JobCancelled()


def tracked(func):
    """Run ``func(progress, *args)`` for the Job row ``job_pk``; see module doc."""

    @functools.wraps(func)
    def run(job_pk, *args, **kwargs):
        # Workers are long-lived (SimpleWorker runs jobs in-process): drop a
        # connection the database closed while the worker idled. Not inside a
        # transaction: a job run in-process (the demo set-up) must keep it.
        if not connection.in_atomic_block:
            close_old_connections()
        jobs = Job.objects.filter(pk=job_pk)
        if not jobs.exists():
            return None  # deleted while queued: nothing to report to
        if jobs.filter(cancel_requested=True).exists():
            jobs.update(status=Job.Status.CANCELLED, finished_at=timezone.now())
            return None
        now = timezone.now()
        jobs.update(
            status=Job.Status.RUNNING,
            started_at=now,
            progress_at=now,
            finished_at=None,
            done=0,
            error="",
        )
        progress = Progress(job_pk)
        try:
            result = func(progress, *args, **kwargs)
        except JobCancelled:
            jobs.update(
                status=Job.Status.CANCELLED,
                finished_at=timezone.now(),
                done=progress.done,
                message="cancelled by an admin",
            )
            return None
        except BaseException as exc:
            # BaseException: rq's job timeout and a worker's cold shutdown
            # are not Exceptions, and the page must still say what happened.
            jobs.update(
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
        jobs.update(**finished)
        return result

    return run
