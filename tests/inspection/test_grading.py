"""Training with feedback, campaigns, blind grading, history, access, and
concurrent inspectors losing no grade."""

import contextlib
import json
import threading

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from inspection import grading
from inspection.models import Assignment, Campaign, Grade, GradeChange, Skill

pytestmark = pytest.mark.django_db(transaction=True)


def pass_training(user):
    for item in grading.training_items(user):
        grading.answer_training(user, item.pk, 2 if item.is_lens else 0)
    assert grading.skill_of(user).passed_at is not None


def open_campaign(run, inspectors, **kw):
    campaign = grading.create_campaign(run, "round 1", inspectors, **kw)
    grading.set_status(campaign, "open")
    return campaign


def post_grade(client, campaign, assignment_id, grade, **extra):
    return client.post(reverse("inspection:grade_submit", args=[campaign.pk]),
                       json.dumps({"id": assignment_id, "grade": grade, **extra}),
                       content_type="application/json")  # fmt: skip


def test_training_gives_feedback_and_a_smoothed_skill(graded_search, inspector):
    items = grading.training_items(inspector)
    assert len(items) == 6 and {i.is_lens for i in items} == {True, False}
    lens = next(i for i in items if i.is_lens)
    feedback = grading.answer_training(inspector, lens.pk, 0)
    assert feedback["is_lens"] and not feedback["correct"] and feedback["theta_e_arcsec"] > 0
    assert grading.answer_training(inspector, lens.pk, 2)["correct"] is False  # first answer counts
    for item in items:
        if item.pk != lens.pk:
            last = grading.answer_training(inspector, item.pk, 2 if item.is_lens else 0)
    assert last["outcome"] == "passed"  # 5 of 6 >= 0.5
    skill = Skill.objects.get(inspector=inspector)
    n_lens = sum(i.is_lens for i in items)
    assert (skill.lens_seen, skill.lens_right) == (n_lens, n_lens - 1)
    assert skill.p_lens == pytest.approx(n_lens / (n_lens + 2))
    assert skill.p_not == pytest.approx((6 - n_lens + 1) / (6 - n_lens + 2))


def test_failing_the_pass_mark_asks_for_a_retake(graded_search, inspector):
    from inspection.models import TrainingPolicy

    TrainingPolicy.objects.update(pass_mark=0.9)
    for item in grading.training_items(inspector):
        last = grading.answer_training(inspector, item.pk, 0)  # every lens missed
    assert last["outcome"] == "failed" and grading.needs_training(inspector)
    grading.retake_training(inspector)
    assert grading.training_state(inspector)[1] == {}


def test_a_campaign_gives_every_candidate_to_every_inspector_in_its_own_order(
    graded_search, inspector, other_inspector
):
    run, known = graded_search
    campaign = open_campaign(run, [inspector, other_inspector], known_fraction=0.2)
    n = run.candidates().count()
    n_known = campaign.items.filter(known__isnull=False).count()
    assert n_known == round(n * 0.2 / 0.8) and campaign.items.count() == n + n_known
    orders = [list(campaign.assignments.filter(inspector=u).values_list("item_id", flat=True))
              for u in (inspector, other_inspector)]  # fmt: skip
    assert sorted(orders[0]) == sorted(orders[1]) and orders[0] != orders[1]


def test_grades_upsert_keep_history_and_ignore_double_presses(graded_search, inspector):
    run, _ = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0)
    a = campaign.assignments.first()
    grading.record_grade(a, 1, view={"stretch": "log", "zoom": "2"})
    assert grading.record_grade(a, 1, view={"stretch": "log", "zoom": "2"})[1] is False
    grading.record_grade(a, 2, "arc to the NE", {"stretch": "asinh", "zoom": "1"})
    grade = Grade.objects.get()
    assert (grade.grade, grade.comment, grade.view) == (
        2,
        "arc to the NE",
        {"stretch": "asinh", "zoom": "1"},
    )
    assert list(GradeChange.objects.values_list("value", flat=True)) == [1, 2]
    with pytest.raises(grading.GradingError, match="0 .non-lens., 1 .possible. or 2"):
        grading.record_grade(a, 3)
    grading.set_status(campaign, "closed")
    with pytest.raises(grading.GradingError, match="closed"):
        grading.record_grade(a, 0)
    assert Grade.objects.get().grade == 2


def test_known_items_in_live_grading_update_the_skill(graded_search, inspector):
    run, known = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0.3)
    for a in campaign.assignments.filter(item__known__isnull=False).select_related("item__known"):
        grading.record_grade(a, 0)  # every known item called a non-lens
    skill = Skill.objects.get(inspector=inspector)
    items = [a.item.known for a in campaign.assignments.filter(item__known__isnull=False)]
    assert skill.lens_seen == sum(k.is_lens for k in items) and skill.lens_right == 0
    assert skill.not_right == skill.not_seen == sum(not k.is_lens for k in items)


def test_disagreements_of_two_are_flagged_and_a_further_vote_takes_the_totals(
    graded_search, inspector, other_inspector, admin_client
):
    run, _ = graded_search
    campaign = open_campaign(run, [inspector, other_inspector], known_fraction=0)
    items = list(campaign.items.all()[:3])
    grades = {inspector: [0, 2, 1], other_inspector: [2, 2, 2]}
    for user, values in grades.items():
        for item, g in zip(items, values, strict=True):
            grading.record_grade(Assignment.objects.get(item=item, inspector=user), g)
    assert grading.disagreements(campaign) == {items[0].pk}
    assert grading.totals_by_source(campaign)[items[2].source_id] == 3
    again = grading.create_campaign(run, "vote on 3", [inspector], known_fraction=0,
                                    parent=campaign, parent_total=3)  # fmt: skip
    assert list(again.items.values_list("source_id", flat=True)) == [items[2].source_id]
    page = admin_client.get(reverse("inspection:campaign", args=[campaign.pk])).content.decode()
    assert "grades differ by 2" in page and "ines" in page and "otto" in page
    item_page = admin_client.get(
        reverse("inspection:campaign_item", args=[campaign.pk, items[0].pk])
    )
    assert 'id="score"' in item_page.content.decode()


def test_grading_is_blind_and_private(graded_search, inspector, other_inspector, client):
    run, _ = graded_search
    campaign = open_campaign(run, [inspector, other_inspector], known_fraction=0)
    theirs = campaign.assignments.filter(inspector=other_inspector).first()
    grading.record_grade(theirs, 2, "their secret comment")
    client.force_login(inspector)
    body = client.get(reverse("inspection:grade_items", args=[campaign.pk])).json()
    text = json.dumps(body)
    assert "score" not in text and "their secret comment" not in text
    assert all(item["grade"] is None for item in body["items"])
    assert {i["id"] for i in body["items"]} == set(
        campaign.assignments.filter(inspector=inspector).values_list("pk", flat=True)
    )
    # Another inspector's assignment, a forged id, a bad grade, a malformed body.
    assert post_grade(client, campaign, theirs.pk, 0).status_code == 404
    assert post_grade(client, campaign, 10**9, 0).status_code == 404
    mine = campaign.assignments.filter(inspector=inspector).first()
    assert post_grade(client, campaign, mine.pk, 5).status_code == 400
    assert client.post(reverse("inspection:grade_submit", args=[campaign.pk]), "nope",
                       content_type="application/json").status_code == 400  # fmt: skip
    assert Grade.objects.get(assignment=theirs).grade == 2
    assert not Grade.objects.filter(assignment__inspector=inspector).exists()
    # Outside their campaigns: 404; admin pages: 403.
    other = grading.create_campaign(run, "not yours", [other_inspector], known_fraction=0)
    assert client.get(reverse("inspection:grade", args=[other.pk])).status_code == 404
    admin_pages = [
        reverse("inspection:campaign", args=[campaign.pk]),
        reverse("inspection:campaigns"),
        reverse("inspection:campaign_item", args=[campaign.pk, theirs.item_id]),
    ]
    for url in admin_pages:
        assert client.get(url).status_code == 403


def test_a_grade_needs_the_csrf_token(graded_search, inspector):
    run, _ = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0)
    client = Client(enforce_csrf_checks=True)
    client.force_login(inspector)
    a = campaign.assignments.first()
    assert post_grade(client, campaign, a.pk, 1).status_code == 403
    assert not Grade.objects.exists()


def test_a_closed_campaign_refuses_grades_clearly(graded_search, inspector, client):
    run, _ = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0)
    grading.set_status(campaign, "closed")
    client.force_login(inspector)
    response = post_grade(client, campaign, campaign.assignments.first().pk, 1)
    assert response.status_code == 409 and "closed" in response.json()["error"]


def test_many_inspectors_grading_at_once_lose_nothing(graded_search, django_user_model):
    from inspection.accounts import create_inspector

    run, _ = graded_search
    users = [create_inspector(f"insp{k}", password="pw-123456789")[0] for k in range(6)]
    campaign = open_campaign(run, users, known_fraction=0)
    errors = []

    def work(user):
        try:
            c = Client()
            c.force_login(user)
            for a in campaign.assignments.filter(inspector=user):
                for g in (1, 2, 2):  # a change and a double press
                    r = post_grade(c, campaign, a.pk, g)
                    assert r.status_code == 200, r.content
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    n = campaign.assignments.count()
    assert Grade.objects.filter(assignment__campaign=campaign).count() == n
    assert set(Grade.objects.values_list("grade", flat=True)) == {2}
    assert GradeChange.objects.count() == 2 * n  # 1 then 2; the repeated 2 adds nothing


def test_the_pages_of_a_campaign_render(graded_search, inspector, admin_client):
    run, known = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0.1)
    pass_training(inspector)
    client = Client()
    client.force_login(inspector)
    home = client.get(reverse("inspection:my_grading")).content.decode()
    assert "round 1" in home and "Start grading" in home
    page = client.get(reverse("inspection:grade", args=[campaign.pk])).content.decode()
    assert "grading.js" in page and "data-items-url" in page
    listing = admin_client.get(reverse("inspection:campaigns")).content.decode()
    assert "round 1" in listing and 'P("lens"|lens)' in listing
    assert Campaign.objects.get().status == "open"
    item = campaign.items.filter(known__isnull=False).first()
    png = client.get(
        reverse("inspection:known_preview", args=[known.name, item.known.stamp_index, "rgb"])
    )
    assert png.status_code == 200 and png["Content-Type"] == "image/png"


def test_opening_a_campaign_renders_its_previews_ahead(graded_search, inspector, admin_client,
                                                       settings, redis_url):  # fmt: skip
    import django_rq
    from rq.worker import SimpleWorker

    run, _ = graded_search
    campaign = grading.create_campaign(run, "prerender", [inspector], known_fraction=0.2)
    admin_client.post(reverse("inspection:campaign_status", args=[campaign.pk]),
                      {"status": "open"})  # fmt: skip
    q = django_rq.get_queue("default")
    SimpleWorker([q], connection=q.connection).work(burst=True)
    cached = list((settings.DATA_DIR / "previews").rglob("*-asinh.png"))
    assert len(cached) == 2 * campaign.items.count()


def test_an_admin_adds_real_lenses_as_fits_images(graded_search, admin_client, tmp_path, settings):
    from astropy.io import fits

    from inspection.models import KnownSet, TrainingPolicy

    files = []
    for k, size in enumerate((61, 65)):
        path = tmp_path / f"lens{k}.fits"
        header = fits.Header()
        header["PIXSCALE"] = 0.2
        fits.PrimaryHDU(np.ones((3, size, size), np.float32), header=header).writeto(path)
        files.append(path)
    with contextlib.ExitStack() as stack:
        uploads = [stack.enter_context(open(p, "rb")) for p in files]
        form = {"name": "real-lenses", "images": uploads, "label": "lens"}
        response = admin_client.post(reverse("inspection:known_set_add"), form)
    assert response.status_code == 302
    known = KnownSet.objects.get(name="real-lenses")
    assert known.bands == "g,r,i" and known.pixscale_arcsec == 0.2
    assert known.items.filter(is_lens=True, kind="real lens").count() == 2
    assert known in TrainingPolicy.current().known_sets.all()
    from simulations.stampset import read_stampset

    assert read_stampset(known.stamps_file()).cube.shape == (2, 3, 61, 61)
    bad = admin_client.post(
        reverse("inspection:known_set_add"), {"name": "x", "path": "/nope.fits"}
    )
    assert bad.status_code == 400 and "no such stamp-set file" in bad.content.decode()
