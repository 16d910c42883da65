import json

from django.core.management.base import BaseCommand, CommandError

from classifier.services import NetworkError, export, get_network


class Command(BaseCommand):
    help = "Export half-precision weights and a manifest (with a test evaluation) to a folder."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("folder", help="e.g. classifier/shipped")
        parser.add_argument(
            "--test", required=True, help="labelled stamp set the network never saw"
        )
        parser.add_argument(
            "--cross-test",
            help="a labelled set from another simulator (python -m crosscheck), also evaluated",
        )
        parser.add_argument(
            "--baseline",
            help="a registered network evaluated on the same cross-simulator set, for "
            "comparison (kept in the manifest; it reads its own bands of the stamps)",
        )
        parser.add_argument(
            "--tta",
            choices=["on", "off"],
            help="score with the mean log-odds of the 8 rotations and flips of each stamp "
            "(on) or not (off), from now on: the temperature is fitted again on --val and the "
            "thresholds measured so (refused once the network has runs)",
        )
        parser.add_argument(
            "--val", help="labelled set to fit a temperature on, if the network has none"
        )

    def handle(self, name, folder, test, **options):
        try:
            baseline = get_network(options["baseline"]) if options["baseline"] else None
            weights = export(
                get_network(name),
                folder,
                test,
                options["cross_test"],
                val_path=options["val"],
                baseline=baseline,
                tta=None if options["tta"] is None else options["tta"] == "on",
            )
        except NetworkError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Wrote {weights} and {weights.with_suffix('.json')}")
        manifest = json.loads(weights.with_suffix(".json").read_text())
        if manifest.get("baseline_cross_simulator"):
            pairs = [
                (name, manifest["evaluation_cross_simulator"]),
                (options["baseline"], manifest["baseline_cross_simulator"]),
            ]
            for who, report in pairs:
                self.stdout.write(
                    f"{who} on {options['cross_test']}: AUC {report['auc']:.3f}, "
                    f"TPR at 1% FPR {report['tpr_at_fpr']['0.01']:.3f}"
                )
