"""The classifier experiments (PSF, training volume, complexity): their pure
figures, their sets, and each one end to end through a real rq worker on
tiny sizes; cancelling; bad parameters refused before anything is queued."""

import json
import tempfile
from pathlib import Path

import django_rq
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rq.worker import SimpleWorker

from classifier import experiments
from classifier.models import Experiment, Network
from core.models import Job
from simulations.generate import simulate_psf_series
from simulations.stampset import read_stampset

# --- Pure figures (no database) -----------------------------------------------------


def test_factors_are_checked_sorted_and_always_hold_1():
    assert experiments.parse_factors("2, 0.5,0.5") == [0.5, 1.0, 2.0]
    for bad, says in (("0.5,0", "out of range"), ("-1", "out of range"), ("a", "not a number"),
                      ("9", "out of range"), ("nan", "out of range")):  # fmt: skip
        with pytest.raises(experiments.ExperimentError, match=says):
            experiments.parse_factors(bad)


def test_sizes_below_one_batch_are_refused():
    assert experiments.parse_sizes("200,100,100", batch_size=64) == [100, 200]
    with pytest.raises(experiments.ExperimentError, match="below the batch size"):
        experiments.parse_sizes("1000,32", batch_size=64)
    with pytest.raises(experiments.ExperimentError, match="whole number"):
        experiments.parse_sizes("100.5", batch_size=64)


def test_wilson_intervals_bracket_the_fraction_and_stay_in_0_1():
    assert experiments.wilson(0, 0) == (None, None)
    low, high = experiments.wilson(0, 10)
    assert low == 0 and 0 < high < 0.2
    low, high = experiments.wilson(10, 10)
    assert 0.8 < low < 1 and high == pytest.approx(1)
    low, high = experiments.wilson(50, 100)
    # ~ p +- sqrt(p(1-p)/n) at 1 sigma for a large n.
    assert low == pytest.approx(0.45, abs=0.002) and high == pytest.approx(0.55, abs=0.002)


def test_the_auc_error_matches_the_scatter_of_repeated_draws():
    rng = np.random.default_rng(0)
    labels = np.repeat([1, 0], 200)
    aucs = [
        experiments.metrics.auc(labels * 1.0 + rng.normal(0, 1, 400), labels) for _ in range(300)
    ]
    predicted = experiments.auc_error(float(np.mean(aucs)), 200, 200)
    assert predicted == pytest.approx(np.std(aucs), rel=0.2)


def test_the_bootstrap_interval_holds_the_difference_and_excludes_0_when_it_is_clear():
    rng = np.random.default_rng(1)
    labels = np.repeat([1, 0], 300)
    good = labels * 2.0 + rng.normal(0, 1, 600)
    poor = labels * 0.5 + rng.normal(0, 1, 600)
    diff = experiments.bootstrap_auc_difference(good, poor, labels, n_boot=300)
    assert diff["low"] < diff["difference"] < diff["high"] and diff["low"] > 0
    same = experiments.bootstrap_auc_difference(good, good, labels, n_boot=50)
    assert same["difference"] == 0 and same["low"] == same["high"] == 0


def test_set_metrics_and_the_worst_drop():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([3.0, 2.0, 0.5, -1.0, -2.0, -3.0, 1.0, -4.0])
    m = experiments.set_metrics(scores, labels, threshold=0.0, theta_e=np.full(8, 2.0),
                                snr=np.array([30, 30, 5, 30, 0, 0, 0, 0]))  # fmt: skip
    assert m["auc"] == pytest.approx(14 / 16)
    assert m["completeness"]["value"] == 0.75 and m["completeness"]["n"] == 4
    assert m["accuracy"]["value"] == 6 / 8
    assert m["bright_completeness"]["n"] == 3
    rows = [{"factor": 0.5, "auc": 0.9}, {"factor": 1.0, "auc": 0.95}, {"factor": 2.0, "auc": 0.7}]
    assert experiments.worst_drop(rows, "auc") == {"factor": 2.0, "drop": pytest.approx(0.25),
                                                   "at_1": 0.95}  # fmt: skip


def test_the_simple_set_keeps_he_et_al_s_negatives_only():
    from simulations.surveys import get_survey

    config = get_survey("kids-r")
    simple = experiments.simple_config(config)
    get_survey(simple)  # a valid configuration
    assert set(simple["nonlens_kinds"]) == {"elliptical", "group", "spiral"}
    assert simple["subkinds"]["group"] == {"pair": 1.0}
    assert simple["environment"] == config["environment"] and simple["lens"] == config["lens"]


def test_the_psf_sets_share_their_objects_and_noise_and_differ_in_the_psf(tmp_path):
    paths = simulate_psf_series("kids-r", [0.5, 1.0, 2.0], {"r": 0.7}, 20, 20, 3, tmp_path)
    sets = {f: read_stampset(p) for f, p in paths.items()}
    ref = sets[1.0]
    lenses = ref.labels == 1
    for factor, s in sets.items():
        assert (s.ids == ref.ids).all() and (s.labels == ref.labels).all()
        for column in ("theta_e", "source_mag", "source_r_eff", "source_x", "lens_mag", "kind"):
            assert (np.asarray(s.meta[column]) == np.asarray(ref.meta[column])).all(), column
        assert np.allclose(s.meta["psf_fwhm"], 0.7 * factor)
    # The same noise draws: where the sky dominates (a corner, no source
    # there) the pixels barely change with the PSF.
    corner = (slice(None), 0, slice(0, 6), slice(0, 6))
    a, b = sets[0.5].stamps()[corner], sets[2.0].stamps()[corner]
    finite = np.isfinite(a) & np.isfinite(b)
    assert np.corrcoef(a[finite], b[finite])[0, 1] > 0.9
    # Arcs keep their flux, so a wider PSF lowers their S/N.
    snr = {f: np.median(np.asarray(s.meta["snr"])[lenses]) for f, s in sets.items()}
    assert snr[0.5] > snr[1.0] > snr[2.0]


def test_results_flatten_into_one_csv_row_per_point():
    results = {"rows": [{"factor": 1.0, "auc": 0.9, "completeness": {"value": 0.5, "n": 4}}]}
    table = experiments.results_table("psf", results)
    assert table == [{"factor": 1.0, "auc": 0.9, "completeness.value": 0.5, "completeness.n": 4}]
    assert experiments.results_csv("psf", results).splitlines()[0] == (
        "factor,auc,completeness.n,completeness.value"
    )


# --- End to end through a real worker --------------------------------------------------

pytestmark_db = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=False)
def roots(settings):
    settings.INGEST_ROOTS = [Path(tempfile.gettempdir()).resolve()]


def work():
    q = django_rq.get_queue("scoring")
    SimpleWorker([q], connection=q.connection).work(burst=True)


@pytestmark_db
def test_the_psf_experiment_from_the_page_to_its_exports(
    admin_client, settings, tmp_path, redis_url
):
    settings.DATA_DIR = tmp_path
    url = reverse("classifier:experiment_launch", args=["psf"])
    response = admin_client.post(url, {"network": "kids-r-cnn", "factors": "0.5,1.5", "n": "40",
                                       "seed": "4"})  # fmt: skip
    experiment = Experiment.objects.get()
    assert response["Location"] == reverse("classifier:experiment", args=[experiment.pk])
    assert experiment.job.queue == "scoring" and experiment.status == "queued"
    assert experiment.parameters == {"network": "kids-r-cnn", "factors": [0.5, 1.0, 1.5], "n": 40}

    work()
    experiment.refresh_from_db()
    assert experiment.status == "succeeded", experiment.job.error
    results = experiment.results
    assert [r["factor"] for r in results["rows"]] == [0.5, 1.0, 1.5]
    for row in results["rows"]:
        assert 0 <= row["auc"] <= 1 and row["n_lenses"] == 20 and row["n_nonlenses"] == 20
        assert (
            row["completeness"]["low"]
            <= row["completeness"]["value"]
            <= row["completeness"]["high"]
        )
        assert row["threshold"] == Network.objects.get(name="kids-r-cnn").threshold_logit_fpr_1pct
    assert set(results["worst_drop"]) == {"auc", "completeness", "accuracy", "tpr_at_1pct"}
    assert [s["factor"] for s in experiment.provenance["sets"]] == [0.5, 1.0, 1.5]
    assert all(Path(s["file"]).is_file() for s in experiment.provenance["sets"])
    assert experiment.provenance["networks"][0]["name"] == "kids-r-cnn"

    page = admin_client.get(reverse("classifier:experiment", args=[experiment.pk])).content.decode()
    assert "Figures of merit against the PSF width" in page and "plotly" in page
    assert "Worst drop of auc" in page
    listing = admin_client.get(reverse("classifier:experiments")).content.decode()
    assert f"{experiment.pk}" in listing and "PSF robustness" in listing
    export = reverse("classifier:experiment_export", args=[experiment.pk, "json"])
    data = json.loads(admin_client.get(export).content)
    assert data["results"]["rows"][1]["factor"] == 1.0 and data["seed"] == 4
    export = reverse("classifier:experiment_export", args=[experiment.pk, "csv"])
    lines = admin_client.get(export).content.decode().splitlines()
    assert len(lines) == 4 and lines[0].startswith("factor,")
    bad = reverse("classifier:experiment_export", args=[experiment.pk, "xlsx"])
    assert admin_client.get(bad).status_code == 404


@pytestmark_db
def test_the_volume_experiment_registers_one_network_per_size(
    admin_client, data_dir, redis_url, roots, tmp_path
):
    cross = tmp_path / "cross.fits"
    from simulations.generate import simulate_stampset

    simulate_stampset("kids-r", 20, 20, 9, cross)
    call_command("experiment", "volume", "--sizes", "64,128", "--epochs", "1", "--n-test", "40",
                 "--cross-test", str(cross), "--seed", "2", "--queue", verbosity=0)  # fmt: skip
    experiment = Experiment.objects.get()
    work()
    experiment.refresh_from_db()
    assert experiment.status == "succeeded", experiment.job.error
    rows = experiment.results["rows"]
    assert [r["size"] for r in rows] == [64, 128]
    networks = Network.objects.filter(training__experiment=experiment.pk).order_by("pk")
    assert [n.training["n_train"] for n in networks] == [64, 128]
    assert [r["network"] for r in rows] == [n.name for n in networks]
    for row in rows:
        assert set(row) >= {"project test", "cross-simulator test", "epochs_run"}
        assert row["project test"]["n_lenses"] == 20
    roles = [s["role"] for s in experiment.provenance["sets"]]
    assert roles[-1] == "cross-simulator test" and "validation" in roles
    train, *kept = experiment.provenance["sets"]
    assert "removed" in train and not Path(train["file"]).exists()  # made again from the seed
    assert all(Path(s["file"]).is_file() for s in kept)
    page = admin_client.get(reverse("classifier:experiment", args=[experiment.pk])).content.decode()
    assert "Figures of merit against the training-set size" in page
    listing = admin_client.get(reverse("classifier:networks")).content.decode()
    assert f"experiment {experiment.pk}" in listing  # its networks are marked as its products


@pytestmark_db
def test_the_complexity_experiment_compares_both_networks_on_both_sets(
    admin_client, data_dir, redis_url, roots, tmp_path
):
    from classifier import experiment_services

    experiment = experiment_services.launch(
        "complexity", {"survey": "kids-r", "n_train": 128, "epochs": 1, "n_test": 40,
                       "cross_test": ""}, seed=3,
    )  # fmt: skip
    work()
    experiment.refresh_from_db()
    assert experiment.status == "succeeded", experiment.job.error
    results = experiment.results
    names = {m["network"] for m in results["matrix"]}
    assert names == {f"{a} on {r}" for a in ("he2020-cnn", "deeplens-resnet")
                     for r in ("simple", "realistic")}  # fmt: skip
    # lenstronomy is a development dependency, installed for the tests.
    assert results["tests"] == ["simple", "realistic", "cross-simulator"]
    assert len(results["matrix"]) == 12 and len(results["differences"]) == 12
    assert all(len(m["roc"]["fpr"]) == len(m["roc"]["tpr"]) > 1 for m in results["matrix"])
    assert all(d["low"] <= d["high"] for d in results["differences"])
    assert Network.objects.count() == 0  # its networks stay in its folder
    assert all(Path(n["weights"]).is_file() for n in experiment.provenance["networks"])
    page = admin_client.get(reverse("classifier:experiment", args=[experiment.pk])).content.decode()
    assert page.count("ROC curves on the") == 3 and "difference" in page


@pytestmark_db
def test_a_cancelled_experiment_stops_says_so_and_leaves_no_product(admin_client, data_dir):
    """Cancelled from its page while its second network trains (the first
    is registered by then): it stops at its next progress point, its record
    says cancelled, and neither network, nor checkpoint, nor set is left."""
    from classifier import experiment_services
    from classifier.jobs import run_experiment
    from core.progress import echo_to

    experiment = experiment_services.record(
        "volume", {"architecture": "he2020-cnn", "survey": "kids-r", "sizes": [64, 128],
                   "epochs": 3, "n_test": 40, "cross_test": ""}, seed=1,
    )  # fmt: skip
    registered = []

    def cancel_on_the_second_network(done, total, message):
        if message.startswith("128 stamps: epoch 1") and not registered:
            registered.extend(Network.objects.filter(training__experiment=experiment.pk))
            admin_client.post(reverse("core:job_cancel", args=[experiment.job.pk]))

    with echo_to(cancel_on_the_second_network):
        run_experiment(experiment.job.pk, experiment.pk)
    experiment.refresh_from_db()
    assert [n.training["n_train"] for n in registered] == [64]  # there was a product
    assert experiment.status == "cancelled" and experiment.results == {}
    assert experiment.job.message == "cancelled by an admin"
    assert not Network.objects.filter(training__experiment=experiment.pk).exists()
    assert not (data_dir / registered[0].weights_path).exists()
    assert not experiment_services.folder(experiment).exists()
    assert not list((data_dir / "training").glob(f"experiment-{experiment.pk}-*"))
    page = admin_client.get(reverse("classifier:experiment", args=[experiment.pk])).content.decode()
    assert "cancelled" in page and "Cancel the experiment" not in page


@pytestmark_db
def test_bad_parameters_are_refused_before_anything_is_queued(admin_client, data_dir, roots):
    post = admin_client.post
    response = post(reverse("classifier:experiment_launch", args=["psf"]),
                    {"network": "nowhere", "factors": "0.5,-1"})  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 400
    assert "no network named &#x27;nowhere&#x27;" in page and "out of range" in page
    volume = {"architecture": "he2020-cnn", "survey": "kids-r", "sizes": "1000,10"}
    response = post(reverse("classifier:experiment_launch", args=["volume"]), volume)
    assert response.status_code == 400 and "below the batch size (64)" in response.content.decode()
    response = post(reverse("classifier:experiment_launch", args=["complexity"]),
                    {"survey": "sdss", "cross_test": "/etc/passwd"})  # fmt: skip
    assert response.status_code == 400 and "Choose a survey" in response.content.decode()
    assert post(reverse("classifier:experiment_launch", args=["nope"])).status_code == 404
    with pytest.raises(CommandError, match="below the batch size"):
        call_command("experiment", "volume", "--sizes", "8", verbosity=0)
    with pytest.raises(CommandError, match="PSF factor 0 is out of range"):
        call_command("experiment", "psf", "--network", "x", "--factors", "0", verbosity=0)
    assert Experiment.objects.count() == 0 and Job.objects.count() == 0


@pytestmark_db
def test_a_network_without_a_threshold_cannot_be_tested_for_the_psf(data_dir):
    Network.objects.create(name="raw", architecture="he2020-cnn", bands="r", pixscale_arcsec=0.42,
                           stamp_size=49, preprocessing={}, weights_path="x.pt",
                           weights_sha256="0")  # fmt: skip
    with pytest.raises(CommandError, match="raw has no 1%-FPR threshold: evaluate it first"):
        call_command("experiment", "psf", "--network", "raw", verbosity=0)
    assert Experiment.objects.count() == 0


@pytestmark_db
def test_the_command_runs_an_experiment_in_its_own_process_with_its_progress(capsys):
    call_command("experiment", "psf", "--network", "kids-r-cnn", "--factors", "0.8", "--n", "20")
    experiment = Experiment.objects.get()
    out = capsys.readouterr()
    assert experiment.status == "succeeded" and experiment.job.done == experiment.job.total == 3
    assert f"Experiment {experiment.pk} done" in out.out
    assert json.loads(out.out.split("\n", 1)[1])["auc_by_factor"].keys() == {"0.8", "1.0"}
    assert "scored the set of PSF factor 1" in out.err  # the progress bar


@pytestmark_db
def test_the_same_seed_gives_the_same_figures(settings, tmp_path):
    """Every figure is reproducible from its seed: sets and scores alike."""
    settings.DATA_DIR = tmp_path
    for seed in ("5", "5", "6"):
        call_command("experiment", "psf", "--network", "kids-r-cnn", "--factors", "1.5",
                     "--n", "20", "--seed", seed, verbosity=0)  # fmt: skip
    first, again, other = (e.results for e in Experiment.objects.order_by("pk"))
    strip = lambda results: {k: v for k, v in results.items() if k != "seconds"}  # noqa: E731
    assert strip(first) == strip(again) and strip(first) != strip(other)
    sha = [[s["sha256"] for s in e.provenance["sets"]] for e in Experiment.objects.order_by("pk")]
    assert sha[0] == sha[1] != sha[2]
