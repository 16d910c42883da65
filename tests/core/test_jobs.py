"""Background jobs end to end: a real Redis, real rq workers, the Job record."""

import time

import django_rq
import pytest
from django.urls import reverse
from rq.worker import SimpleWorker

from core import jobs, queue
from core.models import Job
from tests.core import jobs_for_tests

pytestmark = pytest.mark.django_db(transaction=True)


def work_in_process(queue_name="default"):
    """Run one burst of a real SimpleWorker in this process."""
    q = django_rq.get_queue(queue_name)
    SimpleWorker([q], connection=q.connection).work(burst=True)


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
