"""Survey pages: the survey list, the ingest form, a survey's page and its
stamp previews. Thin: each view fetches, checks access, calls
``inspection.ingest.services`` (the code path the commands use) and renders."""

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from classifier.models import Network
from core import queue, uploads
from core.roles import admin_required
from inspection.adaptation import services as adapt
from inspection.forms import CUT_FIELDS, SurveyIngestForm
from inspection.grading import services as grading
from inspection.ingest import cutouts
from inspection.ingest.lrg_cuts import LRGCuts
from inspection.ingest.services import DEFAULT_STAMP_PX, surveys_dir
from inspection.models import Survey
from inspection.scoring import services as runs

PREVIEW_KINDS = grading.KINDS


# --- Surveys ------------------------------------------------------------------


@admin_required
def survey_list(request, errors=None, status=200):
    context = {
        "surveys": Survey.objects.annotate(
            n_lrgs=Count("sources"), n_refined=Count("sources", filter=Q(sources__is_refined=True))
        ),
        "errors": errors or [],
        "form": request.POST,
        "cuts": [(name, getattr(LRGCuts(), name)) for name in CUT_FIELDS],
        "default_stamp_size": DEFAULT_STAMP_PX,
        "ingest_roots": settings.INGEST_ROOTS,
    }
    return render(request, "inspection/surveys.html", context, status=status)


def _saved_upload(upload, folder):
    """Save an upload into ``folder`` without replacing another file (the
    known-set and prior-list forms use it too)."""
    return uploads.save_upload(upload, folder)


@admin_required
@require_POST
def survey_ingest(request):
    """Start an ingest job from the form (server paths or uploaded files).

    The form is checked before an upload is saved; uploads go into a folder
    of their own, removed if the job cannot be queued (503), the ingest
    fails (the job removes it), or the job is cancelled before it starts or
    loses its worker (``queue.launch(uploads=...)``).
    """
    form = SurveyIngestForm(request.POST, request.FILES)
    if not form.is_valid():
        return survey_list(request, form.messages(), status=400)
    data = form.cleaned_data
    folder = (
        uploads.upload_folder(surveys_dir() / ".uploads", data["name"])
        if form.has_uploads()
        else None
    )
    try:
        catalogue, tiles = form.inputs(folder)
        job = queue.launch(
            "inspection.jobs.ingest_survey",
            data["name"],
            catalogue,
            tiles,
            data["stamps"],
            data["columns"].strip(),
            data["cuts"].to_dict(),
            data["stamp_size"],
            request.user.pk,
            str(folder or ""),
            title=f"Ingest survey {data['name']}",
            user=request.user,
            unit="sources",
            timeout=6 * 3600,
            uploads=folder,
        )
    except queue.QueueUnavailable as exc:
        uploads.discard(folder)
        return survey_list(request, [str(exc)], status=503)
    except BaseException:
        uploads.discard(folder)
        raise
    return redirect("core:job", pk=job.pk)


@admin_required
def survey_detail(
    request, name, launch_errors=None, status=200, adapt_errors=None, snet_errors=None
):
    survey = get_object_or_404(Survey, name=name)
    sources = survey.sources.all()
    page = Paginator(sources, 48).get_page(request.GET.get("page"))
    # The launch form: each network with whether it fits this survey, so an
    # unfit one is disabled with its reason before anyone tries it.
    fits = [(n, runs.network_fit(survey, n)) for n in Network.objects.all()]
    chosen = request.POST.get("network") or next((str(n.pk) for n, f in fits if f.fits), "")
    context = {
        "survey": survey,
        "page": page,
        **{f"n_{k}": v for k, v in survey.stamp_counts().items()},
        "launch_choices": [
            {"network": n, "fit": f, "selected": str(n.pk) == chosen} for n, f in fits
        ],
        "any_warnings": any(f.warnings for _, f in fits),
        "launch_errors": launch_errors or [],
        "adapt_errors": adapt_errors or [],
        "snet_errors": snet_errors or [],
        "adapt_defaults": {"lenses": adapt.DEFAULT_LENSES, "epochs": adapt.DEFAULT_EPOCHS},
        "form": request.POST,
        "runs": runs.runs_with_counts(survey.runs.all()),
        "stretches": cutouts.STRETCHES,
        "stretch": stretch_of(request),
        "has_rgb": grading.rgb_bands(survey) is not None,
    }
    return render(request, "inspection/survey_detail.html", context, status=status)


def stretch_of(request):
    stretch = request.GET.get("stretch", "asinh")
    return stretch if stretch in cutouts.STRETCHES else "asinh"


# --- Stamp previews (admins: inspectors see only their own assignments' stamps,
# through views.grading.grade_stamp, which names no survey and no index) ------


@admin_required
def stamp_preview(request, name, index, kind):
    survey = get_object_or_404(Survey, name=name)
    if kind not in PREVIEW_KINDS:
        raise Http404("Previews are r or rgb.")
    try:
        png = grading.render_preview(survey, index, kind, stretch_of(request))
    except grading.PreviewError as exc:
        raise Http404(str(exc)) from exc
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response
