"""The ``Experiment`` records of the classifier experiments: launching one
(the page and the ``experiment`` command share it), where its products go,
and removing them. No torch here: the web process launches experiments;
a worker runs them (``classifier.experiment_runs``).

One code path for the page and the command: both check their input with
the forms of ``classifier.forms`` (``inspection.forms`` for the survey
experiment), then ``launch`` queues the job, or ``record`` makes its row for
a command that runs it in its own process. An experiment that fails or is
cancelled leaves no product behind: its folder and the networks it
registered are removed, and its record says what happened (its job's
status and error).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from classifier import experiments
from classifier.models import Experiment, Network
from core import queue

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TIMEOUT_S = 7 * 24 * 3600
# The job of each kind: the survey experiment runs in the inspection app,
# which may import the classifier (the classifier may not import it).
JOBS = {
    "psf": "classifier.jobs.run_experiment",
    "volume": "classifier.jobs.run_experiment",
    "complexity": "classifier.jobs.run_experiment",
    "snet-rnet": "inspection.jobs.run_snet_rnet",
}


def folder(experiment: Experiment) -> Path:
    """Where an experiment's sets and weights go: ``<data dir>/experiments/<pk>``."""
    return Path(settings.DATA_DIR) / "experiments" / str(experiment.pk)


def launch(kind: str, parameters: dict, seed: int, user: User | None = None) -> Experiment:
    """Record an experiment and queue its job (``classifier.jobs.run_experiment``
    on the scoring queue); ``parameters`` as a form of ``classifier.forms``
    cleaned them. Raises ``core.queue.QueueUnavailable`` (nothing is
    recorded) when Redis does not answer."""
    return record(kind, parameters, seed, user, enqueue=True)


def record(
    kind: str, parameters: dict, seed: int, user: User | None = None, enqueue: bool = False
) -> Experiment:
    """Record an experiment and its job row; queue the job only with
    ``enqueue`` (``launch``), else the caller runs
    ``classifier.jobs.run_experiment(job.pk, experiment.pk)`` itself (the
    command, in its own process)."""
    if kind not in experiments.KINDS:
        raise ValueError(f"Unknown experiment {kind!r}: choose {', '.join(experiments.KINDS)}.")
    if enqueue:
        queue.check_queue("scoring")
    with transaction.atomic():
        experiment = Experiment.objects.create(
            kind=kind,
            parameters=parameters,
            seed=seed,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        experiment.job = queue.launch(
            JOBS[kind],
            experiment.pk,
            title=f"Experiment {experiment.pk}: {experiments.KINDS[kind]}",
            queue="scoring",
            user=user,
            unit="steps",
            timeout=TIMEOUT_S,
            enqueue=enqueue,
        )
        experiment.save(update_fields=["job"])
    return experiment


def discard_products(experiment: Experiment) -> None:
    """Remove what an experiment made: its folder, its registered networks
    and the checkpoint of a training it stopped in."""
    for network in Network.objects.filter(training__experiment=experiment.pk):
        Path(settings.DATA_DIR, network.weights_path).unlink(missing_ok=True)
        network.delete()
    for workdir in (Path(settings.DATA_DIR) / "training").glob(f"experiment-{experiment.pk}-*"):
        shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(folder(experiment), ignore_errors=True)
