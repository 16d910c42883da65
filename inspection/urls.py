from django.urls import path

from inspection.views import (
    adaptation,
    catalogues,
    discussion,
    grading,
    home,
    inspectors,
    runs,
    surveys,
)

app_name = "inspection"


urlpatterns = [
    path("", home.home, name="home"),
    path("grading/", home.my_grading, name="my_grading"),
    path("inspectors/", inspectors.inspector_list, name="inspectors"),
    path("inspectors/new/", inspectors.inspector_create, name="inspector_create"),
    path("surveys/", surveys.survey_list, name="surveys"),
    path("surveys/ingest/", surveys.survey_ingest, name="survey_ingest"),
    path("surveys/<slug:name>/", surveys.survey_detail, name="survey"),
    path("surveys/<slug:name>/run/", runs.run_launch, name="run_launch"),
    path("surveys/<slug:name>/adapt/", adaptation.adapt_launch, name="adapt_launch"),
    path("surveys/<slug:name>/snet-rnet/", adaptation.snet_rnet_launch, name="snet_rnet_launch"),
    path(
        "surveys/<slug:name>/stamps/<int:index>/<str:kind>.png",
        surveys.stamp_preview,
        name="preview",
    ),
    path("runs/", runs.run_list, name="runs"),
    path("runs/compare/", runs.run_compare, name="run_compare"),
    path("runs/<int:pk>/", runs.run_detail, name="run"),
    path("runs/<int:pk>/progress.json", runs.run_progress, name="run_progress"),
    path("runs/<int:pk>/cancel/", runs.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/resume/", runs.run_resume, name="run_resume"),
    path("runs/<int:pk>/threshold/", runs.run_threshold, name="run_threshold"),
    path("runs/<int:pk>/export.<str:fmt>", runs.run_export, name="run_export"),
    path("training/", grading.training, name="training"),
    path("training/answer/", grading.training_answer, name="training_answer"),
    path("training/answer.json", grading.training_answer_json, name="training_answer_json"),
    path("training/reveal/<int:item_pk>.png", grading.training_reveal, name="training_reveal"),
    path("training/retake/", grading.training_retake, name="training_retake"),
    path("training/policy/", grading.training_policy, name="training_policy"),
    path(
        "training/stamps/<int:item_pk>/<str:kind>.png",
        grading.training_stamp,
        name="training_stamp",
    ),
    path("grading/<int:pk>/", grading.grade_page, name="grade"),
    path("grading/<int:pk>/items.json", grading.grade_items, name="grade_items"),
    path("grading/<int:pk>/grade/", grading.grade_submit, name="grade_submit"),
    path(
        "grading/<int:pk>/stamps/<int:assignment_pk>/<str:kind>.png",
        grading.grade_stamp,
        name="grade_stamp",
    ),
    path(
        "known/<slug:name>/stamps/<int:index>/<str:kind>.png",
        grading.known_preview,
        name="known_preview",
    ),
    path("campaigns/", grading.campaign_list, name="campaigns"),
    path("campaigns/new/", grading.campaign_create, name="campaign_create"),
    path("known/new/", grading.known_set_add, name="known_set_add"),
    path("campaigns/<int:pk>/", grading.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/status/", grading.campaign_status, name="campaign_status"),
    path("campaigns/<int:pk>/items/<int:item_pk>/", grading.campaign_item, name="campaign_item"),
    path(
        "campaigns/<int:pk>/injections/<int:index>/<str:kind>.png",
        grading.injection_preview,
        name="injection_preview",
    ),
    path("campaigns/<int:pk>/adaptive/", grading.campaign_adaptive, name="campaign_adaptive"),
    path(
        "campaigns/<int:pk>/effort/<str:which>.<str:fmt>",
        grading.campaign_effort,
        name="campaign_effort",
    ),
    path("catalogues/", catalogues.catalogue_list, name="catalogues"),
    path("catalogues/priors/", catalogues.prior_list_add, name="prior_list_add"),
    path(
        "catalogues/priors/<int:pk>/delete/",
        catalogues.prior_list_delete,
        name="prior_list_delete",
    ),
    path("catalogues/<int:pk>/", catalogues.catalogue_detail, name="catalogue"),
    path(
        "catalogues/<int:pk>/settings/",
        catalogues.catalogue_settings,
        name="catalogue_settings",
    ),
    path("catalogues/<int:pk>/further-vote/", catalogues.further_vote, name="further_vote"),
    path(
        "catalogues/<int:pk>/completeness.<str:fmt>",
        catalogues.completeness_export,
        name="completeness_export",
    ),
    path(
        "catalogues/<int:pk>/<str:which>.<str:fmt>",
        catalogues.catalogue_export,
        name="catalogue_export",
    ),
    path(
        "catalogues/<int:pk>/gallery/<str:which>.png",
        catalogues.catalogue_gallery,
        name="catalogue_gallery",
    ),
    # Discussion after blind grading (inspection.views.discussion).
    path("campaigns/<int:pk>/discussion/", discussion.discussion_index, name="discussion"),
    path(
        "campaigns/<int:pk>/items/<int:item_pk>/comment/",
        discussion.item_comment,
        name="item_comment",
    ),
    path(
        "campaigns/<int:pk>/items/<int:item_pk>/decision/",
        discussion.item_decision,
        name="item_decision",
    ),
    path("grading/<int:pk>/discussion/", discussion.my_discussion, name="my_discussion"),
    path(
        "grading/<int:pk>/candidates/<int:assignment_pk>/",
        discussion.graded_candidate,
        name="graded_candidate",
    ),
    path(
        "grading/<int:pk>/candidates/<int:assignment_pk>/<str:band>.fits",
        discussion.graded_fits,
        name="graded_fits",
    ),
    path(
        "surveys/<slug:name>/stamps/<int:index>/<str:band>.fits",
        discussion.stamp_fits,
        name="stamp_fits",
    ),
    path(
        "runs/<int:pk>/candidates/<int:source_pk>/",
        discussion.run_candidate,
        name="run_candidate",
    ),
]
