from django.core.management.base import BaseCommand, CommandError

from inspection import runs
from inspection.models import ScoringRun


class Command(BaseCommand):
    help = (
        "Write a run's candidates (score >= threshold) as CSV, FITS, ECSV or VOTable (by suffix)."
    )

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int)
        parser.add_argument("--out", required=True, help="e.g. candidates.csv, .fits, .ecsv, .vot")
        parser.add_argument(
            "--threshold", type=float, help="use this threshold instead of the run's"
        )

    def handle(self, run_id, out, threshold, **o):
        run = ScoringRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"No scoring run {run_id}.")
        try:
            if threshold is not None:
                run.threshold, _ = runs.check_threshold(run.network, threshold)
            n = runs.export_candidates(run, out)
        except runs.RunError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Wrote {n} candidates of run {run.pk} to {out}")
