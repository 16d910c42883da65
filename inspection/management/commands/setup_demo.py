from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from classifier.models import Network
from core.auth import DEMO_LOGINS
from inspection.catalogues import services as catalogues
from inspection.grading import services as grading
from inspection.grading.services import ensure_user
from inspection.ingest.services import ingest_survey
from inspection.models import KnownSet, PriorList, Survey, TrainingPolicy
from inspection.scoring import services as runs
from simulations.field import simulate_field

# Local demo only: fixed, printed passwords, which the login accepts only
# from this machine (core.auth) and runstack refuses beyond loopback.
DEMO_ROLES = {
    "admin": {"admin": True},
    "inspector1": {"inspector": True},
    "inspector2": {"inspector": True},
}
DEMO_USERS = [(name, DEMO_LOGINS[name], role) for name, role in DEMO_ROLES.items()]
DEMO_FIELD_SEED = 2020
DEMO_SURVEY = "demo-kids"
# The demo field has g, r and i tiles: the g,r,i network, as for any such
# survey (README, "Networks"). On the demo's field and five others
# (bench/demo_field.py) it finds 33 of 48 lenses and the r network 30, both
# with no other LRG among the candidates.
DEMO_NETWORK = "kids-gri-cnn"
DEMO_KNOWN = "demo-known"
DEMO_PRIOR = "demo-earlier-search"


def demo_field_dir():
    return settings.DATA_DIR / "demo" / "field"


class Command(BaseCommand):
    help = "Create the demo users and data; safe to run again (keeps what exists)."

    def handle(self, **options):
        self.stdout.write("Demo logins (their passwords work from this machine only):")
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
        self._demo_priors(folder)

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
        self._demo_campaign(run)

    def _demo_campaign(self, run):
        """A simulated g,r,i training set and an open campaign for the demo
        inspectors over the demo run's candidates."""
        known = KnownSet.objects.filter(name=DEMO_KNOWN).first()
        if known is None:
            path = settings.DATA_DIR / "demo" / "known.fits"
            if not path.exists():
                call_command(
                    "simulate",
                    "--survey",
                    "kids-gri",
                    "--lenses",
                    "30",
                    "--nonlenses",
                    "30",
                    "--seed",
                    str(DEMO_FIELD_SEED),
                    "--out",
                    str(path),
                    verbosity=0,
                )
            known = grading.add_known_set(DEMO_KNOWN, path, "simulated KiDS-like g,r,i")
            policy = TrainingPolicy.current()
            policy.n_items, policy.pass_mark = 12, 0.7
            policy.save()
            policy.known_sets.add(known)
        if not run.campaigns.exists() and run.candidates().exists():
            inspectors = get_user_model().objects.filter(
                username__in=[u for u, _, role in DEMO_USERS if role.get("inspector")]
            )
            campaign = grading.create_campaign(run, "Demo round 1", inspectors)
            grading.set_status(campaign, "open")
        campaign = run.campaigns.first()
        if campaign:
            self.stdout.write(
                f"Demo campaign: {campaign.name} ({campaign.status}), training "
                f"set {known.name} ({known.items.count()} stamps)"
            )

    def _demo_priors(self, folder):
        """Prior lens lists for the Catalogues page: the bundled lenscat, and
        an "earlier search" that found half of the demo field's lenses (so
        that the cross-match has something to find in the simulated field)."""
        if not PriorList.objects.filter(name="lenscat").exists():
            try:
                catalogues.add_lenscat()
            except catalogues.CatalogueError as exc:
                self.stdout.write(f"lenscat not added: {exc}")
        if not PriorList.objects.filter(name=DEMO_PRIOR).exists():
            from astropy.table import Table

            truth = Table.read(folder / "truth.fits")
            lenses = truth[truth["is_lens"]][::2]
            path = settings.DATA_DIR / "demo" / f"{DEMO_PRIOR}.csv"
            Table(
                {
                    "name": [f"earlier-{k}" for k in range(len(lenses))],
                    "ra": lenses["RAJ2000"],
                    "dec": lenses["DECJ2000"],
                    "grade": ["A"] * len(lenses),
                }
            ).write(path, overwrite=True)
            catalogues.add_prior_list(DEMO_PRIOR, path, description="half the demo lenses")
        names = ", ".join(PriorList.objects.values_list("name", flat=True))
        self.stdout.write(f"Prior lens lists: {names}")
