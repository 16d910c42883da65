from django.urls import path

from inspection import search_views, views

app_name = "inspection"


def section(route, name, title):
    kwargs = {"title": title, "template": f"inspection/{name}.html"}
    return path(route, views.section, kwargs, name=name)


urlpatterns = [
    path("", views.home, name="home"),
    path("grading/", views.my_grading, name="my_grading"),
    path("inspectors/", views.inspector_list, name="inspectors"),
    path("inspectors/new/", views.inspector_create, name="inspector_create"),
    path("surveys/", search_views.survey_list, name="surveys"),
    path("surveys/ingest/", search_views.survey_ingest, name="survey_ingest"),
    path("surveys/<slug:name>/", search_views.survey_detail, name="survey"),
    path("surveys/<slug:name>/run/", search_views.run_launch, name="run_launch"),
    path(
        "surveys/<slug:name>/stamps/<int:index>/<str:kind>.png",
        search_views.stamp_preview,
        name="preview",
    ),  # fmt: skip
    path("runs/", search_views.run_list, name="runs"),
    path("runs/compare/", search_views.run_compare, name="run_compare"),
    path("runs/<int:pk>/", search_views.run_detail, name="run"),
    path("runs/<int:pk>/progress.json", search_views.run_progress, name="run_progress"),
    path("runs/<int:pk>/cancel/", search_views.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/retry/", search_views.run_retry, name="run_retry"),
    path("runs/<int:pk>/threshold/", search_views.run_threshold, name="run_threshold"),
    path("runs/<int:pk>/export.<str:fmt>", search_views.run_export, name="run_export"),
    section("campaigns/", "campaigns", "Campaigns"),
    section("catalogues/", "catalogues", "Catalogues"),
]
