from django.apps import AppConfig


class SimulationsConfig(AppConfig):
    """Training-set simulator. Physics lives in pure modules; the app holds its commands."""

    name = "simulations"
