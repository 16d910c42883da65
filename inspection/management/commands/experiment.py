"""``manage.py experiment psf|volume|complexity|snet-rnet``: the classifier
experiments (He et al. 2020 Sect. 5 and Table 3, Lanusse et al. 2018 Fig. 9),
checked with the pages' forms and run through the job's own code path: here,
with a progress bar (the default), or queued for a worker (``--queue``).

It lives in the inspection app because the s-Net/r-Net experiment needs an
ingested survey, and the classifier app may not import this one."""

import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from classifier import experiments
from classifier.experiment_services import JOBS
from classifier.models import Experiment
from core import queue
from core.forms import form_errors
from core.models import Job
from core.progress import echo_to
from inspection.forms import ALL_EXPERIMENT_FORMS


class Command(BaseCommand):
    help = "Run a classifier experiment: psf, volume, complexity or snet-rnet (see the README)."

    def add_arguments(self, parser):
        kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
        psf = kinds.add_parser("psf", help=experiments.KINDS["psf"])
        psf.add_argument("--network", required=True, help="a registered network")
        psf.add_argument(
            "--factors",
            default="",
            help="PSF FWHM factors of the training set's median, e.g. 0.4,0.6,...,2.0 "
            "(default; 1.0 is always added)",
        )
        psf.add_argument("--n", type=int, help="stamps per set, half lenses (default 1000)")

        volume = kinds.add_parser("volume", help=experiments.KINDS["volume"])
        volume.add_argument("--architecture", default="he2020-cnn")
        volume.add_argument("--sizes", default="", help="default 10000,20000,40000,80000")
        volume.add_argument("--epochs", type=int, help="at most, per network (default 6)")
        volume.add_argument("--survey", default="kids-r")
        volume.add_argument("--n-test", type=int, help="test stamps (default 4000)")

        complexity = kinds.add_parser("complexity", help=experiments.KINDS["complexity"])
        complexity.add_argument("--survey", default="kids-r")
        complexity.add_argument("--n-train", type=int, help="per set (default 10000)")
        complexity.add_argument("--epochs", type=int, help="at most, per network (default 5)")
        complexity.add_argument("--n-test", type=int, help="per test set (default 2000)")

        snet = kinds.add_parser("snet-rnet", help=experiments.KINDS["snet-rnet"])
        snet.add_argument("--survey", required=True, help="an ingested survey")
        snet.add_argument("--network", required=True, help="the s-Net, a registered network")
        snet.add_argument("--lenses", type=int, help="semi-real training lenses (default 4000)")
        snet.add_argument("--epochs", type=int, help="fine-tuning epochs (default 4)")
        snet.add_argument(
            "--top", type=int, help="common candidate count (default: the s-Net's count)"
        )
        snet.add_argument("--accept-warnings", action="store_true")

        for sub in (psf, volume, complexity, snet):
            sub.add_argument("--seed", type=int, help="default 1")
            sub.add_argument(
                "--queue",
                action="store_true",
                help="queue it for a worker and return (default: run it here)",
            )
            if sub in (volume, complexity):
                sub.add_argument(
                    "--cross-test",
                    default="",
                    help="cross-simulator test set (default: rendered with lenstronomy "
                    "where it is installed)",
                )

    def handle(self, **o):
        kind = o["kind"]
        form_class = ALL_EXPERIMENT_FORMS[kind]
        data = {k: v for k, v in o.items() if k in form_class.base_fields and v is not None}
        form = form_class(data, anywhere=True)
        if not form.is_valid():
            raise CommandError(" ".join(form_errors(form)))
        parameters, seed = form.parameters(), form.cleaned_data["seed"]
        try:
            experiment = _launch(kind, parameters, seed, enqueue=o["queue"])
        except queue.QueueUnavailable as exc:
            raise CommandError(str(exc)) from exc
        if o["queue"]:
            self.stdout.write(
                f"Queued experiment {experiment.pk} (job {experiment.job.pk}); a worker of the "
                "scoring queue runs it. Its page lists its progress and results."
            )
            return
        self._run_here(experiment, quiet=o["verbosity"] == 0)

    def _run_here(self, experiment, quiet):
        from django.utils.module_loading import import_string

        run_job = import_string(JOBS[experiment.kind])

        with tqdm(total=1, unit="step", disable=quiet) as bar:

            def show(done, total, message):
                bar.total = total or bar.total
                bar.set_description(message[:60])
                bar.update(done - bar.n)

            with echo_to(show):
                try:
                    run_job(experiment.job.pk, experiment.pk)
                except Exception as exc:
                    raise CommandError(f"Experiment {experiment.pk} failed: {exc}") from exc
        experiment.refresh_from_db()
        job = experiment.job
        job.refresh_from_db()
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"Experiment {experiment.pk} {job.status}: {job.message}")
        self.stdout.write(
            f"Experiment {experiment.pk} done in {experiment.results['seconds'] / 60:.1f} min."
        )
        if not quiet:
            self.stdout.write(json.dumps(summary(experiment), indent=2))


def _launch(kind, parameters, seed, enqueue):
    from classifier import experiment_services

    if enqueue:
        return experiment_services.launch(kind, parameters, seed)
    return experiment_services.record(kind, parameters, seed)


def summary(experiment: Experiment) -> dict:
    """The headline figures of an experiment's results, for the terminal."""
    results = experiment.results
    if experiment.kind == "psf":
        return {
            "network": results["network"],
            "reference_fwhm_arcsec": results["reference_fwhm_arcsec"],
            "auc_by_factor": {r["factor"]: round(r["auc"], 4) for r in results["rows"]},
            "worst_drop": results["worst_drop"],
        }
    if experiment.kind == "volume":
        return {
            str(r["size"]): {
                test: {"auc": round(r[test]["auc"], 4), "tpr_at_1pct": r[test]["tpr_at_1pct"]}
                for test in results["tests"]
            }
            for r in results["rows"]
        }
    if experiment.kind == "snet-rnet":
        return {
            "n_candidates": results["n_candidates"],
            "overlaps": {
                k: {f: v[f] for f in ("n_a", "n_b", "both", "jaccard")}
                for k, v in results["overlaps"].items()
            },
            "campaigns": results["campaigns"],
        }
    return {
        "auc": {f"{m['network']} | {m['test']}": round(m["auc"], 4) for m in results["matrix"]},
        "cross_simulator": results["cross_simulator"],
    }
