"""The survey page's "Adapt a network" form: validated by a Django form and
``inspection.adaptation.services.check_adaptation`` (torch-free), then queued as a job."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from core import queue
from core.forms import form_errors
from core.roles import admin_required
from inspection.adaptation import services as adapt
from inspection.forms import AdaptForm, SnetRnetExperimentForm
from inspection.models import Survey


@admin_required
@require_POST
def adapt_launch(request: HttpRequest, name: str) -> HttpResponse:
    """Refusals re-render the survey page with the reason (400; 503 without
    Redis); nothing is registered or queued."""
    from inspection.views.surveys import survey_detail

    survey = get_object_or_404(Survey, name=name)
    form = AdaptForm(request.POST, prefix="adapt")  # apart from the launch form's fields
    if not form.is_valid():
        return survey_detail(request, survey.name, adapt_errors=form_errors(form), status=400)
    data = form.cleaned_data
    try:
        adapt.check_adaptation(survey, data["network"], data["name"], data["accept_warnings"])
    except adapt.UnconfirmedWarnings as exc:
        errors = [*exc.warnings, "Not started: tick “Adapt anyway” to adapt despite this."]
        return survey_detail(request, survey.name, adapt_errors=errors, status=400)
    except adapt.AdaptError as exc:
        return survey_detail(request, survey.name, adapt_errors=[str(exc)], status=400)
    options = {
        "lenses": data["lenses"],
        "epochs": data["epochs"],
        "accept_warnings": data["accept_warnings"],
    }
    title = f"Adapt {data['network'].name} to {survey.name} as {data['name']}"
    try:
        job = queue.launch(
            "inspection.jobs.adapt_network",
            survey.pk,
            data["network"].pk,
            data["name"],
            options,
            request.user.pk,
            title=title,
            queue="scoring",
            user=request.user,
            unit="%",
            timeout=7 * 24 * 3600,
        )
    except queue.QueueUnavailable as exc:
        return survey_detail(request, survey.name, adapt_errors=[str(exc)], status=503)
    return redirect("core:job", pk=job.pk)


@admin_required
@require_POST
def snet_rnet_launch(request: HttpRequest, name: str) -> HttpResponse:
    """The s-Net/r-Net experiment on this survey (``SnetRnetExperimentForm``,
    prefix ``snet``); refusals re-render the survey page with the reason."""
    from classifier.experiment_services import launch
    from inspection.views.surveys import survey_detail

    survey = get_object_or_404(Survey, name=name)
    data = request.POST.copy()
    data["snet-survey"] = survey.name
    form = SnetRnetExperimentForm(data, prefix="snet")
    if not form.is_valid():
        return survey_detail(request, survey.name, snet_errors=form_errors(form), status=400)
    try:
        experiment = launch("snet-rnet", form.parameters(), form.cleaned_data["seed"], request.user)
    except queue.QueueUnavailable as exc:
        return survey_detail(request, survey.name, snet_errors=[str(exc)], status=503)
    return redirect("classifier:experiment", pk=experiment.pk)
