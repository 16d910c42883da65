"""Background jobs of the classifier (run by an rq worker; they take ids and values)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model

from classifier.services import settings_for, train_and_register
from core.progress import tracked

if TYPE_CHECKING:
    from core.progress import Progress


@tracked
def train_network(
    progress: Progress,
    name: str,
    architecture: str,
    train_path: str,
    val_path: str | None,
    options: dict,
    user_id: int | None = None,
) -> dict:
    """Train and register a network, reporting epoch, loss and validation AUC."""
    train_settings = settings_for(architecture, **options)
    progress.start(total=train_settings.epochs, unit="epochs", message="loading the training set")
    history = []

    def report(epoch, epochs, loss, val_auc):
        history.append({"epoch": epoch, "loss": loss, "val_auc": val_auc})
        progress.set_result({"history": history})
        auc = f", validation AUC {val_auc:.4f}" if val_auc is not None else ""
        progress.update(epoch, message=f"epoch {epoch}/{epochs}: loss {loss:.4f}{auc}", force=True)

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    network = train_and_register(name, train_path, train_settings, val_path or None, user, report)
    return {"history": history, "network": network.name}


@tracked
def run_experiment(progress: Progress, experiment_pk: int) -> dict:
    """Run a classifier experiment (``classifier.experiment_runs.run``)."""
    from classifier import experiment_runs
    from classifier.models import Experiment

    return experiment_runs.run(Experiment.objects.get(pk=experiment_pk), progress)
