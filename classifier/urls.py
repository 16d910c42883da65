from django.urls import path

from classifier import views

app_name = "classifier"
urlpatterns = [
    path("", views.network_list, name="networks"),
    path("train/", views.train, name="train"),
    path("train/launch/", views.train_launch, name="train_launch"),
    path("training/<int:pk>/", views.training, name="training"),
    # Before the network pattern: no network may be named "experiments".
    path("experiments/", views.experiment_list, name="experiments"),
    path("experiments/launch/<slug:kind>/", views.experiment_launch, name="experiment_launch"),
    path("experiments/<int:pk>/", views.experiment_detail, name="experiment"),
    path(
        "experiments/<int:pk>/export.<str:fmt>",
        views.experiment_export,
        name="experiment_export",
    ),
    path("<slug:name>/", views.network_detail, name="network"),
]
