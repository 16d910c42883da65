"""One flattener for every form's errors, naming the field; the jobs page's
self-test form refuses garbage with a 400 naming the field."""

import pytest
from django import forms
from django.urls import reverse

from core.forms import form_errors
from core.models import Job


class Example(forms.Form):
    stamp_size = forms.IntegerField(label="Stamp size (px)")
    match_radius = forms.FloatField(max_value=60)

    def clean(self):
        raise forms.ValidationError("The form as a whole is wrong.")


def test_each_error_names_its_field_by_label_and_the_whole_forms_stand_alone():
    form = Example({"stamp_size": "big", "match_radius": "99"})
    assert not form.is_valid()
    assert sorted(form_errors(form)) == [
        "Match radius: Ensure this value is less than or equal to 60.",
        "Stamp size (px): Enter a whole number.",
        "The form as a whole is wrong.",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form, reason",
    [
        ({}, "Steps (1-10,000): This field is required."),
        ({"steps": "many", "delay_s": "0"}, "Steps (1-10,000): Give a whole number"),
        ({"steps": "9" * 30, "delay_s": "0"}, "Steps (1-10,000): Ensure"),
        ({"steps": "3", "delay_s": "nan"}, "Seconds per step (0-10 s): Give the pause"),
        ({"steps": "3", "delay_s": "-1"}, "Seconds per step (0-10 s): Ensure"),
    ],
)
def test_the_selftest_refuses_garbage_naming_the_field(admin_client, form, reason):
    response = admin_client.post(reverse("core:selftest"), form)
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_every_registry_name_is_checked_by_one_rule():
    """Surveys, known sets, prior lists and networks: letters, digits, - and
    _, starting with a letter or digit (``-x`` would read as an option on the
    command line), and not taken."""
    from django import forms

    from classifier.models import Network
    from core.forms import new_name

    assert new_name("  kids-r-2 ", Network, "network", "bad") == "kids-r-2"
    for bad in ("", "-x", "_x", "a b", "a/b", "ü"):
        with pytest.raises(forms.ValidationError, match="bad"):
            new_name(bad, Network, "network", "bad")
    with pytest.raises(forms.ValidationError, match="A network named 'kids-r-cnn' exists"):
        new_name("kids-r-cnn", Network, "network", "bad")
