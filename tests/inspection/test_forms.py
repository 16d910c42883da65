"""Every POST form of the inspection pages refuses garbage with a 400 and a
reason naming the field (never a 500, never a redirect that hides it), and
keeps what was typed; the add_prior_list command checks its arguments with
the web form."""

import html

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from inspection.grading import services as grading
from inspection.models import Campaign, PriorList, TrainingPolicy

pytestmark = pytest.mark.django_db

HUGE = "9" * 30  # beyond any database integer


def refused(response, *reasons):
    page = html.unescape(response.content.decode())
    assert response.status_code == 400, (response.status_code, page[-2000:])
    for reason in reasons:
        assert reason in page, (reason, page[-3000:])


@pytest.mark.parametrize(
    "form, reason",
    [
        ({}, "Scoring run: Choose a scoring run."),
        ({"run": "abc"}, "Scoring run: Run abc is not in the list"),
        ({"run": HUGE}, "Scoring run: Run"),
        ({"run": "-1"}, "Scoring run: Run -1 is not in the list"),
        ({"known_fraction": "lots"}, "Known-item share (0-0.5): Give the share"),
        ({"known_fraction": "0.9"}, "Known-item share (0-0.5): Ensure this value is less"),
        ({"known_fraction": "nan"}, "Known-item share (0-0.5):"),
        ({"parent_total": "three"}, "Total score to select (sum of grades): Give the total"),
        ({"parent_total": HUGE}, "Total score to select (sum of grades): Ensure"),
        ({"parent": "zzz"}, "Further vote on campaign: Campaign zzz is not in the list"),
        ({"inspectors": ["x"]}, "Inspectors: Inspector 'x' is not in the list"),
        ({"inspectors": [HUGE]}, "Inspectors: Inspector"),
        ({"name": "x" * 500}, "Name: Ensure this value has at most 120 characters"),
    ],
)
def test_a_new_campaign_refuses_garbage_naming_the_field(admin_client, form, reason):
    response = admin_client.post(reverse("inspection:campaign_create"), form)
    refused(response, reason)
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    "form, reason",
    [
        ({}, "Training items (2-10,000): This field is required."),
        ({"n_items": "x", "pass_mark": "0.8"}, "Training items (2-10,000): Give the number"),
        ({"n_items": "1", "pass_mark": "0.8"}, "Training items (2-10,000): Ensure"),
        ({"n_items": HUGE, "pass_mark": "0.8"}, "Training items (2-10,000): Ensure"),
        ({"n_items": "20", "pass_mark": "1.5"}, "Pass mark (fraction correct, 0-1): Ensure"),
        ({"n_items": "20", "pass_mark": "inf"}, "Pass mark (fraction correct, 0-1):"),
        ({"n_items": "20", "pass_mark": "0.8", "known_sets": ["abc"]}, "Known sets: Known set"),
        ({"n_items": "20", "pass_mark": "0.8", "known_sets": ["123456"]}, "Known sets: Known"),
    ],
)
def test_the_training_policy_refuses_garbage_and_stays_as_it_was(admin_client, form, reason):
    before = TrainingPolicy.current()
    response = admin_client.post(reverse("inspection:training_policy"), form)
    refused(response, reason)
    after = TrainingPolicy.current()
    assert (after.n_items, after.pass_mark) == (before.n_items, before.pass_mark)


def test_a_valid_training_policy_is_saved(admin_client):
    form = {"n_items": "12", "pass_mark": "0.75"}
    response = admin_client.post(reverse("inspection:training_policy"), form)
    assert response.status_code == 302
    policy = TrainingPolicy.current()
    assert (policy.n_items, policy.pass_mark) == (12, 0.75)


@pytest.mark.parametrize(
    "form, reason",
    [
        ({}, "Training item: This field is required."),
        ({"item": "x", "grade": "1"}, "Training item: Answer one of the page's stamps."),
        ({"item": HUGE, "grade": "1"}, "Training item: Ensure"),
        ({"item": "1", "grade": "3"}, "Grade (0, 1 or 2): Grade with 0"),
        ({"item": "1", "grade": "1.0"}, "Grade (0, 1 or 2): Grade with 0"),
    ],
)
def test_a_training_answer_refuses_garbage(inspector_client, form, reason):
    refused(inspector_client.post(reverse("inspection:training_answer"), form), reason)


def test_a_training_answer_for_an_item_not_yours_is_not_found(inspector_client):
    response = inspector_client.post(reverse("inspection:training_answer"),
                                     {"item": "123456", "grade": "1"})  # fmt: skip
    assert response.status_code == 404  # as a forged assignment id: not yours
    assert b"not in your training set" in response.content


def test_typed_grading_errors_carry_their_status():
    assert grading.GradingError("x").http_status == 400
    assert grading.GradesClosed("x").http_status == 409
    assert isinstance(grading.GradesClosed("x"), grading.GradingError)


@pytest.mark.parametrize(
    "form, reason",
    [
        ({}, "Username: A username is required."),
        ({"username": "u" * 200}, "Username: Ensure this value has at most 150 characters"),
        ({"username": "bob", "email": "not-an-email"}, "Email: Enter a valid email address."),
        ({"username": "bob", "full_name": "x" * 200}, "Full name: Each of the first"),
    ],
)
def test_a_new_inspector_refuses_garbage_and_keeps_the_values(admin_client, form, reason):
    from django.contrib.auth import get_user_model

    response = admin_client.post(reverse("inspection:inspector_create"), form)
    refused(response, reason)
    assert f'value="{form.get("username", "")}"' in response.content.decode()
    assert not get_user_model().objects.filter(username="bob").exists()


@pytest.mark.parametrize(
    "form, reason",
    [
        ({}, "Name: Name the list with letters"),
        ({"name": "bad name!", "path": "/x.csv"}, "Name: Name the list with letters"),
        ({"name": "ok", "path": "relative.csv"}, "Path on the server: relative.csv: give the"),
        ({"name": "ok", "path": "{root}/nope.csv"}, "Path on the server: {root}/nope.csv does"),
        ({"name": "ok", "path": "/etc/passwd"}, "Path on the server: /etc/passwd is outside"),
        ({"name": "ok", "path": "{root}/p.csv", "columns": "ra:RA"}, "Columns (field=COLUMN"),
        ({"name": "ok"}, "Upload a list or give its path on the server."),
        ({"name": "ok", "path": "{root}/p.csv", "description": "d" * 300}, "Description: "),
    ],
)
def test_a_prior_list_refuses_garbage_naming_the_field(admin_client, settings, tmp_path,
                                                       form, reason):  # fmt: skip
    root = tmp_path / "incoming"
    root.mkdir()
    (root / "p.csv").write_text("id,ra,dec\nA,150.0,2.0\n")
    settings.INGEST_ROOTS = [root]
    form = {k: v.replace("{root}", str(root)) for k, v in form.items()}
    response = admin_client.post(reverse("inspection:prior_list_add"), form)
    refused(response, reason.replace("{root}", str(root)))
    if form.get("name") == "ok":
        assert f'value="{form.get("path", "")}"' in response.content.decode()  # kept
    assert not PriorList.objects.exists()


def test_a_prior_list_name_taken_is_a_form_error(admin_client, settings, tmp_path):
    settings.INGEST_ROOTS = [tmp_path]
    (tmp_path / "p.csv").write_text("id,ra,dec\nA,150.0,2.0\n")
    form = {"name": "mine", "path": str(tmp_path / "p.csv")}
    assert admin_client.post(reverse("inspection:prior_list_add"), form).status_code == 302
    again = admin_client.post(reverse("inspection:prior_list_add"), form)
    refused(again, "Name: A prior list named 'mine' exists already: choose another name.")


def test_the_add_prior_list_command_checks_its_arguments_with_the_web_form(tmp_path):
    good = tmp_path / "p.csv"
    good.write_text("id,ra,dec\nA,150.0,2.0\n")
    with pytest.raises(CommandError, match="Name: Name the list with letters"):
        call_command("add_prior_list", "bad name!", str(good))
    with pytest.raises(CommandError, match="Path on the server: .*nope.csv does not exist"):
        call_command("add_prior_list", "ok", str(tmp_path / "nope.csv"))
    with pytest.raises(CommandError, match="Map columns as field=COLUMN"):
        call_command("add_prior_list", "ok", str(good), "--columns", "ra:RA")
    assert not PriorList.objects.exists()
    call_command("add_prior_list", "ok", str(good), verbosity=0)  # any readable path
    assert PriorList.objects.get().lenses.count() == 1


@pytest.mark.django_db(transaction=True)
def test_campaign_status_and_catalogue_settings_refuse_garbage(graded_search, inspector,
                                                               admin_client):  # fmt: skip
    run, _ = graded_search
    url = reverse("inspection:campaign_create")
    form = {"run": run.pk, "inspectors": [inspector.pk], "name": "keep me",
            "known_fraction": "0.9"}  # fmt: skip
    response = admin_client.post(url, form)
    refused(response, "Known-item share (0-0.5): Ensure")
    assert 'value="keep me"' in response.content.decode()  # kept for the next try
    refused(admin_client.post(url, {**form, "known_fraction": "0", "parent_total": "3"}),
            "Further vote on campaign: Choose the campaign")  # fmt: skip
    response = admin_client.post(url, {**form, "known_fraction": "0"})
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.name == "keep me"
    refused(admin_client.post(url, {**form, "known_fraction": "0", "parent": campaign.pk}),
            "Total score to select (sum of grades): A further vote needs")  # fmt: skip

    status_url = reverse("inspection:campaign_status", args=[campaign.pk])
    refused(admin_client.post(status_url, {"status": "bogus"}),
            "Status: A campaign is draft, open, closed, not 'bogus'.")  # fmt: skip
    refused(admin_client.post(status_url, {}), "Status: This field is required.")
    campaign.refresh_from_db()
    assert campaign.status == "draft"

    settings_url = reverse("inspection:catalogue_settings", args=[campaign.pk])
    good = {"high_total": "4", "vote_total": "3", "lens_prior": "0.001"}
    for bad, reason in [
        ({"high_total": "x"}, "High-probability total (sum of grades, 0 or more): Give"),
        ({"vote_total": HUGE}, "Further-vote total (sum of grades, 0 or more): Ensure"),
        ({"vote_total": "-1"}, "Further-vote total (sum of grades, 0 or more): Ensure"),
        ({"lens_prior": "0"}, "Lens prior (fraction of sources, strictly in (0, 1)): The lens"),
        ({"lens_prior": "nan"}, "Lens prior (fraction of sources, strictly in (0, 1)): Give"),
        ({"lens_prior": ""}, "Lens prior (fraction of sources, strictly in (0, 1)): This"),
    ]:
        response = admin_client.post(settings_url, {**good, **bad})
        refused(response, reason)
    campaign.refresh_from_db()
    assert (campaign.high_total, campaign.vote_total) == (4, 3)  # the defaults, untouched
    assert admin_client.post(settings_url, good).status_code == 302
