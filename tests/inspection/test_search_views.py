"""The survey and run pages: ingest from the web, funnel, previews, run
progress, threshold, cancel, retry, exports and the overlap matrix."""

import contextlib
import io
from pathlib import Path

import django_rq
import pytest
from astropy.table import Table
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from PIL import Image
from rq.worker import SimpleWorker

from classifier.models import Network
from classifier.services import register_shipped
from core.models import Job
from inspection.models import ScoringRun, Survey
from inspection.scoring import services as runs
from simulations.field import simulate_field

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    folder, _ = simulate_field(
        tmp_path_factory.mktemp("views") / "field",
        seed=5,
        n_lenses=4,
        n_lrgs=12,
        n_galaxies=60,
        n_stars=20,
        n_faint_red=10,
    )
    return folder


@pytest.fixture
def survey(field, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    register_shipped()
    call_command(
        "ingest_survey",
        "field",
        "--catalog",
        str(field / "catalogue.fits"),
        *[f"--tile={b}={field / (b + '.fits')}" for b in "gri"],
        verbosity=0,
    )
    return Survey.objects.get(name="field")


@pytest.fixture
def run(survey):
    run = runs.launch_run(
        survey, Network.objects.get(name="kids-r-cnn"), threshold=0.3, enqueue=False
    )
    runs.run_in_process(run)
    return run


def burst(queue):
    q = django_rq.get_queue(queue)
    SimpleWorker([q], connection=q.connection).work(burst=True)


def test_an_admin_ingests_a_survey_from_the_web(admin_client, field, settings, tmp_path, redis_url):
    settings.DATA_DIR = tmp_path
    settings.INGEST_ROOTS = [field]
    form = {
        "name": "web-field",
        "catalogue": str(field / "catalogue.fits"),
        "tiles": "\n".join(f"{b}={field / (b + '.fits')}" for b in "gri"),
        "r_max": "19.5",
        "require_ugri_detection": "on",
    }
    response = admin_client.post(reverse("inspection:survey_ingest"), form)
    job = Job.objects.get()
    assert response["Location"] == reverse("core:job", args=[job.pk])
    burst("default")
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    survey = Survey.objects.get(name="web-field")
    assert survey.cuts["r_max"] == 19.5
    assert any("r < 19.5" in label for label, _ in survey.funnel)
    page = admin_client.get(reverse("inspection:surveys")).content.decode()
    assert "web-field" in page


def test_an_admin_uploads_a_catalogue_and_tiles(admin_client, field, settings, tmp_path, redis_url):
    settings.DATA_DIR = tmp_path
    with contextlib.ExitStack() as stack:
        files = {
            "catalogue_file": stack.enter_context(open(field / "catalogue.fits", "rb")),
            "tile_files": [stack.enter_context(open(field / f"{b}.fits", "rb")) for b in "gri"],
        }
        response = admin_client.post(reverse("inspection:survey_ingest"), {"name": "up", **files})
    assert response.status_code == 302
    burst("default")
    job = Job.objects.get()
    assert job.status == "succeeded", job.error
    assert Survey.objects.get(name="up").bands == "g,r,i"


def uploads_left(data_dir):
    folder = data_dir / "surveys" / ".uploads"
    return sorted(p.relative_to(folder) for p in folder.rglob("*")) if folder.exists() else []


def tile_uploads(field, names=None):
    """The field's tiles as uploads named ``names[band]``."""
    names = names or {b: f"KIDS_35_-33_{b}.fits" for b in "gri"}
    return [
        SimpleUploadedFile(name, (field / f"{band}.fits").read_bytes())
        for band, name in names.items()
    ]


def test_a_server_path_outside_the_ingest_roots_is_refused(admin_client, field, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.INGEST_ROOTS = [tmp_path / "incoming"]
    form = {
        "name": "web-field",
        "catalogue": str(field / "catalogue.fits"),
        "tiles": f"r={tmp_path / 'incoming' / '..' / '..' / 'r.fits'}",
    }
    response = admin_client.post(reverse("inspection:survey_ingest"), form)
    assert response.status_code == 400
    page = response.content.decode()
    assert "is outside the directories the web forms may read" in page
    assert "LENSFINDER_INGEST_ROOTS" in page
    assert not Job.objects.exists()


def test_an_upload_the_form_refuses_is_never_saved(admin_client, field, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    with open(field / "catalogue.fits", "rb") as catalogue:  # but neither tiles nor stamps
        response = admin_client.post(
            reverse("inspection:survey_ingest"), {"name": "up", "catalogue_file": catalogue}
        )
    assert response.status_code == 400
    assert "Give image tiles" in response.content.decode()
    assert uploads_left(tmp_path) == [] and not Job.objects.exists()


def test_uploads_are_removed_when_the_queue_is_down(admin_client, field, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.RQ_QUEUES = {
        k: {**v, "URL": "redis://127.0.0.1:1/0"} for k, v in settings.RQ_QUEUES.items()
    }
    with contextlib.ExitStack() as stack:
        files = {
            "catalogue_file": stack.enter_context(open(field / "catalogue.fits", "rb")),
            "tile_files": tile_uploads(field),
        }
        response = admin_client.post(reverse("inspection:survey_ingest"), {"name": "up", **files})
    assert response.status_code == 503
    assert uploads_left(tmp_path) == []


def test_uploads_are_removed_when_the_ingest_fails(
    admin_client, field, settings, tmp_path, redis_url
):
    settings.DATA_DIR = tmp_path
    files = {
        "catalogue_file": SimpleUploadedFile("catalogue.csv", b"no,columns,we,know\n1,2,3,4\n"),
        "tile_files": tile_uploads(field),
    }
    response = admin_client.post(reverse("inspection:survey_ingest"), {"name": "up", **files})
    assert response.status_code == 302
    burst("default")
    assert Job.objects.get().status == "failed"
    assert uploads_left(tmp_path) == [] and not Survey.objects.exists()


def test_uploads_are_removed_when_the_job_is_cancelled_or_its_worker_is_lost(
    admin_client, field, settings, tmp_path, redis_url
):
    """Before it starts, or when its worker is gone, an ingest job never
    gets to remove its own uploads: cancelling it, or noticing the loss
    (``queue.reconcile``), removes them. Nothing runs in between: no worker."""
    from rq.job import Job as RqJob

    from core import queue

    settings.DATA_DIR = tmp_path

    def post(name):
        catalogue = SimpleUploadedFile("catalogue.fits", (field / "catalogue.fits").read_bytes())
        response = admin_client.post(
            reverse("inspection:survey_ingest"),
            {"name": name, "catalogue_file": catalogue, "tile_files": tile_uploads(field)},
        )
        assert response.status_code == 302
        return Job.objects.get(title=f"Ingest survey {name}")

    cancelled, lost = post("up1"), post("up2")
    assert len({p.parts[0] for p in uploads_left(tmp_path)}) == 2
    assert queue.request_cancel(cancelled).status == "cancelled"
    assert len({p.parts[0] for p in uploads_left(tmp_path)}) == 1
    # The queue forgets the second job, as when a worker dies and rq cleans up.
    RqJob.fetch(lost.rq_job_id, connection=django_rq.get_connection("default")).delete()
    assert queue.reconcile(lost).status == "failed"
    assert uploads_left(tmp_path) == []


def test_two_uploaded_tiles_with_one_name_are_both_kept(
    admin_client, field, settings, tmp_path, redis_url
):
    settings.DATA_DIR = tmp_path
    with contextlib.ExitStack() as stack:
        tiles = tile_uploads(field, {"g": "g.fits", "r": "r.fits", "i": "i.fits"})
        tiles += tile_uploads(field, {"r": "r.fits"})  # a second pointing, same name
        files = {
            "catalogue_file": stack.enter_context(open(field / "catalogue.fits", "rb")),
            "tile_files": tiles,
        }
        response = admin_client.post(reverse("inspection:survey_ingest"), {"name": "up", **files})
    assert response.status_code == 302
    burst("default")
    assert Job.objects.get().status == "succeeded", Job.objects.get().error
    r_tiles = Survey.objects.get(name="up").tiles.filter(band="r")
    names = sorted(Path(t.path).name for t in r_tiles)
    assert names == ["r-2.fits", "r.fits"]


def test_an_uploaded_tile_must_be_named_after_its_band(admin_client, field, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    with contextlib.ExitStack() as stack:
        files = {
            "catalogue_file": stack.enter_context(open(field / "catalogue.fits", "rb")),
            "tile_files": tile_uploads(field, {"r": "KIDS_35_-33_r,g.fits"}),
        }
        response = admin_client.post(reverse("inspection:survey_ingest"), {"name": "up", **files})
    assert response.status_code == 400
    assert "does not end in a band" in response.content.decode()
    assert uploads_left(tmp_path) == [] and not Job.objects.exists()


def test_a_request_over_the_size_limit_is_refused_unread(admin_client, settings):
    """A body claimed to be 1 GiB is refused from its Content-Length: reading
    it (the CSRF check, the upload handlers) would fail on this short one."""
    response = Client().generic(
        "POST", reverse("login"), b"x" * 100, "multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(2**30),
    )  # fmt: skip
    assert response.status_code == 413
    settings.MAX_UPLOAD_BYTES = 4 * 2**20
    big = SimpleUploadedFile("KIDS_r.fits", b"\0" * (5 * 2**20))
    response = admin_client.post(
        reverse("inspection:survey_ingest"), {"name": "x", "tile_files": big}
    )
    assert response.status_code == 413
    assert "LENSFINDER_MAX_UPLOAD_MB" in response.content.decode()


def test_the_ingest_form_says_what_is_wrong(admin_client, settings, tmp_path, db):
    settings.DATA_DIR = tmp_path
    response = admin_client.post(
        reverse("inspection:survey_ingest"),
        {"name": "bad name", "r_max": "twenty", "tiles": "r.fits"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "letters, digits" in page and "not a number" in page and "BAND=FILE" in page
    assert not Job.objects.exists()


def test_the_survey_page_shows_the_funnel_and_stamps(admin_client, survey):
    page = admin_client.get(reverse("inspection:survey", args=[survey.name])).content.decode()
    for label, count in survey.funnel:
        assert f"<td>{label}</td><td>{count}</td>" in page.replace("&lt;", "<")
    source = survey.sources.first()
    assert reverse("inspection:preview", args=[survey.name, source.stamp_index, "rgb"]) in page
    assert "Launch a scoring run" in page


@pytest.mark.parametrize("stretch", ["asinh", "linear", "log", "zscale"])
def test_previews_are_pngs_rendered_once_and_cached(admin_client, survey, stretch, settings):
    source = survey.sources.first()
    sizes = {}
    for kind in ("r", "rgb"):
        url = reverse("inspection:preview", args=[survey.name, source.stamp_index, kind])
        response = admin_client.get(url, {"stretch": stretch})
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(response.content))
        sizes[kind] = image.mode
        cached = (
            settings.DATA_DIR
            / "previews"
            / str(survey.pk)
            / f"{source.stamp_index}-{kind}-{stretch}.png"
        )
        assert cached.read_bytes() == response.content
    assert sizes["rgb"] == "RGB"
    bad = reverse("inspection:preview", args=[survey.name, 10**6, "r"])
    assert admin_client.get(bad).status_code == 404


def test_inspectors_cannot_browse_survey_stamps(inspector_client, survey):
    # They see candidates only through their own assignments (grade_stamp).
    url = reverse("inspection:preview", args=[survey.name, survey.sources.first().stamp_index, "r"])
    assert inspector_client.get(url).status_code == 403


def test_the_run_page_shows_progress_candidates_and_exports(admin_client, run):
    page = admin_client.get(reverse("inspection:run", args=[run.pk])).content.decode()
    assert reverse("inspection:run_progress", args=[run.pk]) in page
    assert f'<dd id="n-candidates">{run.candidates().count()}</dd>' in page
    top = runs.candidate_rows(run).first()
    assert top.source.name in page
    state = admin_client.get(reverse("inspection:run_progress", args=[run.pk])).json()
    assert state["status"] == "succeeded" and state["done"] == state["total"] == run.n_sources
    response = admin_client.get(reverse("inspection:run_export", args=[run.pk, "vot"]))
    table = Table.read(io.BytesIO(b"".join(response.streaming_content)), format="votable")
    assert len(table) == run.candidates().count()


def test_an_admin_changes_the_threshold_from_the_run_page(admin_client, run):
    admin_client.post(reverse("inspection:run_threshold", args=[run.pk]), {"threshold": "0.9"})
    run.refresh_from_db()
    assert run.threshold == 0.9 and run.threshold_origin == "explicit"
    response = admin_client.post(
        reverse("inspection:run_threshold", args=[run.pk]), {"threshold": "7"}, follow=True
    )
    assert "in [0, 1]" in response.content.decode()
    run.refresh_from_db()
    assert run.threshold == 0.9


def test_an_admin_launches_cancels_and_retries_a_run_from_the_web(admin_client, survey, redis_url):
    network = Network.objects.get(name="kids-r-cnn")
    response = admin_client.post(
        reverse("inspection:run_launch", args=[survey.name]),
        {"network": network.pk, "sample": "refined"},
    )
    run = ScoringRun.objects.get()
    assert response["Location"] == reverse("inspection:run", args=[run.pk])
    assert run.sample == "refined" and run.threshold == pytest.approx(network.threshold_fpr_1pct)
    admin_client.post(reverse("inspection:run_cancel", args=[run.pk]))
    assert runs.progress(run).status == "cancelled"
    page = admin_client.get(reverse("inspection:run", args=[run.pk])).content.decode()
    assert "Resume: queue 1 unfinished chunk again" in page
    admin_client.post(reverse("inspection:run_resume", args=[run.pk]))
    burst("scoring")
    assert runs.progress(run).status == "succeeded"
    assert run.scores.count() == survey.sample(refined=True).count()


def test_the_compare_page_shows_the_overlap_matrix(admin_client, run, survey):
    other = runs.launch_run(survey, run.network, threshold=0.95, enqueue=False)
    runs.run_in_process(other)
    url = reverse("inspection:run_compare") + f"?runs={run.pk}&runs={other.pk}"
    page = admin_client.get(url).content.decode()
    both = len(
        set(run.candidates().values_list("source_id", flat=True))
        & set(other.candidates().values_list("source_id", flat=True))
    )
    assert f">{both}</a></td>" in page and "Table 3" in page  # same survey: same positions


def test_inspectors_get_403_on_survey_and_run_pages(inspector_client, run):
    urls = [
        reverse("inspection:survey", args=[run.survey.name]),
        reverse("inspection:run", args=[run.pk]),
        reverse("inspection:run_progress", args=[run.pk]),
        reverse("inspection:run_export", args=[run.pk, "csv"]),
        reverse("inspection:run_compare"),
    ]
    for url in urls:
        assert inspector_client.get(url).status_code == 403, url
    for name in ("run_cancel", "run_resume", "run_threshold"):
        assert (
            inspector_client.post(reverse(f"inspection:{name}", args=[run.pk])).status_code == 403
        )
    assert inspector_client.post(reverse("inspection:survey_ingest"), {}).status_code == 403
