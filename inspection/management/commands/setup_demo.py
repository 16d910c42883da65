from django.conf import settings
from django.core.management.base import BaseCommand

from classifier.models import Network
from inspection import runs
from inspection.accounts import ensure_user
from inspection.models import Survey
from inspection.surveys import ingest_survey
from simulations.field import simulate_field

# Local demo only (make run binds 127.0.0.1): fixed, printed passwords.
DEMO_USERS = [
    ("admin", "lensfinder-admin", {"admin": True}),
    ("inspector1", "lensfinder-inspector1", {"inspector": True}),
    ("inspector2", "lensfinder-inspector2", {"inspector": True}),
]
DEMO_FIELD_SEED = 2020
DEMO_SURVEY = "demo-kids"
DEMO_NETWORK = "kids-r-cnn"


def demo_field_dir():
    return settings.DATA_DIR / "demo" / "field"


class Command(BaseCommand):
    help = "Create the demo users and data; safe to run again (keeps what exists)."

    def handle(self, **options):
        self.stdout.write("Demo logins:")
        for username, password, role in DEMO_USERS:
            user, created = ensure_user(username, password, **role)
            kind = "admin" if role.get("admin") else "inspector"
            shown = password if created else "(existing user: password unchanged)"
            self.stdout.write(f"  {kind:9s}  {username:11s}  {shown}")

        folder = demo_field_dir()
        if (folder / "field.json").exists():
            self.stdout.write(f"Demo survey field: {folder} (kept)")
        else:
            folder.parent.mkdir(parents=True, exist_ok=True)
            _, manifest = simulate_field(folder, seed=DEMO_FIELD_SEED)
            counts = ", ".join(f"{n} {kind}" for kind, n in manifest["counts"].items())
            self.stdout.write(f"Demo survey field: {folder} ({counts})")

        self._demo_survey(folder)

    def _demo_survey(self, folder):
        """Ingest the demo field and score it with the shipped CNN, so that a
        newcomer lands on candidates at once (scored here: the worker and
        its Redis start only after this command)."""
        survey = Survey.objects.filter(name=DEMO_SURVEY).first()
        if survey is None:
            tiles = [(band, folder / f"{band}.fits") for band in ("g", "r", "i")]
            survey = ingest_survey(DEMO_SURVEY, catalogue=folder / "catalogue.fits", tiles=tiles)
        self.stdout.write(f"Demo survey {survey.name}: {survey.sources.count()} LRGs")
        network = Network.objects.filter(name=DEMO_NETWORK).first()
        if network is None:
            self.stdout.write(f"No {DEMO_NETWORK} network registered: the demo run is skipped.")
            return
        run = survey.runs.filter(network=network).first()
        if run is None:
            run = runs.launch_run(survey, network, enqueue=False)
        if runs.progress(run, reconcile=False).status != "succeeded":
            runs.run_in_process(run)
        self.stdout.write(
            f"Demo run {run.pk}: {run.network.name}, {run.candidates().count()} candidates "
            f"of {run.n_sources} LRGs (threshold {run.threshold:.4g})"
        )
