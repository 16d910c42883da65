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


# --- Experiments (the pages' launch forms and the ``experiment`` command's checks)


def _checked(parse, *args):
    from classifier.experiments import ExperimentError

    try:
        return parse(*args)
    except ExperimentError as exc:
        raise forms.ValidationError(str(exc)) from exc


def whole(label: str, initial: int | None, low: int, high: int, what: str) -> forms.IntegerField:
    """An optional whole-number field of an experiment form: blank takes
    ``initial`` (``ExperimentForm.clean``); a bad value is refused naming
    ``what`` it is, with an example."""
    return forms.IntegerField(
        initial=initial,
        required=False,
        min_value=low,
        max_value=high,
        label=label,
        error_messages={"invalid": f"The {what} is a whole number, e.g. {initial or low}."},
    )


class ExperimentForm(forms.Form):
    """What every experiment takes (the seed its sets and trainings draw
    from); a blank optional field takes its ``initial`` value."""

    kind = ""
    seed = whole("Seed (0-4,294,967,295)", 1, 0, 2**32 - 1, "seed")

    def __init__(self, *args, anywhere: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.anywhere = anywhere

    def clean(self):
        data = super().clean()
        for name, field in self.fields.items():
            if name in data and data[name] is None and field.initial is not None:
                data[name] = field.initial
        return data

    def parameters(self) -> dict:
        """The checked parameters, as the ``Experiment`` record keeps them."""
        return {k: v for k, v in self.cleaned_data.items() if k != "seed"}


def _survey_field():
    from simulations.surveys import SURVEYS

    names = sorted(SURVEYS)
    return forms.ChoiceField(
        choices=[(n, n) for n in names],
        initial="kids-r",
        label="Survey (simulator configuration)",
        error_messages={"invalid_choice": f"Choose a survey: {', '.join(names)}, not %(value)r."},
    )


def _cross_test_field():
    return forms.CharField(
        required=False,
        label="Cross-simulator test set (stamp-set file; empty: rendered with lenstronomy "
        "where it is installed)",
    )


class PsfExperimentForm(ExperimentForm):
    """He et al. 2020 Sect. 5.1: one network on sets that differ only in the PSF."""

    kind = "psf"
    network = forms.CharField(max_length=80, label="Network")
    factors = forms.CharField(
        required=False,
        label="PSF factors (x the training set's median FWHM; comma-separated)",
    )
    n = whole("Stamps per set (half lenses, 20-1,000,000)", 1000, 20, 1_000_000,
              "number of stamps")  # fmt: skip

    def clean_network(self):
        name = self.cleaned_data["network"].strip()
        network = Network.objects.filter(name=name).first()
        if network is None:
            raise forms.ValidationError(f"no network named {name!r}: see the networks page.")
        if network.threshold_logit_fpr_1pct is None:
            raise forms.ValidationError(
                f"{name} has no 1%-FPR threshold: evaluate it first (`manage.py "
                f"evaluate_network {name} TEST.fits --save`)."
            )
        return name

    def clean_factors(self):
        from classifier.experiments import DEFAULT_PSF_FACTORS, parse_factors

        text = self.cleaned_data["factors"].strip()
        return _checked(parse_factors, text or list(DEFAULT_PSF_FACTORS))


class VolumeExperimentForm(ExperimentForm):
    """He et al. 2020 Sect. 5.2: one network per training-set size."""

    kind = "volume"
    architecture = TrainForm.base_fields["architecture"]
    survey = _survey_field()
    sizes = forms.CharField(
        required=False, label="Training-set sizes (stamps, comma-separated; nested draws)"
    )
    epochs = whole("Epochs at most per network (early stopping on the validation AUC)", 6, 1,
                   1000, "epochs")  # fmt: skip
    n_test = whole("Test stamps (half lenses)", 4000, 20, 1_000_000, "number of test stamps")
    cross_test = _cross_test_field()

    def clean_sizes(self):
        from classifier.defaults import TRAINING_DEFAULTS
        from classifier.experiments import DEFAULT_VOLUME_SIZES, parse_sizes

        architecture = self.cleaned_data.get("architecture") or "he2020-cnn"
        batch = TRAINING_DEFAULTS.get(architecture, {}).get("batch_size", 1)
        text = self.cleaned_data["sizes"].strip()
        return _checked(parse_sizes, text or list(DEFAULT_VOLUME_SIZES), batch)

    def clean_cross_test(self):
        return _stamp_set_path(self.cleaned_data["cross_test"], self.anywhere)


class ComplexityExperimentForm(ExperimentForm):
    """Lanusse et al. 2018 Fig. 9: the CNN and the ResNet, each trained on a
    simple and on a realistic set, each tested on both and on the other
    renderer's set."""

    kind = "complexity"
    survey = _survey_field()
    n_train = whole("Training stamps per set (half lenses; at least one ResNet batch, 128)",
                    10_000, 128, 10_000_000, "number of stamps")  # fmt: skip
    epochs = whole("Epochs at most per network", 5, 1, 1000, "epochs")
    n_test = whole("Test stamps per set (half lenses)", 2000, 20, 1_000_000,
                   "number of test stamps")  # fmt: skip
    cross_test = _cross_test_field()

    def clean_cross_test(self):
        return _stamp_set_path(self.cleaned_data["cross_test"], self.anywhere)


EXPERIMENT_FORMS = {
    form.kind: form for form in (PsfExperimentForm, VolumeExperimentForm, ComplexityExperimentForm)
}
