"""Runs compared by sky position (He et al. 2020 Table 3): the one
cross-match, its radius, the counts and the cells' lists, and two surveys
ingested from the same field sharing every candidate."""

import re

import numpy as np
import pytest
from django.urls import reverse

from inspection.scoring import overlap

ARCSEC = 1 / 3600


def grid(n_side, step_arcsec=20.0, ra0=150.0, dec0=2.0):
    """``n_side**2`` positions on a square grid about ``step_arcsec`` apart (deg)."""
    k = np.arange(n_side) * step_arcsec * ARCSEC
    i, j = np.meshgrid(k, k)
    return ra0 + i.ravel() / np.cos(np.radians(dec0)), dec0 + j.ravel()


def test_a_field_and_itself_shifted_within_the_radius_overlap_fully_at_30k_candidates():
    ra, dec = grid(174)  # 30,276 candidates, 20" apart
    n = len(ra)
    moved_dec = dec + 0.3 * ARCSEC
    pair = overlap.pair_overlap(ra, dec, ra, moved_dec, radius_arcsec=1.0)
    assert len(pair.shared_a) == n and len(pair.only_a) == 0 and len(pair.only_b) == 0
    np.testing.assert_array_equal(pair.shared_b, pair.shared_a)  # each with its own twin
    np.testing.assert_allclose(pair.separation_arcsec, 0.3, atol=1e-6)
    assert overlap.overlap_counts([(ra, dec), (ra, moved_dec)], 1.0) == [[n, n], [n, n]]


def test_the_radius_decides_what_is_one_object():
    ra, dec = grid(30)
    moved_dec = dec + 3 * ARCSEC
    far = overlap.pair_overlap(ra, dec, ra, moved_dec, radius_arcsec=1.0)
    assert len(far.shared_a) == 0 and len(far.only_a) == len(far.only_b) == len(ra)
    near = overlap.pair_overlap(ra, dec, ra, moved_dec, radius_arcsec=5.0)
    assert len(near.shared_a) == len(ra) and len(near.only_b) == 0


def test_counts_read_along_rows_when_two_candidates_share_a_neighbour():
    a = (np.array([10.0, 10.0]), np.array([0.0, 0.5 * ARCSEC]))  # two, 0.5" apart
    b = (np.array([10.0]), np.array([0.25 * ARCSEC]))  # one between them
    c = (np.array([11.0]), np.array([0.0]))  # elsewhere
    assert overlap.overlap_counts([a, b, c], 1.0) == [[2, 2, 0], [1, 1, 0], [0, 0, 1]]
    pair = overlap.pair_overlap(*a, *b, radius_arcsec=1.0)
    assert pair.shared_b.tolist() == [0, 0] and pair.only_b.tolist() == []
    empty = overlap.pair_overlap(np.array([]), np.array([]), *b)
    assert empty.only_b.tolist() == [0] and len(empty.shared_a) == 0


# --- Pages ----------------------------------------------------------------------------


@pytest.fixture
def two_surveys_of_one_field(small_field, settings, tmp_path):
    """The same field ingested twice, as two surveys, each scored with
    threshold 0 (every LRG a candidate): no source row in common."""
    from classifier.models import Network
    from classifier.services import register_shipped
    from inspection.ingest.services import ingest_survey
    from inspection.scoring import services as runs

    settings.DATA_DIR = tmp_path
    register_shipped()
    network = Network.objects.get(name="kids-r-cnn")
    scored = []
    for name in ("field-dr1", "field-dr2"):
        survey = ingest_survey(
            name,
            catalogue=small_field / "catalogue.fits",
            tiles=[(b, small_field / f"{b}.fits") for b in "gri"],
        )
        run = runs.launch_run(survey, network, threshold=0.0, enqueue=False)
        runs.run_in_process(run)
        scored.append(run)
    return scored


@pytest.mark.django_db(transaction=True)
def test_two_surveys_ingested_from_the_same_field_overlap_fully_by_position(
    two_surveys_of_one_field, admin_client
):
    a, b = two_surveys_of_one_field
    n = a.candidates().count()
    assert n > 5 and b.candidates().count() == n
    ids_a = set(a.candidates().values_list("source_id", flat=True))
    assert not ids_a & set(b.candidates().values_list("source_id", flat=True))

    url = reverse("inspection:run_compare")
    page = admin_client.get(url, {"runs": [a.pk, b.pk], "radius": "1"}).content.decode()
    cells = re.findall(r"<td>(?:<a [^>]*>)?(\d+)(?:</a>)?</td>", page)
    assert cells == [str(n)] * 4
    listed = admin_client.get(url, {"runs": [a.pk, b.pk], "radius": "1", "a": a.pk, "b": b.pk})
    text = listed.content.decode()
    assert f"In both: {n}" in text and "Only in R" in text and text.count("None.") == 2
    shared = re.search(r'<table class="table compact" id="shared">.*?</table>', text, re.S)
    assert shared.group(0).count("<tr>") == n + 1  # the header and one row per pair
    candidate = a.candidates().select_related("source").first().source
    assert reverse("inspection:run_candidate", args=[a.pk, candidate.pk]) in text


@pytest.mark.django_db(transaction=True)
def test_the_compare_form_refuses_bad_input_with_400(two_surveys_of_one_field, admin_client):
    a, b = two_surveys_of_one_field
    url = reverse("inspection:run_compare")
    for query in (
        {"runs": [a.pk, b.pk], "radius": "abc"},
        {"runs": [a.pk, b.pk], "radius": "0"},
        {"runs": [a.pk], "a": a.pk, "b": b.pk},  # a cell of a run not compared
        {"runs": ["x"]},
    ):
        response = admin_client.get(url, query)
        assert response.status_code == 400, query
        assert b'class="msg error"' in response.content
