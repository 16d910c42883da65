import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classifier.report import evaluation_html
from classifier.services import NetworkError, evaluate, get_network, save_cross_simulator


class Command(BaseCommand):
    help = "Evaluate a registered network on a labelled stamp set (ROC, TPR at FPR, completeness)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("file", help="labelled stamp-set FITS file")
        parser.add_argument("--json", metavar="OUT.json")
        parser.add_argument("--html", metavar="OUT.html", help="plotly report with ROC and stamps")
        parser.add_argument("--save", action="store_true", help="store the result on the network")
        parser.add_argument(
            "--cross-simulator",
            action="store_true",
            help="FILE comes from an independent renderer (python -m crosscheck): with --save, "
            "store the result as the network's cross-simulator evaluation, leaving its own "
            "evaluation and thresholds alone",
        )
        parser.add_argument(
            "--val",
            metavar="VAL.fits",
            help="labelled set to fit a temperature on, if the network has none (kept with --save)",
        )
        parser.add_argument("--device")

    def handle(self, name, file, **o):
        if o["cross_simulator"] and o["val"]:
            raise CommandError(
                "--val fits the network's own temperature, which its own test set's evaluation "
                "keeps: run it without --cross-simulator."
            )
        try:
            network = get_network(name)
            own = o["save"] and not o["cross_simulator"]
            report, scores, stampset = evaluate(
                network, file, save=own, device=o["device"], val_path=o["val"]
            )
            if o["save"] and o["cross_simulator"]:
                save_cross_simulator(network, report)
        except NetworkError as exc:
            raise CommandError(str(exc)) from exc
        if o["html"]:
            Path(o["html"]).write_text(evaluation_html(network.name, report, scores, stampset))
            self.stdout.write(f"Wrote {o['html']}")
        c = report["calibration"]
        self.stdout.write(
            f"Temperature {c['temperature']:.4g}: NLL {c['uncalibrated']['nll']:.4f} -> "
            f"{c['calibrated']['nll']:.4f}, ECE {c['uncalibrated']['ece']:.4f} -> "
            f"{c['calibrated']['ece']:.4f} on {file}"
        )
        text = json.dumps(report, indent=2)
        if o["json"]:
            Path(o["json"]).write_text(text)
            self.stdout.write(f"Wrote {o['json']}")
            best = report["best_single_summary"]
            if best:
                self.stdout.write(
                    f"AUC {report['auc']:.4f}; the best single no-learning summary "
                    f"({best['name']}) separates the classes to {best['separation']:.3f}"
                )
        else:
            self.stdout.write(text)
