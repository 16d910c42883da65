"""Training with feedback, campaigns, blind grading, history, access, and
concurrent inspectors losing no grade; known items that cannot be told from
candidates, training before grading, and grade requests checked to the byte."""

import contextlib
import io
import json
import threading
from urllib.parse import urlencode

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from PIL import Image

from inspection.grading import services as grading
from inspection.ingest import cutouts
from inspection.models import (
    Assignment,
    Campaign,
    Grade,
    GradeChange,
    KnownItem,
    Skill,
    TrainingAnswer,
)
from simulations.stampset import StampSetWriter

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
    pass_training(inspector)
    client.force_login(inspector)
    body = client.get(reverse("inspection:grade_items", args=[campaign.pk])).json()
    text = json.dumps(body)
    assert "score" not in text and "their secret comment" not in text
    assert all(item["grade"] is None for item in body["items"])
    assert {i["id"] for i in body["items"]} == set(
        campaign.assignments.filter(inspector=inspector).values_list("pk", flat=True)
    )
    # Another inspector's assignment, a forged id, a bad grade, a malformed body.
    for refused in (post_grade(client, campaign, theirs.pk, 0),
                    post_grade(client, campaign, 10**9, 0)):  # fmt: skip
        assert refused.status_code == 404 and refused.json()["error"]
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
    pass_training(inspector)
    client = Client(enforce_csrf_checks=True)
    client.force_login(inspector)
    a = campaign.assignments.first()
    refused = post_grade(client, campaign, a.pk, 1)
    assert refused.status_code == 403 and "token" in refused.json()["error"]
    assert not Grade.objects.exists()
    client.get(reverse("inspection:grade", args=[campaign.pk]))  # sets the cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(reverse("inspection:grade_submit", args=[campaign.pk]),
                           json.dumps({"id": a.pk, "grade": 1}),
                           content_type="application/json", HTTP_X_CSRFTOKEN=token)  # fmt: skip
    assert accepted.status_code == 200 and Grade.objects.get().grade == 1


def test_a_closed_campaign_refuses_grades_clearly(graded_search, inspector, client):
    run, _ = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0)
    grading.set_status(campaign, "closed")
    pass_training(inspector)
    client.force_login(inspector)
    response = post_grade(client, campaign, campaign.assignments.first().pk, 1)
    assert response.status_code == 409 and "closed" in response.json()["error"]


def test_many_inspectors_grading_at_once_lose_nothing(graded_search, django_user_model):
    from inspection.grading.services import create_inspector

    run, _ = graded_search
    users = [create_inspector(f"insp{k}", password="pw-123456789")[0] for k in range(6)]
    for user in users:
        pass_training(user)
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
    url = reverse("inspection:known_preview", args=[known.name, item.known.stamp_index, "rgb"])
    png = admin_client.get(url)
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert client.get(url).status_code == 403  # inspectors: only their own assignments


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
    missing = str(settings.INGEST_ROOTS[0] / "nope.fits")
    bad = admin_client.post(reverse("inspection:known_set_add"), {"name": "x", "path": missing})
    assert bad.status_code == 400 and "no such stamp-set file" in bad.content.decode()


def test_a_refused_known_set_leaves_nothing_and_never_touches_another_sets_stamps(
    graded_search, admin_client, tmp_path, settings
):
    import hashlib

    from astropy.io import fits
    from django.core.management import CommandError, call_command

    from inspection.models import KnownSet

    def image(name, value=1.0):
        path = tmp_path / name
        header = fits.Header()
        header["PIXSCALE"] = 0.2
        fits.PrimaryHDU(np.full((3, 61, 61), value, np.float32), header=header).writeto(path)
        return path

    def post(form):
        return admin_client.post(reverse("inspection:known_set_add"), form)

    def files_under_known():
        return sorted(p for p in (settings.DATA_DIR / "known").rglob("*") if p.is_file())

    with open(image("a.fits"), "rb") as f:
        assert post({"name": "real", "images": [f], "label": "lens"}).status_code == 302
    real = KnownSet.objects.get(name="real")
    digest = hashlib.sha256(real.stamps_file().read_bytes()).hexdigest()
    before = files_under_known()
    with open(image("b.fits", 7.0), "rb") as f:
        again = post({"name": "real", "images": [f], "label": "lens"})
    assert again.status_code == 400 and "exists already" in again.content.decode()
    with pytest.raises(CommandError, match="exists already"):
        call_command("add_known_set", "real", str(image("c.fits", 9.0)), "--images")
    assert hashlib.sha256(real.stamps_file().read_bytes()).hexdigest() == digest
    refused = [
        ({"name": "bad name!", "path": "x"}, "letters, digits"),
        ({"name": "outside", "path": "/etc/passwd"}, "outside the directories"),
        ({"name": "nothing"}, "Give a stamp set"),
        (
            {
                "name": "scale",
                "images": [io.BytesIO(image("d.fits").read_bytes())],
                "pixscale": "x",
            },
            "arcseconds per pixel",
        ),
        ({"name": "junk", "images": [io.BytesIO(b"not a FITS file")]}, "not a readable FITS"),
        ({"name": "junk2", "stamps": io.BytesIO(b"not a stamp set")}, "not a readable FITS"),
    ]
    for form, message in refused:
        response = post(form)
        assert response.status_code == 400, form["name"]
        assert message in response.content.decode(), form["name"]
        assert files_under_known() == before, form["name"]
    assert not KnownSet.objects.filter(name__in=[f["name"] for f, _ in refused]).exists()


# --- Known items cannot be told from candidates -----------------------------------


def stamp_url(campaign, assignment, kind):
    return reverse("inspection:grade_stamp", args=[campaign.pk, assignment.pk, kind])


def png_of(response):
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    return Image.open(io.BytesIO(response.content))


def test_every_grading_image_comes_through_an_opaque_url_of_its_assignment(
    graded_search, inspector, client
):
    run, known = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0.3)
    pass_training(inspector)
    client.force_login(inspector)
    page = client.get(reverse("inspection:grade", args=[campaign.pk])).content.decode()
    body = client.get(reverse("inspection:grade_items", args=[campaign.pk])).json()
    text = page + json.dumps(body)
    assert "/known/" not in text and "/surveys/" not in text and run.survey.name not in text
    for item in body["items"]:
        assert set(item) == {"id", "position", "images", "grade", "comment"}
        for kind, url in item["images"].items():
            assert url == f"/grading/{campaign.pk}/stamps/{item['id']}/{kind}.png?stretch=asinh"
    mine = campaign.assignments.filter(inspector=inspector)
    shown = [mine.filter(item__known__isnull=False).first(), mine.filter(item__known=None).first()]
    sizes = {(kind, png_of(client.get(stamp_url(campaign, a, kind))).size)
             for a in shown for kind in ("r", "rgb")}  # fmt: skip
    assert sizes == {("r", (291, 291)), ("rgb", (291, 291))}


def big_known_set(tmp_path, pixscale_arcsec=0.21, size=105, name="big"):
    """A g,r,i known set of noise with a blob, wider than the survey's 97 px."""
    rng = np.random.default_rng(3)
    cube = rng.normal(20, 5, (6, 3, size, size)).astype(np.float32)
    cube[:, :, size // 2 - 3 : size // 2 + 4, size // 2 - 3 : size // 2 + 4] += [
        [[[200]], [[400]], [[300]]]
    ]
    path = tmp_path / f"{name}.fits"
    with StampSetWriter(path, 6, ["g", "r", "i"], (size, size), pixscale_arcsec) as w:
        w.write(cube, {"id": [f"k{i}" for i in range(6)], "label": [1, 0] * 3})
    return grading.add_known_set(name, path), cube


def test_known_items_are_cut_and_rendered_exactly_as_the_surveys_stamps(
    graded_search, inspector, client, tmp_path
):
    run, _ = graded_search
    big, cube = big_known_set(tmp_path)
    campaign = open_campaign(run, [inspector], known_fraction=0.2, known_sets=[big])
    pass_training(inspector)
    client.force_login(inspector)
    a = campaign.assignments.filter(inspector=inspector, item__known__isnull=False).first()
    assert run.survey.stamp_size == 97
    # The survey's own route: the central 97 px (105 // 2 - 97 // 2 = 4), its
    # r band with the inspector's stretch, its g,r,i composite.
    stamp = cube[a.item.known.stamp_index, :, 4:101, 4:101]
    for kind, image in (("r", stamp[1]), ("rgb", cutouts.lupton_rgb(*stamp))):
        for stretch in ("asinh", "log"):
            response = client.get(stamp_url(campaign, a, kind), {"stretch": stretch})
            assert png_of(response).size == (291, 291)
            pixscale = run.survey.pixscale_arcsec  # the survey's scale bar too
            assert response.content == cutouts.render_png(image, stretch=stretch,
                                                          pixscale_arcsec=pixscale)  # fmt: skip


def test_known_sets_that_cannot_look_like_the_surveys_stamps_are_not_mixed_in(
    graded_search, inspector, tmp_path
):
    run, known = graded_search
    coarse, _ = big_known_set(tmp_path, pixscale_arcsec=0.3, name="coarse")
    with pytest.raises(grading.GradingError, match=r'coarse: the stamps have 0.3"/px'):
        grading.create_campaign(run, "r1", [inspector], known_fraction=0.2, known_sets=[coarse])
    campaign = grading.create_campaign(run, "r2", [inspector], known_fraction=0.2,
                                       known_sets=[coarse, known])  # fmt: skip
    assert set(campaign.items.filter(known__isnull=False)
               .values_list("known__known_set__name", flat=True)) == {"known"}  # fmt: skip


def test_items_shown_in_training_are_never_mixed_into_campaigns(
    graded_search, inspector, other_inspector
):
    run, known = graded_search
    halves = [set(known.items.filter(for_training=t).values_list("is_lens", flat=True))
              for t in (True, False)]  # fmt: skip
    assert halves == [{True, False}, {True, False}]  # both classes in each half
    campaign = open_campaign(run, [inspector, other_inspector], known_fraction=0.5)
    mixed = set(campaign.items.exclude(known=None).values_list("known_id", flat=True))
    trained = {i.pk for u in (inspector, other_inspector) for i in grading.training_items(u)}
    assert mixed and not mixed & trained
    assert not KnownItem.objects.filter(pk__in=mixed, for_training=True).exists()
    # An answer given in training before the sets were split keeps an item out too.
    answered = KnownItem.objects.get(pk=min(mixed))
    TrainingAnswer.objects.create(inspector=inspector, item=answered, grade=2, correct=True)
    again = open_campaign(run, [inspector], known_fraction=0.5)
    assert answered.pk not in set(again.items.values_list("known_id", flat=True))


def test_a_known_item_never_comes_back_to_an_inspector_who_graded_it(
    graded_search, inspector, other_inspector, django_user_model
):
    """After grading, the discussion pages tell candidates from known items
    (only candidates have a thread and a position): a known item an
    inspector was given once is never mixed into their later campaigns."""
    run, _ = graded_search
    first = open_campaign(run, [inspector], known_fraction=0.2)
    shown = set(first.items.exclude(known=None).values_list("known_id", flat=True))
    assert shown
    later = open_campaign(run, [inspector, other_inspector], known_fraction=0.5)
    assert not shown & set(later.items.exclude(known=None).values_list("known_id", flat=True))
    # An inspector who has seen none of them may still be given them elsewhere.
    fresh = open_campaign(run, [other_inspector], known_fraction=0.5)
    assert set(fresh.items.exclude(known=None).values_list("known_id", flat=True))


def test_an_inspector_fetches_only_the_stamps_of_their_own_assignments(
    graded_search, inspector, other_inspector, client
):
    run, known = graded_search
    campaign = open_campaign(run, [inspector, other_inspector], known_fraction=0.3)
    other = open_campaign(run, [other_inspector], known_fraction=0)
    pass_training(inspector)
    client.force_login(inspector)
    theirs = campaign.assignments.filter(inspector=other_inspector).first()
    mine = campaign.assignments.filter(inspector=inspector).first()
    assert client.get(stamp_url(campaign, mine, "r")).status_code == 200
    assert client.get(stamp_url(campaign, theirs, "r")).status_code == 404
    assert client.get(stamp_url(other, mine, "r")).status_code == 404
    # Stamps by survey or known set and index are the admins'.
    item = campaign.items.exclude(known=None).first()
    source = campaign.items.exclude(source=None).first().source
    for url in (
        reverse("inspection:known_preview", args=[known.name, item.known.stamp_index, "r"]),
        reverse("inspection:preview", args=[run.survey.name, source.stamp_index, "r"]),
    ):
        assert client.get(url).status_code == 403
    # In training, their own training items only.
    trained = grading.training_items(inspector)
    stranger = known.items.exclude(pk__in=[i.pk for i in trained]).first()
    assert (
        client.get(reverse("inspection:training_stamp", args=[trained[0].pk, "r"])).status_code
        == 200
    )
    assert (
        client.get(reverse("inspection:training_stamp", args=[stranger.pk, "r"])).status_code == 404
    )


# --- Training first; drafts hidden; answers in JSON --------------------------------


def test_items_grades_and_stamps_wait_for_the_training(graded_search, inspector, client):
    run, _ = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0)
    client.force_login(inspector)
    a = campaign.assignments.filter(inspector=inspector).first()
    items_url = reverse("inspection:grade_items", args=[campaign.pk])
    for response in (client.get(items_url), post_grade(client, campaign, a.pk, 1)):
        assert response.status_code == 403 and "training" in response.json()["error"]
    assert client.get(stamp_url(campaign, a, "r")).status_code == 403
    assert not Grade.objects.exists()
    pass_training(inspector)
    assert client.get(items_url).status_code == 200
    assert client.get(stamp_url(campaign, a, "r")).status_code == 200
    assert post_grade(client, campaign, a.pk, 1).status_code == 200


def test_draft_campaigns_are_not_the_inspectors_to_see(graded_search, inspector, client):
    run, _ = graded_search
    draft = grading.create_campaign(run, "draft", [inspector], known_fraction=0)
    pass_training(inspector)
    client.force_login(inspector)
    a = draft.assignments.first()
    assert client.get(reverse("inspection:grade", args=[draft.pk])).status_code == 404
    assert client.get(stamp_url(draft, a, "r")).status_code == 404
    for response in (
        client.get(reverse("inspection:grade_items", args=[draft.pk])),
        post_grade(client, draft, a.pk, 1),
    ):
        assert response.status_code == 404 and response.json()["error"]
    assert not Grade.objects.exists()


def test_the_grading_api_refuses_non_inspectors_in_json(admin_client):
    response = admin_client.get(reverse("inspection:grade_items", args=[1]))
    assert response.status_code == 403 and "inspectors" in response.json()["error"]


def test_an_inspector_taken_out_of_the_group_grades_and_sees_nothing_more(
    graded_search, inspector, client, admin_client
):
    """The role is checked inside the one query that guards grades and
    stamps (``grading.own_assignment``), not by a decorator: taking someone
    out of the inspectors' group must still shut them out at once."""
    run, _ = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0)
    pass_training(inspector)
    client.force_login(inspector)
    a = campaign.assignments.filter(inspector=inspector).first()
    assert client.get(stamp_url(campaign, a, "r")).status_code == 200
    inspector.groups.clear()
    for response in (post_grade(client, campaign, a.pk, 1),
                     client.post(reverse("inspection:grade_submit", args=[campaign.pk]), b"[1]",
                                 content_type="application/json")):  # fmt: skip
        assert response.status_code == 403 and "inspectors" in response.json()["error"]
    assert client.get(stamp_url(campaign, a, "r")).status_code == 403
    # An admin who is no inspector: 403 whatever the body, never a 400 or 404.
    for body in (json.dumps({"id": a.pk, "grade": 1}), "[1]"):
        response = admin_client.post(reverse("inspection:grade_submit", args=[campaign.pk]),
                                     body, content_type="application/json")  # fmt: skip
        assert response.status_code == 403 and "inspectors" in response.json()["error"]
    assert admin_client.get(stamp_url(campaign, a, "r")).status_code == 403
    assert not Grade.objects.exists()


def test_a_grade_and_a_stamp_cost_a_fixed_few_queries(graded_search, inspector, client):
    """Every key press is a grade request and every item two stamp requests,
    under 20 inspectors at once (``bench/grading.py``): session, user, and
    one query that checks owner, campaign, role and training (for a stamp,
    and loads the survey), then the grade's own writes."""
    from django.test.utils import CaptureQueriesContext

    run, _ = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0)
    pass_training(inspector)
    client.force_login(inspector)
    a, b = campaign.assignments.filter(inspector=inspector)[:2]
    client.get(stamp_url(campaign, b, "r"))  # rendered once, then read from the cache
    with CaptureQueriesContext(connection) as stamp:
        assert client.get(stamp_url(campaign, b, "r")).status_code == 200
    with CaptureQueriesContext(connection) as grade:
        assert post_grade(client, campaign, a.pk, 1).status_code == 200
    reads = [q["sql"] for q in grade.captured_queries if q["sql"].lstrip().startswith("SELECT")]
    writes = [q["sql"] for q in grade.captured_queries if q["sql"].lstrip().startswith("INSERT")]
    assert len(stamp.captured_queries) == 3, [q["sql"][:80] for q in stamp.captured_queries]
    # Only what a picture needs: not the survey's JSON (its catalogue
    # columns, cuts, funnel) nor the run's network state.
    guard = stamp.captured_queries[-1]["sql"]
    assert '"funnel"' not in guard and '"network_state"' not in guard and '"mag_r"' not in guard
    assert len(reads) == 3, [q[:80] for q in reads]
    assert len(writes) == 2  # the grade and its history
    assert Grade.objects.get().grade == 1


# --- Only 0, 1, 2; malformed bodies answer 400 ------------------------------------


def test_only_the_integers_0_1_2_are_grades(graded_search, inspector, client):
    run, _ = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0)
    pass_training(inspector)
    client.force_login(inspector)
    a = campaign.assignments.filter(inspector=inspector).first()
    for value in (1.5, 2.99, -0.5, True, False, 1.0, 3, None, "two", [1]):
        response = post_grade(client, campaign, a.pk, value)
        assert response.status_code == 400, value
        assert "0 (non-lens), 1 (possible) or 2 (definite)" in response.json()["error"]
    assert not Grade.objects.exists()
    assert post_grade(client, campaign, a.pk, 2).status_code == 200
    assert Grade.objects.get().grade == 2


def test_malformed_grade_bodies_answer_400_in_json(graded_search, inspector):
    run, _ = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0)
    pass_training(inspector)
    client = Client(enforce_csrf_checks=True)  # as a browser: the CSRF check reads forms
    client.force_login(inspector)
    client.get(reverse("inspection:grade", args=[campaign.pk]))
    token = client.cookies["csrftoken"].value
    url = reverse("inspection:grade_submit", args=[campaign.pk])
    a = campaign.assignments.filter(inspector=inspector).first()
    bodies = [
        b'{"id": Infinity, "grade": 1}',
        b'{"id": NaN, "grade": 1}',
        b'{"id": 1e999, "grade": 1}',
        b'{"id": 100000000000000000000000000000, "grade": 1}',
        b'{"id": -5, "grade": 1}',
        f'{{"id": {a.pk}, "grade": 1, "comment": 5}}'.encode(),
        f'{{"id": {a.pk}, "grade": 1, "comment": {{"a": [1]}}}}'.encode(),
        f'{{"id": {a.pk}, "grade": 1, "zoom": [2]}}'.encode(),
        f'{{"id": {a.pk}, "grade": 1, "comment": "arc\\u0000"}}'.encode(),
        f'{{"id": {a.pk}, "grade": 1, "comment": "\\udc80"}}'.encode(),
        f'{{"id": {a.pk}, "grade": 1, "comment": '.encode() + b"[" * 5000 + b"]" * 5000 + b"}",
        b"[1, 2]",
        b"",
    ]
    for raw in bodies:
        response = client.post(url, raw, content_type="application/json", HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 400, raw[:80]
        assert response.json()["error"], raw[:80]
    form = {"csrfmiddlewaretoken": token, "id": a.pk, "grade": 1}
    for response in (
        client.post(url, form),  # multipart
        client.post(url, urlencode(form), content_type="application/x-www-form-urlencoded"),
    ):
        assert response.status_code == 400 and "application/json" in response.json()["error"]
    assert not Grade.objects.exists()


def test_the_migration_splits_existing_known_sets_by_the_same_rule(transactional_db):
    from django.db.migrations.executor import MigrationExecutor

    before = [("inspection", "0005_score_logit_required")]
    after = [("inspection", "0006_known_items_for_training")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    known = old.get_model("inspection", "KnownSet").objects.create(
        name="old", stamps_path="old.fits", bands="r", pixscale_arcsec=0.2
    )
    labels = [1, 1, 0, 1, 0, 0, 0, 1, 1]
    old.get_model("inspection", "KnownItem").objects.bulk_create(
        old.get_model("inspection", "KnownItem")(known_set=known, stamp_index=i, is_lens=bool(b))
        for i, b in enumerate(labels)
    )
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(after)
        split = list(
            KnownItem.objects.order_by("stamp_index").values_list("for_training", flat=True)
        )
        assert split == grading.split_for_training(labels)
        assert split == [True, False, True, True, False, True, False, False, True]
    finally:
        # Back to the latest schema: the tests after this one need it.
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
