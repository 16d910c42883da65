from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared infrastructure: roles, background-job records, the dev stack launcher."""

    name = "core"
    verbose_name = "LensFinder core"
