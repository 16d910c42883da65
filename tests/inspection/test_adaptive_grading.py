"""Retirement and escalation in live grading, and each grade's time on task:
withdrawn assignments leave the inspectors' lists but never a grade given,
concurrent grades of one item decide once, escalated items reach inspectors
who have not seen them, known items retire like candidates, and the campaign
page and exports report the gradings saved, the completeness lost and the
inspectors' effort."""

import csv
import io
import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from inspection.grading import adaptive
from inspection.grading import services as grading
from inspection.models import Assignment, Grade, GradeChange
from tests.inspection.test_grading import open_campaign, pass_training, post_grade

pytestmark = pytest.mark.django_db(transaction=True)


def trained(n, prefix="rev"):
    users = [grading.create_inspector(f"{prefix}{k}", password="pw-123456789")[0] for k in range(n)]
    for user in users:
        pass_training(user)
    return users


def adaptive_campaign(run, users, policy, **kw):
    campaign = open_campaign(run, users, known_fraction=kw.pop("known_fraction", 0), **kw)
    grading.set_policy(campaign, policy)
    return campaign


def client_of(user):
    c = Client()
    c.force_login(user)
    return c


def items_of(client, campaign):
    response = client.get(reverse("inspection:grade_items", args=[campaign.pk]))
    assert response.status_code == 200
    return [it["id"] for it in response.json()["items"]]


def own(campaign, user, item):
    return Assignment.objects.get(campaign=campaign, inspector=user, item=item)


# --- Retirement ------------------------------------------------------------------


def test_an_item_whose_first_k_grades_are_0_leaves_the_other_inspectors_lists(graded_search):
    run, _ = graded_search
    a, b, c = trained(3)
    campaign = adaptive_campaign(run, [a, b, c], adaptive.Policy(retire_after=2))
    item = campaign.items.first()
    n = campaign.items.count()
    assert post_grade(client_of(a), campaign, own(campaign, a, item).pk, 0).status_code == 200
    assert "withdrawn" in post_grade(client_of(a), campaign, own(campaign, a, item).pk, 0).json()
    answer = post_grade(client_of(b), campaign, own(campaign, b, item).pk, 0).json()
    assert answer["withdrawn"] == []  # b graded it: nothing of b's is withdrawn
    item.refresh_from_db()
    assert item.retired_at is not None
    withdrawn = own(campaign, c, item)
    assert withdrawn.withdrawn_at is not None
    assert withdrawn.pk not in items_of(client_of(c), campaign)
    assert len(items_of(client_of(c), campaign)) == n - 1
    assert own(campaign, a, item).pk in items_of(client_of(a), campaign)  # graded: still theirs
    cost = grading.retirement_cost(campaign)
    assert (cost.withdrawn, cost.retired, cost.assignments) == (1, 1, 3 * n)
    assert grading.progress_by_inspector(campaign)[2] == ("rev2", 0, n - 1)
    # c's next grade elsewhere tells c's page which assignment left its list.
    other = own(campaign, c, campaign.items.exclude(pk=item.pk).first())
    assert post_grade(client_of(c), campaign, other.pk, 1).json()["withdrawn"] == [withdrawn.pk]


def test_a_grade_sent_to_a_withdrawn_assignment_is_saved_all_the_same(graded_search):
    run, _ = graded_search
    a, b, c = trained(3)
    campaign = adaptive_campaign(run, [a, b, c], adaptive.Policy(retire_after=2))
    item = campaign.items.first()
    for user in (a, b):
        post_grade(client_of(user), campaign, own(campaign, user, item).pk, 0)
    late = own(campaign, c, item)  # c's page showed it before it retired
    response = post_grade(client_of(c), campaign, late.pk, 2)
    assert response.status_code == 200 and response.json()["grade"] == 2
    assert Grade.objects.get(assignment=late).grade == 2
    assert late.pk in items_of(client_of(c), campaign)
    assert grading.retirement_cost(campaign).withdrawn == 0  # graded: no grading saved


def test_an_item_comes_back_when_one_of_its_first_k_grades_changes(graded_search):
    run, _ = graded_search
    a, b, c = trained(3)
    campaign = adaptive_campaign(run, [a, b, c], adaptive.Policy(retire_after=2))
    item = campaign.items.first()
    for user in (a, b):
        post_grade(client_of(user), campaign, own(campaign, user, item).pk, 0)
    post_grade(client_of(a), campaign, own(campaign, a, item).pk, 1)  # a thinks again
    item.refresh_from_db()
    assert item.retired_at is None
    assert own(campaign, c, item).withdrawn_at is None
    assert own(campaign, c, item).pk in items_of(client_of(c), campaign)


def test_concurrent_grades_of_one_item_are_all_kept_and_decide_once(graded_search):
    """Four inspectors grade the same items at the same moment (two 0s, two
    2s): every grade is saved, and an item is retired exactly when the first
    two grades the server saved were 0s."""
    run, _ = graded_search
    users = trained(4)
    campaign = adaptive_campaign(run, users, adaptive.Policy(retire_after=2))
    items = list(campaign.items.order_by("pk")[:4])
    barrier = threading.Barrier(len(users))
    errors = []

    def work(user, value):
        try:
            c = client_of(user)
            for item in items:
                barrier.wait(timeout=30)
                response = post_grade(c, campaign, own(campaign, user, item).pk, value)
                assert response.status_code == 200, response.content
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, args=(u, v)) for u, v in zip(users, (0, 0, 2, 2), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for item in items:
        item.refresh_from_db()
        grades = list(Grade.objects.filter(assignment__item=item).order_by("pk"))
        assert len(grades) == 4  # nobody lost a grade
        assert (item.retired_at is not None) == ([g.grade for g in grades[:2]] == [0, 0])
    assert GradeChange.objects.count() == 16


def test_changing_k_applies_to_the_grades_already_given(graded_search, admin_client):
    run, _ = graded_search
    a, b = trained(2)
    campaign = open_campaign(run, [a, b], known_fraction=0)
    item = campaign.items.first()
    post_grade(client_of(a), campaign, own(campaign, a, item).pk, 0)
    url = reverse("inspection:campaign_adaptive", args=[campaign.pk])
    response = admin_client.post(url, {"retire_after": "1", "escalate_to": "off"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.retired_at is not None and own(campaign, b, item).withdrawn_at is not None
    admin_client.post(url, {"retire_after": "", "escalate_to": "off"})  # retirement off
    assert own(campaign, b, item).withdrawn_at is None


@pytest.mark.parametrize(
    "form, reason",
    [
        ({"retire_after": "0", "escalate_to": "off"}, "greater than or equal to 1"),
        ({"retire_after": "two", "escalate_to": "off"}, "Give k as a whole number"),
        ({"escalate_to": "talk"}, "Escalate to off, inspectors or discussion"),
        ({"escalate_to": "inspectors", "escalate_extra": "0"}, "greater than or equal to 1"),
        ({"escalate_to": "discussion", "escalate_band": "0.7"}, "less than or equal to 0.5"),
        ({"escalate_to": "discussion", "escalate_band": "nan"}, "Give the band"),
    ],
)
def test_the_settings_form_refuses_what_it_cannot_use(graded_search, admin_client, form, reason):
    run, _ = graded_search
    campaign = open_campaign(run, trained(1), known_fraction=0)
    url = reverse("inspection:campaign_adaptive", args=[campaign.pk])
    response = admin_client.post(url, form)
    assert response.status_code == 400
    assert reason in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.retire_after is None and campaign.escalate_to == "off"


# --- Escalation ----------------------------------------------------------------------


def test_a_disagreement_goes_to_inspectors_who_have_not_seen_the_item(graded_search):
    run, _ = graded_search
    a, b = trained(2)
    outsiders = trained(3, prefix="extra")
    campaign = adaptive_campaign(run, [a, b], adaptive.Policy(escalate_to="inspectors", extra=2))
    item = campaign.items.first()
    post_grade(client_of(a), campaign, own(campaign, a, item).pk, 0)
    item.refresh_from_db()
    assert item.escalated_at is None  # b has not graded it yet
    post_grade(client_of(b), campaign, own(campaign, b, item).pk, 2)
    item.refresh_from_db()
    assert item.escalated_at is not None and "differ by 2" in item.escalation
    extra = list(Assignment.objects.filter(item=item, extra=True))
    assert len(extra) == 2 and {x.inspector for x in extra} <= set(outsiders)
    for x in extra:
        assert x.position == 0  # they held nothing of this campaign: first in their order
        assert x.inspector in campaign.inspectors.all()
        assert items_of(client_of(x.inspector), campaign) == [x.pk]
    helper = extra[0].inspector
    assert post_grade(client_of(helper), campaign, extra[0].pk, 1).status_code == 200
    assert Assignment.objects.filter(item=item, extra=True).count() == 2  # escalated once


def test_a_disagreement_can_go_to_a_discussion_flag_instead(graded_search, admin_client):
    run, _ = graded_search
    a, b = trained(2)
    trained(1, prefix="extra")
    campaign = adaptive_campaign(run, [a, b], adaptive.Policy(escalate_to="discussion"))
    item = campaign.items.first()
    post_grade(client_of(a), campaign, own(campaign, a, item).pk, 2)
    post_grade(client_of(b), campaign, own(campaign, b, item).pk, 0)
    item.refresh_from_db()
    assert item.escalation == f"{adaptive.DISAGREE}: to discussion"
    assert not Assignment.objects.filter(extra=True).exists()
    page = admin_client.get(reverse("inspection:campaign", args=[campaign.pk])).content.decode()
    assert item.source.name in page.split('id="escalated"')[1]


def test_a_posterior_near_one_half_is_escalated(graded_search):
    run, _ = graded_search
    a, b = trained(2)
    campaign = adaptive_campaign(
        run, [a, b], adaptive.Policy(escalate_to="discussion", band=0.5)
    )  # every posterior lies within 0.5 of 0.5
    item = campaign.items.first()
    for user in (a, b):
        post_grade(client_of(user), campaign, own(campaign, user, item).pk, 1)
    item.refresh_from_db()
    assert item.escalation.startswith(adaptive.NEAR_THRESHOLD)
    grading.set_policy(campaign, adaptive.Policy(escalate_to="discussion", band=0.01))
    other = campaign.items.exclude(pk=item.pk).first()
    for user in (a, b):
        post_grade(client_of(user), campaign, own(campaign, user, other).pk, 1)
    other.refresh_from_db()
    p = grading._posterior(other, campaign, [(1, a.pk), (1, b.pk)])
    assert (other.escalated_at is not None) == (abs(p - 0.5) <= 0.01)


# --- Known items ---------------------------------------------------------------------


def test_known_items_retire_like_candidates_and_measure_the_completeness_lost(
    graded_search, admin_client
):
    run, _ = graded_search
    a, b = trained(2)
    campaign = adaptive_campaign(run, [a, b], adaptive.Policy(retire_after=1), known_fraction=0.3)
    known = list(campaign.items.filter(known__isnull=False).select_related("known"))
    lenses = [k for k in known if k.known.is_lens]
    assert lenses and len(known) > len(lenses)
    for item in known:  # a grades every known item 0; a lens retired as 0 is a lens lost
        answer = post_grade(client_of(a), campaign, own(campaign, a, item).pk, 0).json()
    assert answer["withdrawn"] == []  # a graded them: nothing of a's left
    withdrawn = set(grading.withdrawn_ids(campaign, b))
    assert withdrawn == {own(campaign, b, item).pk for item in known}  # lenses and non-lenses
    cost = grading.retirement_cost(campaign)
    assert (cost.known_lenses, cost.known_lenses_retired) == (len(lenses), len(lenses))
    page = admin_client.get(reverse("inspection:campaign", args=[campaign.pk])).content.decode()
    assert f"{len(lenses)} of {len(lenses)} known lenses retired as 0" in page
    assert f"{len(known)} of {cost.assignments} assignments withdrawn" in page


# --- Time on task ----------------------------------------------------------------------


def test_each_grade_keeps_its_time_on_task_and_a_change_adds_to_it(graded_search, inspector):
    run, _ = graded_search
    pass_training(inspector)
    campaign = open_campaign(run, [inspector], known_fraction=0)
    c = client_of(inspector)
    a, b = campaign.assignments.filter(inspector=inspector)[:2]
    assert post_grade(c, campaign, a.pk, 1, seconds=3.5).status_code == 200
    post_grade(c, campaign, a.pk, 1, seconds=9)  # the same grade again: nothing changes
    post_grade(c, campaign, a.pk, 2, seconds=1.25)
    post_grade(c, campaign, b.pk, 0)  # an older page sends no time
    grade = Grade.objects.get(assignment=a)
    assert grade.seconds == pytest.approx(4.75)
    assert list(grade.history.values_list("seconds", flat=True)) == [3.5, 1.25]
    assert Grade.objects.get(assignment=b).seconds is None


@pytest.mark.parametrize("seconds", [-1, 1e6, "5", True, [1]])
def test_a_malformed_time_on_task_answers_400_in_json_and_saves_nothing(
    graded_search, inspector, seconds
):
    run, _ = graded_search
    pass_training(inspector)
    campaign = open_campaign(run, [inspector], known_fraction=0)
    a = campaign.assignments.filter(inspector=inspector).first()
    response = post_grade(client_of(inspector), campaign, a.pk, 1, seconds=seconds)
    assert response.status_code == 400 and "seconds" in response.json()["error"]
    assert not Grade.objects.exists()


def test_the_campaign_page_and_exports_report_effort_by_inspector_code(graded_search, admin_client):
    run, _ = graded_search
    a, b = trained(2)
    campaign = open_campaign(run, [a, b], known_fraction=0)
    items = list(campaign.items.order_by("pk")[:3])
    for item, (sa, sb) in zip(items, [(2.0, 10.0), (4.0, 20.0), (6.0, None)], strict=True):
        post_grade(client_of(a), campaign, own(campaign, a, item).pk, 0, seconds=sa)
        post_grade(client_of(b), campaign, own(campaign, b, item).pk, 2, seconds=sb)
    page = admin_client.get(reverse("inspection:campaign", args=[campaign.pk])).content.decode()
    table = page.split('id="effort-inspectors"')[1].split("</table>")[0]
    assert "rev0" in table and "3 (3)" in table and "900" in table  # 3 items in 12 s
    assert "3 (2)" in table and "240" in table  # 2 timed items in 30 s
    assert "grade 0: 4.0; grade 1: –; grade 2: 15.0" in page

    def export(which, fmt):
        url = reverse("inspection:campaign_effort", args=[campaign.pk, which, fmt])
        response = admin_client.get(url)
        assert response.status_code == 200
        assert "attachment" in response["Content-Disposition"]
        return response.content.decode()

    grades = list(csv.DictReader(io.StringIO(export("grades", "csv"))))
    assert len(grades) == 6 and {g["inspector"] for g in grades} == {"I1", "I2"}
    assert sorted(g["seconds"] for g in grades if g["inspector"] == "I2") == ["", "10.0", "20.0"]
    summary = json.loads(export("inspectors", "json"))
    assert [r["inspector"] for r in summary["inspectors"]] == ["I1", "I2"]
    assert summary["inspectors"][0]["per_hour"] == pytest.approx(900)
    assert summary["median_s_by_grade"] == {"0": 4.0, "1": None, "2": 15.0}
    assert "rev0" not in export("grades", "json")  # codes, never logins
    url = reverse("inspection:campaign_effort", args=[campaign.pk, "grades", "xlsx"])
    assert admin_client.get(url).status_code == 404


def test_inspectors_cannot_reach_the_effort_exports_or_the_settings(graded_search, inspector):
    run, _ = graded_search
    pass_training(inspector)
    campaign = open_campaign(run, [inspector], known_fraction=0)
    c = client_of(inspector)
    url = reverse("inspection:campaign_effort", args=[campaign.pk, "grades", "csv"])
    assert c.get(url).status_code == 403
    url = reverse("inspection:campaign_adaptive", args=[campaign.pk])
    assert c.post(url, {"retire_after": "1", "escalate_to": "off"}).status_code == 403


def test_the_catalogue_flags_a_retired_item_retired_and_expects_only_its_holders_grades(
    graded_search,
):
    """A retired item has fewer grades by design: the catalogue says
    "retired", not "incomplete"; an item every holder has graded is not
    incomplete, and one a holder has yet to grade is."""
    from inspection.catalogues import services as catalogues

    run, _ = graded_search
    a, b, c = trained(3, prefix="cat")
    campaign = adaptive_campaign(run, [a, b, c], adaptive.Policy(retire_after=2))
    retired, full, partial = campaign.items.filter(source__isnull=False)[:3]
    for user in (a, b):
        post_grade(client_of(user), campaign, own(campaign, user, retired).pk, 0)
    for user in (a, b, c):
        post_grade(client_of(user), campaign, own(campaign, user, full).pk, 2)
    post_grade(client_of(a), campaign, own(campaign, a, partial).pk, 1)
    catalogue = catalogues.build(campaign)
    row = {item_id: n for n, item_id in enumerate(catalogue.item_ids)}
    assert "retired" in catalogue.flags(row[retired.pk]).split(",")
    assert "incomplete" not in catalogue.flags(row[retired.pk])
    assert "incomplete" not in catalogue.flags(row[full.pk])
    assert "incomplete" in catalogue.flags(row[partial.pk])
