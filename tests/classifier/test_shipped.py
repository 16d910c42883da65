"""The networks shipped in classifier/shipped: registered after migrate,
intact, and as good on fresh simulated stamps as their manifests say."""

import json

import numpy as np
import pytest

from classifier import metrics
from classifier.inference import score_array
from classifier.models import Network
from classifier.services import SHIPPED_DIR, load_model, sha256_of
from simulations import render
from simulations.surveys import get_survey

SHIPPED = {"kids-r-cnn": ("he2020-cnn", "kids-r"), "lsst-g-deeplens": ("deeplens-resnet", "lsst-g")}
EVALUATION_KEYS = {"n_lenses", "n_nonlenses", "auc", "tpr0", "tpr10", "accuracy_at_0.5",
                   "completeness_at_0.5", "threshold_at_fpr", "tpr_at_fpr", "completeness_grid",
                   "seconds"}  # fmt: skip


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
def test_shipped_networks_are_registered_and_score_fresh_stamps(name):
    network = Network.objects.get(name=name)  # registered by migrate
    assert network.weights_path == f"shipped:{name}.pt"
    model, preprocessor = load_model(network, "cpu")
    config = get_survey(SHIPPED[name][1])
    labels = np.repeat(np.array([1, 0], np.int16), 100)
    stamps, _ = render.simulate_batch(config, labels, np.random.default_rng(12345))
    scores = score_array(model, preprocessor, stamps, config["pixscale_arcsec"])
    assert metrics.auc(scores, labels) > 0.95


def test_the_shipped_networks_meet_the_papers_on_their_test_sets():
    cnn = json.loads((SHIPPED_DIR / "kids-r-cnn.json").read_text())["evaluation"]
    # He et al. 2020: completeness 0.969 and accuracy 0.984 at a score of 0.5.
    assert cnn["completeness_at_0.5"] >= 0.969 and cnn["accuracy_at_0.5"] >= 0.984
    deeplens = json.loads((SHIPPED_DIR / "lsst-g-deeplens.json").read_text())["evaluation"]
    # Lanusse et al. 2018: >= 90% completeness at 1% FPR for theta_E > 1.4", S/N > 20.
    cell = next(g for g in deeplens["completeness_grid"]
                if g["theta_e_min"] == 1.4 and g["snr_min"] == 20.0)  # fmt: skip
    assert cell["n"] > 500 and cell["completeness"] >= 0.9
