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
            "--val", help="labelled set to fit a temperature on, if the network has none"
        )

    def handle(self, name, folder, test, **options):
        try:
            weights = export(
                get_network(name), folder, test, options["cross_test"], val_path=options["val"]
            )
        except NetworkError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Wrote {weights} and {weights.with_suffix('.json')}")
