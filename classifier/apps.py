from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    """Networks, training, evaluation and inference; the registry of trained networks."""

    name = "classifier"
