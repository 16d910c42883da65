"""Training that teaches: the truth and a reveal view after each answer (never
before), retakes with new items or a new order, a review of the mistakes,
answers as JSON, and the skill from training kept apart from the skill on
known items hidden in campaigns."""

import json
import random

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from inspection.grading import services as grading
from inspection.grading import teaching
from inspection.models import Skill, TrainingAnswer, TrainingAttempt, TrainingPolicy
from tests.inspection.test_grading import open_campaign, pass_training

pytestmark = pytest.mark.django_db

# --- The pure module ----------------------------------------------------------------


def legacy_draw(pool, n_items, user_id):
    """The training's draw before attempts were recorded (as it was in services)."""
    items = list(pool)
    random.Random(f"training-{user_id}").shuffle(items)
    lenses = [pk for pk, lens in items if lens][: n_items // 2]
    others = [pk for pk, lens in items if not lens][: n_items - len(lenses)]
    chosen = lenses + others
    random.Random(f"order-{user_id}").shuffle(chosen)
    return chosen


POOL = [(pk, pk % 2 == 0) for pk in range(10, 26)]  # 8 lenses, 8 non-lenses


def test_it_keeps_the_first_attempt_of_an_inspector_half_way_through():
    for user_id in (1, 7, 42):
        seeds = teaching.attempt_seeds(user_id, 1)
        assert teaching.draw_attempt(POOL, 6, seeds) == legacy_draw(POOL, 6, user_id)


def test_a_retake_draws_the_unseen_items_first_half_lenses():
    first = teaching.draw_attempt(POOL, 6, teaching.attempt_seeds(3, 1))
    second = teaching.draw_attempt(
        POOL, 6, teaching.attempt_seeds(3, 2), shown=set(first), previous=first
    )
    assert not set(first) & set(second)
    lens = dict(POOL)
    assert sum(lens[pk] for pk in second) == 3 and len(second) == 6
    # A third attempt: 2 unseen items left, then items already shown.
    third = teaching.draw_attempt(
        POOL, 6, teaching.attempt_seeds(3, 3), shown=set(first) | set(second), previous=second
    )
    unseen = {pk for pk, _ in POOL} - set(first) - set(second)
    assert unseen <= set(third) and len(set(third)) == 6


def test_a_retake_of_the_very_same_items_comes_in_another_order():
    pool = POOL[:4]
    for user_id in range(30):
        first = teaching.draw_attempt(pool, 4, teaching.attempt_seeds(user_id, 1))
        second = teaching.draw_attempt(
            pool, 4, teaching.attempt_seeds(user_id, 2), shown=set(first), previous=first
        )
        assert sorted(second) == sorted(first) and second != first
    two = [(1, True), (2, False)]
    first = teaching.draw_attempt(two, 2, ("a", "b"))
    assert teaching.draw_attempt(two, 2, ("a", "b"), set(first), first) == first[::-1]


def test_the_einstein_circle_is_a_fraction_of_the_stamp_width():
    # 1.0" at 0.2"/px is 5 px of a 100 px stamp.
    assert teaching.circle_fraction(1.0, 0.2, 100) == pytest.approx(0.05)
    assert teaching.circle_fraction(None, 0.2, 100) is None
    assert teaching.circle_fraction(0.0, 0.2, 100) is None
    with pytest.raises(ValueError):
        teaching.circle_fraction(1.0, 0.0, 100)


# --- Services: reveal, retakes, skills ----------------------------------------------


def answer_all(user, right=True, wrong_lenses=0):
    """Answer every pending item (lenses wrong for the first ``wrong_lenses``)."""
    last = None
    items, answers, _, _ = grading.training_state(user)
    for item in items:
        if item.pk in answers:
            continue
        good = 2 if item.is_lens else 0
        if item.is_lens and wrong_lenses > 0:
            good, wrong_lenses = 0, wrong_lenses - 1
        last = grading.answer_training(user, item.pk, good if right else 2 - good)
    return last


def test_the_reveal_is_forbidden_before_the_answer(graded_search, inspector, client):
    items = grading.training_items(inspector)
    lens = next(i for i in items if i.is_lens)
    url = reverse("inspection:training_reveal", args=[lens.pk])
    client.force_login(inspector)
    with pytest.raises(grading.NotAnsweredYet):
        grading.answered_item(inspector, lens.pk)
    assert client.get(url).status_code == 403
    grading.answer_training(inspector, lens.pk, 1)
    assert grading.answered_item(inspector, lens.pk) == lens
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "no-store" in response["Cache-Control"]
    # The reveal is another picture than the stamp asked about.
    asked = client.get(reverse("inspection:training_stamp", args=[lens.pk, "r"]))
    assert asked.status_code == 200 and b"".join(asked) != b"".join(response)
    # Someone else's item (answered by its owner or not) is not found.
    _, known = graded_search
    stranger = known.items.exclude(pk__in=[i.pk for i in items]).first()
    assert client.get(reverse("inspection:training_reveal", args=[stranger.pk])).status_code == 404


def test_a_retake_gives_new_items_first_in_a_new_order_and_records_the_attempt(
    graded_search, inspector
):
    TrainingPolicy.objects.update(pass_mark=0.9)
    first = [i.pk for i in grading.training_items(inspector)]
    with pytest.raises(grading.TrainingNotFailed):
        grading.retake_training(inspector)  # under way: nothing to retake
    assert answer_all(inspector, right=False)["outcome"] == "failed"
    attempt = grading.retake_training(inspector)
    second = [i.pk for i in grading.training_items(inspector)]
    # 4 + 4 training items, 6 per attempt: the 2 not shown come first.
    pool = set(TrainingPolicy.current().known_sets.get().items.filter(for_training=True)
               .values_list("pk", flat=True))  # fmt: skip
    assert pool - set(first) <= set(second) and second != first and len(second) == 6
    assert attempt.number == 2 and attempt.items == second
    done = TrainingAttempt.objects.get(inspector=inspector, number=1)
    assert done.items == first and done.passed is False and done.n_right == 0
    assert done.finished_at is not None
    # The failed attempt's answers are gone, its skill counts stay.
    assert not TrainingAnswer.objects.filter(inspector=inspector).exists()
    assert grading.skill_of(inspector).n_training == 6
    assert answer_all(inspector)["outcome"] == "passed"
    assert TrainingAttempt.objects.get(inspector=inspector, number=2).passed is True
    with pytest.raises(grading.TrainingNotFailed):
        grading.retake_training(inspector)


def test_an_attempt_not_begun_follows_the_policy(graded_search, inspector):
    assert len(grading.training_items(inspector)) == 6
    TrainingPolicy.objects.update(n_items=4)
    assert len(grading.training_items(inspector)) == 4
    grading.answer_training(inspector, grading.training_items(inspector)[0].pk, 0)
    TrainingPolicy.objects.update(n_items=6)
    assert len(grading.training_items(inspector)) == 4  # begun: kept


def test_the_review_lists_the_wrong_answers_in_their_order(graded_search, inspector):
    TrainingPolicy.objects.update(pass_mark=0.0)
    answer_all(inspector, wrong_lenses=2)
    review = grading.training_review(inspector)
    assert len(review) == 2
    assert all(item.is_lens and answer.grade == 0 for item, answer in review)
    order = [i.pk for i in grading.training_items(inspector)]
    assert [order.index(i.pk) for i, _ in review] == sorted(order.index(i.pk) for i, _ in review)


def test_training_and_hidden_skill_are_counted_apart(graded_search, inspector):
    run, _ = graded_search
    TrainingPolicy.objects.update(pass_mark=0.0)
    answer_all(inspector, wrong_lenses=1)  # 3 lenses (1 missed), 3 non-lenses
    skill = grading.skill_of(inspector)
    assert (skill.train_lens_seen, skill.train_lens_right) == (3, 2)
    assert (skill.train_not_seen, skill.train_not_right) == (3, 3)
    assert skill.n_hidden == 0 and skill.p_lens_hidden == 0.5
    campaign = open_campaign(run, [inspector], known_fraction=0.3)
    known = campaign.assignments.filter(inspector=inspector, item__known__isnull=False)
    lenses = [a for a in known if a.item.known.is_lens]
    nots = [a for a in known if not a.item.known.is_lens]
    assert lenses and nots
    for a in known:
        grading.record_grade(a, 0)  # every hidden lens missed, every non-lens right
    skill = grading.skill_of(inspector)
    assert (skill.hidden_lens_seen, skill.hidden_lens_right) == (len(lenses), 0)
    assert (skill.hidden_not_seen, skill.hidden_not_right) == (len(nots), len(nots))
    assert skill.p_lens_hidden == pytest.approx(1 / (len(lenses) + 2))
    assert skill.p_lens_training == pytest.approx(3 / 5)
    # The consensus reads both together, as before.
    assert skill.p_lens == pytest.approx((2 + 0 + 1) / (3 + len(lenses) + 2))
    # A changed hidden grade moves the hidden count only.
    grading.record_grade(lenses[0], 2)
    skill = grading.skill_of(inspector)
    assert skill.hidden_lens_right == 1 and skill.train_lens_right == 2


def test_the_consensus_reads_the_same_known_grades_as_before(graded_search, inspector):
    """Dawid-Skene reads the current attempt's training answers and every
    hidden known item; a retaken attempt's answers leave it (as they did
    when retakes deleted them), the skill totals keep them."""
    from inspection.catalogues import services as catalogues

    TrainingPolicy.objects.update(pass_mark=0.9)
    answer_all(inspector, right=False)
    grading.retake_training(inspector)
    first = grading.training_items(inspector)[0]
    grading.answer_training(inspector, first.pk, 2)
    rows = catalogues._known_grades([inspector.pk])
    assert rows == [(("known", first.pk), inspector.pk, 2, first.is_lens)]
    skill = grading.skill_of(inspector)
    assert skill.n_training == 7 and skill.lens_seen + skill.not_seen == 7


def test_the_migration_splits_existing_skills(transactional_db, graded_search, inspector):
    """Skills counted before the split: the hidden part is recomputed from
    the grades of hidden known items, the rest is training."""
    from django.db.migrations.executor import MigrationExecutor

    run, _ = graded_search
    pass_training(inspector)  # 3 lenses, 3 non-lenses, all right
    campaign = open_campaign(run, [inspector], known_fraction=0.3)
    known = list(campaign.assignments.filter(inspector=inspector, item__known__isnull=False))
    for a in known:
        grading.record_grade(a, 2)
    n_lens = sum(a.item.known.is_lens for a in known)
    Skill.objects.update(train_lens_seen=0, train_lens_right=0, train_not_seen=0)
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("inspection", "0010_discussion")])
        executor.loader.build_graph()
        executor.migrate([("inspection", "0012_teaching")])
        skill = Skill.objects.get(inspector=inspector)
        assert (skill.train_lens_seen, skill.train_lens_right) == (3, 3)
        assert (skill.train_not_seen, skill.train_not_right) == (3, 3)
        assert (skill.hidden_lens_seen, skill.hidden_lens_right) == (n_lens, n_lens)
        assert (skill.hidden_not_seen, skill.hidden_not_right) == (len(known) - n_lens, 0)
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_skills_show_training_and_hidden_apart_on_the_admin_pages(
    graded_search, inspector, admin_client
):
    TrainingPolicy.objects.update(pass_mark=0.0)
    answer_all(inspector, wrong_lenses=1)
    for name in ("inspection:inspectors", "inspection:campaigns"):
        html = admin_client.get(reverse(name)).content.decode()
        row = html[html.index('data-inspector="ines"') :]
        row = row[: row.index("</tr>")]
        assert '<td class="training-skill">0.600</td>' in row  # (2 + 1) / (3 + 2)
        assert '<td class="training-seen">6</td>' in row
        assert '<td class="hidden-seen">0</td>' in row and "1 attempt" in row


# --- The JSON answer and the page without JavaScript ----------------------------------


@pytest.fixture
def browser_like(inspector):
    client = Client(enforce_csrf_checks=True)
    client.force_login(inspector)
    client.get(reverse("inspection:training"))
    client.token = client.cookies["csrftoken"].value
    return client


def post_json(client, body, **extra):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        reverse("inspection:training_answer_json"),
        raw,
        content_type=extra.pop("content_type", "application/json"),
        HTTP_X_CSRFTOKEN=extra.pop("token", client.token),
    )


def test_malformed_json_answers_are_400_in_json(graded_search, inspector, browser_like):
    item = grading.training_items(inspector)[0]
    for body in (
        b'{"id": ',
        b"[1, 2]",
        b"",
        {"id": item.pk},
        {"id": item.pk, "grade": 1.5},
        {"id": item.pk, "grade": True},
        {"id": item.pk, "grade": "two"},
        {"id": "x", "grade": 1},
        {"id": 2**70, "grade": 1},
    ):
        response = post_json(browser_like, body)
        assert response.status_code == 400, body
        assert response.json()["error"], body
    form = post_json(browser_like, f"id={item.pk}&grade=1".encode(), content_type="text/plain")
    assert form.status_code == 400 and "application/json" in form.json()["error"]
    assert not TrainingAnswer.objects.exists()
    # Not theirs: 404; a stale CSRF token: 403; both in JSON.
    _, known = graded_search
    stranger = known.items.exclude(pk__in=[i.pk for i in grading.training_items(inspector)])
    response = post_json(browser_like, {"id": stranger.first().pk, "grade": 1})
    assert response.status_code == 404 and response.json()["error"]
    response = post_json(browser_like, {"id": item.pk, "grade": 1}, token="b" * 32)
    assert response.status_code == 403 and "token" in response.json()["error"]
    assert browser_like.get(reverse("inspection:training_answer_json")).status_code == 405


def test_a_json_answer_brings_the_truth_the_next_item_and_at_the_end_the_review(
    graded_search, inspector, browser_like
):
    TrainingPolicy.objects.update(pass_mark=0.0)
    items = grading.training_items(inspector)
    lens = items[[i.is_lens for i in items].index(True)]
    for n, item in enumerate(items):
        grade = 0 if item == lens else (2 if item.is_lens else 0)
        response = post_json(browser_like, {"id": item.pk, "grade": grade})
        assert response.status_code == 200
        data = response.json()
        html = data["feedback_html"]
        reveal = reverse("inspection:training_reveal", args=[item.pk])
        assert data["feedback"]["item"] == item.pk and reveal in html
        assert data["feedback"]["correct"] is (item != lens)
        if item.is_lens:
            circle = grading.einstein_circle(item)
            assert 0 < circle < 0.5 and data["feedback"]["circle"] == circle
            assert f'r="{circle:.5f}"' in html
        else:
            assert "<circle" not in html
        if n + 1 < len(items):
            assert data["next"]["id"] == items[n + 1].pk and data["done_html"] is None
            assert data["next"]["images"]["r"].endswith(f"/{items[n + 1].pk}/r.png")
        else:
            assert data["next"] is None
            done = data["done_html"]
            assert 'id="training-passed"' in done and 'id="review"' in done
            assert done.count('class="review-item"') == 1
            assert reverse("inspection:training_reveal", args=[lens.pk]) in done


def test_the_page_without_javascript_shows_the_same_feedback(graded_search, inspector):
    client = Client()
    client.force_login(inspector)
    item = next(i for i in grading.training_items(inspector) if i.is_lens)
    response = client.post(reverse("inspection:training_answer"), {"item": item.pk, "grade": 0})
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert 'id="feedback"' in html and "Not quite." in html and "<circle" in html
    assert reverse("inspection:training_reveal", args=[item.pk]) in html
    assert 'id="question"' in html  # the next item below
    # No item's reveal is on the page before its answer.
    for pending in grading.training_items(inspector):
        if pending != item:
            assert reverse("inspection:training_reveal", args=[pending.pk]) not in html
