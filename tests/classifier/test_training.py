"""Training, registry, evaluation and scoring on small simulated sets."""

import json

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command

from classifier.models import Network
from classifier.services import NetworkError, settings_for, train_and_register
from simulations.stampset import StampSetWriter

pytestmark = pytest.mark.django_db


def easy_survey(folder):
    """KiDS-r with bright arcs and plain ellipticals only: a set that a few
    epochs on 300 stamps learn, so that these tests check the machinery
    (the shipped defaults' look-alikes take far more training)."""
    from simulations.surveys import get_survey

    config = get_survey("kids-r")
    config["nonlens_kinds"] = {"elliptical": 1.0}
    config["source"].update(mag=(19.5, 21.5), snr_min=40.0)
    config["environment"].update(neighbours_per_arcmin2=0.0, stars_per_arcmin2=0.0)
    path = folder / "easy-kids-r.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sets")
    survey = easy_survey(folder)
    paths = {}
    for name, lenses, nonlenses, seed in [("train", 150, 150, 1), ("val", 60, 60, 2)]:
        paths[name] = folder / f"{name}.fits"
        call_command("simulate", "--survey", str(survey), "--lenses", str(lenses),
                     "--nonlenses", str(nonlenses), "--seed", str(seed), "--out",
                     str(paths[name]), verbosity=0)  # fmt: skip
    paths["gri"] = folder / "gri.fits"
    call_command("simulate", "--survey", "kids-gri", "--lenses", "4", "--nonlenses", "4",
                 "--out", str(paths["gri"]), verbosity=0)  # fmt: skip
    return paths


def train(name, sets, epochs=2, **kw):
    return train_and_register(name, sets["train"], settings_for("he2020-cnn", epochs=epochs, **kw),
                              sets["val"], device="cpu")  # fmt: skip


def test_it_trains_registers_and_records_provenance(data_dir, sets):
    network = train("cnn", sets, epochs=3)
    assert (data_dir / network.weights_path).is_file()
    assert network.bands == "r" and network.stamp_size == 49 and network.pixscale_arcsec == 0.42
    t = network.training
    assert t["settings"]["seed"] == 0 and t["epochs"] == 3 and len(t["history"]) == 3
    assert t["n_train"] == 300 and t["train_prior"] == 0.5 and len(t["train_sha256"]) == 64
    assert t["history"][-1]["loss"] < t["history"][0]["loss"]
    assert network.evaluation["auc"] > 0.8  # 3 epochs on 300 stamps already separate them
    assert network.threshold_fpr_1pct == network.evaluation["threshold_at_fpr"]["0.01"]
    assert not (data_dir / "training" / "cnn").exists()  # the checkpoint is tidied away


def weights(network):
    from django.conf import settings

    return torch.load(settings.DATA_DIR / network.weights_path, weights_only=True)


def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_same_seed_same_weights_on_the_cpu(data_dir, sets):
    # torch.save writes a random archive id, so compare tensors, not file hashes.
    a, b = train("a", sets, seed=4), train("b", sets, seed=4)
    assert same_weights(a, b)
    assert not same_weights(a, train("c", sets, seed=5))


def test_an_interrupted_training_resumes_where_it_stopped(data_dir, sets):
    class Stop(Exception):
        pass

    def stop_after_first(epoch, *_):
        if epoch == 1:
            raise Stop

    with pytest.raises(Stop):
        train_and_register("r", sets["train"], settings_for("he2020-cnn", epochs=2), device="cpu",
                           progress=stop_after_first)  # fmt: skip
    assert Network.objects.count() == 0  # a failed training leaves the registry unchanged
    assert (data_dir / "training" / "r" / "checkpoint.pt").exists()
    epochs_run = []
    two_epochs = settings_for("he2020-cnn", epochs=2)
    resumed = train_and_register(
        "r", sets["train"], two_epochs, device="cpu", progress=lambda e, *_: epochs_run.append(e)
    )
    assert epochs_run == [2]
    straight = train_and_register(
        "s", sets["train"], settings_for("he2020-cnn", epochs=2), device="cpu"
    )
    assert same_weights(resumed, straight)


def test_an_interrupted_training_can_be_finished_with_fewer_or_more_epochs(data_dir, sets):
    class Stop(Exception):
        pass

    def stop_after_second(epoch, *_):
        if epoch == 2:
            raise Stop

    with pytest.raises(Stop):
        train_and_register("r", sets["train"], settings_for("he2020-cnn", epochs=5), sets["val"],
                           device="cpu", progress=stop_after_second)  # fmt: skip
    epochs_run = []
    shortened = train_and_register(
        "r", sets["train"], settings_for("he2020-cnn", epochs=2, patience=1), sets["val"],
        device="cpu", progress=lambda e, *_: epochs_run.append(e),
    )  # fmt: skip
    assert epochs_run == [] and len(shortened.training["history"]) == 2
    # Another setting (the rate) is another training: it starts afresh.
    with pytest.raises(Stop):
        train_and_register("q", sets["train"], settings_for("he2020-cnn", epochs=5), sets["val"],
                           device="cpu", progress=stop_after_second)  # fmt: skip
    epochs_run = []
    other_rate = settings_for("he2020-cnn", epochs=2, lr=1e-4)
    train_and_register("q", sets["train"], other_rate, sets["val"], device="cpu",
                       progress=lambda e, *_: epochs_run.append(e))  # fmt: skip
    assert epochs_run == [1, 2]


def test_evaluate_network_writes_the_documented_json(data_dir, sets, tmp_path):
    train("cnn", sets)
    out, page = tmp_path / "eval.json", tmp_path / "eval.html"
    call_command("evaluate_network", "cnn", str(sets["val"]), "--json", str(out), "--html",
                 str(page), verbosity=0)  # fmt: skip
    text = page.read_text()
    assert "ROC by lens subset" in text and "all lenses" in text
    assert text.count('<img src="data:image/png;base64,') == 24  # 12 false positives, 12 missed
    assert "Plotly.newPlot" in text and "Log-odds by class and kind" in text
    report = json.loads(out.read_text())
    for key in ["n_lenses", "n_nonlenses", "auc", "tpr0", "tpr10", "accuracy_at_0.5",
                "completeness_at_0.5", "threshold_at_fpr", "tpr_at_fpr", "completeness_grid",
                "seconds"]:  # fmt: skip
        assert key in report
    assert (report["n_lenses"], report["n_nonlenses"]) == (60, 60)
    assert set(report["threshold_at_fpr"]) == set(report["tpr_at_fpr"]) == {"0.01", "0.001"}
    assert len(report["completeness_grid"]) == 16
    assert {"theta_e_min", "snr_min", "n", "completeness"} == set(report["completeness_grid"][0])
    # The shortcut audit of the same set, beside the network's AUC.
    assert set(report["shortcut_audit"]) >= {"flux_0.5", "concentration", "noise_sigma"}
    best = report["best_single_summary"]
    assert best["separation"] == pytest.approx(
        0.5 + abs(report["shortcut_audit"][best["name"]] - 0.5)
    )


def test_a_cross_simulator_evaluation_is_kept_beside_the_networks_own(data_dir, sets, admin_client):
    from django.urls import reverse

    train("cnn", sets)
    call_command("evaluate_network", "cnn", str(sets["val"]), "--save", verbosity=0)
    own = Network.objects.get(name="cnn")
    assert own.evaluation_cross_simulator == {}
    # (The easy set stands in for a lenstronomy one: the storage is under test.)
    call_command("evaluate_network", "cnn", str(sets["train"]), "--cross-simulator", "--save",
                 verbosity=0)  # fmt: skip
    network = Network.objects.get(name="cnn")
    assert network.evaluation == own.evaluation  # its own figures and thresholds stay
    assert network.threshold_fpr_1pct == own.threshold_fpr_1pct
    cross = network.evaluation_cross_simulator
    assert cross["n_lenses"] == 150 and cross["file"] == str(sets["train"])
    assert list(cross["by_kind"]) == ["elliptical"] and cross["by_kind"]["elliptical"]["n"] == 150
    page = admin_client.get(reverse("classifier:network", args=["cnn"])).content.decode()
    assert "On an independent renderer" in page and "Not evaluated on an independent" not in page
    assert f"{cross['auc']:.4f}" in page and "<td>elliptical</td><td>150</td>" in page
    listing = admin_client.get(reverse("classifier:networks")).content.decode()
    assert f"{cross['auc']:.3f}, {cross['tpr_at_fpr']['0.01']:.3f}" in listing
    with pytest.raises(CommandError, match="without --cross-simulator"):
        call_command("evaluate_network", "cnn", str(sets["train"]), "--cross-simulator",
                     "--save", "--val", str(sets["val"]))  # fmt: skip


def test_score_stamps_writes_one_score_per_stamp(data_dir, sets, tmp_path):
    train("cnn", sets)
    out = tmp_path / "scores.csv"
    call_command("score_stamps", "cnn", str(sets["val"]), "--out", str(out), verbosity=0)
    lines = out.read_text().splitlines()
    assert lines[0] == "id,score" and len(lines) == 121
    scores = np.array([float(line.split(",")[1]) for line in lines[1:]])
    assert np.all((scores >= 0) & (scores <= 1))


def test_it_explains_bad_input(data_dir, sets, tmp_path):
    train("cnn", sets)
    with pytest.raises(CommandError, match=r"No network named 'nope' \(registered: cnn\)"):
        call_command("score_stamps", "nope", str(sets["val"]), "--out", str(tmp_path / "x.csv"))
    g_only = tmp_path / "g.fits"
    with StampSetWriter(g_only, 2, ["g"], (97, 97), 0.21) as w:
        w.write(np.ones((2, 1, 97, 97), np.float32), {"id": ["a", "b"], "label": [1, 0]})
    with pytest.raises(CommandError, match=r"The network takes bands r; .* has g \(missing r\)"):
        call_command("score_stamps", "cnn", str(g_only), "--out", str(tmp_path / "x.csv"))
    unlabelled = tmp_path / "unlabelled.fits"
    nan = tmp_path / "nan.fits"
    one_class = tmp_path / "one.fits"
    for path, cube, labels in [
        (unlabelled, np.ones((2, 1, 97, 97)), [-1, -1]),
        (nan, np.full((2, 1, 97, 97), np.nan), [1, 0]),
        (one_class, np.ones((2, 1, 97, 97)), [1, 1]),
    ]:
        with StampSetWriter(path, 2, ["r"], (97, 97), 0.21) as w:
            w.write(cube.astype(np.float32), {"id": ["a", "b"], "label": labels})
    with pytest.raises(CommandError, match="unlabelled stamps"):
        call_command("evaluate_network", "cnn", str(unlabelled))
    with pytest.raises(CommandError, match="are all NaN"):
        call_command("evaluate_network", "cnn", str(nan))
    with pytest.raises(CommandError, match="needs both lenses and non-lenses"):
        call_command("evaluate_network", "cnn", str(one_class))
    with pytest.raises(CommandError, match="holds only one class"):
        call_command("train_network", "--architecture", "he2020-cnn", "--train", str(one_class),
                     "--name", "bad", "--epochs", "1")  # fmt: skip
    with pytest.raises(CommandError, match="exists already"):
        call_command("train_network", "--architecture", "he2020-cnn", "--train", str(sets["train"]),
                     "--name", "cnn", "--epochs", "1")  # fmt: skip
    assert list(Network.objects.values_list("name", flat=True)) == ["cnn"]
    assert sorted(p.name for p in (data_dir / "networks").iterdir()) == ["cnn.pt"]


def test_tampered_weights_are_refused(data_dir, sets):
    network = train("cnn", sets)
    path = data_dir / network.weights_path
    state = torch.load(path, weights_only=True)
    next(iter(state.values())).add_(1.0)
    torch.save(state, path)
    with pytest.raises(NetworkError, match="do not match their sha256"):
        from classifier.services import load_model

        load_model(network)


def test_early_stopping_keeps_the_best_epoch_and_stops_after_its_patience(sets, tmp_path):
    from classifier import metrics
    from classifier.inference import score_array
    from classifier.training import TrainSettings, _Identity, load_set
    from classifier.training import train as train_network

    settings = TrainSettings("he2020-cnn", epochs=8, lr=3e-3, seed=2, patience=1)
    model, pre, history, info = train_network(sets["train"], settings, tmp_path, sets["val"])
    aucs = [h["val_auc"] for h in history]
    best = int(np.argmax(aucs)) + 1
    assert info["best_epoch"] == best < 8  # this seed peaks early: stopping is exercised
    assert info["epochs_run"] == len(history) == best + 1
    # The weights returned are the best epoch's, not the last one's: scored on
    # the very inputs training validated on, they give the best AUC exactly.
    x, y, _ = load_set(sets["val"], pre)
    scores = score_array(model, _Identity(pre), x.float(), pre.pixscale_arcsec, output="log-odds")
    assert metrics.auc(scores, y.numpy()) == pytest.approx(aucs[best - 1], abs=1e-12)
    assert aucs[-1] < aucs[best - 1]


def test_training_with_a_validation_set_stores_a_temperature_that_the_scorer_applies(
    data_dir, sets
):
    from classifier.calibration import fit_temperature, nll
    from classifier.services import load_scorer
    from simulations.stampset import read_stampset

    network = train("cnn", sets)
    c = network.calibration
    t = c["temperature"]
    assert c["file"] == str(sets["val"]) and t != pytest.approx(1.0, abs=0.01)
    val = read_stampset(sets["val"])
    # In fp32, as the fit was (the network may score in bf16 since its evaluation).
    fp32 = {"variant": "fp32", "output": "log-odds"}
    raw = load_scorer(network, "cpu", temperature=1.0, **fp32).score_stampset(val)
    # The stored temperature is the fit to the validation log-odds, and it lowers their NLL.
    assert t == pytest.approx(fit_temperature(raw, val.labels), rel=1e-4)
    assert c["calibrated"]["nll"] == pytest.approx(nll(raw, val.labels, t), rel=1e-6)
    assert c["calibrated"]["nll"] < c["uncalibrated"]["nll"]
    assert {"ece", "reliability"} <= set(c["calibrated"]) and c["n"] == 120
    # Every scorer of the network divides by it; the evaluation used it too.
    scored = load_scorer(network, "cpu", **fp32).score_stampset(val)
    np.testing.assert_allclose(scored, raw / t, rtol=1e-6)
    assert network.evaluation["calibration"]["temperature"] == t


def test_evaluate_network_fits_a_temperature_on_val_when_the_network_has_none(
    data_dir, sets, tmp_path
):
    network = train_and_register(
        "plain", sets["train"], settings_for("he2020-cnn", epochs=2), device="cpu"
    )
    assert network.calibration is None and network.temperature == 1.0
    out, page = tmp_path / "eval.json", tmp_path / "eval.html"
    call_command("evaluate_network", "plain", str(sets["val"]), "--val", str(sets["val"]),
                 "--json", str(out), "--html", str(page), verbosity=0)  # fmt: skip
    c = json.loads(out.read_text())["calibration"]
    t = c["temperature"]
    assert t != pytest.approx(1.0, abs=0.01) and c["fitted_on"] == str(sets["val"])
    # Fitted on this very set: the NLL can only go down.
    assert c["calibrated"]["nll"] < c["uncalibrated"]["nll"]
    assert 0 <= c["calibrated"]["ece"] <= 1 and 0 <= c["uncalibrated"]["ece"] <= 1
    # The reliability diagram, before and after, with the ECE.
    text = page.read_text()
    assert "<h2>Reliability</h2>" in text and "mean predicted P(lens) in the bin" in text
    assert f"T = {t:.3g} (ECE {c['calibrated']['ece']:.3f})" in text
    assert f"as trained (ECE {c['uncalibrated']['ece']:.3f})" in text
    network.refresh_from_db()
    assert network.calibration is None  # kept only with --save
    call_command("evaluate_network", "plain", str(sets["val"]), "--val", str(sets["val"]),
                 "--save", "--json", str(out), verbosity=0)  # fmt: skip
    network.refresh_from_db()
    assert network.temperature == pytest.approx(t) and network.calibration["n"] == 120
    assert network.evaluation["calibration"]["temperature"] == network.temperature
    # A network that has a temperature keeps it.
    call_command("evaluate_network", "plain", str(sets["val"]), "--val", str(sets["train"]),
                 "--save", "--json", str(out), verbosity=0)  # fmt: skip
    network.refresh_from_db()
    assert network.temperature == pytest.approx(t)


def test_fine_tuning_starts_from_the_parent_and_records_it(data_dir, sets):
    parent = train("parent", sets, epochs=1, seed=3)
    # A rate too small to move any weight: the child is its parent, which a
    # fresh initialisation (any seed) is not.
    child = train_and_register(
        "child", sets["train"], settings_for("he2020-cnn", epochs=1, lr=1e-30, seed=9),
        device="cpu", init_from=parent,
    )  # fmt: skip
    assert same_weights(parent, child)
    assert child.training["parent"] == {"name": "parent", "weights_sha256": parent.weights_sha256}
    assert child.training["settings"]["init_sha256"] == parent.weights_sha256
    assert child.preprocessing == parent.preprocessing
    # Through the command, with its learning rate: it learns from there.
    call_command("train_network", "--architecture", "he2020-cnn", "--name", "tuned",
                 "--init-from", "parent", "--train", str(sets["train"]), "--epochs", "1",
                 verbosity=0)  # fmt: skip
    tuned = Network.objects.get(name="tuned")
    assert tuned.training["parent"]["name"] == "parent" and not same_weights(parent, tuned)


def test_fine_tuning_refuses_what_does_not_fit(data_dir, sets):
    parent = train("parent", sets, epochs=1)
    with pytest.raises(NetworkError, match="Cannot fine-tune parent .he2020-cnn. as a deeplens"):
        train_and_register("x", sets["train"], settings_for("deeplens-resnet", epochs=1),
                           device="cpu", init_from=parent)  # fmt: skip
    with pytest.raises(NetworkError, match="has bands g,r,i; parent takes r"):
        train_and_register("y", sets["gri"], settings_for("he2020-cnn", epochs=1),
                           device="cpu", init_from=parent)  # fmt: skip
    with pytest.raises(CommandError, match="No network named 'nobody' to start from"):
        call_command("train_network", "--architecture", "he2020-cnn", "--name", "z",
                     "--init-from", "nobody", "--train", str(sets["train"]),
                     verbosity=0)  # fmt: skip
    assert set(Network.objects.values_list("name", flat=True)) == {"parent"}


def test_an_r_network_reads_the_r_band_of_gri_stamps(data_dir, sets, tmp_path):
    # So that networks of different bands compare on the same stamps.
    from classifier.services import load_scorer
    from simulations.stampset import read_stampset

    network = train("cnn", sets, epochs=1)
    gri = read_stampset(sets["gri"])
    r_only = tmp_path / "r.fits"
    with StampSetWriter(r_only, len(gri), ["r"], gri.cube.shape[-2:], gri.pixscale_arcsec) as w:
        w.write(gri.stamps()[:, 1:2], {"id": list(gri.ids), "label": gri.labels})
    scorer = load_scorer(network, "cpu", compile=False)
    np.testing.assert_array_equal(
        scorer.score_stampset(gri), scorer.score_stampset(read_stampset(r_only))
    )


def test_export_switches_tta_on_refits_the_temperature_and_compares_a_baseline(
    data_dir, sets, tmp_path
):
    from classifier.services import load_scorer

    network = train("cnn", sets, epochs=2)
    train("cnn-b", sets, epochs=1, seed=3)
    before = network.temperature
    out = tmp_path / "shipped"
    with pytest.raises(CommandError, match="give --val to fit the temperature again"):
        call_command("export_network", "cnn", str(out), "--test", str(sets["val"]),
                     "--tta", "on", verbosity=0)  # fmt: skip
    call_command("export_network", "cnn", str(out), "--test", str(sets["val"]), "--val",
                 str(sets["val"]), "--tta", "on", "--cross-test", str(sets["gri"]),
                 "--baseline", "cnn-b", verbosity=0)  # fmt: skip
    manifest = json.loads((out / "cnn.json").read_text())
    assert manifest["training"]["tta"] is True
    calibration = manifest["training"]["calibration"]
    assert calibration["file"] == str(sets["val"]) and calibration["temperature"] != before
    assert manifest["baseline_cross_simulator"]["network"] == "cnn-b"
    assert manifest["baseline_cross_simulator"]["n_lenses"] == 4
    network.refresh_from_db()
    assert network.tta and network.temperature == calibration["temperature"]
    assert network.evaluation["auc"] == manifest["evaluation"]["auc"]
    # Its scorer now averages the 8 rotations and flips: a turned stamp scores the same.
    scorer = load_scorer(network, "cpu", compile=False, output="log-odds")
    stamp = np.random.default_rng(0).normal(0, 1, (1, 1, 97, 97)).astype(np.float32)
    stamp[0, 0, 40:57, 40:57] += 30
    turned = np.rot90(stamp, 1, axes=(-2, -1)).copy()
    assert scorer.tta
    np.testing.assert_allclose(scorer.score(stamp, 0.21), scorer.score(turned, 0.21), atol=1e-4)


def test_tta_is_not_switched_under_a_network_with_runs(data_dir, sets):
    from classifier.services import set_tta
    from inspection.models import ScoringRun, Survey

    network = train("cnn", sets, epochs=1)
    survey = Survey.objects.create(name="s", bands="r", pixscale_arcsec=0.21, stamp_size=97,
                                   stamps_path="s.fits")  # fmt: skip
    ScoringRun.objects.create(survey=survey, network=network, threshold=0.5, threshold_logit=0,
                              chunk_size=10, n_sources=0)  # fmt: skip
    with pytest.raises(NetworkError, match="has scored 1 run"):
        set_tta(network, True, sets["val"])
    network.refresh_from_db()
    assert not network.tta


def test_a_limited_load_reads_the_first_stamps_only_and_refuses_more_than_there_are(sets):
    from classifier.preprocessing import Preprocessor
    from classifier.training import TrainingError, load_set

    pre = Preprocessor(bands=["r"], pixscale_arcsec=0.42, size_px=49, stretch="asinh")
    x_all, y_all, _ = load_set(sets["val"], pre)
    x, y, _ = load_set(sets["val"], pre, limit=10)
    assert torch.equal(x, x_all[:10]) and torch.equal(y, y_all[:10])
    with pytest.raises(TrainingError, match=f"Cannot train on {len(y_all) + 1} stamps"):
        load_set(sets["val"], pre, limit=len(y_all) + 1)


def test_a_spent_time_budget_stops_after_the_epoch_running_and_registers_it(data_dir, sets):
    epochs_run = []
    network = train_and_register(
        "budget", sets["train"], settings_for("he2020-cnn", epochs=3), sets["val"], device="cpu",
        progress=lambda e, *_: epochs_run.append(e), max_seconds=0.0,
    )  # fmt: skip
    # A budget of 0 s: the first epoch runs (each call makes progress), no second starts.
    assert epochs_run == [1]
    assert network.training["stopped_by"] == "time budget"
    assert network.training["max_seconds"] == 0.0
    unbounded = train("plain", sets, epochs=2)
    assert unbounded.training["stopped_by"] == "epochs"
    with pytest.raises(CommandError, match="--max-minutes must be a positive"):
        call_command("train_network", "--architecture", "he2020-cnn", "--train", str(sets["train"]),
                     "--name", "x", "--max-minutes", "0", verbosity=0)  # fmt: skip
