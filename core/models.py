import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

ACTIVE_STATUSES = ("queued", "running")


class ProgressFigures:
    """Fraction, rate, ETA and the polled JSON of anything with ``status``,
    ``done``, ``total``, ``started_at``, ``progress_at``, ``finished_at``,
    ``unit`` and the fields of ``progress_dict``: a ``Job``, or a scoring
    run's progress summed over its chunks' jobs."""

    @property
    def is_active(self):
        return self.status in ACTIVE_STATUSES

    @property
    def fraction(self):
        """Share done, 0-1, or None while the total is unknown."""
        if not self.total:
            return 1.0 if self.status == "succeeded" else None
        return min(self.done / self.total, 1.0)

    @property
    def elapsed_s(self):
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return max((end - self.started_at).total_seconds(), 0.0)

    @property
    def rate(self):
        """Units per second, averaged from the start to the last update."""
        if not (self.started_at and self.progress_at and self.done):
            return None
        seconds = (self.progress_at - self.started_at).total_seconds()
        return self.done / seconds if seconds > 0 else None

    @property
    def eta_s(self):
        """Seconds left at the average rate so far; None when unknown."""
        rate = self.rate
        if not (self.is_active and rate and self.total):
            return None
        return max(self.total - self.done, 0) / rate

    def progress_dict(self):
        """What the self-refreshing job page polls for."""
        return {
            "id": self.pk,
            "title": self.title,
            "status": self.status,
            "done": self.done,
            "total": self.total,
            "unit": self.unit,
            "fraction": self.fraction,
            "rate_per_s": self.rate,
            "eta_s": self.eta_s,
            "elapsed_s": self.elapsed_s,
            "message": self.message,
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "active": self.is_active,
            "result": self.result,
        }


class Job(ProgressFigures, models.Model):
    """A long piece of work done by an rq worker, as the web pages see it.

    The row is the source of truth for status and progress; rq only carries
    the call. Domain records (a scoring run, a training run) point at their
    Job rows, so every long job shows the same progress page.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)  # == ACTIVE_STATUSES

    title = models.CharField(max_length=200)
    function = models.CharField(max_length=200, help_text="dotted path of the job function")
    queue = models.CharField(max_length=32, default="default")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True, help_text="time of the last update")
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(null=True, blank=True)
    unit = models.CharField(max_length=32, default="steps", help_text="what done/total count")
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self):
        return f"{self.title} ({self.status})"

    @property
    def rq_job_id(self):
        from core.installation import rq_job_id

        return rq_job_id(self.pk)


def new_token():
    return secrets.token_hex(6)


class Claim(models.Model):
    """A name held by one process until its work is done, e.g. a survey name
    while it is ingested (``core.claims``).

    The unique ``key`` makes taking a name atomic across processes and
    machines. A holder that is killed leaves its claim behind; the next
    taker checks whether the holder still lives (its job, or its process
    where the PID means something) and takes the name over if not.
    """

    key = models.CharField(max_length=200, unique=True)
    token = models.CharField(
        max_length=12, default=new_token, help_text="tells this holder from the next one"
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    pid = models.PositiveIntegerField()
    host = models.CharField(max_length=255)
    process_space = models.CharField(max_length=200, help_text="core.liveness.process_space()")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.key
