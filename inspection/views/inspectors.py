"""The inspectors page: the list of inspectors and the form that adds one
(``inspection.grading.services.create_inspector``)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.forms import form_errors
from core.roles import admin_required
from inspection.forms import InspectorForm, inspectors
from inspection.grading import services as grading


@admin_required
def inspector_list(
    request: HttpRequest, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    """The inspectors, and the form that adds one (a refused form keeps its values)."""
    context = {
        "inspectors": inspectors(),
        "skills": grading.skills_table(),
        "errors": errors or [],
        "form": request.POST,
    }
    return render(request, "inspection/inspector_list.html", context, status=status)


@admin_required
@require_POST
def inspector_create(request: HttpRequest) -> HttpResponse:
    form = InspectorForm(request.POST)
    if not form.is_valid():
        return inspector_list(request, form_errors(form), status=400)
    data = form.cleaned_data
    try:
        user, password = grading.create_inspector(
            data["username"],
            password=data["password"] or None,
            email=data["email"],
            full_name=data["full_name"],
        )
    except grading.AccountError as exc:
        return inspector_list(request, [str(exc)], status=400)
    shown = (
        ""
        if data["password"]
        else f" Their password is {password} — pass it on now; it is not shown again."
    )
    messages.success(request, f"Inspector {user.username} created.{shown}")
    return redirect("inspection:inspectors")
