from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core import queue
from core.forms import form_errors
from core.models import Job
from core.roles import admin_required, inspector_required, is_admin
from inspection import accounts
from inspection.forms import InspectorForm, inspectors


def home(request):
    """An admin's overview, or an inspector's own work."""
    if is_admin(request.user):
        context = {
            "n_inspectors": inspectors().count(),
            "n_active_jobs": Job.objects.filter(status__in=Job.ACTIVE).count(),
            "recent_jobs": Job.objects.all()[:5],
            "queues": queue.queue_health(),
        }
        return render(request, "inspection/home_admin.html", context)
    return render(request, "inspection/home_inspector.html", _my_work(request.user))


def _my_work(user):
    """The inspector's open campaigns with their own progress, and training."""
    from inspection import grading
    from inspection.models import Campaign

    campaigns = []
    for c in Campaign.objects.filter(inspectors=user, status=Campaign.Status.OPEN):
        mine = c.assignments.filter(inspector=user)
        campaigns.append(
            {"campaign": c, "total": mine.count(), "done": mine.filter(grade__isnull=False).count()}
        )
    return {"campaigns": campaigns, "needs_training": grading.needs_training(user)}


@inspector_required
def my_grading(request):
    return render(request, "inspection/my_grading.html", _my_work(request.user))


@admin_required
def inspector_list(
    request: HttpRequest, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    """The inspectors, and the form that adds one (a refused form keeps its values)."""
    context = {"inspectors": inspectors(), "errors": errors or [], "form": request.POST}
    return render(request, "inspection/inspector_list.html", context, status=status)


@admin_required
@require_POST
def inspector_create(request: HttpRequest) -> HttpResponse:
    form = InspectorForm(request.POST)
    if not form.is_valid():
        return inspector_list(request, form_errors(form), status=400)
    data = form.cleaned_data
    try:
        user, password = accounts.create_inspector(
            data["username"],
            password=data["password"] or None,
            email=data["email"],
            full_name=data["full_name"],
        )
    except accounts.AccountError as exc:
        return inspector_list(request, [str(exc)], status=400)
    shown = (
        ""
        if data["password"]
        else f" Their password is {password} — pass it on now; it is not shown again."
    )
    messages.success(request, f"Inspector {user.username} created.{shown}")
    return redirect("inspection:inspectors")
