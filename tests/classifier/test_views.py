"""Network pages and training from the web as a background job."""

import tempfile
from pathlib import Path

import django_rq
import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import reverse
from rq.worker import SimpleWorker

from classifier.models import Network
from core.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def roots_hold_the_test_files(settings):
    """The web form reads stamp sets only under the ingest roots: here, the
    temporary folder the tests' files are written to."""
    settings.INGEST_ROOTS = [Path(tempfile.gettempdir()).resolve()]


NOWHERE = str(Path(tempfile.gettempdir()).resolve() / "nowhere.fits")


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    path = tmp_path_factory.mktemp("web") / "train.fits"
    call_command("simulate", "--lenses", "40", "--nonlenses", "40", "--seed", "3",
                 "--out", str(path), verbosity=0)  # fmt: skip
    return path


def launch(admin_client, small_set, **extra):
    form = {"name": "web-cnn", "architecture": "he2020-cnn", "train_path": str(small_set),
            "val_path": str(small_set), "epochs": "2", "seed": "1", **extra}  # fmt: skip
    return admin_client.post(reverse("classifier:train_launch"), form)


def test_an_admin_trains_a_network_from_the_web(admin_client, data_dir, small_set, redis_url):
    response = launch(admin_client, small_set)
    job = Job.objects.get()
    assert response["Location"] == reverse("classifier:training", args=[job.pk])
    assert job.queue == "scoring" and job.unit == "epochs"

    q = django_rq.get_queue("scoring")
    SimpleWorker([q], connection=q.connection).work(burst=True)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert (job.done, job.total) == (2, 2)
    assert [h["epoch"] for h in job.result["history"]] == [1, 2]
    assert "validation AUC" in job.message

    network = Network.objects.get(name="web-cnn")
    assert network.created_by.username == "ada"
    page = admin_client.get(reverse("classifier:training", args=[job.pk])).content.decode()
    assert "loss-curve" in page and "Open web-cnn" in page
    detail = admin_client.get(reverse("classifier:network", args=["web-cnn"])).content.decode()
    assert "ROC" in detail and "plotly.min.js" in detail and "Completeness at 1% FPR" in detail
    listing = admin_client.get(reverse("classifier:networks")).content.decode()
    assert "web-cnn" in listing
    # plotly.js is served locally, from the installed package.
    assert finders.find("vendor/plotly/plotly.min.js")


def test_the_training_form_explains_what_is_wrong(admin_client, data_dir, small_set):
    response = launch(admin_client, small_set, name="bad name!", architecture="vgg",
                      train_path=NOWHERE, epochs="many")  # fmt: skip
    assert response.status_code == 400
    page = response.content.decode()
    assert "Give a name of letters" in page and "Choose an architecture" in page
    assert "no such file" in page and "whole numbers" in page
    assert Job.objects.count() == 0


def test_a_failed_training_registers_nothing(admin_client, data_dir, tmp_path, redis_url):
    one_class = tmp_path / "one.fits"
    call_command("simulate", "--lenses", "6", "--out", str(one_class), verbosity=0)
    launch(admin_client, one_class, val_path="")
    q = django_rq.get_queue("scoring")
    SimpleWorker([q], connection=q.connection).work(burst=True)
    job = Job.objects.get()
    assert job.status == "failed" and "only one class" in job.error
    assert not Network.objects.exists()
