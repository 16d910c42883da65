"""What every web form shares: one way of turning a form's errors into the
list of reasons a page shows (and a command prints), and the jobs page's
self-test form.

It lives in ``core`` because the forms of ``inspection`` and ``classifier``
both use it, and ``classifier`` may not import ``inspection``
(docs/design.md)."""

from django import forms

SELFTEST_MAX_STEPS = 10_000


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
