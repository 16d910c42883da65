from django.urls import path

from inspection import views

app_name = "inspection"


def section(route, name, title):
    kwargs = {"title": title, "template": f"inspection/{name}.html"}
    return path(route, views.section, kwargs, name=name)


urlpatterns = [
    path("", views.home, name="home"),
    path("grading/", views.my_grading, name="my_grading"),
    path("inspectors/", views.inspector_list, name="inspectors"),
    path("inspectors/new/", views.inspector_create, name="inspector_create"),
    section("surveys/", "surveys", "Surveys"),
    section("runs/", "runs", "Scoring runs"),
    section("campaigns/", "campaigns", "Campaigns"),
    section("catalogues/", "catalogues", "Catalogues"),
]
