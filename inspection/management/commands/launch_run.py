import time

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError
from tqdm import tqdm

from classifier.models import Network
from core import queue
from core.logodds import format_p_lens
from core.queue import QueueUnavailable
from inspection.models import ScoringRun, Survey
from inspection.scoring import services as runs


class Command(BaseCommand):
    help = (
        "Launch a scoring run (a network over every LRG of a survey) on the scoring queue, "
        "or resume one whose workers died (--resume RUN_ID)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--survey")
        parser.add_argument("--network")
        threshold = parser.add_mutually_exclusive_group()
        threshold.add_argument(
            "--threshold",
            type=float,
            help="candidates: P(lens) >= this (default: the network's 1%% FPR threshold)",
        )
        threshold.add_argument(
            "--threshold-logit",
            type=float,
            metavar="LOGODDS",
            help="or the threshold as log-odds ln P/(1-P), e.g. 12.5 (P = 1 - 3.7e-06): "
            "exact where probabilities round to 1",
        )
        parser.add_argument(
            "--refined", action="store_true", help="the refined sample (FLAG_R = 0)"
        )
        parser.add_argument(
            "--chunk-size", type=int, default=runs.DEFAULT_CHUNK, help="stamps per job"
        )
        parser.add_argument(
            "--resume",
            type=int,
            metavar="RUN_ID",
            help="queue again every unfinished chunk of this run",
        )
        parser.add_argument(
            "--accept-warnings",
            action="store_true",
            help="launch even if the network may not suit the survey (the warnings still print)",
        )
        parser.add_argument("--wait", action="store_true", help="wait until the run ends")
        parser.add_argument(
            "--no-worker-timeout",
            type=float,
            default=10.0,
            metavar="SECONDS",
            help="with --wait: stop waiting, and say how to start one, when no worker has "
            "listened on the scoring queue for this long (default 10)",
        )
        parser.add_argument(
            "--in-process",
            action="store_true",
            help="score here instead of on the workers (no Redis needed)",
        )

    def handle(self, **o):
        try:
            if o["resume"]:
                run = ScoringRun.objects.filter(pk=o["resume"]).first()
                if run is None:
                    raise CommandError(f"No scoring run {o['resume']}.")
                if o["in_process"]:
                    runs.run_in_process(run)
                else:
                    resumed = runs.resume(run)
                    self.stdout.write(
                        f"Run {run.pk}: {resumed.queued} unfinished chunk(s) queued again; "
                        f"{resumed.active} still queued or running on a live worker kept as is"
                    )
            else:
                if not (o["survey"] and o["network"]):
                    raise CommandError(
                        "Give --survey NAME and --network NAME (or --resume RUN_ID)."
                    )
                survey = Survey.objects.filter(name=o["survey"]).first()
                if survey is None:
                    known = ", ".join(Survey.objects.values_list("name", flat=True)) or "none yet"
                    raise CommandError(f"No survey named {o['survey']!r} (ingested: {known}).")
                network = Network.objects.filter(name=o["network"]).first()
                if network is None:
                    known = ", ".join(Network.objects.values_list("name", flat=True)) or "none"
                    raise CommandError(f"No network named {o['network']!r} (registered: {known}).")
                # Printed even when accepted, so that a log of the run keeps them.
                for warning in runs.network_fit(survey, network).warnings:
                    self.stderr.write(f"Warning: {warning}")
                try:
                    run = runs.launch_run(
                        survey,
                        network,
                        o["threshold"],
                        o["refined"],
                        o["chunk_size"],
                        enqueue=not o["in_process"],
                        accept_warnings=o["accept_warnings"],
                        threshold_logit=o["threshold_logit"],
                    )
                except runs.UnconfirmedWarnings as exc:
                    raise CommandError(
                        "Not launched: add --accept-warnings to launch anyway despite the "
                        "warning(s) above."
                    ) from exc
                self.stdout.write(
                    f"Run {run.pk}: {run.network.name} on {run.survey.name} "
                    f"({run.n_sources} sources, {run.chunks.count()} chunks, "
                    f"threshold P >= {format_p_lens(run.threshold_logit, minus='-')}, "
                    f"log-odds >= {run.threshold_logit:.6g})"
                )
                if o["in_process"]:
                    runs.run_in_process(run)
        except (runs.RunError, QueueUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        if o["wait"] or o["in_process"]:
            patience = None if o["in_process"] else o["no_worker_timeout"]
            state = self._wait(run, o["verbosity"], patience)
            if state.status != "succeeded":
                raise CommandError(
                    f"Run {run.pk} ended {state.status}: {state.error or state.message}. "
                    f"Retry with: manage.py launch_run --resume {run.pk}"
                )
        n = run.candidates().count()
        self.stdout.write(
            f"run {run.pk}: {n} candidates (log-odds >= {run.threshold_logit:.6g}, "
            f"P >= {format_p_lens(run.threshold_logit, minus='-')})"
        )

    def _wait(self, run, verbosity, no_worker_timeout_s=None):
        """Follow the run until it ends; give up, saying how to start a
        worker, once none has listened for ``no_worker_timeout_s``."""
        seen_worker_at = time.monotonic()
        with tqdm(total=run.n_sources, unit="stamp", disable=verbosity == 0) as bar:
            while True:
                state = runs.progress(run)
                bar.update(state.done - bar.n)
                if not state.is_active:
                    return state
                if no_worker_timeout_s is not None:
                    if self._worker_listens():
                        seen_worker_at = time.monotonic()
                    elif time.monotonic() - seen_worker_at > no_worker_timeout_s:
                        advice = queue.no_worker_message("scoring")
                        raise CommandError(
                            f"Run {run.pk} waits for a worker. {advice} Then follow the run "
                            f"with: manage.py launch_run --resume {run.pk} --wait"
                        )
                time.sleep(0.5)

    @staticmethod
    def _worker_listens():
        try:
            return queue.live_workers("scoring") > 0
        except (RedisError, OSError):
            return True  # Redis itself is away: not a missing worker
