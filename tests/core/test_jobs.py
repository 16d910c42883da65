"""Background jobs end to end: a real Redis, real rq workers, the Job record."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import django_rq
import pytest
from django.urls import reverse
from rq.worker import SimpleWorker

from core import jobs, queue
from core.models import Job
from core.stack import WORKER_CLASS
from tests.conftest import ROOT
from tests.core import jobs_for_tests

pytestmark = pytest.mark.django_db(transaction=True)


def work_in_process(queue_name="default"):
    """Run one burst of a real SimpleWorker in this process."""
    q = django_rq.get_queue(queue_name)
    SimpleWorker([q], connection=q.connection).work(burst=True)


def manage(env, *args):
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def settings_installation_id():
    from django.conf import settings

    return settings.INSTALLATION_ID


def wait_for(predicate, timeout_s=30, every_s=0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return False


def test_it_launches_a_selftest_from_the_web_and_a_worker_runs_it(admin_client, start_worker):
    response = admin_client.post(reverse("core:selftest"), {"steps": 4, "delay_s": 0.05})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "core:job", args=[job.pk]
    )
    assert job.status == Job.Status.QUEUED
    assert job.rq_job_id in django_rq.get_queue("default").job_ids

    worker = start_worker("default")
    output = worker.communicate(timeout=60)[0].decode()
    assert worker.returncode == 0, output

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert (job.done, job.total, job.unit) == (4, 4, "steps")
    assert job.result == {"counted": 4}
    assert job.started_at <= job.finished_at
    progress = admin_client.get(reverse("core:job_progress", args=[job.pk])).json()
    assert progress["status"] == "succeeded" and progress["fraction"] == 1.0
    assert progress["rate_per_s"] > 0 and progress["eta_s"] is None


def test_it_reports_rate_and_eta_while_running(admin, start_worker):
    job = queue.launch(jobs.selftest, 300, 0.02, title="slow", user=admin)
    start_worker("default")
    assert wait_for(lambda: Job.objects.get(pk=job.pk).done >= 20)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING
    assert job.total == 300
    # ~50 steps/s; anything within a factor of 5 shows the rate is measured.
    assert 10 < job.rate < 250
    assert 0 < job.eta_s < 300 / job.rate * 1.5
    queue.request_cancel(job)


def test_it_cancels_a_running_job(admin_client, admin, start_worker):
    job = queue.launch(jobs.selftest, 1000, 0.01, title="long", user=admin)
    worker = start_worker("default")
    assert wait_for(lambda: Job.objects.get(pk=job.pk).done > 0)

    response = admin_client.post(reverse("core:job_cancel", args=[job.pk]))
    assert response.status_code == 302
    worker.communicate(timeout=60)

    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert 0 < job.done < 1000
    assert job.finished_at is not None


def test_it_cancels_a_queued_job_before_any_worker_takes_it(admin):
    job = queue.launch(jobs.selftest, 5, 0, title="never", user=admin)
    queue.request_cancel(job)
    assert job.status == Job.Status.CANCELLED
    work_in_process()
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.started_at is None and job.done == 0


def test_it_records_the_error_of_a_failed_job(admin_client, admin):
    job = queue.launch(jobs_for_tests.explode, 3, title="boom", user=admin)
    work_in_process()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "ValueError: exploded after 3 steps" in job.error
    assert job.done == 3
    page = admin_client.get(reverse("core:job", args=[job.pk])).content.decode()
    assert "exploded after 3 steps" in page
    # rq's own record agrees, so the rq dashboard shows it too.
    assert job.rq_job_id in django_rq.get_queue("default").failed_job_registry.get_job_ids()


def test_it_marks_a_job_failed_when_its_worker_vanished(admin_client):
    job = Job.objects.create(title="orphan", function="core.jobs.selftest", status="running")
    progress = admin_client.get(reverse("core:job_progress", args=[job.pk])).json()
    assert progress["status"] == "failed"
    assert "worker stopped before the job finished" in progress["error"]


def test_it_enqueues_only_after_the_transaction_commits(admin):
    from django.db import transaction

    with transaction.atomic():
        job = queue.launch(jobs.selftest, 1, 0, title="atomic", user=admin)
        assert job.rq_job_id not in django_rq.get_queue("default").job_ids
    assert job.rq_job_id in django_rq.get_queue("default").job_ids


def test_it_says_so_and_creates_nothing_when_redis_is_unreachable(admin_client, settings):
    dead = "redis://127.0.0.1:1/0"
    settings.RQ_QUEUES = {name: {**c, "URL": dead} for name, c in settings.RQ_QUEUES.items()}
    response = admin_client.post(reverse("core:selftest"), {"steps": 3, "delay_s": 0})
    assert response.status_code == 503
    page = response.content.decode()
    assert "The job queue does not answer (Redis at redis://127.0.0.1:1/0" in page
    assert "Nothing was started" in page
    assert Job.objects.count() == 0


def test_it_rejects_bad_selftest_parameters(admin_client):
    assert admin_client.post(reverse("core:selftest"), {"steps": "many"}).status_code == 400
    assert admin_client.post(reverse("core:selftest"), {"steps": 0}).status_code == 400
    assert Job.objects.count() == 0


def test_it_hides_the_password_of_a_redis_url():
    assert queue.redacted("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert queue.redacted("redis://u:s3cret@host:6379/0") == "redis://u:***@host:6379/0"


def test_it_shows_queue_health_on_the_admin_overview(admin_client, start_worker):
    worker = start_worker("default", "scoring", burst=False)
    assert wait_for(lambda: b"no worker is listening" not in admin_client.get("/").content)
    page = admin_client.get("/").content.decode()
    assert "Queues" in page and "scoring" in page
    worker.terminate()


# --- Workers that die, rows that move on, installations that share a Redis ----


def worker_key(connection):
    """The Redis key of the one worker registered (rq's own naming)."""
    from rq import Worker

    keys = [k.decode() for k in connection.smembers(Worker.redis_workers_keys)]
    assert len(keys) == 1, keys
    return keys[0]


def test_a_job_whose_worker_was_killed_is_marked_failed_when_its_page_is_read(
    admin_client, admin, start_worker
):
    job = queue.launch(jobs.selftest, 2000, 0.01, title="long", user=admin)
    worker = start_worker("default", burst=False)
    assert wait_for(lambda: Job.objects.get(pk=job.pk).done > 0)
    url = reverse("core:job_progress", args=[job.pk])
    # Alive: it stays running, and its record expires soon unless it beats
    # (SimpleWorker's would last the job's timeout + 60 s).
    assert admin_client.get(url).json()["status"] == "running"
    connection = django_rq.get_connection("default")
    assert 0 < connection.ttl(worker_key(connection)) <= 90

    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    progress = admin_client.get(url).json()
    assert progress["status"] == "failed"
    assert "worker stopped before the job finished" in progress["error"]
    assert "is gone" in progress["error"]
    assert "worker stopped" in admin_client.get(reverse("core:job", args=[job.pk])).content.decode()


def test_the_worker_beats_while_a_job_runs(admin):
    from core.worker import Worker

    job = queue.launch(jobs_for_tests.watch_heartbeat, 2.5, title="beats", user=admin)
    q = django_rq.get_queue("default")
    Worker([q], connection=q.connection, job_monitoring_interval=1).work(burst=True)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    # SimpleWorker would not have renewed its record during the job.
    assert job.result["after"] > job.result["before"]
    assert 0 < job.result["ttl_s"] <= 61


def test_a_worker_on_another_machine_counts_as_alive_until_its_record_lapses(redis_url):
    from rq import Worker

    from core.worker import SPACE_FIELD

    connection = django_rq.get_connection("default")
    key = Worker.redis_worker_namespace_prefix + "elsewhere"
    connection.hset(key, mapping={"pid": 1, "hostname": "far-away", SPACE_FIELD: "other/boot"})
    assert queue.worker_alive(connection, "elsewhere")
    connection.delete(key)
    assert not queue.worker_alive(connection, "elsewhere")


def test_a_job_whose_row_is_no_longer_queued_does_not_run(admin):
    job = queue.launch(jobs.selftest, 3, 0, title="superseded", user=admin)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="Superseded: resumed.")
    work_in_process()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error == "Superseded: resumed."
    assert job.started_at is None and job.done == 0


def test_a_running_job_whose_row_was_taken_from_it_stops_and_writes_nothing(admin, start_worker):
    job = queue.launch(jobs.selftest, 2000, 0.01, title="taken", user=admin)
    worker = start_worker("default")
    assert wait_for(lambda: Job.objects.get(pk=job.pk).done > 0)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="Superseded: resumed.")
    worker.communicate(timeout=60)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error == "Superseded: resumed."
    assert job.done < 2000 and job.result == {}


def test_a_job_that_could_not_be_queued_at_commit_says_it_was_created(admin, monkeypatch, settings):
    monkeypatch.setattr(queue, "check_queue", lambda name="default": None)
    dead = "redis://127.0.0.1:1/0"
    settings.RQ_QUEUES = {name: {**c, "URL": dead} for name, c in settings.RQ_QUEUES.items()}
    with pytest.raises(queue.QueueUnavailable, match=r"Job \d+ \(late\) was created"):
        queue.launch(jobs.selftest, 1, 0, title="late", user=admin)
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED and "Could not queue the job" in job.error


def test_a_worker_of_another_installation_on_the_same_redis_leaves_this_ones_jobs(
    admin, worker_env, tmp_path
):
    job = queue.launch(jobs.selftest, 1, 0, title="ours", user=admin)
    # Another installation: its own data dir (so its own id) and database,
    # holding a job of the same primary key, and the same Redis.
    other = tmp_path / "other"
    env = {k: v for k, v in worker_env.items() if k not in ("LENSFINDER_INSTALLATION_ID",
                                                             "RQ_KEY_PREFIX")}  # fmt: skip
    env.update(LENSFINDER_DATA_DIR=str(other), DATABASE_URL=f"sqlite:///{other}/db.sqlite3")
    make_theirs = (
        "from django.core.management import call_command; call_command('migrate', verbosity=0)\n"
        "from core.models import Job\n"
        f"Job.objects.create(pk={job.pk}, title='theirs', function='core.jobs.selftest')\n"
    )
    manage(env, "shell", "-c", make_theirs)

    argv = ["rqworker", "default", "--burst", "--worker-class", WORKER_CLASS]
    manage(env, *argv)

    theirs = sqlite3.connect(other / "db.sqlite3").execute(
        "SELECT status, started_at FROM core_job WHERE id = ?", (job.pk,)
    )
    assert theirs.fetchone() == ("queued", None)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    assert job.rq_job_id in django_rq.get_queue("default").job_ids
    work_in_process()  # a worker of this installation runs it
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert (other / "installation-id").read_text().strip() != settings_installation_id()


def test_a_worker_refuses_a_job_id_of_another_installation(admin):
    job = Job.objects.create(title="ours", function="core.jobs.selftest")
    foreign = f"lensfinder-0123456789ab-job-{job.pk}"
    django_rq.get_queue("default").enqueue(jobs.selftest, job.pk, 1, 0, job_id=foreign)
    work_in_process()
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.started_at is None
    registry = django_rq.get_queue("default").failed_job_registry
    assert foreign in registry.get_job_ids()


@pytest.mark.parametrize("queues", [("default",), ("default", "scoring")])
def test_a_job_taken_by_a_worker_that_died_before_starting_it_is_marked_failed(admin, queues):
    """rq takes a job off its queue list (into ``:intermediate`` for a worker
    of one queue, nowhere for a worker of several) before it marks it
    started; a worker killed in between leaves it 'queued' in no list."""
    from rq import Queue

    job = queue.launch(jobs.selftest, 3, 0, title="dropped", user=admin)
    q = django_rq.get_queue("default")
    others = [django_rq.get_queue(name) for name in queues[1:]]
    taken, _ = Queue.dequeue_any([q, *others], timeout=None, connection=q.connection)
    assert taken.id == job.rq_job_id and job.rq_job_id not in q.job_ids
    assert taken.get_status() == "queued"

    assert queue.reconcile(job).status == Job.Status.FAILED
    assert "died before starting it" in job.error


def test_a_job_out_of_its_queue_while_a_worker_lives_counts_as_dropped_only_later(admin):
    """A live worker holds a taken job for microseconds before it marks it
    started; only a job missing for ``DROPPED_AFTER_S`` is lost."""
    from rq import Queue
    from rq import Worker as RqWorker

    job = queue.launch(jobs.selftest, 3, 0, title="in hand", user=admin)
    q = django_rq.get_queue("default")
    alive = RqWorker([q], connection=q.connection, name=f"alive-{os.getpid()}")
    alive.register_birth()  # this test's own process: its PID lives
    try:
        Queue.dequeue_any([q], timeout=None, connection=q.connection)
        assert queue.reconcile(job).status == Job.Status.QUEUED
        assert queue.reconcile(job).status == Job.Status.QUEUED
        key = f"{q.key}:unseen:{job.rq_job_id}"
        q.connection.set(key, float(q.connection.get(key)) - queue.DROPPED_AFTER_S)
        assert queue.reconcile(job).status == Job.Status.FAILED
    finally:
        alive.register_death()
