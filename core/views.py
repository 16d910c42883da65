from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core import jobs, queue
from core.models import Job
from core.roles import admin_required

SELFTEST_MAX_STEPS = 10_000


@admin_required
def job_list(request, error=None, status=200):
    context = {"jobs": Job.objects.select_related("created_by")[:100], "error": error}
    return render(request, "core/job_list.html", context, status=status)


@admin_required
def job_detail(request, pk):
    job = queue.reconcile(get_object_or_404(Job, pk=pk))
    return render(request, "core/job_detail.html", {"job": job})


@admin_required
def job_progress(request, pk):
    job = queue.reconcile(get_object_or_404(Job, pk=pk))
    return JsonResponse(job.progress_dict())


@admin_required
@require_POST
def job_cancel(request, pk):
    job = queue.request_cancel(get_object_or_404(Job, pk=pk))
    messages.info(request, f"Cancel requested for “{job.title}”.")
    return redirect("core:job", pk=job.pk)


@admin_required
@require_POST
def job_selftest(request):
    try:
        steps = int(request.POST.get("steps", 20))
        delay_s = float(request.POST.get("delay_s", 0.25))
    except ValueError:
        return job_list(request, error="Steps and delay must be numbers.", status=400)
    if not (1 <= steps <= SELFTEST_MAX_STEPS and 0 <= delay_s <= 10):
        return job_list(
            request,
            error=f"Steps must be 1-{SELFTEST_MAX_STEPS} and the delay 0-10 s.",
            status=400,
        )
    try:
        job = queue.launch(
            jobs.selftest, steps, delay_s, title=f"Self-test: count to {steps}", user=request.user
        )
    except queue.QueueUnavailable as exc:
        return job_list(request, error=str(exc), status=503)
    return redirect("core:job", pk=job.pk)
