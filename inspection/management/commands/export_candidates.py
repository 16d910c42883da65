from django.core.management.base import BaseCommand, CommandError

from inspection.models import ScoringRun
from inspection.scoring import services as runs


class Command(BaseCommand):
    help = (
        "Write a run's candidates (log-odds >= the run's threshold), best first, with their "
        "P(lens) and log-odds, as CSV, FITS, ECSV or VOTable (by suffix)."
    )

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int)
        parser.add_argument("--out", required=True, help="e.g. candidates.csv, .fits, .ecsv, .vot")
        threshold = parser.add_mutually_exclusive_group()
        threshold.add_argument(
            "--threshold", type=float, help="use this threshold (P) instead of the run's"
        )
        threshold.add_argument(
            "--threshold-logit", type=float, metavar="LOGODDS", help="or this one as log-odds"
        )

    def handle(self, run_id, out, threshold, threshold_logit, **o):
        run = ScoringRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"No scoring run {run_id}.")
        try:
            if threshold is not None or threshold_logit is not None:
                # On this copy of the run only: the stored threshold stays.
                run.threshold, run.threshold_logit, _ = runs.check_threshold(
                    run.network, threshold, threshold_logit
                )
            n = runs.export_candidates(run, out)
        except runs.RunError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Wrote {n} candidates of run {run.pk} to {out}")
