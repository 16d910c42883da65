"""Pages of the search's first half: surveys, stamps, scoring runs, candidates.

Thin: each view fetches, checks access, calls ``inspection.surveys`` /
``inspection.runs`` (the code path the commands use) and renders. Nothing
here imports torch: scoring happens on the workers.
"""

from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from redis.exceptions import RedisError

from classifier.models import Network
from core import queue, tables, uploads
from core.logodds import format_p_lens
from core.plots import to_div
from core.roles import admin_required
from inspection import adapt, cutouts, dashboards, previews, runs
from inspection.cuts import LRGCuts
from inspection.forms import CUT_FIELDS, SurveyIngestForm
from inspection.models import ScoringRun, Survey
from inspection.surveys import DEFAULT_STAMP_PX, surveys_dir

PREVIEW_KINDS = previews.KINDS
CANDIDATES_SHOWN = 60


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
def survey_detail(request, name, launch_errors=None, status=200, adapt_errors=None):
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
        "adapt_defaults": {"lenses": adapt.DEFAULT_LENSES, "epochs": adapt.DEFAULT_EPOCHS},
        "form": request.POST,
        "runs": runs.runs_with_counts(survey.runs.all()),
        "stretches": cutouts.STRETCHES,
        "stretch": _stretch(request),
        "has_rgb": previews.rgb_bands(survey) is not None,
    }
    return render(request, "inspection/survey_detail.html", context, status=status)


def _stretch(request):
    stretch = request.GET.get("stretch", "asinh")
    return stretch if stretch in cutouts.STRETCHES else "asinh"


# --- Stamp previews (admins: inspectors see only their own assignments' stamps,
# through grading_views.grade_stamp, which names no survey and no index) ------


@admin_required
def stamp_preview(request, name, index, kind):
    survey = get_object_or_404(Survey, name=name)
    if kind not in PREVIEW_KINDS:
        raise Http404("Previews are r or rgb.")
    try:
        png = previews.render_preview(survey, index, kind, _stretch(request))
    except previews.PreviewError as exc:
        raise Http404(str(exc)) from exc
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


# --- Runs ---------------------------------------------------------------------


@admin_required
@require_POST
def run_launch(request, name):
    """Refusals re-render the survey page with the form as sent and the
    reason (400; 503 without Redis); nothing is created or queued."""
    survey = get_object_or_404(Survey, name=name)
    # Django's choice field turns any value that names no network ("x", a
    # 30-digit number, nothing) into a validation error, not a database one.
    try:
        network = forms.ModelChoiceField(Network.objects.all()).clean(request.POST.get("network"))
    except forms.ValidationError:
        return survey_detail(request, survey.name, ["Choose a network."], status=400)
    threshold = request.POST.get("threshold", "").strip() or None
    try:
        run = runs.launch_run(
            survey,
            network,
            threshold,
            request.POST.get("sample") == "refined",
            user=request.user,
            accept_warnings=request.POST.get("accept_warnings") == "on",
            threshold_logit=request.POST.get("threshold_logit", "").strip() or None,
        )
    except runs.UnconfirmedWarnings as exc:
        errors = [*exc.warnings, "Not launched: tick “Launch anyway” to launch despite this."]
        return survey_detail(request, survey.name, errors, status=400)
    except runs.RunError as exc:
        return survey_detail(request, survey.name, [str(exc)], status=400)
    except runs.RunNotQueued as exc:
        # The run exists: its page says so and offers Resume.
        messages.error(request, str(exc))
        return redirect("inspection:run", pk=exc.run.pk)
    except queue.QueueUnavailable as exc:
        return survey_detail(request, survey.name, [str(exc)], status=503)
    return redirect("inspection:run", pk=run.pk)


@admin_required
def run_list(request):
    all_runs = runs.runs_with_counts(ScoringRun.objects.all())
    return render(request, "inspection/runs.html", {"runs": all_runs})


@admin_required
def run_detail(request, pk):
    run = get_object_or_404(ScoringRun.objects.select_related("survey", "network"), pk=pk)
    state = runs.progress(run)
    chunks = list(run.chunks.select_related("job"))
    try:
        no_worker = state.is_active and not queue.live_workers("scoring")
    except (RedisError, OSError):
        no_worker = False  # the progress panel says what it can
    candidates = list(runs.candidate_rows(run)[:CANDIDATES_SHOWN])
    counts, edges = runs.score_histogram(run)
    histogram = dashboards.score_histogram_figure(counts, edges, run.threshold_logit)
    context = {
        "run": run,
        "job": state,
        "progress_url": reverse("inspection:run_progress", args=[run.pk]),
        "chunks": chunks,
        "n_unfinished": sum(1 for c in chunks if c.status in ("failed", "cancelled")),
        "no_worker": queue.no_worker_message("scoring") if no_worker else "",
        "candidates": candidates,
        "n_candidates": run.candidates().count(),
        "histogram": to_div(histogram, div_id="fig-scores"),
        "stretch": _stretch(request),
        "has_rgb": previews.rgb_bands(run.survey) is not None,
        "formats": list(tables.DOWNLOADS),
    }
    return render(request, "inspection/run_detail.html", context)


@admin_required
def run_progress(request, pk):
    run = get_object_or_404(ScoringRun, pk=pk)
    return JsonResponse(runs.progress(run).progress_dict())


@admin_required
@require_POST
def run_cancel(request, pk):
    run = get_object_or_404(ScoringRun, pk=pk)
    n = runs.cancel(run)
    messages.info(request, f"Cancel requested for {n} chunk(s) of run {run.pk}.")
    return redirect("inspection:run", pk=run.pk)


@admin_required
@require_POST
def run_resume(request, pk):
    run = get_object_or_404(ScoringRun, pk=pk)
    try:
        resumed = runs.resume(run, request.user)
    except queue.QueueUnavailable as exc:
        messages.error(request, str(exc))
    else:
        messages.info(
            request,
            f"{resumed.queued} chunk(s) queued again; the other chunks keep their scores.",
        )
    return redirect("inspection:run", pk=run.pk)


@admin_required
@require_POST
def run_threshold(request, pk):
    run = get_object_or_404(ScoringRun, pk=pk)
    try:
        runs.set_threshold(
            run,
            request.POST.get("threshold", "").strip() or None,
            request.POST.get("threshold_logit", "").strip() or None,
        )
    except runs.RunError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Threshold set to P ≥ {format_p_lens(run.threshold_logit)} (log-odds ≥ "
            f"{run.threshold_logit:.6g}): {run.candidates().count()} candidates.",
        )
    return redirect("inspection:run", pk=run.pk)


@admin_required
def run_export(request, pk, fmt):
    run = get_object_or_404(ScoringRun, pk=pk)
    suffix = tables.DOWNLOADS.get(fmt)
    if suffix is None:
        raise Http404(f"Formats: {', '.join(tables.DOWNLOADS)}.")
    folder = Path(settings.DATA_DIR) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"run{run.pk}-candidates{suffix}"
    runs.export_candidates(run, path)
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)


@admin_required
def run_compare(request):
    """He et al. 2020 Table 3: how the candidate sets of runs overlap."""
    ids = [int(i) for i in request.GET.getlist("runs") if i.isdigit()]
    chosen = list(ScoringRun.objects.filter(pk__in=ids).select_related("survey", "network"))
    chosen.sort(key=lambda r: ids.index(r.pk))
    matrix = runs.overlap_matrix(chosen) if chosen else []
    rows = [(r, row) for r, row in zip(chosen, matrix, strict=True)]
    surveys = {r.survey_id for r in chosen}
    context = {
        "all_runs": ScoringRun.objects.select_related("survey", "network"),
        "chosen": chosen,
        "chosen_ids": ids,
        "rows": rows,
        "mixed_surveys": len(surveys) > 1,
    }
    return render(request, "inspection/run_compare.html", context)
