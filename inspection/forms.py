"""Forms of the search pages: every input is checked before anything is
saved, queued or created."""

import dataclasses
from pathlib import Path

from django import forms

from core import uploads
from inspection.cuts import LRGCuts
from inspection.models import KnownSet, Survey
from inspection.surveys import (
    DEFAULT_STAMP_PX,
    NAME_RE,
    IngestError,
    band_from_file_name,
    parse_tile_args,
)

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

    name = forms.CharField(max_length=100)
    catalogue = forms.CharField(required=False)
    catalogue_file = forms.FileField(required=False)
    tiles = forms.CharField(required=False)
    tile_files = MultipleFileField(required=False)
    stamps = forms.CharField(required=False)
    columns = forms.CharField(required=False)
    stamp_size = forms.IntegerField(
        required=False, error_messages={"invalid": "The stamp size is a whole number of pixels."}
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not NAME_RE.match(name):
            raise forms.ValidationError(
                "Give the survey a name of letters, digits, - and _ (e.g. kids-dr3)."
            )
        if Survey.objects.filter(name=name).exists():
            raise forms.ValidationError(f"A survey named {name!r} exists already.")
        return name

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
        """Every error, for the page's list of reasons."""
        return [message for errors in self.errors.values() for message in errors]

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

    name = forms.CharField(max_length=80)
    path = forms.CharField(required=False)
    stamps = forms.FileField(required=False)
    images = MultipleFileField(required=False)
    label = forms.ChoiceField(choices=[("lens", "lenses"), ("nonlens", "non-lenses")],
                              required=False)  # fmt: skip
    pixscale = forms.FloatField(
        required=False,
        min_value=1e-4,
        error_messages={"invalid": "The pixel scale is a number of arcseconds per pixel."},
    )
    description = forms.CharField(required=False, max_length=2000)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not NAME_RE.match(name):
            raise forms.ValidationError("Name the set with letters, digits, - and _.")
        if KnownSet.objects.filter(name=name).exists():
            raise forms.ValidationError(
                f"A known set named {name!r} exists already: choose another name."
            )
        return name

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
        """Every error, for the page's list of reasons."""
        return [message for errors in self.errors.values() for message in errors]
