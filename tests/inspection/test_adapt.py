"""Adapting a network to a survey (He et al. 2020's r-Net): semi-real sets from
the survey's own LRG stamps, split by LRG, fine-tuning, evaluation beside the
parent, provenance; refusals that leave the registry as it was."""

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from simulations.stampset import StampSetWriter, read_stampset

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def survey_stamps(tmp_path_factory):
    """240 stand-in 'real' LRG stamps in g,r,i (simulated non-lenses of every
    kind) with sky positions and PSF columns, as a pre-cut survey stamp set."""
    folder = tmp_path_factory.mktemp("adapt")
    sim = folder / "sim.fits"
    call_command("simulate", "--survey", "kids-gri", "--nonlenses", "240", "--seed", "11",
                 "--out", str(sim), verbosity=0)  # fmt: skip
    s = read_stampset(sim)
    out = folder / "survey.fits"
    n = len(s)
    with StampSetWriter(out, n, s.bands, s.cube.shape[-2:], s.pixscale_arcsec, survey="test",
                        header={"GAIN": 1.0}) as w:  # fmt: skip
        w.write(s.stamps(), {
            "id": list(s.ids), "label": np.full(n, -1), "ra": 150 + np.arange(n) * 1e-3,
            "dec": np.full(n, 2.0), "psf_fwhm_r": np.asarray(s.meta["psf_fwhm_r"]),
        })  # fmt: skip
    return out


@pytest.fixture(scope="session")
def cross_file(tmp_path_factory):
    from crosscheck.lenstronomy_sets import make_set

    return make_set("kids-r", 40, 40, 5, tmp_path_factory.mktemp("cross") / "cross.fits", 1)


@pytest.fixture
def survey(survey_stamps, settings, tmp_path):
    from classifier.services import register_shipped
    from inspection.ingest.services import ingest_survey

    settings.DATA_DIR = tmp_path
    register_shipped()
    return ingest_survey("big", stamps=survey_stamps)


def adapt(survey, name="big-r-cnn", **options):
    from classifier.models import Network
    from inspection.adaptation.services import adapt_network

    options = {"lenses": 60, "epochs": 1, **options}
    return adapt_network(survey, Network.objects.get(name="kids-r-cnn"), name, **options)


def registry():
    from classifier.models import Network

    return sorted(Network.objects.values_list("name", flat=True))


def test_it_fine_tunes_on_the_surveys_lrgs_and_records_where_it_came_from(
    survey, cross_file, tmp_path
):
    from classifier.models import Network
    from inspection.adaptation.services import split_rows, usable_rows

    steps = []
    network = adapt(survey, cross_test=str(cross_file),
                    progress=lambda message, f: steps.append((message, f)))  # fmt: skip
    parent = Network.objects.get(name="kids-r-cnn")
    record = network.training["adaptation"]
    assert network.training["parent"]["name"] == "kids-r-cnn"
    assert record["parent"] == "kids-r-cnn" and record["survey"] == "big"
    assert record["parent_weights_sha256"] == parent.weights_sha256
    assert record["lens_prior"] == survey.lens_prior
    assert record["lrgs"] == {"train": 168, "val": 24, "test": 48}
    assert set(record["sets_sha256"]) == {"train", "val", "test"}
    assert all(len(h) == 64 for h in record["sets_sha256"].values())
    assert record["psf_fwhm_arcsec"] == "the stamps' psf_fwhm columns"
    # Both networks evaluated on the held-out LRGs and the cross-simulator set.
    for part in ("test", "cross_simulator"):
        assert set(record[part]) >= {"big-r-cnn", "kids-r-cnn"}
        assert 0 <= record[part]["big-r-cnn"]["auc"] <= 1
    assert record["cross_simulator"]["file"] == str(cross_file)
    assert record["test"]["kids-r-cnn"]["n_lenses"] == record["stamps_per_class"]["test"] == 100
    # Its stored evaluation (and so its thresholds) is the held-out split's.
    assert network.evaluation["auc"] == record["test"]["big-r-cnn"]["auc"]
    assert network.band_list == ["r"] and network.pixscale_arcsec == parent.pixscale_arcsec
    # It scores as its parent does (the shipped CNN with TTA), calibrated so.
    assert parent.tta and network.tta and network.calibration["temperature"] > 0
    # Progress moved forward through every step, to the end; nothing is left on disk.
    fractions = [f for _, f in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("fine-tuning: epoch 1/1" in m for m, _ in steps)
    assert not (tmp_path / "adapt" / "big-r-cnn").exists()
    # The splits share no LRG.
    parts = split_rows(usable_rows(survey), 0)
    assert sum(len(p) for p in parts.values()) == 240
    assert not set(parts["train"]) & set(parts["test"])
    assert not set(parts["val"]) & (set(parts["train"]) | set(parts["test"]))


def test_a_failed_adaptation_leaves_the_registry_and_disk_as_they_were(survey, tmp_path):
    from inspection.adaptation.services import AdaptError

    before = registry()
    bad_cross = tmp_path / "not-a-stampset.fits"
    bad_cross.write_text("nothing")
    with pytest.raises(AdaptError):
        adapt(survey, cross_test=str(bad_cross))
    assert registry() == before
    assert not list((tmp_path / "networks").glob("big-r-cnn*"))
    assert not (tmp_path / "adapt" / "big-r-cnn").exists()
    assert not (tmp_path / "training" / "big-r-cnn").exists()


def test_it_refuses_what_cannot_be_adapted_before_any_work(survey, survey_stamps, tmp_path):
    from inspection.adaptation.services import MIN_LRGS, AdaptError
    from inspection.models import Source

    before = registry()
    with pytest.raises(AdaptError, match="named 'kids-r-cnn' exists already"):
        adapt(survey, name="kids-r-cnn")
    from classifier.models import Network
    from inspection.adaptation.services import adapt_network

    cnn = Network.objects.get(name="kids-r-cnn")
    pair = Network.objects.create(
        name="pair", architecture=Network.COMMITTEE, bands="r", pixscale_arcsec=cnn.pixscale_arcsec,
        stamp_size=cnn.stamp_size, preprocessing={}, weights_path="", weights_sha256="",
        training={"members": [{"name": "kids-r-cnn"}, {"name": "kids-r-cnn-b"}]},
    )  # fmt: skip
    with pytest.raises(AdaptError, match="pair is a committee: adapt one of its members"):
        adapt_network(survey, pair, "big-pair", lenses=20, epochs=1)
    before = registry()
    # Too few LRGs with a whole stamp for a meaningful split.
    Source.objects.filter(survey=survey, stamp_index__gte=MIN_LRGS - 1).update(stamp_flags=1)
    with pytest.raises(AdaptError, match=r"has 199 LRGs with a whole stamp; .* at least 200"):
        adapt(survey)
    assert registry() == before
    assert not (tmp_path / "adapt").exists()


def test_a_network_that_does_not_fit_the_survey_is_refused(survey, tmp_path):
    from classifier.models import Network
    from inspection.adaptation.services import AdaptError, UnconfirmedWarnings, adapt_network

    lsst = Network.objects.get(name="lsst-g-deeplens")
    survey.bands = "r,i"
    survey.save()
    with pytest.raises(AdaptError, match="takes bands g; survey big has r,i"):
        adapt_network(survey, lsst, "big-g", lenses=20, epochs=1)
    survey.bands, survey.pixscale_arcsec = "g,r,i", 0.3
    survey.save()
    with pytest.raises(UnconfirmedWarnings, match="--accept-warnings"):
        adapt(survey)
    assert "big-g" not in registry() and "big-r-cnn" not in registry()


def test_the_command_explains_bad_input(survey):
    with pytest.raises(CommandError, match=r"No survey named 'nope' \(ingested: big\)"):
        call_command("adapt_network", "--survey", "nope", "--network", "kids-r-cnn",
                     "--name", "x")  # fmt: skip
    with pytest.raises(CommandError, match="No network named 'nope'"):
        call_command("adapt_network", "--survey", "big", "--network", "nope", "--name", "x")
    with pytest.raises(CommandError, match="exists already"):
        call_command("adapt_network", "--survey", "big", "--network", "kids-r-cnn",
                     "--name", "lsst-g-deeplens")  # fmt: skip


def post_adapt(client, survey, **fields):
    from django.urls import reverse

    from classifier.models import Network

    form = {"adapt-network": Network.objects.get(name="kids-r-cnn").pk, "adapt-name": "big-r-cnn",
            "adapt-lenses": 20, "adapt-epochs": 1, **fields}  # fmt: skip
    return client.post(reverse("inspection:adapt_launch", args=[survey.name]), form)


def test_the_survey_page_refuses_bad_adaptations_with_the_reason(admin_client, survey):
    from django.urls import reverse

    from core.models import Job

    page = admin_client.get(reverse("inspection:survey", args=[survey.name]))
    assert b"Adapt a network to this survey" in page.content
    for fields, reason in [
        ({"adapt-network": "x"}, "Choose a network (not a committee)."),
        ({"adapt-network": "99999999999999999999"}, "Choose a network (not a committee)."),
        ({"adapt-name": ""}, "Name: This field is required."),
        ({"adapt-name": "a b/c"}, "Name: Enter a valid “slug”"),
        ({"adapt-lenses": "5"}, "Lenses: Ensure this value is greater than or equal to 10."),
        ({"adapt-epochs": "lots"}, "Epochs: Enter a whole number."),
        ({"adapt-name": "kids-r-cnn"}, "named &#x27;kids-r-cnn&#x27; exists already"),
    ]:
        answer = post_adapt(admin_client, survey, **fields)
        assert answer.status_code == 400, fields
        assert reason.encode() in answer.content, (fields, reason)
    assert not Job.objects.exists()


def test_inspectors_cannot_adapt(inspector_client, survey):
    from core.models import Job

    assert post_adapt(inspector_client, survey).status_code == 403
    assert not Job.objects.exists()


def test_the_adaptation_runs_on_a_worker_and_the_network_page_shows_it(
    admin_client, survey, start_worker, worker_env, tmp_path
):
    from django.urls import reverse

    from classifier.models import Network
    from core.models import Job
    from inspection.scoring import services as runs

    answer = post_adapt(admin_client, survey)
    job = Job.objects.get()
    assert answer.status_code == 302 and answer.url == reverse("core:job", args=[job.pk])
    worker_env["LENSFINDER_DATA_DIR"] = str(tmp_path)
    start_worker("scoring").wait(timeout=600)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.done == job.total == 100 and job.result["network"] == "big-r-cnn"
    assert "kids-r-cnn" in job.result["test"] and "big-r-cnn" in job.result["cross_simulator"]
    adapted = Network.objects.get(name="big-r-cnn")
    page = admin_client.get(reverse("classifier:network", args=["big-r-cnn"])).content.decode()
    assert "Adapted to survey big" in page and "Run both networks on big" in page
    # With a run of each, the page links to the overlap of their candidates.
    parent = Network.objects.get(name="kids-r-cnn")
    made = [runs.launch_run(survey, n, enqueue=False) for n in (parent, adapted)]
    page = admin_client.get(reverse("classifier:network", args=["big-r-cnn"])).content.decode()
    assert f"/runs/compare/?runs={made[1].pk}&amp;runs={made[0].pk}" in page
    # The launch form offers the adapted network.
    survey_page = admin_client.get(reverse("inspection:survey", args=[survey.name])).content
    assert f'value="{adapted.pk}"'.encode() in survey_page
