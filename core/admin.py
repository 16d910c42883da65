from django.contrib import admin

from core.models import Claim, Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "queue", "status", "done", "total", "created_at", "created_by")
    list_filter = ("status", "queue")
    search_fields = ("title", "function")
    readonly_fields = ("created_at", "started_at", "finished_at", "progress_at")


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    """Names held by running work (core.claims). One whose holder ran on another
    machine and died can be deleted here; a holder on this machine, or a job,
    is found dead by the next taker on its own."""

    list_display = ("key", "job", "pid", "host", "created_at")
    search_fields = ("key",)
