from django.apps import AppConfig


class InspectionConfig(AppConfig):
    """The search itself: surveys, runs, candidates, inspectors, campaigns, catalogues."""

    name = "inspection"
