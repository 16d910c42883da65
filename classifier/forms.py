"""The training form: the page's launch checks and the ``train_network``
command's, one class for both (the command passes its arguments as data).

Only names are imported (no torch): the web process checks a form before a
worker ever loads a network."""

from pathlib import Path

from django import forms

from classifier.models import Network
from core import uploads
from core.forms import new_name

# A committee is made from trained networks (make_committee), not trained.
ARCHITECTURES = [name for name, _ in Network.ARCHITECTURES if name != Network.COMMITTEE]


def _stamp_set_path(value: str, anywhere: bool = False) -> str:
    """A stamp-set file on the server; from the web page only under the
    ingest roots (``core.uploads.check_server_path``), from the command line
    anywhere its user may read."""
    value = value.strip()
    if not value:
        return value
    if not anywhere:
        try:
            uploads.check_server_path(value)
        except uploads.ServerPathError as exc:
            raise forms.ValidationError(str(exc)) from exc
    if not Path(value).expanduser().is_file():
        raise forms.ValidationError(f"no such file {value!r} on the server: check the path.")
    return value


class TrainForm(forms.Form):
    """A network to train: its registry name, architecture, stamp sets and
    the training settings that override the architecture's defaults."""

    name = forms.CharField(
        max_length=80,
        label="Name",
        error_messages={"required": "Give a name of letters, digits, - and _ (e.g. kids-r-cnn)."},
    )
    architecture = forms.ChoiceField(
        choices=[(a, a) for a in ARCHITECTURES],
        label="Architecture",
        error_messages={
            "required": f"Choose an architecture: {', '.join(ARCHITECTURES)}.",
            "invalid_choice": f"Choose an architecture: {', '.join(ARCHITECTURES)}, not %(value)r.",
        },
    )
    train_path = forms.CharField(label="Training set (stamp-set file on the server)")
    val_path = forms.CharField(required=False, label="Validation set (stamp-set file)")
    epochs = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10_000,
        label="Epochs (1-10,000)",
        error_messages={"invalid": "The epochs are whole numbers, e.g. 20."},
    )
    batch_size = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=65_536,
        label="Batch size (stamps, 1-65,536)",
        error_messages={"invalid": "The batch size is a whole number, e.g. 64."},
    )
    lr = forms.FloatField(
        required=False,
        min_value=1e-12,
        max_value=10,
        label="Learning rate (> 0, at most 10)",
        error_messages={"invalid": "Give the learning rate as a number, e.g. 0.001."},
    )
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2**32 - 1,
        label="Seed (0-4,294,967,295)",
        error_messages={"invalid": "The seed is a whole number, e.g. 0."},
    )

    def clean_name(self):
        return new_name(
            self.cleaned_data["name"],
            Network,
            "network",
            "Give a name of letters, digits, - and _ (e.g. kids-r-cnn).",
        )

    def __init__(self, *args, anywhere: bool = False, **kwargs):
        # ``anywhere``: the command line's paths (its user's own files); the
        # web page's stay under the ingest roots.
        super().__init__(*args, **kwargs)
        self.anywhere = anywhere

    def clean_train_path(self):
        return _stamp_set_path(self.cleaned_data["train_path"], self.anywhere)

    def clean_val_path(self):
        return _stamp_set_path(self.cleaned_data["val_path"], self.anywhere)

    def options(self) -> dict:
        """The training settings given (the others keep the architecture's defaults)."""
        fields = ("epochs", "batch_size", "lr", "seed")
        return {f: self.cleaned_data[f] for f in fields if self.cleaned_data[f] is not None}
