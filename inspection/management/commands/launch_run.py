import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from classifier.models import Network
from core.queue import QueueUnavailable
from inspection import runs
from inspection.models import ScoringRun, Survey


class Command(BaseCommand):
    help = (
        "Launch a scoring run (a network over every LRG of a survey) on the scoring queue, "
        "or resume one whose workers died (--resume RUN_ID)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--survey")
        parser.add_argument("--network")
        parser.add_argument(
            "--threshold",
            type=float,
            help="candidates: score >= this (default: the network's 1%% FPR threshold)",
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
        parser.add_argument("--wait", action="store_true", help="wait until the run ends")
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
                    n = runs.relaunch(run)
                    self.stdout.write(f"Run {run.pk}: {n} unfinished chunk(s) queued again")
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
                run = runs.launch_run(
                    survey,
                    network,
                    o["threshold"],
                    o["refined"],
                    o["chunk_size"],
                    enqueue=not o["in_process"],
                )
                self.stdout.write(
                    f"Run {run.pk}: {run.network.name} on {run.survey.name} "
                    f"({run.n_sources} sources, {run.chunks.count()} chunks, "
                    f"threshold {run.threshold:.6g})"
                )
                if o["in_process"]:
                    runs.run_in_process(run)
        except (runs.RunError, QueueUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        if o["wait"] or o["in_process"]:
            state = self._wait(run, o["verbosity"])
            if state.status != "succeeded":
                raise CommandError(
                    f"Run {run.pk} ended {state.status}: {state.error or state.message}. "
                    f"Retry with: manage.py launch_run --resume {run.pk}"
                )
        n = run.candidates().count()
        self.stdout.write(f"run {run.pk}: {n} candidates (score >= {run.threshold:.6g})")

    def _wait(self, run, verbosity):
        with tqdm(total=run.n_sources, unit="stamp", disable=verbosity == 0) as bar:
            while True:
                state = runs.progress(run)
                bar.update(state.done - bar.n)
                if not state.is_active:
                    return state
                time.sleep(0.5)
