"""A small graded search for the inspection tests: a simulated field scored by
the shipped CNN, and a simulated g,r,i known set for training."""

import pytest
from django.core.management import call_command

from simulations.field import simulate_field


@pytest.fixture(scope="session")
def small_field(tmp_path_factory):
    folder, _ = simulate_field(tmp_path_factory.mktemp("gradefield") / "field", seed=9,
                               n_lenses=4, n_lrgs=14, n_galaxies=60, n_stars=20,
                               n_faint_red=10)  # fmt: skip
    return folder


@pytest.fixture(scope="session")
def known_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("known") / "known.fits"
    call_command("simulate", "--survey", "kids-gri", "--lenses", "8", "--nonlenses", "8",
                 "--seed", "4", "--out", str(path), verbosity=0)  # fmt: skip
    return path


@pytest.fixture
def graded_search(small_field, known_file, settings, tmp_path):
    """(run, known set): a run with threshold 0 (every LRG a candidate) and
    the known set as the training set (6 items, pass mark 0.5)."""
    from classifier.models import Network
    from classifier.services import register_shipped
    from inspection.grading import services as grading
    from inspection.ingest.services import ingest_survey
    from inspection.models import TrainingPolicy
    from inspection.scoring import services as runs

    settings.DATA_DIR = tmp_path
    register_shipped()
    survey = ingest_survey("gfield", catalogue=small_field / "catalogue.fits",
                           tiles=[(b, small_field / f"{b}.fits") for b in "gri"])  # fmt: skip
    run = runs.launch_run(survey, Network.objects.get(name="kids-r-cnn"), threshold=0.0,
                          enqueue=False)  # fmt: skip
    runs.run_in_process(run)
    known = grading.add_known_set("known", known_file)
    policy = TrainingPolicy.current()
    policy.n_items, policy.pass_mark = 6, 0.5
    policy.save()
    policy.known_sets.add(known)
    return run, known
