"""Consensus catalogues on a real graded campaign: totals, the high-probability
and further-vote sets, the skill-weighted posterior, agreement, prior lists,
exports, the gallery and the pages."""

import io

import numpy as np
import pytest
from astropy.table import Table
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from PIL import Image

from classifier.calibration import prior_shift
from inspection.catalogues import services as catalogues
from inspection.grading import services as grading
from inspection.grading.services import create_inspector
from inspection.models import Assignment, Campaign, PriorList, Skill
from inspection.scoring import services as runs

pytestmark = pytest.mark.django_db

# Grades of three inspectors for the first eight candidates (by stamp index);
# later candidates stay ungraded by the third inspector only.
PATTERN = [
    (2, 2, 2),  # total 6: high
    (2, 1, 1),  # 4: high
    (1, 1, 1),  # 3: further vote
    (2, 1, 0),  # 3: further vote, grades differ by 2
    (0, 0, 0),
    (1, 0, 0),
    (0, 2, 0),  # 2, differ by 2
    (2, 2, 1),  # 5: high
]


@pytest.fixture
def three(db):
    return [create_inspector(f"insp{k}", password="pw-123456789")[0] for k in range(3)]


@pytest.fixture
def campaign(graded_search, three):
    run, _ = graded_search
    campaign = grading.create_campaign(run, "round 1", three, known_fraction=0)
    grading.set_status(campaign, "open")
    items = list(campaign.items.order_by("source__stamp_index"))
    assert len(items) > len(PATTERN)
    for item, grades in zip(items, PATTERN, strict=False):
        for user, g in zip(three, grades, strict=True):
            grading.record_grade(Assignment.objects.get(item=item, inspector=user), g)
    for item in items[len(PATTERN) :]:
        for user in three[:2]:
            grading.record_grade(Assignment.objects.get(item=item, inspector=user), 0)
    # Skills as if measured on known items (smoothed fractions: (right+1)/(seen+2)).
    for user, (lr, ls, nr, ns) in zip(three, [(8, 8, 8, 8), (6, 8, 2, 8), (4, 8, 4, 8)],
                                      strict=True):  # fmt: skip
        Skill.objects.update_or_create(
            inspector=user, defaults=dict(lens_right=lr, lens_seen=ls, not_right=nr, not_seen=ns)
        )
    return campaign


def test_totals_make_the_high_probability_and_further_vote_sets(campaign):
    cat = catalogues.build(campaign)
    assert cat.codes == ["I1", "I2", "I3"]
    head = len(PATTERN)
    assert cat.totals[:head].tolist() == [sum(g) for g in PATTERN]
    assert cat.n_grades[head:].tolist() == [2] * (len(cat.sources) - head)
    assert np.flatnonzero(cat.high).tolist() == [0, 1, 7]
    assert np.flatnonzero(cat.vote).tolist() == [2, 3]
    assert np.flatnonzero(cat.disagree).tolist() == [3, 6]
    assert cat.flags(3) == "disagree,further-vote"
    assert "incomplete" in cat.flags(head)
    # A stricter catalogue is one setting away.
    campaign.high_total = 5
    assert np.flatnonzero(catalogues.build(campaign).high).tolist() == [0, 7]


def test_the_posterior_starts_at_the_score_at_the_survey_prior_and_weighs_each_grade(campaign):
    cat = catalogues.build(campaign)
    run = campaign.run
    skills = [Skill.objects.get(inspector_id=i) for i in cat.inspector_ids]
    for i in (0, 3, 5, len(PATTERN)):
        score = min(max(cat.scores[i], 1e-3), 1 - 1e-3)
        p = prior_shift(score, run.network.train_prior, run.survey.lens_prior)
        assert cat.p_prior[i] == pytest.approx(p)
        # Space Warps by hand (Marshall et al. 2016): a 1 or 2 says "lens".
        for skill, g in zip(skills, cat.grades[i], strict=True):
            if g != g:
                continue
            pl, pd = skill.p_lens, skill.p_not
            if g >= 1:
                p = pl * p / (pl * p + (1 - pd) * (1 - p))
            else:
                p = (1 - pl) * p / ((1 - pl) * p + pd * (1 - p))
        assert cat.posterior[i] == pytest.approx(p, rel=1e-9)
    # Unanimous 2s from skilled inspectors raise the odds; unanimous 0s lower them.
    assert cat.posterior[0] > cat.p_prior[0] and cat.posterior[4] < cat.p_prior[4]
    # The rankings differ: by total, the unanimous 2s lead; the posterior also weighs skill.
    assert cat.rank("total")[0] == 0
    assert sorted(cat.rank("posterior").tolist()) == list(range(len(cat.sources)))


def test_agreement_figures_come_from_the_first_round(campaign):
    agree = catalogues.agreement(catalogues.build(campaign))
    assert -1 <= agree["fleiss_kappa"] <= 1 and -1 <= agree["alpha_ordinal"] <= 1
    assert agree["n_disagree"] == 2
    assert [r["code"] for r in agree["inspectors"]] == ["I1", "I2", "I3"]
    # Inspector I1 grades higher than the others on the shared candidates.
    assert agree["inspectors"][0]["bias"] > 0 > agree["inspectors"][2]["bias"]
    assert agree["pairwise"].shape == (3, 3)


def test_a_perfectly_agreeing_campaign_has_kappa_and_alpha_one(graded_search, three):
    run, _ = graded_search
    campaign = grading.create_campaign(run, "agree", three, known_fraction=0)
    grading.set_status(campaign, "open")
    for n, item in enumerate(campaign.items.order_by("source__stamp_index")):
        for user in three:
            grading.record_grade(Assignment.objects.get(item=item, inspector=user), n % 3)
    agree = catalogues.agreement(catalogues.build(campaign))
    assert agree["fleiss_kappa"] == pytest.approx(1.0)
    assert agree["alpha_ordinal"] == pytest.approx(1.0)
    assert all(r["bias"] == 0 for r in agree["inspectors"])


def test_a_further_vote_in_one_click_decides_the_candidates_at_total_3(campaign, admin_client):
    campaign.class_a_min = 1.7
    campaign.save()
    response = admin_client.post(reverse("inspection:further_vote", args=[campaign.pk]))
    child = Campaign.objects.get(parent=campaign)
    assert child.class_bounds == (1.7, 1.0, 0.5)  # the parent's grade classes
    assert response.status_code == 302 and response["Location"].endswith(f"/{child.pk}/")
    assert child.parent_total == 3 and set(child.inspectors.all()) == set(campaign.inspectors.all())
    cat = catalogues.build(campaign)
    held = {cat.sources[i].pk for i in (2, 3)}
    assert set(child.items.values_list("source_id", flat=True)) == held
    before = cat
    grading.set_status(child, "open")
    for a in child.assignments.select_related("item"):
        # The second round keeps candidate 2 (total 6) and rejects candidate 3 (total 0).
        grading.record_grade(a, 2 if a.item.source_id == cat.sources[2].pk else 0)
    cat = catalogues.build(campaign)
    assert cat.second_total[2] == 6 and cat.second_total[3] == 0
    assert np.flatnonzero(cat.high).tolist() == [0, 1, 2, 7]
    assert np.isnan(cat.second_total[0])
    # The second-round grades are evidence for the posterior too; the others keep theirs.
    assert cat.posterior[2] > before.posterior[2] and cat.posterior[3] < before.posterior[3]
    assert cat.posterior[0] == before.posterior[0]
    # ... and for the Dawid-Skene posterior, through the same inspectors' matrices.
    assert cat.ds.n_graded.tolist() == [g + 2 for g in before.ds.n_graded.tolist()]
    assert cat.p_ds[2] > before.p_ds[2] and cat.p_ds[3] < before.p_ds[3]
    # A candidate's page walks through the same posterior, grade by grade, both rounds.
    path = catalogues.posterior_path(child, cat.sources[2])
    assert [label for label, _, _ in path] == [
        "network score at the survey prior", "I1", "I2", "I3",
        "I1 (round 2)", "I2 (round 2)", "I3 (round 2)",
    ]  # fmt: skip
    assert path[0][2] == pytest.approx(cat.p_prior[2]) and path[-1][2] == pytest.approx(
        cat.posterior[2]
    )
    url = reverse("inspection:campaign_item", args=[campaign.pk, cat.item_ids[2]])
    item = admin_client.get(url)
    assert 'id="posterior-path"' in item.content.decode()
    page = admin_client.get(reverse("inspection:catalogue", args=[campaign.pk])).content.decode()
    assert child.name in page


def _prior_file(tmp_path, cat):
    """A prior list: two high-probability candidates (one 0.8" off), an LRG
    the inspectors rejected (1.2" off), all in sexagesimal; a duplicate row;
    and two lenses far from any LRG."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    rows = []
    for i, offset in ((0, 0.8), (1, 0.0), (4, 1.2)):
        s = cat.sources[i]
        c = SkyCoord(s.ra_deg, s.dec_deg, unit="deg").directional_offset_by(
            90 * u.deg, offset * u.arcsec
        )
        rows.append((f"L{i}", c.ra.to_string("hour", sep=":", precision=4),
                     c.dec.to_string(sep=":", precision=3, alwayssign=True), "A"))  # fmt: skip
    rows.append(("L1-again", str(cat.sources[1].ra_deg), str(cat.sources[1].dec_deg), "B"))
    rows.append(("far1", "10.0", "-60.0", "B"))
    rows.append(("far2", "200.0", "45.0", "C"))
    path = tmp_path / "priors.csv"
    path.write_text("Name,RAJ2000,DEJ2000,Grade\n" + "\n".join(",".join(r) for r in rows))
    return path


def test_prior_lists_are_cross_matched_as_he_et_al_report_them(campaign, tmp_path):
    cat = catalogues.build(campaign)
    path = _prior_file(tmp_path, cat)
    prior = catalogues.add_prior_list("earlier", path)
    assert (prior.n_read, prior.n_duplicates, prior.lenses.count()) == (6, 1, 5)
    # The network's threshold now leaves candidate 4 out of the run's candidates.
    run = runs.set_threshold(campaign.run, threshold_logit=float(np.nextafter(cat.logits[4], 99)))
    report = catalogues.prior_report(cat, [prior], radius_arcsec=2.0)
    (row,) = report.lists
    assert (row["n"], row["in_sample"], row["kept"]) == (5, 3, 2)
    # Of the three in the sample, candidate 4 is now below the threshold.
    assert row["selected"] == sum(cat.logits[i] >= run.threshold_logit for i in (0, 1))
    assert report.match[0] == "earlier:L0" and report.separation_arcsec[0] == pytest.approx(
        0.8, abs=0.01
    )
    assert report.match[1] == "earlier:L1" and report.separation_arcsec[1] < 0.01
    assert sorted(report.matched) == [0, 1, 4] and report.matched[0][0] == "L0"
    assert report.matched[1][1:] == pytest.approx((cat.sources[1].ra_deg, cat.sources[1].dec_deg))
    assert np.flatnonzero(report.new).tolist() == [7]  # the one high candidate in no list
    # A tighter radius loses the 0.8" and 1.2" matches, never silently all of them.
    tight = catalogues.prior_report(cat, [prior], radius_arcsec=0.5)
    assert tight.lists[0]["in_sample"] == 1 and np.flatnonzero(tight.new).tolist() == [0, 7]


def test_a_prior_list_without_coordinates_is_refused_and_stores_nothing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,x,y\nA,1,2\n")
    with pytest.raises(catalogues.CatalogueError, match="x, y|columns"):
        catalogues.add_prior_list("bad", path)
    with pytest.raises(CommandError):
        call_command("add_prior_list", "bad", str(path))
    path.write_text("name,ra,dec\nA,10,95\n")
    with pytest.raises(CommandError, match="(?i)dec"):
        call_command("add_prior_list", "bad", str(path))
    assert not PriorList.objects.exists()
    with pytest.raises(catalogues.CatalogueError, match="field=COLUMN"):
        catalogues.parse_columns("ra:RAJ2000")


def test_the_bundled_lenscat_list_is_offered_offline():
    prior = catalogues.add_lenscat()
    assert prior.lenses.count() > 30000
    ra, dec = zip(*prior.lenses.values_list("ra_deg", "dec_deg")[:2000], strict=True)
    assert min(ra) >= 0 and max(ra) < 360 and min(dec) >= -90 and max(dec) <= 90
    with pytest.raises(catalogues.CatalogueError, match="exists already"):
        catalogues.add_lenscat()


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".fits", ".vot"])
def test_exports_round_trip_through_astropy_with_all_columns(campaign, tmp_path, suffix):
    cat = catalogues.build(campaign)
    prior = catalogues.add_prior_list("earlier", _prior_file(tmp_path, cat))
    report = catalogues.prior_report(cat, [prior])
    path = tmp_path / f"high{suffix}"
    assert catalogues.export_catalogue(cat, path, "high", report) == 3
    t = Table.read(path)
    for column in ("name", "ra", "dec", "score", "logit", "p_prior", "posterior", "grade_I1",
                   "grade_I2", "grade_I3", "total", "n_grades", "rank_total", "rank_posterior",
                   "high_probability", "flags", "prior_match", "prior_sep", "new", "p_ds",
                   "mean_grade", "grade_class", "rank_ds"):  # fmt: skip
        assert column in t.colnames, column
    assert "insp0" not in " ".join(t.colnames)  # codes, never logins
    assert [str(n) for n in t["name"]] == [cat.sources[i].name for i in (0, 7, 1)]
    assert t["total"].tolist() == [6, 5, 4]
    assert np.allclose(t["posterior"], cat.posterior[[0, 7, 1]])
    assert np.allclose(t["p_ds"], cat.p_ds[[0, 7, 1]])
    assert [str(c) for c in t["grade_class"]] == ["A", "A", "B"]  # He et al.'s high: A, A, B
    assert np.allclose(t["mean_grade"], [2, 5 / 3, 4 / 3])
    if suffix in (".ecsv", ".fits"):  # formats whose reader returns the header
        assert (t.meta["CLASSA"], t.meta["CLASSB"], t.meta["CLASSC"]) == (1.5, 1.0, 0.5)
    assert t["logit"].tolist() == cat.logits[[0, 7, 1]].tolist()
    assert str(t["prior_match"][0]) == "earlier:L0" and bool(t["new"][1])
    if suffix != ".csv":
        assert t["ra"].unit == "deg" and t["prior_sep"].unit == "arcsec"
    everything = Table.read(path, format="ascii.csv") if suffix == ".csv" else None
    assert everything is None or len(everything) == 3
    # Every candidate, with the ungraded ones masked.
    all_path = tmp_path / f"all{suffix}"
    catalogues.export_catalogue(cat, all_path, "candidates", report)
    t = Table.read(all_path)
    assert len(t) == len(cat.sources)
    assert np.ma.count_masked(t["grade_I3"]) == len(cat.sources) - len(PATTERN)


def test_export_catalogue_writes_the_file_and_prints_the_summary(campaign, tmp_path):
    out, gallery = tmp_path / "cat.fits", tmp_path / "gallery.png"
    text = io.StringIO()
    call_command("export_catalogue", str(campaign.pk), "--out", str(out), "--gallery",
                 str(gallery), stdout=text)  # fmt: skip
    printed = text.getvalue()
    assert "Wrote 3 rows" in printed and "3 high probability" in printed
    assert "Fleiss' kappa" in printed and "New high-probability candidates" in printed
    assert "Grade classes by mean grade (A >= 1.5, B >= 1, C >= 0.5): A 2, B 3, C 1" in printed
    assert len(Table.read(out)) == 3
    assert Image.open(gallery).format == "PNG"
    with pytest.raises(CommandError, match="No campaign"):
        call_command("export_catalogue", "999999", "--out", str(out))
    with pytest.raises(CommandError, match="format"):
        call_command("export_catalogue", str(campaign.pk), "--out", str(tmp_path / "x.txt"))
    with pytest.raises(CommandError, match="No prior list nope"):
        call_command("export_catalogue", str(campaign.pk), "--prior-list", "nope")
    with pytest.raises(CommandError, match="radius"):
        call_command("export_catalogue", str(campaign.pk), "--radius", "0")


def test_the_gallery_shows_the_selection_best_first(campaign):
    cat = catalogues.build(campaign)
    one = Image.open(io.BytesIO(catalogues.gallery_png(cat, "high", columns=3)))
    many = Image.open(io.BytesIO(catalogues.gallery_png(cat, "candidates", columns=3)))
    assert one.format == "PNG" and one.width == many.width
    assert many.height > one.height  # more rows of stamps
    with pytest.raises(catalogues.CatalogueError, match="prior lists"):
        catalogues.gallery_png(cat, "new")


def test_the_catalogue_pages_show_consensus_agreement_and_dashboards(campaign, admin_client,
                                                                     tmp_path):  # fmt: skip
    cat = catalogues.build(campaign)
    catalogues.add_prior_list("earlier", _prior_file(tmp_path, cat))
    listing = admin_client.get(reverse("inspection:catalogues")).content.decode()
    assert "round 1" in listing and "earlier" in listing and "lenscat" in listing
    page = admin_client.get(reverse("inspection:catalogue", args=[campaign.pk])).content.decode()
    markers = ['id="n-high">3<', 'id="n-vote">2', "Fleiss", 'id="by-total"', 'id="by-posterior"',
               "Send to a further vote", 'id="n-new">1<', 'id="by-ds"', 'id="ds-matrices"',
               "A 2, B 3, C 1"]  # fmt: skip
    markers += [f'id="fig-{k}"' for k in ("funnel", "totals", "score", "sky", "agreement")]
    for marker in markers:
        assert marker in page, marker
    sky = page.split('id="fig-sky"')[1].split("</script>")[0]
    assert '"L0"' in sky and '"far1"' not in sky  # matched prior entries only
    assert "insp0" not in page.split('id="bias"')[1].split("</table>")[0]
    matrices = page.split('id="ds-matrices"')[1].split("</table>")[0]
    assert "insp0" not in matrices and matrices.count("<tr><td>I") == 3
    export = admin_client.get(reverse("inspection:catalogue_export",
                                      args=[campaign.pk, "high", "ecsv"]))  # fmt: skip
    assert export.status_code == 200
    assert len(Table.read(b"".join(export.streaming_content).decode(), format="ascii.ecsv")) == 3
    png = admin_client.get(reverse("inspection:catalogue_gallery", args=[campaign.pk, "high"]))
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    bad = admin_client.get(
        reverse("inspection:catalogue_export", args=[campaign.pk, "high", "csv"]) + "?radius=-1"
    )
    assert bad.status_code == 400 and "radius" in bad.content.decode()


def test_an_ungraded_campaign_has_an_empty_catalogue_not_an_error(
    graded_search, three, admin_client, tmp_path
):
    run, _ = graded_search
    campaign = grading.create_campaign(run, "fresh", three, known_fraction=0)
    cat = catalogues.build(campaign)
    assert cat.high.sum() == 0 and cat.vote.sum() == 0
    agree = catalogues.agreement(cat)
    assert agree["fleiss_kappa"] is None and agree["alpha_ordinal"] is None
    page = admin_client.get(reverse("inspection:catalogue", args=[campaign.pk]))
    assert page.status_code == 200 and "too few grades" in page.content.decode()
    out = tmp_path / "empty.fits"
    text = io.StringIO()
    call_command("export_catalogue", str(campaign.pk), "--out", str(out), stdout=text)
    assert "Wrote 0 rows" in text.getvalue() and "kappa undefined" in text.getvalue()
    assert len(Table.read(out)) == 0


def test_a_run_missing_scores_is_named_not_half_catalogued(campaign, admin_client):
    from inspection.models import Score

    Score.objects.filter(run=campaign.run, source=campaign.items.first().source).delete()
    with pytest.raises(catalogues.CatalogueError, match="no score for 1 candidate.*resume"):
        catalogues.build(campaign)
    page = admin_client.get(reverse("inspection:catalogue", args=[campaign.pk]), follow=True)
    assert "finish or resume the run" in page.content.decode()
    export = admin_client.get(reverse("inspection:catalogue_export",
                                      args=[campaign.pk, "high", "fits"]))  # fmt: skip
    assert export.status_code == 400


def test_settings_change_the_catalogue_and_bad_values_are_refused(campaign, admin_client):
    url = reverse("inspection:catalogue_settings", args=[campaign.pk])
    admin_client.post(url, {"high_total": 5, "vote_total": 4, "lens_prior": 0.01})
    campaign.refresh_from_db()
    assert (campaign.high_total, campaign.vote_total, campaign.run.survey.lens_prior) == (
        5,
        4,
        0.01,
    )
    response = admin_client.post(url, {"high_total": 5, "vote_total": 4, "lens_prior": 2},
                                 follow=True)  # fmt: skip
    assert "strictly in (0, 1)" in response.content.decode()
    campaign.run.survey.refresh_from_db()
    assert campaign.run.survey.lens_prior == 0.01


def test_prior_lists_are_added_and_refused_from_the_web(admin_client, tmp_path):
    good = tmp_path / "p.csv"
    good.write_text("id,RA,DEC\nA,08:54:46.55,-01:21:37.1\nB,150.0,2.0\n")
    with open(good, "rb") as f:
        response = admin_client.post(reverse("inspection:prior_list_add"),
                                     {"name": "mine", "file": f})  # fmt: skip
    assert response.status_code == 302
    lens = PriorList.objects.get(name="mine").lenses.get(name="A")
    assert lens.ra_deg == pytest.approx(133.6939583, abs=1e-6)
    bad = tmp_path / "q.csv"
    bad.write_text("id,x,y\nA,1,2\n")
    with open(bad, "rb") as f:
        response = admin_client.post(reverse("inspection:prior_list_add"),
                                     {"name": "theirs", "file": f})  # fmt: skip
    assert response.status_code == 400 and "x" in response.content.decode()
    assert not PriorList.objects.filter(name="theirs").exists()


def test_a_refused_prior_list_leaves_no_upload_and_paths_stay_in_the_roots(
    admin_client, tmp_path, settings
):
    settings.DATA_DIR = tmp_path / "data"
    settings.INGEST_ROOTS = [tmp_path / "incoming"]
    bad = tmp_path / "q.csv"
    bad.write_text("id,x,y\nA,1,2\n")
    with open(bad, "rb") as f:
        response = admin_client.post(reverse("inspection:prior_list_add"),
                                     {"name": "theirs", "file": f})  # fmt: skip
    assert response.status_code == 400
    assert list((tmp_path / "data" / "priors").iterdir()) == []
    response = admin_client.post(reverse("inspection:prior_list_add"),
                                 {"name": "theirs", "path": str(bad)})  # fmt: skip
    assert response.status_code == 400 and "LENSFINDER_INGEST_ROOTS" in response.content.decode()
    assert not PriorList.objects.exists()


def test_inspectors_cannot_see_catalogues(campaign, inspector_client):
    for url in (
        reverse("inspection:catalogues"),
        reverse("inspection:catalogue", args=[campaign.pk]),
        reverse("inspection:catalogue_export", args=[campaign.pk, "high", "csv"]),
        reverse("inspection:catalogue_gallery", args=[campaign.pk, "high"]),
    ):
        assert inspector_client.get(url).status_code == 403, url
    for url in (
        reverse("inspection:further_vote", args=[campaign.pk]),
        reverse("inspection:catalogue_settings", args=[campaign.pk]),
        reverse("inspection:prior_list_add"),
    ):
        assert inspector_client.post(url, {"lenscat": "1"}).status_code == 403, url
    assert not Campaign.objects.filter(parent=campaign).exists()
    assert not PriorList.objects.exists()


def test_the_posterior_starts_from_the_calibrated_score(graded_search, three):
    """Eq. 5 takes calibrated probabilities: once the network has a
    temperature, a run stores sigmoid(log-odds / T) and the catalogue maps
    that to the survey prior."""
    from scipy.special import expit

    from inspection.models import Score

    first, _ = graded_search
    network = first.network
    # The first run's log-odds were divided by the temperature then in force.
    before = network.temperature
    network.training = {**network.training, "calibration": {"temperature": 3.0}}
    network.save()
    run = runs.launch_run(first.survey, network, threshold=0.0, enqueue=False)
    runs.run_in_process(run)
    stored = dict(Score.objects.filter(run=first).values_list("source_id", "logit"))
    raw = {pk: logit * before for pk, logit in stored.items()}
    campaign = grading.create_campaign(run, "calibrated", three, known_fraction=0)
    cat = catalogues.build(campaign)
    calibrated = expit(np.array([raw[s.pk] for s in cat.sources]) / 3.0)
    assert np.allclose(cat.scores, calibrated, rtol=1e-4, atol=1e-12)
    assert not np.allclose(cat.scores, expit([raw[s.pk] for s in cat.sources]), atol=1e-3)
    expected = prior_shift(np.clip(calibrated, 1e-3, 1 - 1e-3), 0.5, run.survey.lens_prior)
    assert np.allclose(cat.p_prior, expected, rtol=1e-4)
    assert catalogues.posterior_path(campaign, cat.sources[0])[0][2] == pytest.approx(
        expected[0], rel=1e-4
    )


def test_a_network_with_runs_gets_no_new_temperature_saved(graded_search, known_file):
    from classifier.services import NetworkError, evaluate

    network = graded_search[0].network
    # As a network trained before calibration existed: no temperature.
    network.training = {k: v for k, v in network.training.items() if k != "calibration"}
    network.save()
    with pytest.raises(NetworkError, match="has scored 1 run.* without a temperature"):
        evaluate(network, known_file, save=True, val_path=known_file)
    network.refresh_from_db()
    assert network.calibration is None


# --- Grade classes and the Dawid-Skene posterior -------------------------------------


def test_grade_classes_stand_beside_the_summed_total_rule(campaign):
    cat = catalogues.build(campaign)
    head = len(PATTERN)
    # Means 2, 4/3, 1, 1, 0, 1/3, 2/3, 5/3 with the defaults A >= 1.5, B >= 1, C >= 0.5.
    assert cat.grade_class[:head].tolist() == ["A", "B", "B", "B", "", "", "C", "A"]
    assert np.flatnonzero(cat.high).tolist() == [0, 1, 7]  # total >= 4: another cut
    assert set(cat.grade_class[head:].tolist()) == {""}  # two 0s each
    campaign.class_a_min, campaign.class_b_min, campaign.class_c_min = 1.2, 0.9, 0.1
    cat = catalogues.build(campaign)
    assert cat.grade_class[:head].tolist() == ["A", "A", "B", "B", "", "C", "C", "A"]


def bayes_by_hand(confusion, grades, prior):
    lens, other = prior, 1 - prior
    for r, g in enumerate(grades):
        if g == g:
            lens, other = lens * confusion[r][1][int(g)], other * confusion[r][0][int(g)]
    return lens / (lens + other)


def test_the_dawid_skene_posterior_weighs_each_grade_through_each_inspectors_matrix(campaign):
    cat = catalogues.build(campaign)
    fit = cat.ds.fit
    assert cat.ds.codes == cat.codes and fit.converged
    assert np.allclose(fit.confusion.sum(axis=2), 1) and np.all(fit.confusion > 0)
    # Starting from the same prior as Space Warps, then the exact Bayes product.
    for i in (0, 3, 5, len(PATTERN)):
        by_hand = bayes_by_hand(fit.confusion, cat.grades[i], cat.p_prior[i])
        assert cat.p_ds[i] == pytest.approx(by_hand, rel=1e-9)
    assert cat.ds.n_graded.tolist() == (~np.isnan(cat.grades)).sum(axis=0).tolist()
    assert cat.ds.n_known.tolist() == [0, 0, 0]
    ranked = cat.rank("ds")
    assert np.all(np.diff(cat.p_ds[ranked]) <= 0)
    rows = cat.ds.matrices()
    assert [r["code"] for r in rows] == ["I1", "I2", "I3"]
    assert rows[0]["lens"] == pytest.approx(fit.confusion[0, 1].tolist())


def test_training_answers_and_mixed_in_known_items_anchor_the_matrices(graded_search, three):
    """Known truths count whole: with no candidate graded, an inspector's
    matrix is the smoothed counts of their training answers and of the
    known items mixed into any campaign."""
    run, _ = graded_search
    inspector = three[0]
    Skill.objects.update_or_create(inspector=inspector)
    items, _, _, _ = grading.training_state(inspector)
    counts = {True: [0, 0, 0], False: [0, 0, 0]}
    for n, item in enumerate(items):
        grade = (2 if n % 3 else 1) if item.is_lens else (0 if n % 2 else 1)
        grading.answer_training(inspector, item.pk, grade)
        counts[item.is_lens][grade] += 1
    other = grading.create_campaign(run, "elsewhere", three, known_fraction=0.5)
    grading.set_status(other, "open")
    mixed_in = Assignment.objects.filter(
        campaign=other, inspector=inspector, item__known__isnull=False
    ).select_related("item__known")
    for a in mixed_in:
        grading.record_grade(a, 2 if a.item.known.is_lens else 0)
        counts[a.item.known.is_lens][2 if a.item.known.is_lens else 0] += 1
    campaign = grading.create_campaign(run, "ungraded", three, known_fraction=0)
    cat = catalogues.build(campaign)
    n_known = sum(map(sum, counts.values()))
    assert n_known > len(items) and cat.ds.n_known.tolist() == [n_known, 0, 0]
    for k, is_lens in enumerate((False, True)):
        c = counts[is_lens]
        expected = [(x + 1) / (sum(c) + 3) for x in c]
        assert cat.ds.fit.confusion[0, k].tolist() == pytest.approx(expected, rel=1e-9)
    assert np.allclose(cat.ds.fit.confusion[1:], 1 / 3)  # no grade: no information
    assert np.allclose(cat.p_ds, cat.p_prior)  # nothing graded: the prior


def test_grade_class_bounds_are_set_at_creation_and_in_the_settings(graded_search, three,
                                                                    admin_client):  # fmt: skip
    run, _ = graded_search
    url = reverse("inspection:campaign_create")
    form = {"run": run.pk, "inspectors": [u.pk for u in three], "known_fraction": "0"}
    response = admin_client.post(url, {**form, "class_a_min": "1", "class_b_min": "1"})
    assert response.status_code == 400 and "A &gt; B &gt; C" in response.content.decode()
    assert not Campaign.objects.exists()
    response = admin_client.post(url, {**form, "class_c_min": "2.5"})
    assert "Class C from mean grade (0-2): Ensure" in response.content.decode()
    assert admin_client.post(url, form).status_code == 302  # blank: the defaults
    assert Campaign.objects.get().class_bounds == (1.5, 1.0, 0.5)
    response = admin_client.post(url, {**form, "name": "strict", "class_a_min": "1.8",
                                       "class_b_min": "1.2", "class_c_min": "0.6"})  # fmt: skip
    campaign = Campaign.objects.get(name="strict")
    assert campaign.class_bounds == (1.8, 1.2, 0.6)

    settings_url = reverse("inspection:catalogue_settings", args=[campaign.pk])
    good = {"high_total": "4", "vote_total": "3", "lens_prior": "0.001"}
    response = admin_client.post(settings_url, {**good, "class_b_min": "1.9"})
    assert response.status_code == 400 and "A &gt; B &gt; C" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.class_bounds == (1.8, 1.2, 0.6)
    # A blank bound keeps the campaign's own; the others change.
    admin_client.post(settings_url, {**good, "class_a_min": "1.6", "class_c_min": ""})
    campaign.refresh_from_db()
    assert campaign.class_bounds == (1.6, 1.2, 0.6)
    page = admin_client.get(reverse("inspection:catalogue", args=[campaign.pk])).content.decode()
    assert 'name="class_a_min" value="1.6"' in page
