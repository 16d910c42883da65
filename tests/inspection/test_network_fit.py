"""A network that does not fit a survey is refused, or launched only once its
warnings are confirmed, before anything is created or queued: in
``launch_run``, the ``launch_run`` command and the survey page's launch form."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from classifier.models import Network
from core.models import Job
from inspection.models import RunChunk, ScoringRun, Source, Survey
from inspection.scoring import services as runs

pytestmark = pytest.mark.django_db


def network(name, bands="r", pixscale=0.42, size=49):
    return Network.objects.create(
        name=name,
        architecture="he2020-cnn",
        bands=bands,
        pixscale_arcsec=pixscale,
        stamp_size=size,
        preprocessing={},
        weights_path=f"networks/{name}.pt",
        weights_sha256="0" * 64,
        threshold_fpr_1pct=0.9,
    )


@pytest.fixture
def survey(settings, tmp_path):
    """KiDS-like: g,r,i, 97 px at 0.21"/px, three LRGs (no pixels: the
    checks and the queue never read them)."""
    settings.DATA_DIR = tmp_path
    Network.objects.all().delete()  # only this file's networks on the form
    survey = Survey.objects.create(
        name="kids-like", bands="g,r,i", pixscale_arcsec=0.21, stamp_size=97, stamps_path="s.fits"
    )
    for i in range(3):
        Source.objects.create(
            survey=survey, name=f"KIDS J{i}", catalogue_id=str(i), ra_deg=i, dec_deg=0.0,
            stamp_index=i,
        )  # fmt: skip
    return survey


@pytest.fixture
def fitting(survey):
    return network("fitting-cnn")


@pytest.fixture
def too_wide(survey):
    # 101 px x 0.42" = 42" against 97 x 0.21" = 20" stamps.
    return network("too-wide", size=101)


@pytest.fixture
def off_scale(survey):
    # 0.21"/px is 17% coarser than its 0.18"/px.
    return network("off-scale", bands="g", pixscale=0.18, size=45)


def nothing_created():
    return not (ScoringRun.objects.exists() or RunChunk.objects.exists() or Job.objects.exists())


# --- launch_run --------------------------------------------------------------


def test_it_launches_a_network_that_fits(survey, fitting):
    run = runs.launch_run(survey, fitting, enqueue=False)
    assert run.n_sources == 3 and run.chunks.count() == 1


def test_it_refuses_stamps_too_small_for_the_network_and_creates_nothing(survey, too_wide):
    with pytest.raises(runs.RunError, match="zero-padded by 26.2 px a side") as exc:
        runs.launch_run(survey, too_wide, enqueue=False, accept_warnings=True)
    assert "--stamp-size 202" in str(exc.value) and "too-wide" in str(exc.value)
    assert nothing_created()


def test_it_refuses_a_missing_band_even_with_warnings_accepted(survey):
    z = network("z-cnn", bands="z")
    with pytest.raises(runs.RunError, match="takes bands z; survey kids-like has g,r,i"):
        runs.launch_run(survey, z, enqueue=False, accept_warnings=True)
    assert nothing_created()


def test_a_warning_must_be_accepted_and_then_launches(survey, off_scale):
    with pytest.raises(runs.UnconfirmedWarnings, match="17% coarser") as exc:
        runs.launch_run(survey, off_scale, enqueue=False)
    assert len(exc.value.warnings) == 1 and nothing_created()
    run = runs.launch_run(survey, off_scale, enqueue=False, accept_warnings=True)
    assert run.chunks.count() == 1


# --- manage.py launch_run ----------------------------------------------------


def launch(*args):
    err = StringIO()
    try:
        call_command("launch_run", "--survey", "kids-like", *args, stdout=StringIO(), stderr=err)
    finally:
        launch.stderr = err.getvalue()


def test_the_command_prints_the_warning_and_refuses_without_accept_warnings(survey, off_scale):
    with pytest.raises(CommandError, match="add --accept-warnings to launch anyway"):
        launch("--network", "off-scale")
    assert launch.stderr.startswith('Warning: Survey kids-like has 0.21"/px, 17% coarser')
    assert nothing_created()


def test_the_command_launches_a_warned_network_with_accept_warnings(survey, off_scale):
    launch("--network", "off-scale", "--accept-warnings")
    assert "Warning: " in launch.stderr and "17% coarser" in launch.stderr
    run = ScoringRun.objects.get()
    assert run.network == off_scale and run.chunks.get().job is not None


def test_the_command_refuses_an_unfit_network_with_the_reason(survey, too_wide):
    with pytest.raises(CommandError, match="zero-padded"):
        launch("--network", "too-wide", "--accept-warnings")
    assert nothing_created()


# --- The launch form ---------------------------------------------------------


def test_the_form_disables_unfit_networks_and_shows_why(
    admin_client, survey, fitting, too_wide, off_scale
):
    page = admin_client.get(reverse("inspection:survey", args=[survey.name])).content.decode()
    assert f'<option value="{too_wide.pk}" disabled>too-wide' in page
    assert f'<option value="{fitting.pk}" selected>fitting-cnn' in page
    assert f'<option value="{off_scale.pk}">off-scale' in page
    assert "zero-padded by 26.2 px a side" in page and "17% coarser" in page
    assert 'name="accept_warnings"' in page


def test_the_form_has_no_launch_anyway_box_when_nothing_warns(admin_client, survey, fitting):
    page = admin_client.get(reverse("inspection:survey", args=[survey.name])).content.decode()
    assert 'name="accept_warnings"' not in page and "does not fit" not in page


def post(client, survey, **form):
    return client.post(reverse("inspection:run_launch", args=[survey.name]), form)


def test_a_web_launch_of_an_unfit_network_shows_the_reason_and_queues_nothing(
    admin_client, survey, too_wide
):
    response = post(admin_client, survey, network=too_wide.pk, accept_warnings="on")
    assert response.status_code == 400
    assert "zero-padded by 26.2 px a side" in response.content.decode()
    assert nothing_created()


def test_a_web_launch_of_a_warned_network_needs_launch_anyway(admin_client, survey, off_scale):
    response = post(admin_client, survey, network=off_scale.pk, threshold="0.5")
    page = response.content.decode()
    assert response.status_code == 400 and "17% coarser" in page and "Launch anyway" in page
    assert 'value="0.5"' in page  # the form comes back as sent
    assert nothing_created()
    response = post(admin_client, survey, network=off_scale.pk, accept_warnings="on")
    run = ScoringRun.objects.get()
    assert response["Location"] == reverse("inspection:run", args=[run.pk])
    assert run.network == off_scale and run.chunks.get().job is not None


@pytest.mark.parametrize("pk", ["", "abc", "²", "9" * 30])
def test_a_malformed_network_is_a_400(admin_client, survey, fitting, pk):
    response = post(admin_client, survey, network=pk)
    assert response.status_code == 400 and "Choose a network." in response.content.decode()
    assert nothing_created()
