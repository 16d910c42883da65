"""The training form refuses garbage with a 400 naming the field, before
anything is queued; the train_network command checks its arguments with
the same form."""

import html
import tempfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def roots_hold_the_test_files(settings):
    """The web form reads stamp sets only under the ingest roots: here, the
    temporary folder the tests' files are written to."""
    settings.INGEST_ROOTS = [Path(tempfile.gettempdir()).resolve()]


NOWHERE = str(Path(tempfile.gettempdir()).resolve() / "nowhere.fits")

HUGE = "9" * 30


@pytest.fixture
def stamp_file(tmp_path):
    path = tmp_path / "train.fits"
    path.write_bytes(b"the form only checks that the file exists")
    return path


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"name": ""}, "Name: Give a name of letters, digits, - and _"),
        ({"name": "a b"}, "Name: Give a name of letters, digits, - and _"),
        ({"architecture": ""}, "Architecture: Choose an architecture"),
        ({"architecture": "vgg"}, "Architecture: Choose an architecture: he2020-cnn"),
        ({"train_path": ""}, "Training set (stamp-set file on the server): This field"),
        ({"train_path": NOWHERE}, "Training set (stamp-set file on the server): no such"),
        ({"val_path": NOWHERE}, "Validation set (stamp-set file): no such file"),
        ({"epochs": "many"}, "Epochs (1-10,000): The epochs are whole numbers"),
        ({"epochs": HUGE}, "Epochs (1-10,000): Ensure this value is less"),
        ({"epochs": "0"}, "Epochs (1-10,000): Ensure this value is greater"),
        ({"batch_size": "1.5"}, "Batch size (stamps, 1-65,536): The batch size is a whole"),
        ({"lr": "fast"}, "Learning rate (> 0, at most 10): Give the learning rate"),
        ({"lr": "nan"}, "Learning rate (> 0, at most 10): Give the learning rate"),
        ({"lr": "-0.1"}, "Learning rate (> 0, at most 10): Ensure"),
        ({"seed": "-3"}, "Seed (0-4,294,967,295): Ensure"),
        ({"seed": HUGE}, "Seed (0-4,294,967,295): Ensure"),
    ],
)
def test_the_training_form_refuses_garbage_naming_the_field(admin_client, stamp_file, fields,
                                                            reason):  # fmt: skip
    form = {"name": "web-cnn", "architecture": "he2020-cnn", "train_path": str(stamp_file),
            "epochs": "2", **fields}  # fmt: skip
    response = admin_client.post(reverse("classifier:train_launch"), form)
    page = html.unescape(response.content.decode())
    assert response.status_code == 400, page[-2000:]
    assert reason in page
    assert f'value="{form["train_path"]}"' in response.content.decode()  # kept
    assert not Job.objects.exists()


def test_the_train_network_command_checks_its_arguments_with_the_form(stamp_file):
    args = ["train_network", "--architecture", "he2020-cnn", "--name", "x"]
    with pytest.raises(CommandError, match=f"Training set .*: no such file '{NOWHERE}'"):
        call_command(*args, "--train", NOWHERE)
    with pytest.raises(CommandError, match=r"Epochs \(1-10,000\): Ensure"):
        call_command(*args, "--train", str(stamp_file), "--epochs", "0")
    with pytest.raises(CommandError, match="Name: Give a name of letters"):
        call_command("train_network", "--architecture", "he2020-cnn", "--name", "a b",
                     "--train", str(stamp_file))  # fmt: skip


def test_the_web_form_reads_stamp_sets_only_under_the_ingest_roots(admin_client, settings,
                                                                    stamp_file):  # fmt: skip
    """A server path from the web page lies under LENSFINDER_INGEST_ROOTS;
    the command line (its user's own files) may name any file."""
    from classifier.forms import TrainForm

    settings.INGEST_ROOTS = [Path(tempfile.gettempdir()).resolve() / "incoming-only"]
    data = {"name": "x", "architecture": "he2020-cnn", "train_path": str(stamp_file)}
    web = TrainForm(data)
    assert not web.is_valid()
    assert "outside the directories the web forms may read" in str(web.errors["train_path"])
    response = admin_client.post(reverse("classifier:train_launch"), data)
    assert response.status_code == 400 and not Job.objects.exists()
    assert TrainForm(data, anywhere=True).is_valid()
