"""Scoring-run pages: launching a run from a survey's page, the run list, a
run's page with its candidates, progress, cancel, resume, threshold, export,
and runs compared. Thin: each view calls ``inspection.scoring.services`` (the
code path the commands use) and renders. Nothing here imports torch: scoring
happens on the workers."""

from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from redis.exceptions import RedisError

from classifier.models import Network
from core import queue, tables
from core.forms import form_errors
from core.logodds import format_p_lens
from core.plots import to_div
from core.roles import admin_required
from inspection.catalogues import dashboards
from inspection.forms import RunCompareForm
from inspection.grading import services as grading
from inspection.models import ScoringRun, Survey
from inspection.scoring import services as runs
from inspection.views.surveys import stretch_of, survey_detail

CANDIDATES_SHOWN = 60
CELL_LISTED = 500  # candidates listed per list of a compared cell


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
        "stretch": stretch_of(request),
        "has_rgb": grading.rgb_bands(run.survey) is not None,
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
    """He et al. 2020 Table 3 by sky position: how the candidate sets of runs
    overlap, and a cell's shared and unique candidates (``?a=&b=``)."""
    form = RunCompareForm(request.GET if request.GET else None)
    comparison, status = None, 200
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        # In the order chosen (the form's queryset has its own).
        ids = [i.strip() for i in request.GET.getlist("runs")]
        chosen = sorted(data["runs"], key=lambda r: ids.index(str(r.pk)) if str(r.pk) in ids else 0)
        cell = (data["a"], data["b"]) if data["a"] else None
        comparison = runs.compare_runs(chosen, data["radius"], cell)
    elif form.is_bound:
        status = 400
    chosen = comparison.runs if comparison else []
    query = request.GET.copy()
    for key in ("a", "b"):
        query.pop(key, None)
    context = {
        "all_runs": ScoringRun.objects.select_related("survey", "network"),
        "chosen": chosen,
        "chosen_ids": [r.pk for r in chosen],
        "rows": [
            (r, list(zip(chosen, row, strict=True)))
            for r, row in zip(chosen, comparison.matrix if comparison else [], strict=True)
        ],
        "comparison": comparison,
        "radius": form.cleaned_data.get("radius")
        if comparison
        else RunCompareForm.base_fields["radius"].initial,
        "errors": form_errors(form) if status == 400 else [],
        "query": query.urlencode(),
        "listed": CELL_LISTED,
        "mixed_surveys": len({r.survey_id for r in chosen}) > 1,
    }
    return render(request, "inspection/run_compare.html", context, status=status)
