from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core import jobs, queue
from core.forms import SelftestForm, form_errors
from core.models import Job
from core.roles import admin_required


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
def job_selftest(request: HttpRequest) -> HttpResponse:
    form = SelftestForm(request.POST)
    if not form.is_valid():
        return job_list(request, error=" ".join(form_errors(form)), status=400)
    steps, delay_s = form.cleaned_data["steps"], form.cleaned_data["delay_s"]
    try:
        job = queue.launch(
            jobs.selftest, steps, delay_s, title=f"Self-test: count to {steps}", user=request.user
        )
    except queue.QueueUnavailable as exc:
        return job_list(request, error=str(exc), status=503)
    return redirect("core:job", pk=job.pk)
