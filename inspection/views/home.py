"""The home page (an admin's overview, or an inspector's own work) and an
inspector's "My grading" page."""

from django.shortcuts import render

from core import queue
from core.models import Job
from core.roles import inspector_required, is_admin
from inspection.forms import inspectors


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
    from inspection.grading import services as grading
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
