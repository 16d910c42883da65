from django.urls import path

from inspection import adapt_views, catalogue_views, grading_views, search_views, views

app_name = "inspection"


urlpatterns = [
    path("", views.home, name="home"),
    path("grading/", views.my_grading, name="my_grading"),
    path("inspectors/", views.inspector_list, name="inspectors"),
    path("inspectors/new/", views.inspector_create, name="inspector_create"),
    path("surveys/", search_views.survey_list, name="surveys"),
    path("surveys/ingest/", search_views.survey_ingest, name="survey_ingest"),
    path("surveys/<slug:name>/", search_views.survey_detail, name="survey"),
    path("surveys/<slug:name>/run/", search_views.run_launch, name="run_launch"),
    path("surveys/<slug:name>/adapt/", adapt_views.adapt_launch, name="adapt_launch"),
    path(
        "surveys/<slug:name>/stamps/<int:index>/<str:kind>.png",
        search_views.stamp_preview,
        name="preview",
    ),
    path("runs/", search_views.run_list, name="runs"),
    path("runs/compare/", search_views.run_compare, name="run_compare"),
    path("runs/<int:pk>/", search_views.run_detail, name="run"),
    path("runs/<int:pk>/progress.json", search_views.run_progress, name="run_progress"),
    path("runs/<int:pk>/cancel/", search_views.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/resume/", search_views.run_resume, name="run_resume"),
    path("runs/<int:pk>/threshold/", search_views.run_threshold, name="run_threshold"),
    path("runs/<int:pk>/export.<str:fmt>", search_views.run_export, name="run_export"),
    path("training/", grading_views.training, name="training"),
    path("training/answer/", grading_views.training_answer, name="training_answer"),
    path("training/retake/", grading_views.training_retake, name="training_retake"),
    path("training/policy/", grading_views.training_policy, name="training_policy"),
    path(
        "training/stamps/<int:item_pk>/<str:kind>.png",
        grading_views.training_stamp,
        name="training_stamp",
    ),
    path("grading/<int:pk>/", grading_views.grade_page, name="grade"),
    path("grading/<int:pk>/items.json", grading_views.grade_items, name="grade_items"),
    path("grading/<int:pk>/grade/", grading_views.grade_submit, name="grade_submit"),
    path(
        "grading/<int:pk>/stamps/<int:assignment_pk>/<str:kind>.png",
        grading_views.grade_stamp,
        name="grade_stamp",
    ),
    path(
        "known/<slug:name>/stamps/<int:index>/<str:kind>.png",
        grading_views.known_preview,
        name="known_preview",
    ),
    path("campaigns/", grading_views.campaign_list, name="campaigns"),
    path("campaigns/new/", grading_views.campaign_create, name="campaign_create"),
    path("known/new/", grading_views.known_set_add, name="known_set_add"),
    path("campaigns/<int:pk>/", grading_views.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/status/", grading_views.campaign_status, name="campaign_status"),
    path(
        "campaigns/<int:pk>/items/<int:item_pk>/", grading_views.campaign_item, name="campaign_item"
    ),
    path("catalogues/", catalogue_views.catalogue_list, name="catalogues"),
    path("catalogues/priors/", catalogue_views.prior_list_add, name="prior_list_add"),
    path(
        "catalogues/priors/<int:pk>/delete/",
        catalogue_views.prior_list_delete,
        name="prior_list_delete",
    ),
    path("catalogues/<int:pk>/", catalogue_views.catalogue_detail, name="catalogue"),
    path(
        "catalogues/<int:pk>/settings/",
        catalogue_views.catalogue_settings,
        name="catalogue_settings",
    ),
    path("catalogues/<int:pk>/further-vote/", catalogue_views.further_vote, name="further_vote"),
    path(
        "catalogues/<int:pk>/<str:which>.<str:fmt>",
        catalogue_views.catalogue_export,
        name="catalogue_export",
    ),
    path(
        "catalogues/<int:pk>/gallery/<str:which>.png",
        catalogue_views.catalogue_gallery,
        name="catalogue_gallery",
    ),
]
