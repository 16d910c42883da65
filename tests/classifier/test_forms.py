"""The training form refuses garbage with a 400 naming the field, before
anything is queued; the train_network command checks its arguments with
the same form."""

import html

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.models import Job

pytestmark = pytest.mark.django_db

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
        ({"train_path": "/nowhere.fits"}, "Training set (stamp-set file on the server): no such"),
        ({"val_path": "/nowhere.fits"}, "Validation set (stamp-set file): no such file"),
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
    with pytest.raises(CommandError, match="Training set .*: no such file '/nowhere.fits'"):
        call_command(*args, "--train", "/nowhere.fits")
    with pytest.raises(CommandError, match=r"Epochs \(1-10,000\): Ensure"):
        call_command(*args, "--train", str(stamp_file), "--epochs", "0")
    with pytest.raises(CommandError, match="Name: Give a name of letters"):
        call_command("train_network", "--architecture", "he2020-cnn", "--name", "a b",
                     "--train", str(stamp_file))  # fmt: skip
