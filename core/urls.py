from django.urls import path

from core import views

app_name = "core"
urlpatterns = [
    path("", views.job_list, name="jobs"),
    path("selftest/", views.job_selftest, name="selftest"),
    path("<int:pk>/", views.job_detail, name="job"),
    path("<int:pk>/progress.json", views.job_progress, name="job_progress"),
    path("<int:pk>/cancel/", views.job_cancel, name="job_cancel"),
]
