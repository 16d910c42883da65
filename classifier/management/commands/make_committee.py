from django.core.management.base import BaseCommand, CommandError

from classifier.services import NetworkError, make_committee


class Command(BaseCommand):
    help = (
        "Register several networks as one: a committee scores with the mean of its members' "
        "calibrated log-odds."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="registry name, e.g. kids-r-committee")
        parser.add_argument(
            "--members", required=True, help="comma-separated registered networks, e.g. a,b,c"
        )

    def handle(self, name, members, **o):
        try:
            network = make_committee(name, members)
        except NetworkError as exc:
            raise CommandError(str(exc)) from exc
        names = ", ".join(m["name"] for m in network.training["members"])
        self.stdout.write(f"Registered committee {network.name} of {names}")
