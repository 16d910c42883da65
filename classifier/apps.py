from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    """Networks, training, evaluation and inference; the registry of trained networks."""

    name = "classifier"

    def ready(self):
        from django.db.models.signals import post_migrate

        from classifier.signals import register_shipped_networks

        post_migrate.connect(register_shipped_networks, sender=self)
