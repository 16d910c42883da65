from django.contrib import admin

from core.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "queue", "status", "done", "total", "created_at", "created_by")
    list_filter = ("status", "queue")
    search_fields = ("title", "function")
    readonly_fields = ("created_at", "started_at", "finished_at", "progress_at")
