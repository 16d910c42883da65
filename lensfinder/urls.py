from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from core.auth import LoginForm

urlpatterns = [
    path("", include("inspection.urls")),
    path("networks/", include("classifier.urls")),
    path("jobs/", include("core.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("rq/", include("django_rq.urls")),
]
