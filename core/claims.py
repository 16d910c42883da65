"""Names held by one process at a time (``core.models.Claim``).

``take`` reserves a name atomically, before any work: the database's unique
key decides between two takers on any machines. The holder ``release``s it
when done, in the same transaction as the record its work creates. A holder
that was killed releases nothing; the next taker finds out whether it still
lives and, if not, takes the claim over (and then clears what the dead one
left, which only it may now do).
"""

import os
import socket

from django.db import IntegrityError, transaction

from core import queue
from core.liveness import holder_alive, process_space
from core.models import Claim, Job


class Held(RuntimeError):
    """The name is held by a holder that still lives (or may: ``holder``)."""

    def __init__(self, claim):
        self.claim = claim
        super().__init__(f"{claim.key} is held by {describe(claim)}")


def describe(claim: Claim) -> str:
    """Who holds ``claim``, for a message."""
    since = claim.created_at.strftime("%Y-%m-%d %H:%M UTC")
    if claim.job_id:
        return f"job {claim.job_id} (process {claim.pid} on {claim.host}), since {since}"
    return f"process {claim.pid} on {claim.host}, since {since}"


def holder_lives(claim: Claim) -> bool:
    """Whether the holder of ``claim`` may still be at work.

    A holder that is a job lives while its row is active, its worker
    checked through the queue (``core.queue.reconcile``); any holder whose
    process this machine can see lives while that process does. A holder
    on another machine, without a job, is taken to live: nothing here can
    tell otherwise.
    """
    if claim.job_id:
        job = Job.objects.filter(pk=claim.job_id).first()
        if job is None or not queue.reconcile(job).is_active:
            return False
    return holder_alive(claim.pid, claim.process_space) is not False


def take(key: str, job_pk: int | None = None) -> Claim:
    """Reserve ``key`` for this process (and job ``job_pk``, if it is one).

    Raises ``Held`` when a live holder has it. A dead holder's claim is
    taken over: deleted only if it is still that holder's (compare and
    delete), so of two takers only one succeeds.
    """
    while True:
        try:
            with transaction.atomic():
                claim = Claim.objects.create(
                    key=key,
                    job_id=job_pk,
                    pid=os.getpid(),
                    host=socket.gethostname()[:255],
                    process_space=process_space(),
                )
            return claim
        except IntegrityError:
            holder = Claim.objects.filter(key=key).first()
            if holder is None:
                continue  # released meanwhile
            if holder_lives(holder):
                raise Held(holder) from None
            # Each pass deletes a dead holder's claim or meets a live one.
            Claim.objects.filter(pk=holder.pk, token=holder.token).delete()


def release(claim: Claim) -> None:
    """Give ``claim`` up (only this holder's: a claim taken over stays)."""
    Claim.objects.filter(pk=claim.pk, token=claim.token).delete()
