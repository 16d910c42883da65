from django.urls import path

from classifier import views

app_name = "classifier"
urlpatterns = [
    path("", views.network_list, name="networks"),
    path("train/", views.train, name="train"),
    path("train/launch/", views.train_launch, name="train_launch"),
    path("training/<int:pk>/", views.training, name="training"),
    path("<slug:name>/", views.network_detail, name="network"),
]
