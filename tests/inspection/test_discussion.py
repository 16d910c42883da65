"""Discussion after blind grading: threads that open only once a candidate
and everything else the campaign shows the inspector are graded, comments
(forms, CSRF, length, escaping), the discussion index with disagreements
first, admins' final decisions in the catalogue exports, and a candidate's
context (prior lists within 16", sky viewer, FITS stamps)."""

import io

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from django.test import Client
from django.urls import reverse

from inspection.catalogues import services as catalogues
from inspection.discussion import context
from inspection.discussion import services as discussion
from inspection.grading import services as grading
from inspection.models import Assignment, Comment, Decision, Grade, PriorLens, PriorList
from simulations.stampset import read_stampset
from tests.conftest import _inspector
from tests.inspection.test_grading import open_campaign, pass_training

pytestmark = pytest.mark.django_db(transaction=True)


def page_of(campaign, assignment):
    return reverse("inspection:graded_candidate", args=[campaign.pk, assignment.pk])


def assignment_of(user, item):
    return Assignment.objects.get(item=item, inspector=user)


def finish(user, campaign, grade=0):
    """Grade whatever the campaign still shows the inspector: their
    discussion opens only then."""
    for a in Assignment.objects.filter(
        campaign=campaign, inspector=user, grade__isnull=True, withdrawn_at__isnull=True
    ).order_by("position"):
        grading.record_grade(a, grade)


@pytest.fixture
def two_graders(graded_search, inspector, other_inspector):
    """An open campaign for ines and otto (no known items); otto has graded
    and commented on the first candidate, ines has graded nothing."""
    run, _ = graded_search
    campaign = open_campaign(run, [inspector, other_inspector], known_fraction=0)
    for user in (inspector, other_inspector):
        pass_training(user)
    item = campaign.items.order_by("pk").first()
    grading.record_grade(assignment_of(other_inspector, item), 2, "otto's grading note")
    Comment.objects.create(item=item, author=other_inspector, text="otto sees an arc")
    return campaign, item


def test_it_keeps_a_thread_closed_until_the_inspector_has_graded_the_candidate(
    two_graders, inspector, client
):
    campaign, item = two_graders
    mine = assignment_of(inspector, item)
    client.force_login(inspector)
    before = client.get(page_of(campaign, mine))
    assert before.status_code == 403
    assert b"otto" not in before.content and b"arc" not in before.content
    fits_url = reverse("inspection:graded_fits", args=[campaign.pk, mine.pk, "r"])
    assert client.get(fits_url).status_code == 403
    assert client.post(page_of(campaign, mine), {"text": "early"}).status_code == 403
    index = client.get(reverse("inspection:my_discussion", args=[campaign.pk])).content.decode()
    assert item.source.name not in index and "otto" not in index
    assert not Comment.objects.filter(author=inspector).exists()

    grading.record_grade(mine, 0)
    # Graded, but other candidates are still to grade: the discussion stays
    # closed, or its index would say which of the grades were tests.
    still = client.get(page_of(campaign, mine))
    left = discussion.pending(inspector, campaign.pk)
    assert left > 0 and still.status_code == 403 and f"({left} left)" in still.content.decode()
    assert b"otto" not in still.content
    index = client.get(reverse("inspection:my_discussion", args=[campaign.pk])).content.decode()
    assert f"{left} left" in index and item.source.name not in index

    finish(inspector, campaign)
    after = client.get(page_of(campaign, mine)).content.decode()
    assert "otto sees an arc" in after
    assert "<td>otto</td><td>2</td>" in after and "<td>ines</td><td>0</td>" in after
    index = client.get(reverse("inspection:my_discussion", args=[campaign.pk])).content.decode()
    assert item.source.name in index and page_of(campaign, mine) in index


def test_inspectors_of_other_campaigns_never_see_the_thread(
    two_graders, inspector, other_inspector, client, django_user_model
):
    campaign, item = two_graders
    third = _inspector(django_user_model, "thea")
    pass_training(third)
    elsewhere = open_campaign(campaign.run, [third], known_fraction=0)
    theirs = elsewhere.assignments.get(item__source=item.source)
    grading.record_grade(theirs, 2)  # the same source, graded in another campaign
    client.force_login(third)
    otto_s = assignment_of(other_inspector, item)
    assert client.get(page_of(campaign, otto_s)).status_code == 404
    assert client.get(reverse("inspection:my_discussion", args=[campaign.pk])).status_code == 404
    own = client.get(page_of(elsewhere, theirs)).content.decode()
    assert "otto sees an arc" not in own and "otto" not in own
    # A draft campaign's candidates are the admins' alone, graded or not.
    draft = grading.create_campaign(campaign.run, "draft", [third], known_fraction=0)
    drafted = draft.assignments.first()
    Grade.objects.create(assignment=drafted, grade=1)
    assert client.get(page_of(draft, drafted)).status_code == 404


def test_known_items_have_no_thread(graded_search, inspector, client):
    run, _ = graded_search
    campaign = open_campaign(run, [inspector], known_fraction=0.3)
    pass_training(inspector)
    known = campaign.assignments.filter(item__known__isnull=False).first()
    grading.record_grade(known, 1)
    client.force_login(inspector)
    assert client.get(page_of(campaign, known)).status_code == 404
    index = client.get(reverse("inspection:my_discussion", args=[campaign.pk]))
    assert index.status_code == 200 and str(known.item.known) not in index.content.decode()


def test_a_comment_needs_the_csrf_token_is_length_limited_and_escaped(two_graders, inspector):
    campaign, item = two_graders
    mine = assignment_of(inspector, item)
    grading.record_grade(mine, 1)
    finish(inspector, campaign)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(inspector)
    url = page_of(campaign, mine)
    assert browser.post(url, {"text": "no token"}).status_code == 403
    token = browser.get(url).cookies["csrftoken"].value
    posted = browser.post(url, {"text": "<script>alert(1)</script> ring?"}, HTTP_X_CSRFTOKEN=token)
    assert posted.status_code == 302 and posted["Location"].endswith("#thread")
    too_long = browser.post(url, {"text": "x" * 2001}, HTTP_X_CSRFTOKEN=token)
    assert too_long.status_code == 400 and b"2000 characters" in too_long.content
    assert browser.post(url, {"text": "   "}, HTTP_X_CSRFTOKEN=token).status_code == 400
    assert list(Comment.objects.filter(author=inspector).values_list("text", flat=True)) == [
        "<script>alert(1)</script> ring?"
    ]
    shown = browser.get(url).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; ring?" in shown
    assert "<script>alert(1)" not in shown
    assert 'maxlength="2000"' in shown


def test_the_index_lists_disagreements_first(two_graders, inspector, other_inspector, admin):
    campaign, first = two_graders
    items = list(campaign.items.order_by("pk"))
    # otto gave the first candidate a 2 already; ines 0 on it: a disagreement.
    for item in reversed(items[:4]):
        grading.record_grade(assignment_of(inspector, item), 0 if item == first else 2)
    rows, n = discussion.discussion_index(campaign)
    assert n == len(items) and rows[0].item == first and rows[0].flagged
    assert rows[0].spread == 2 and rows[0].n_comments == 1
    assert not any(r.flagged for r in rows[1:])
    # Closed while ines has candidates left: a partial index would tell her
    # which of her grades were on known or injected items.
    assert discussion.pending(inspector, campaign.pk) > 0
    assert discussion.discussion_index(campaign, inspector=inspector) == ([], 0)
    finish(inspector, campaign, grade=1)
    mine, n_mine = discussion.discussion_index(campaign, inspector=inspector)
    graded = Assignment.objects.filter(
        campaign=campaign, inspector=inspector, item__source__isnull=False, grade__isnull=False
    )
    assert n_mine == graded.count() >= 4 and mine[0].item == first
    assert {r.link_pk for r in mine} == set(graded.values_list("pk", flat=True))
    client = Client()
    client.force_login(inspector)
    own = client.get(reverse("inspection:my_discussion", args=[campaign.pk])).content.decode()
    assert own.index(first.source.name) < own.index(items[1].source.name)
    assert page_of(campaign, assignment_of(inspector, first)) in own
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("inspection:discussion", args=[campaign.pk])).content.decode()
    assert page.index(first.source.name) < page.index(items[1].source.name)
    assert "grades differ by 2" in page


def test_an_admin_comments_and_decides_and_the_catalogue_exports_it(
    two_graders, admin_client, tmp_path
):
    campaign, item = two_graders
    url = reverse("inspection:campaign_item", args=[campaign.pk, item.pk])
    assert "otto sees an arc" in admin_client.get(url).content.decode()
    comment = reverse("inspection:item_comment", args=[campaign.pk, item.pk])
    assert admin_client.post(comment, {"text": "agreed: a lens"}).status_code == 302
    assert Comment.objects.filter(item=item).count() == 2
    decision = reverse("inspection:item_decision", args=[campaign.pk, item.pk])
    refused = admin_client.post(decision, {"verdict": "maybe", "reason": "x"})
    assert refused.status_code == 400 and b"not &#x27;maybe&#x27;" in refused.content
    assert admin_client.post(decision, {"verdict": "lens"}).status_code == 400
    assert not Decision.objects.exists()
    admin_client.post(decision, {"verdict": "unsure", "reason": "faint"})
    admin_client.post(decision, {"verdict": "lens", "reason": "arc at θ ≈ 1.2″, counter-image"})
    d = Decision.objects.get()
    assert (d.item, d.verdict, d.decided_by.username) == (item, "lens", "ada")
    assert "counter-image" in admin_client.get(url).content.decode()

    cat = catalogues.build(campaign)
    for suffix in (".csv", ".fits"):
        path = tmp_path / f"cat{suffix}"
        catalogues.export_catalogue(cat, path, "candidates")
        table = Table.read(path)
        row = table[list(table["name"]).index(item.source.name)]
        assert row["decision"] == "lens"
        reason = "arc at θ ≈ 1.2″, counter-image"
        assert row["decision_reason"] == (
            reason if suffix == ".csv" else reason.encode("ascii", "backslashreplace").decode()
        )  # FITS text is ASCII
        others = [r for r in table if r["name"] != item.source.name]
        assert all(np.ma.is_masked(r["decision"]) or r["decision"] == "" for r in others)


def test_a_further_votes_decision_is_the_catalogues_latest(two_graders, admin, other_inspector):
    campaign, item = two_graders
    discussion.decide(item, admin, "not-lens", "a spiral arm")
    child = grading.create_campaign(
        campaign.run, "again", [other_inspector], known_fraction=0, parent=campaign, parent_total=2
    )
    again = child.items.get(source=item.source)
    discussion.decide(again, admin, "lens", "the second round saw the counter-image")
    assert discussion.final_decisions(campaign)[item.source_id].verdict == "lens"
    with pytest.raises(discussion.DiscussionError):
        discussion.decide(item, admin, "perhaps", "")


def test_a_candidate_page_shows_prior_matches_within_16_arcsec_and_the_sky_viewer(
    two_graders, inspector, admin_client
):
    campaign, item = two_graders
    source = item.source
    near = PriorList.objects.create(name="near-list")
    cos = np.cos(np.radians(source.dec_deg))
    PriorLens.objects.create(
        prior_list=near,
        name="AT10",
        ra_deg=source.ra_deg,
        dec_deg=source.dec_deg + 10 / 3600,
        grade="A",
    )
    PriorLens.objects.create(
        prior_list=near,
        name="AT15RA",
        ra_deg=source.ra_deg + 15 / 3600 / cos,
        dec_deg=source.dec_deg,
    )
    PriorLens.objects.create(
        prior_list=near, name="AT20", ra_deg=source.ra_deg, dec_deg=source.dec_deg - 20 / 3600
    )
    viewer = (
        f"https://www.legacysurvey.org/viewer?ra={source.ra_deg:.6f}&amp;"
        f"dec={source.dec_deg:.6f}&amp;layer=ls-dr10&amp;zoom=16"
    )
    admin_page = admin_client.get(
        reverse("inspection:campaign_item", args=[campaign.pk, item.pk])
    ).content.decode()
    mine = assignment_of(inspector, item)
    grading.record_grade(mine, 1)
    finish(inspector, campaign)
    client = Client()
    client.force_login(inspector)
    inspector_page = client.get(page_of(campaign, mine)).content.decode()
    for page in (admin_page, inspector_page):
        assert "AT10" in page and "AT15RA" in page and "AT20" not in page
        assert page.index("AT10") < page.index("AT15RA")  # nearest first
        assert viewer in page


def test_fits_stamps_carry_the_band_and_the_position(two_graders, inspector, admin_client):
    campaign, item = two_graders
    source, survey = item.source, item.source.survey
    stamps = read_stampset(survey.stamps_file())
    mine = assignment_of(inspector, item)
    grading.record_grade(mine, 1)
    finish(inspector, campaign)
    client = Client()  # admin_client is the default client, logged in as the admin
    client.force_login(inspector)
    for band in survey.band_list:
        for response in (
            admin_client.get(
                reverse("inspection:stamp_fits", args=[survey.name, source.stamp_index, band])
            ),
            client.get(reverse("inspection:graded_fits", args=[campaign.pk, mine.pk, band])),
        ):
            assert response.status_code == 200 and response["Content-Type"] == "application/fits"
            with fits.open(io.BytesIO(response.content)) as hdul:
                header, data = hdul[0].header, hdul[0].data
            expected = stamps.cube[source.stamp_index, survey.band_list.index(band)]
            np.testing.assert_array_equal(data, expected)
            assert header["BAND"] == band and header["OBJECT"] == source.name
            assert header["RA"] == source.ra_deg and header["DEC"] == source.dec_deg
            assert header["PIXSCALE"] == survey.pixscale_arcsec
            assert header["CENPIX1"] == data.shape[1] // 2 + 1
            assert "CTYPE1" not in header  # no guessed WCS
    bad = reverse("inspection:graded_fits", args=[campaign.pk, mine.pk, "z"])
    assert client.get(bad).status_code == 404


def test_an_admin_opens_any_candidate_of_a_run(graded_search, admin_client):
    run, _ = graded_search
    score = run.candidates().select_related("source").first()
    url = reverse("inspection:run_candidate", args=[run.pk, score.source_id])
    page = admin_client.get(url).content.decode()
    assert score.source.name in page and 'id="prior-matches"' in page and "legacysurvey" in page
    missing = reverse("inspection:run_candidate", args=[run.pk, 10**6])
    assert admin_client.get(missing).status_code == 404


# --- Pure: the context ------------------------------------------------------------------


def test_the_sky_viewer_link_is_a_plain_link_at_the_position():
    url = context.legacy_viewer_url(133.69395833, -1.36031667)
    assert url == (
        "https://www.legacysurvey.org/viewer?ra=133.693958&dec=-1.360317&layer=ls-dr10&zoom=16"
    )


def test_a_fits_stamp_refuses_what_is_not_an_image():
    with pytest.raises(ValueError, match="2-d"):
        context.stamp_fits(np.zeros((2, 3, 3)), ra_deg=0, dec_deg=0, pixscale_arcsec=0.2, band="r")
    with pytest.raises(ValueError, match="positive"):
        context.stamp_fits(np.zeros((3, 3)), ra_deg=0, dec_deg=0, pixscale_arcsec=0, band="r")
