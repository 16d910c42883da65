"""Telling whether a recorded process still lives, and names held by one holder."""

import os
import subprocess
import time

import pytest

from core import claims
from core.liveness import holder_alive, pid_alive, process_space
from core.models import Claim, Job


def a_gone_pid():
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_live_process_is_alive_and_a_reaped_one_is_not():
    assert pid_alive(os.getpid())
    assert not pid_alive(a_gone_pid())


def test_a_killed_child_not_yet_reaped_is_dead():
    child = subprocess.Popen(["sleep", "30"])
    child.kill()
    for _ in range(100):  # until it is a zombie; not reaped: no wait()
        with open(f"/proc/{child.pid}/stat") as f:
            if f.read().rpartition(")")[2].split()[0] == "Z":
                break
        time.sleep(0.01)
    assert not pid_alive(child.pid)
    child.wait()


def test_a_pid_recorded_in_another_process_space_cannot_be_judged_here():
    assert holder_alive(os.getpid(), process_space()) is True
    assert holder_alive(a_gone_pid(), process_space()) is False
    assert holder_alive(os.getpid(), "another-machine/pid:[1]") is None


@pytest.mark.django_db
def test_a_name_is_held_by_one_live_holder_at_a_time():
    claim = claims.take("survey:x")
    with pytest.raises(claims.Held, match=f"survey:x is held by process {os.getpid()}"):
        claims.take("survey:x")
    claims.release(claim)
    assert claims.take("survey:x").pk != claim.pk


@pytest.mark.django_db
def test_a_dead_holders_name_is_taken_over_and_its_release_then_changes_nothing():
    dead = claims.take("survey:x")
    Claim.objects.filter(pk=dead.pk).update(pid=a_gone_pid())
    mine = claims.take("survey:x")
    claims.release(dead)  # the dead holder, were it to wake, cannot free our claim
    assert list(Claim.objects.values_list("pk", flat=True)) == [mine.pk]


@pytest.mark.django_db
def test_a_holder_on_another_machine_is_taken_to_live_unless_it_is_a_finished_job():
    claim = claims.take("survey:x")
    Claim.objects.filter(pk=claim.pk).update(process_space="elsewhere", host="far-away")
    with pytest.raises(claims.Held, match="on far-away"):
        claims.take("survey:x")
    job = Job.objects.create(title="ingest", function="inspection.jobs.ingest_survey",
                             status=Job.Status.FAILED)  # fmt: skip
    Claim.objects.filter(pk=claim.pk).update(job=job)
    assert claims.take("survey:x").job_id is None
