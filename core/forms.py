"""What every web form shares: one way of turning a form's errors into the
list of reasons a page shows (and a command prints), and the jobs page's
self-test form.

It lives in ``core`` because the forms of ``inspection`` and ``classifier``
both use it, and ``classifier`` may not import ``inspection``
(docs/design.md)."""

import re

from django import forms
from django.db import models

SELFTEST_MAX_STEPS = 10_000

#: A registry name (survey, known set, prior list, network): letters, digits,
#: - and _, starting with a letter or digit (so a name never reads as a
#: command-line option).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def form_errors(form: forms.Form) -> list[str]:
    """One line per error, a field's error prefixed with the field's label
    (``"Name: A survey named 'x' exists already."``) so that a list of
    reasons says which input to fix; errors of the whole form as they are."""
    lines = []
    for field, messages in form.errors.items():
        if field == forms.forms.NON_FIELD_ERRORS or field not in form.fields:
            lines += messages
            continue
        label = form.fields[field].label or field.replace("_", " ").capitalize()
        lines += [f"{label}: {message}" for message in messages]
    return lines


def new_name(value: str, model: type[models.Model], what: str, invalid: str) -> str:
    """``value`` stripped, if it is a well-formed name (else ``invalid``)
    that no ``model`` row has yet: the one name check of every form that
    registers something (a ``clean_name``)."""
    name = value.strip()
    if not NAME_RE.match(name):
        raise forms.ValidationError(invalid)
    if model.objects.filter(name=name).exists():
        raise forms.ValidationError(f"A {what} named {name!r} exists already: choose another name.")
    return name


class SelftestForm(forms.Form):
    """The jobs page's self-test: count to ``steps``, sleeping between steps."""

    steps = forms.IntegerField(
        label=f"Steps (1-{SELFTEST_MAX_STEPS:,})",
        min_value=1,
        max_value=SELFTEST_MAX_STEPS,
        error_messages={"invalid": "Give a whole number of steps, e.g. 20."},
    )
    delay_s = forms.FloatField(
        label="Seconds per step (0-10 s)",
        min_value=0,
        max_value=10,
        error_messages={"invalid": "Give the pause between steps in seconds, e.g. 0.25."},
    )
