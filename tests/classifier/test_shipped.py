"""The networks shipped in classifier/shipped: registered after migrate,
intact, and as good on fresh simulated stamps as their manifests say."""

import json

import numpy as np
import pytest

from classifier import metrics
from classifier.models import Network
from classifier.services import SHIPPED_DIR, load_scorer, register_shipped, sha256_of
from simulations import render
from simulations.surveys import get_survey

SHIPPED = {
    "kids-r-cnn": ("he2020-cnn", "kids-r"),
    "kids-gri-cnn": ("he2020-cnn", "kids-gri"),
    "lsst-g-deeplens": ("deeplens-resnet", "lsst-g"),
}
EVALUATION_KEYS = {"n_lenses", "n_nonlenses", "auc", "tpr0", "tpr10", "accuracy_at_0.5",
                   "completeness_at_0.5", "threshold_at_fpr", "tpr_at_fpr", "completeness_grid",
                   "seconds", "shortcut_audit", "best_single_summary"}  # fmt: skip


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_weights_match_their_manifest(name):
    manifest = json.loads((SHIPPED_DIR / f"{name}.json").read_text())
    assert sha256_of(SHIPPED_DIR / f"{name}.pt") == manifest["weights_sha256"]
    assert manifest["architecture"] == SHIPPED[name][0]
    assert set(manifest["evaluation"]) >= EVALUATION_KEYS
    # Evaluated on a test set the network never saw.
    assert manifest["evaluation"]["file_sha256"] != manifest["training"]["train_sha256"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_networks_are_registered_and_score_fresh_stamps_as_their_manifest_says(name):
    """On fresh stamps of the simulator they were trained on, the networks
    reach the AUC their manifest records for the unseen test set (to the
    statistical error of 300 + 300 stamps)."""
    network = Network.objects.get(name=name)  # registered by migrate
    assert network.weights_path == f"shipped:{name}.pt"
    # With its manifest's cross-simulator evaluation, for its page.
    manifest = json.loads((SHIPPED_DIR / f"{name}.json").read_text())
    assert network.evaluation_cross_simulator == manifest["evaluation_cross_simulator"]
    config = get_survey(SHIPPED[name][1])
    labels = np.repeat(np.array([1, 0], np.int16), 300)
    stamps, _ = render.simulate_batch(config, labels, np.random.default_rng(12345))
    # As runs score: with test-time augmentation where the manifest says so.
    scorer = load_scorer(network, "cpu", variant="fp32", compile=False, output="log-odds")
    assert scorer.tta == network.training.get("tta", False)
    scores = scorer.score(stamps, config["pixscale_arcsec"])
    recorded = network.evaluation["auc"]
    assert metrics.auc(scores, labels) == pytest.approx(recorded, abs=0.05)
    assert recorded > 0.75  # far above the best single summary (~0.52)


@pytest.mark.django_db
def test_register_shipped_can_refresh_one_network_alone():
    Network.objects.filter(weights_path__startswith="shipped:").delete()
    assert register_shipped(only=["kids-r-cnn"]) == ["kids-r-cnn"]
    assert list(Network.objects.values_list("name", flat=True)) == ["kids-r-cnn"]


@pytest.mark.parametrize("name", SHIPPED)
def test_the_manifests_carry_the_cross_simulator_evaluation(name):
    """Each shipped network is also evaluated on a lenstronomy set (crosscheck/),
    with the shortcut audit of both sets beside it."""
    manifest = json.loads((SHIPPED_DIR / f"{name}.json").read_text())
    own, cross = manifest["evaluation"], manifest["evaluation_cross_simulator"]
    assert set(cross) >= EVALUATION_KEYS and cross["file_sha256"] != own["file_sha256"]
    for evaluation in (own, cross):
        best = evaluation["best_single_summary"]
        assert evaluation["auc"] > best["separation"] + 0.1


def test_the_gri_network_is_shipped_because_it_beats_the_r_one_on_the_same_stamps():
    """Colour separates blue arcs from red lens galaxies: kids-gri-cnn ships
    only while it beats kids-r-cnn (reading the r band of the same lenstronomy
    g,r,i stamps) on the cross-simulator check."""
    manifest = json.loads((SHIPPED_DIR / "kids-gri-cnn.json").read_text())
    mine, baseline = manifest["evaluation_cross_simulator"], manifest["baseline_cross_simulator"]
    assert baseline["network"] == "kids-r-cnn" and baseline["file_sha256"] == mine["file_sha256"]
    assert (
        mine["auc"] > baseline["auc"]
        and mine["tpr_at_fpr"]["0.01"] > baseline["tpr_at_fpr"]["0.01"]
    )
