"""The forms of every page that takes a POST: every input is checked here,
before anything is saved, queued or created, and a refusal names the field
and how to fix it (``core.forms.form_errors`` makes the page's list of
reasons). Where a management command takes the same inputs it validates
them with the same form."""

import dataclasses
from pathlib import Path

from django import forms
from django.contrib.auth import get_user_model

from classifier.forms import EXPERIMENT_FORMS, ExperimentForm, whole
from classifier.models import Network
from core import uploads
from core.forms import form_errors, new_name
from core.roles import INSPECTOR_GROUP
from inspection.adaptation import services as adapt
from inspection.catalogues import consensus
from inspection.catalogues import services as catalogues
from inspection.grading import adaptive, grade_body
from inspection.ingest.band_names import IngestError, band_from_file_name, parse_tile_args
from inspection.ingest.lrg_cuts import LRGCuts
from inspection.ingest.services import DEFAULT_STAMP_PX
from inspection.models import Campaign, Comment, Decision, KnownSet, PriorList, ScoringRun, Survey
from inspection.scoring import overlap

CUT_FIELDS = [f.name for f in dataclasses.fields(LRGCuts)]
TRUE_WORDS = ("1", "on", "yes", "true")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files under one name (Django's documented recipe)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


def _server_path(value):
    try:
        return str(uploads.check_server_path(value))
    except uploads.ServerPathError as exc:
        raise forms.ValidationError(str(exc)) from exc


class SurveyIngestForm(forms.Form):
    """The Surveys page's ingest form: server paths (under the ingest roots)
    or uploads, the LRG cuts and the stamp size.

    The cut thresholds arrive as raw form values (``r_max``...) and are
    checked by ``LRGCuts`` itself; an unticked box sends nothing and means
    False.
    """

    name = forms.CharField(max_length=80, label="Name")
    catalogue = forms.CharField(required=False, label="Catalogue (path on the server)")
    catalogue_file = forms.FileField(required=False, label="Catalogue upload")
    tiles = forms.CharField(required=False, label="Tiles (BAND=FILE lines)")
    tile_files = MultipleFileField(required=False, label="Tile uploads")
    stamps = forms.CharField(required=False, label="Pre-cut stamp set (path on the server)")
    columns = forms.CharField(required=False, label="Columns (field=COLUMN, …)")
    stamp_size = forms.IntegerField(
        required=False,
        label="Stamp size (px, 9-1024)",
        error_messages={"invalid": "The stamp size is a whole number of pixels."},
    )

    def clean_name(self):
        return new_name(
            self.cleaned_data["name"],
            Survey,
            "survey",
            "Give the survey a name of letters, digits, - and _ (e.g. kids-dr3).",
        )

    def clean_catalogue(self):
        value = self.cleaned_data["catalogue"].strip()
        return _server_path(value) if value else ""

    def clean_stamps(self):
        value = self.cleaned_data["stamps"].strip()
        return _server_path(value) if value else ""

    def clean_tiles(self):
        lines = [line for line in self.cleaned_data["tiles"].splitlines() if line.strip()]
        try:
            tiles = parse_tile_args(lines)
        except IngestError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return [(band, _server_path(str(path))) for band, path in tiles]

    def clean_tile_files(self):
        try:
            return [(band_from_file_name(f.name), f) for f in self.cleaned_data["tile_files"]]
        except IngestError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_stamp_size(self):
        size = self.cleaned_data["stamp_size"] or DEFAULT_STAMP_PX
        if not 9 <= size <= 1024:
            raise forms.ValidationError(f"Stamp size {size} px: choose 9-1024 (He et al.: 97).")
        return size

    def clean(self):
        data = super().clean()
        data["cuts"] = self._cuts()
        has_tiles = bool(data.get("tiles") or data.get("tile_files"))
        has_catalogue = bool(data.get("catalogue") or data.get("catalogue_file"))
        if "tiles" in data and "tile_files" in data and "stamps" in data:
            if not has_tiles and not data["stamps"]:
                self.add_error(
                    None, "Give image tiles (BAND=FILE lines or uploads) or a pre-cut stamp set."
                )
            elif has_tiles and data["stamps"]:
                self.add_error(None, "Give image tiles or a pre-cut stamp set, not both.")
            elif has_tiles and not has_catalogue and "catalogue" in data:
                self.add_error(None, "Ingesting tiles needs a catalogue to select LRGs from.")
        return data

    def _cuts(self):
        values = {}
        for field in CUT_FIELDS:
            raw = str(self.data.get(field, "")).strip()
            default = getattr(LRGCuts(), field)
            if isinstance(default, bool):
                values[field] = raw.lower() in TRUE_WORDS  # unticked boxes send nothing
            elif raw:
                try:
                    values[field] = type(default)(raw)
                except ValueError:
                    self.add_error(None, f"{field.replace('_', ' ')}: {raw!r} is not a number.")
        try:
            return LRGCuts(**values)
        except ValueError as exc:
            self.add_error(None, str(exc))
            return None

    def messages(self) -> list[str]:
        """Every error, each naming its field, for the page's list of reasons."""
        return form_errors(self)

    def has_uploads(self) -> bool:
        return bool(self.cleaned_data["catalogue_file"] or self.cleaned_data["tile_files"])

    def inputs(self, folder: Path | None) -> tuple[str, list[tuple[str, str]]]:
        """The catalogue path and the (band, path) tiles, uploads saved into ``folder``."""
        data = self.cleaned_data
        catalogue = data["catalogue"]
        if data["catalogue_file"]:
            catalogue = str(uploads.save_upload(data["catalogue_file"], folder))
        tiles = list(data["tiles"])
        tiles += [(band, str(uploads.save_upload(f, folder))) for band, f in data["tile_files"]]
        return catalogue, tiles


class KnownSetForm(forms.Form):
    """The Campaigns page's known-set form: a labelled stamp set (a server
    path under the ingest roots, or an upload), or FITS images of real
    lenses or non-lenses. Nothing is saved until it is valid."""

    name = forms.CharField(max_length=80, label="Name")
    path = forms.CharField(required=False, label="Stamp set (path on the server)")
    stamps = forms.FileField(required=False, label="Stamp-set upload")
    images = MultipleFileField(required=False, label="FITS images")
    label = forms.ChoiceField(
        choices=[("lens", "lenses"), ("nonlens", "non-lenses")],
        required=False,
        label="The images are",
    )
    pixscale = forms.FloatField(
        required=False,
        min_value=1e-4,
        max_value=3600,
        label="Pixel scale (arcsec per pixel)",
        error_messages={"invalid": "The pixel scale is a number of arcseconds per pixel."},
    )
    # The model's column holds 200 characters: a longer text would be a
    # database error (a 500) on PostgreSQL rather than a reason on the page.
    description = forms.CharField(required=False, max_length=200, label="Description")

    def clean_name(self):
        return new_name(
            self.cleaned_data["name"],
            KnownSet,
            "known set",
            "Name the set with letters, digits, - and _.",
        )

    def clean_path(self):
        value = self.cleaned_data["path"].strip()
        return _server_path(value) if value else ""

    def clean(self):
        data = super().clean()
        given = [bool(data.get("images")), bool(data.get("stamps")), bool(data.get("path"))]
        if "path" in data and not any(given):
            self.add_error(None, "Give a stamp set (path or upload) or FITS images.")
        elif sum(given) > 1:
            self.add_error(None, "Give one of a server path, a stamp-set upload or FITS images.")
        return data

    def messages(self) -> list[str]:
        """Every error, each naming its field, for the page's list of reasons."""
        return form_errors(self)


# --- Adapting a network (the survey page) ------------------------------------------


class AdaptForm(forms.Form):
    """The survey page's "Adapt a network" form (posted with the prefix
    ``adapt``, apart from the launch form's fields); what needs the survey
    and the network is checked by ``inspection.adaptation.services.check_adaptation``."""

    network = forms.ModelChoiceField(
        Network.objects.exclude(architecture=Network.COMMITTEE),
        error_messages={"invalid_choice": "Choose a network (not a committee)."},
    )
    name = forms.SlugField(max_length=80)
    lenses = forms.IntegerField(min_value=10, max_value=200_000, initial=adapt.DEFAULT_LENSES)
    epochs = forms.IntegerField(min_value=1, max_value=50, initial=adapt.DEFAULT_EPOCHS)
    accept_warnings = forms.BooleanField(required=False)


class SnetRnetExperimentForm(ExperimentForm):
    """He et al. 2020 Table 3 as an experiment (the survey page's "Compare
    s-Net and r-Net" form and ``manage.py experiment snet-rnet``): the
    network (s-Net) and its adaptation to the survey (r-Net) score the same
    LRGs. What needs the survey and the network is checked by
    ``check_adaptation``, before anything is queued."""

    kind = "snet-rnet"
    survey = forms.CharField(max_length=80, label="Survey (ingested)")
    network = forms.CharField(max_length=80, label="Network (the s-Net)")
    lenses = whole("Semi-real training lenses (and as many non-lenses)", adapt.DEFAULT_LENSES,
                   10, 200_000, "number of lenses")  # fmt: skip
    epochs = whole("Fine-tuning epochs", adapt.DEFAULT_EPOCHS, 1, 50, "epochs")
    top = whole("Common candidate count (empty: the s-Net's count at its 1%-FPR threshold)",
                None, 1, 10_000_000, "candidate count")  # fmt: skip
    accept_warnings = forms.BooleanField(
        required=False, label="Adapt even where the network fits the survey only with warnings"
    )

    def clean(self):
        data = super().clean()
        survey = Survey.objects.filter(name=(data.get("survey") or "").strip()).first()
        network = Network.objects.filter(name=(data.get("network") or "").strip()).first()
        if "survey" in data and survey is None:
            self.add_error("survey", f"no survey named {data['survey']!r}: ingest it first.")
        if "network" in data and network is None:
            self.add_error("network", f"no network named {data['network']!r}.")
        elif network is not None and network.threshold_logit_fpr_1pct is None:
            self.add_error("network", f"{network.name} has no 1%-FPR threshold: evaluate it first.")
        if survey is not None and network is not None and not self.errors:
            try:
                adapt.check_adaptation(survey, network, None, data.get("accept_warnings", False))
            except adapt.AdaptError as exc:
                raise forms.ValidationError(str(exc)) from exc
            data["survey"], data["network"] = survey.name, network.name
        return data


#: Every experiment's form, by kind (the command's and the pages').
ALL_EXPERIMENT_FORMS = {**EXPERIMENT_FORMS, SnetRnetExperimentForm.kind: SnetRnetExperimentForm}


# --- Campaigns and training (the Campaigns page) -----------------------------------

#: The largest value of a PositiveSmallIntegerField on every database: a
#: larger total would be a database error (a 500), not a reason on the page.
MAX_TOTAL = 32767


def inspectors():
    """Users in the inspector group, by username."""
    return get_user_model().objects.filter(groups__name=INSPECTOR_GROUP).order_by("username")


def _id_field_errors(what: str) -> dict:
    return {
        "invalid_choice": f"{what} %(value)s is not in the list: choose one (reload the page "
        "if it was just deleted).",
        "invalid_pk_value": f"{what} %(pk)r is not in the list: choose one.",
    }


class ModelIdsField(forms.ModelMultipleChoiceField):
    """A multiple choice of objects by id that refuses an id beyond 64 bits
    as no id: Django would pass it to the database (``pk__in``), whose
    overflow is a 500 rather than a reason on the page."""

    def _check_values(self, value):
        for pk in value:
            try:
                n = int(str(pk))
            except ValueError:
                continue  # not a number at all: Django's own check says so
            if not -grade_body.MAX_ID - 1 <= n <= grade_body.MAX_ID:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)


class GradeClassesForm(forms.Form):
    """The bounds of a campaign's grade classes A, B and C (mean grade, 0-2,
    A > B > C: ``consensus.check_class_thresholds``). A blank field takes
    its value from ``class_fallback`` (A, B, C): the defaults for a new
    campaign, the campaign's own bounds when its settings are saved."""

    class_a_min = forms.FloatField(
        required=False,
        min_value=0,
        max_value=2,
        label="Class A from mean grade (0-2)",
        error_messages={"invalid": "Give class A's lowest mean grade as a number, e.g. 1.5."},
    )
    class_b_min = forms.FloatField(
        required=False,
        min_value=0,
        max_value=2,
        label="Class B from mean grade (0-2)",
        error_messages={"invalid": "Give class B's lowest mean grade as a number, e.g. 1.0."},
    )
    class_c_min = forms.FloatField(
        required=False,
        min_value=0,
        max_value=2,
        label="Class C from mean grade (0-2)",
        error_messages={"invalid": "Give class C's lowest mean grade as a number, e.g. 0.5."},
    )

    def __init__(self, *args, class_fallback=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_fallback = tuple(class_fallback or consensus.CLASS_DEFAULTS.values())

    def clean(self):
        data = super().clean()
        names = ("class_a_min", "class_b_min", "class_c_min")
        if any(n in self.errors for n in names):
            return data  # a field's own reason is enough
        for name, fallback in zip(names, self.class_fallback, strict=True):
            if data.get(name) is None:
                data[name] = fallback
        try:
            bounds = consensus.check_class_thresholds(*(data[n] for n in names))
        except consensus.ConsensusError as exc:
            # Not raised: a subclass's clean() goes on to its own checks.
            self.add_error(None, str(exc))
        else:
            data.update(zip(names, bounds, strict=True))
        return data


class CampaignForm(GradeClassesForm):
    """A new campaign over a run's candidates, or a further vote over the
    candidates of an earlier campaign whose grades sum to a total, with the
    bounds of its grade classes (blank: the defaults)."""

    name = forms.CharField(required=False, max_length=120, label="Name")
    run = forms.ModelChoiceField(
        ScoringRun.objects.all(),
        label="Scoring run",
        error_messages={"required": "Choose a scoring run.", **_id_field_errors("Run")},
    )
    parent = forms.ModelChoiceField(
        Campaign.objects.all(),
        required=False,
        label="Further vote on campaign",
        error_messages=_id_field_errors("Campaign"),
    )
    parent_total = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_TOTAL,
        label="Total score to select (sum of grades)",
        error_messages={"invalid": "Give the total as a whole number, e.g. 3."},
    )
    inspectors = ModelIdsField(
        inspectors(),
        label="Inspectors",
        error_messages={
            "required": "Choose at least one inspector.",
            **_id_field_errors("Inspector"),
        },
    )
    known_fraction = forms.FloatField(
        required=False,
        min_value=0,
        max_value=0.5,
        label="Known-item share (0-0.5)",
        error_messages={"invalid": "Give the share of known items as a fraction, e.g. 0.07."},
    )

    inject_lenses = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=5000,  # inspection.completeness.services.MAX_INJECTIONS
        label="Injected lenses (0-5000)",
        error_messages={"invalid": "Give the number of lenses to inject as a whole number."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The group's members now, not when the module was imported.
        self.fields["inspectors"].queryset = inspectors()

    def clean_known_fraction(self):
        value = self.cleaned_data["known_fraction"]
        return 0.07 if value is None else value

    def clean_inject_lenses(self):
        return self.cleaned_data["inject_lenses"] or 0

    def clean(self):
        data = super().clean()
        if data.get("parent") and data.get("parent_total") is None and "parent_total" in data:
            self.add_error(
                "parent_total", "A further vote needs the total score to select (e.g. 3)."
            )
        elif data.get("parent_total") is not None and "parent" in data and not data["parent"]:
            self.add_error(
                "parent",
                "Choose the campaign whose candidates to vote on (or leave the total empty).",
            )
        if data.get("run") and not data.get("name"):
            data["name"] = f"{data['run'].label} inspection"
        return data


class AdaptiveSettingsForm(forms.Form):
    """A campaign's retirement and escalation (``inspection.grading.adaptive``)."""

    retire_after = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_TOTAL,
        label="Retire once the first k grades are all 0 (k; empty: never)",
        error_messages={"invalid": "Give k as a whole number of grades, e.g. 2."},
    )
    escalate_to = forms.ChoiceField(
        choices=list(adaptive.ESCALATE_TO_LABELS.items()),
        label="Escalate items whose grades differ by 2, or whose posterior is near 0.5, to",
        error_messages={"invalid_choice": "Escalate to off, inspectors or discussion."},
    )
    escalate_extra = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100,
        label="Extra inspectors per escalated item (1-100)",
        error_messages={"invalid": "Give the number of extra inspectors, e.g. 2."},
    )
    escalate_band = forms.FloatField(
        required=False,
        min_value=0,
        max_value=0.5,
        label="Posterior band: escalate when |P(lens) - 0.5| <= band (0-0.5; 0: never)",
        error_messages={"invalid": "Give the band as a probability, e.g. 0.2."},
    )

    def clean(self):
        data = super().clean()
        if data.get("escalate_extra") is None and "escalate_extra" in data:
            data["escalate_extra"] = 2
        if data.get("escalate_band") is None and "escalate_band" in data:
            data["escalate_band"] = 0.0
        return data

    def policy(self):
        """The checked settings as an ``adaptive.Policy``."""
        data = self.cleaned_data
        return adaptive.Policy(
            retire_after=data["retire_after"],
            escalate_to=data["escalate_to"],
            extra=data["escalate_extra"],
            band=data["escalate_band"],
        )


class CampaignStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=Campaign.Status.choices,
        label="Status",
        error_messages={
            "invalid_choice": f"A campaign is {', '.join(Campaign.Status.values)}, not %(value)r."
        },
    )


class TrainingPolicyForm(forms.Form):
    """The training every inspector passes before grading."""

    known_sets = ModelIdsField(
        KnownSet.objects.all(),
        required=False,
        label="Known sets",
        error_messages=_id_field_errors("Known set"),
    )
    n_items = forms.IntegerField(
        min_value=2,
        max_value=10_000,
        label="Training items (2-10,000)",
        error_messages={"invalid": "Give the number of training items, e.g. 20."},
    )
    pass_mark = forms.FloatField(
        min_value=0,
        max_value=1,
        label="Pass mark (fraction correct, 0-1)",
        error_messages={"invalid": "Give the pass mark as a fraction correct, e.g. 0.8."},
    )


class TrainingAnswerForm(forms.Form):
    """An inspector's answer to one training stamp."""

    item = forms.IntegerField(
        min_value=1,
        max_value=grade_body.MAX_ID,
        label="Training item",
        error_messages={"invalid": "Answer one of the page's stamps."},
    )
    grade = forms.TypedChoiceField(
        choices=[(str(g), str(g)) for g in grade_body.GRADES],
        coerce=int,
        label="Grade (0, 1 or 2)",
        error_messages={
            "invalid_choice": "Grade with 0 (not a lens), 1 (possible) or 2 "
            "(definite), not %(value)r."
        },
    )


class InspectorForm(forms.Form):
    """A new inspector; ``inspection.grading.services.create_inspector`` checks what
    needs the database (a free username, Django's password rules)."""

    username = forms.CharField(
        max_length=150, label="Username", error_messages={"required": "A username is required."}
    )
    full_name = forms.CharField(required=False, max_length=300, label="Full name")
    email = forms.EmailField(required=False, label="Email")
    password = forms.CharField(
        required=False, strip=False, max_length=128, label="Password (empty: one is generated)"
    )

    def clean_full_name(self):
        # The user model keeps first and last names of 150 characters each.
        name = self.cleaned_data["full_name"].strip()
        first, _, last = name.partition(" ")
        if len(first) > 150 or len(last) > 150:
            raise forms.ValidationError(
                "Each of the first and last names has at most 150 characters."
            )
        return name


# --- Catalogues (the Catalogues and catalogue pages) -------------------------------


class CatalogueSettingsForm(GradeClassesForm):
    """A campaign's totals (He et al.: high probability at a total of 4 or
    more, a further vote at 3), the bounds of its grade classes A, B and C,
    and its survey's lens prior."""

    high_total = forms.IntegerField(
        min_value=0,
        max_value=MAX_TOTAL,
        label="High-probability total (sum of grades, 0 or more)",
        error_messages={"invalid": "Give the total as a whole number, e.g. 4."},
    )
    vote_total = forms.IntegerField(
        min_value=0,
        max_value=MAX_TOTAL,
        label="Further-vote total (sum of grades, 0 or more)",
        error_messages={"invalid": "Give the total as a whole number, e.g. 3."},
    )
    lens_prior = forms.FloatField(
        label="Lens prior (fraction of sources, strictly in (0, 1))",
        error_messages={"invalid": "Give the lens prior as a fraction, e.g. 0.001."},
    )

    def clean_lens_prior(self):
        value = self.cleaned_data["lens_prior"]
        if not 0 < value < 1:
            raise forms.ValidationError(
                f"The lens prior lies strictly in (0, 1), e.g. 0.001; not {value:g}."
            )
        return value


class PriorListForm(forms.Form):
    """A prior lens list: an upload, a file on the server, or the bundled
    lenscat list. ``anywhere=True`` (the ``add_prior_list`` command) takes
    any readable file: whoever runs a command can read it anyway; the web
    form only reads under the ingest roots."""

    lenscat = forms.BooleanField(required=False, label="The bundled lenscat list")
    name = forms.CharField(required=False, max_length=80, label="Name")
    file = forms.FileField(required=False, label="Upload (CSV, FITS, ECSV or VOTable)")
    path = forms.CharField(required=False, max_length=500, label="Path on the server")
    columns = forms.CharField(required=False, max_length=500, label="Columns (field=COLUMN, …)")
    description = forms.CharField(required=False, max_length=200, label="Description")

    def __init__(self, *args, anywhere: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.anywhere = anywhere

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name and self.cleaned_data.get("lenscat"):
            name = "lenscat"
        return new_name(
            name,
            PriorList,
            "prior list",
            "Name the list with letters, digits, - and _ (e.g. petrillo2019).",
        )

    def clean_path(self):
        value = self.cleaned_data["path"].strip()
        if not value:
            return ""
        path = Path(value).expanduser() if self.anywhere else Path(_server_path(value))
        if not path.is_file():
            raise forms.ValidationError(f"{value} does not exist or is not a file: check the path.")
        return str(path)

    def clean_columns(self):
        try:
            return catalogues.parse_columns(self.cleaned_data["columns"])
        except catalogues.CatalogueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self):
        data = super().clean()
        if data.get("lenscat"):
            return data
        given = [bool(data.get("file")), bool(data.get("path"))]
        if "path" in data and not any(given):
            self.add_error(
                None,
                "Give the list's PATH."
                if self.anywhere
                else "Upload a list or give its path on the server.",
            )
        elif all(given):
            self.add_error(None, "Upload a list or give its path on the server, not both.")
        return data


# --- Discussion and run comparison ---------------------------------------------------


class CommentForm(forms.Form):
    """A comment in a candidate's discussion thread."""

    text = forms.CharField(
        max_length=Comment.MAX_LENGTH,
        strip=True,
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": Comment.MAX_LENGTH}),
        error_messages={
            "required": "Write a comment first.",
            "max_length": "Keep a comment to %(limit_value)d characters (this one has "
            "%(show_value)d).",
        },
    )


class DecisionForm(forms.Form):
    """An admin's final decision on a candidate, with its reason."""

    verdict = forms.ChoiceField(
        choices=Decision.Verdict.choices,
        label="Decision",
        error_messages={
            "invalid_choice": f"Decide {', '.join(Decision.Verdict.values)}, not %(value)r."
        },
    )
    reason = forms.CharField(
        max_length=Comment.MAX_LENGTH,
        strip=True,
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": Comment.MAX_LENGTH}),
        error_messages={"required": "Give the reason for the decision."},
    )


class RunCompareForm(forms.Form):
    """Runs to compare by sky position; ``a`` and ``b``: the cell whose
    candidates are listed (run ids among ``runs``)."""

    runs = ModelIdsField(
        ScoringRun.objects.select_related("survey", "network"),
        label="Runs to compare",
        error_messages=_id_field_errors("Run"),
    )
    radius = forms.FloatField(
        min_value=0.01,
        max_value=60,
        initial=overlap.DEFAULT_RADIUS_ARCSEC,
        required=False,
        label="Match radius (arcsec)",
        error_messages={"invalid": "Give the match radius in arcsec, e.g. 1."},
    )
    a = forms.IntegerField(required=False, min_value=1, max_value=grade_body.MAX_ID)
    b = forms.IntegerField(required=False, min_value=1, max_value=grade_body.MAX_ID)

    def clean(self):
        data = super().clean()
        if data.get("radius") is None and "radius" not in self.errors:
            data["radius"] = overlap.DEFAULT_RADIUS_ARCSEC
        chosen = {r.pk for r in data.get("runs") or ()}
        cell = (data.get("a"), data.get("b"))
        if any(cell) and not (set(cell) <= chosen and None not in cell):
            self.add_error(None, "The cell to list names two of the runs compared.")
        return data
