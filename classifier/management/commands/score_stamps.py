from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from classifier.services import NetworkError, get_network, score_file


class Command(BaseCommand):
    help = "Score every stamp of a stamp-set file with a registered network: writes id,score."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("file", help="stamp-set FITS file (labelled or not)")
        parser.add_argument("--out", required=True, help="output CSV")
        parser.add_argument("--device")

    def handle(self, name, file, out, **o):
        try:
            network = get_network(name)
            with tqdm(unit="stamp", disable=o["verbosity"] == 0) as bar:

                def progress(done, total):
                    bar.total = total
                    bar.update(done - bar.n)

                n = score_file(network, file, out, o["device"], progress)
        except NetworkError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Wrote {n} scores to {out}")
