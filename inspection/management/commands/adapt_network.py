import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from classifier.models import Network
from inspection.adaptation.services import DEFAULT_EPOCHS, DEFAULT_LENSES, AdaptError, adapt_network
from inspection.models import Survey


class Command(BaseCommand):
    help = (
        "Adapt a network to a survey (He et al. 2020's r-Net): a semi-real set from the "
        "survey's own LRG stamps, fine-tuning from the network, evaluation on held-out LRGs "
        "and a cross-simulator set beside the parent, registration with provenance."
    )

    def add_arguments(self, parser):
        parser.add_argument("--survey", required=True, help="an ingested survey")
        parser.add_argument("--network", required=True, help="the registered network to adapt")
        parser.add_argument("--name", required=True, help="registry name of the adapted network")
        parser.add_argument(
            "--lenses",
            type=int,
            default=DEFAULT_LENSES,
            help=f"semi-real training lenses, and as many non-lenses (default {DEFAULT_LENSES})",
        )
        parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
        parser.add_argument("--lr", type=float, help="default: a tenth of the architecture's")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--cross-test",
            help="a labelled cross-simulator set (python -m crosscheck); default: render one "
            "with lenstronomy where it is installed",
        )
        parser.add_argument(
            "--accept-warnings",
            action="store_true",
            help="adapt even if the network may not suit the survey (the warnings still print)",
        )
        parser.add_argument("--device", help="cpu or cuda (default: cuda if present)")

    def handle(self, **o):
        survey = Survey.objects.filter(name=o["survey"]).first()
        if survey is None:
            known = ", ".join(Survey.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No survey named {o['survey']!r} (ingested: {known}).")
        parent = Network.objects.filter(name=o["network"]).first()
        if parent is None:
            known = ", ".join(Network.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No network named {o['network']!r} (registered: {known}).")
        quiet = o["verbosity"] == 0
        with tqdm(total=100, unit="%", disable=quiet) as bar:

            def progress(message, fraction):
                bar.set_description(message[:60])
                bar.update(int(round(100 * fraction)) - bar.n)

            try:
                network = adapt_network(
                    survey,
                    parent,
                    o["name"],
                    lenses=o["lenses"],
                    epochs=o["epochs"],
                    lr=o["lr"],
                    seed=o["seed"],
                    accept_warnings=o["accept_warnings"],
                    cross_test=o["cross_test"],
                    progress=progress,
                    device=o["device"],
                )
            except AdaptError as exc:
                raise CommandError(str(exc)) from exc
        adaptation = network.training["adaptation"]
        self.stdout.write(
            f"Registered {network.name}, adapted from {parent.name} to {survey.name}."
        )
        if not quiet:
            self.stdout.write(
                json.dumps(
                    {k: adaptation[k] for k in ("lrgs", "test", "cross_simulator")}, indent=2
                )
            )
