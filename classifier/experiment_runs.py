"""Running the classifier experiments in a worker: their sets, trainings
and scores (``classifier.experiments`` computes the figures; the records
are ``classifier.experiment_services``'s)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from classifier import experiments, services
from classifier.experiment_services import discard_products, folder
from classifier.inference import Scorer, default_device
from classifier.models import Experiment, Network
from classifier.training import train
from core.files import sha256_of
from simulations.generate import simulate_psf_series, simulate_stampset
from simulations.stampset import StampSet, read_stampset
from simulations.surveys import get_survey, survey_for_bands

if TYPE_CHECKING:
    from core.progress import Progress

# Validation sets (early stopping, the networks' thresholds): this many
# stamps, or as many as the test set where that is smaller.
VAL_STAMPS = 2000


def run(experiment: Experiment, progress: Progress) -> dict:
    """Run ``experiment``, store its results and provenance; on any failure
    (a cancel too) remove its products and re-raise."""
    runner = {"psf": _run_psf, "volume": _run_volume, "complexity": _run_complexity}[
        experiment.kind
    ]
    return run_with(experiment, progress, runner)


def run_with(
    experiment: Experiment,
    progress: Progress,
    runner: Callable[[Experiment, Path, Progress], tuple[dict, dict]],
) -> dict:
    """Run ``runner(experiment, folder, progress)`` -> (results, provenance)
    in a fresh folder and store what it returns; on any failure (a cancel
    too) remove the experiment's products and re-raise."""
    out = folder(experiment)
    shutil.rmtree(out, ignore_errors=True)  # a run again after a lost worker starts afresh
    out.mkdir(parents=True)
    started = time.monotonic()
    try:
        results, provenance = runner(experiment, out, progress)
        results["seconds"] = time.monotonic() - started
        experiment.results, experiment.provenance = results, provenance
        experiment.save(update_fields=["results", "provenance"])
    except BaseException:
        discard_products(experiment)
        raise
    return {"experiment": experiment.pk, "seconds": results["seconds"]}


def set_record(path: Path, role: str, **extra) -> dict:
    return {"role": role, "file": str(path), "sha256": sha256_of(path), **extra}


def stepper(progress: Progress, total: int, unit: str = "steps") -> Callable[[str], None]:
    """``step(message)``: one more of ``total`` steps done (and a cancel check)."""
    progress.start(total=total, unit=unit, message="starting")

    def step(message: str) -> None:
        progress.update(progress.done + 1, message=message, force=True)

    return step


def simulated(
    config: str | dict, n: int, seed: int, path: Path, progress: Progress, what: str
) -> Path:
    """A labelled set of ``n`` stamps (half lenses) from ``config`` (a survey
    name or configuration dict), with a progress message and cancel checks."""

    def report(done, total):
        progress.update(progress.done, message=f"simulating the {what}: {done}/{total} stamps")

    return simulate_stampset(config, n // 2, n - n // 2, seed, path, progress=report)


def cross_set(params: dict, survey: str, n: int, seed: int, out: Path) -> tuple[Path | None, str]:
    """The cross-simulator test set: the file given, else one rendered with
    the lenstronomy renderer of ``crosscheck`` where lenstronomy is installed
    (a development dependency); ``(None, why)`` otherwise."""
    if params.get("cross_test"):
        return Path(params["cross_test"]).expanduser(), "the file given"
    try:
        from crosscheck.lenstronomy_sets import make_set
    except ImportError:
        return None, (
            "lenstronomy is not installed (a development dependency: pip install -r "
            "requirements-dev.txt) and no cross-simulator test set was given"
        )
    path = out / "cross-test.fits"
    make_set(survey, n // 2, n - n // 2, seed, path, workers=1)
    return path, "rendered with lenstronomy (crosscheck/)"


def labels_meta(stampset: StampSet) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Labels, Einstein radii (arcsec) and arc S/N of a set (None where it lacks them)."""
    meta = stampset.meta
    theta_e = np.asarray(meta["theta_e"]) if "theta_e" in meta.colnames else None
    snr = np.asarray(meta["snr"]) if "snr" in meta.colnames else None
    return stampset.labels, theta_e, snr


def check_bands(path: Path, bands: list[str], what: str) -> None:
    found = read_stampset(path).bands
    if found != bands:
        raise services.NetworkError(
            f"The {what} {path} has bands {','.join(found)}; the networks take "
            f"{','.join(bands)}: give a set of those bands."
        )


# --- PSF robustness (He et al. 2020 Sect. 5.1) -------------------------------------


def _training_fwhm(network: Network) -> dict[str, np.ndarray] | None:
    """The PSF FWHM column(s) of the network's training set, if it is still
    readable and has them."""
    path = Path(network.training.get("train_file") or "")
    if not path.is_file():
        return None
    try:
        meta = read_stampset(path).meta
    except (OSError, ValueError):
        return None
    bands = network.band_list
    columns = {b: "psf_fwhm" if len(bands) == 1 else f"psf_fwhm_{b}" for b in bands}
    if not all(c in meta.colnames for c in columns.values()):
        return None
    return {b: np.asarray(meta[c]) for b, c in columns.items()}


def _run_psf(experiment: Experiment, out: Path, progress: Progress) -> tuple[dict, dict]:
    params = experiment.parameters
    network = services.get_network(params["network"])
    factors, n = params["factors"], params["n"]
    survey = survey_for_bands(network.band_list)
    config = get_survey(survey)
    reference, source = experiments.reference_fwhm(_training_fwhm(network), config)
    step = stepper(progress, 1 + len(factors))  # the sets, then each one scored

    def report(done, total):
        progress.update(progress.done, message=f"simulating: {done}/{total} stamps")

    paths = simulate_psf_series(
        survey, factors, reference, n // 2, n - n // 2, experiment.seed, out, report
    )
    step(f"simulated {len(factors)} sets of {n} stamps")
    # fp32 eager, as the evaluation that measured its threshold.
    scorer = services.load_scorer(network, variant="fp32", compile=False, output="log-odds")
    threshold = network.threshold_logit_fpr_1pct
    rows = []
    for factor, path in paths.items():
        stampset = read_stampset(path)
        labels, theta_e, snr = labels_meta(stampset)
        scores = scorer.score_stampset(stampset)
        figures = experiments.set_metrics(scores, labels, threshold, theta_e, snr)
        lenses = labels == 1
        rows.append(
            {
                "factor": factor,
                "fwhm_arcsec": {b: factor * v for b, v in reference.items()},
                "median_lens_snr": float(np.median(snr[lenses])) if snr is not None else None,
                **figures,
            }
        )
        step(f"scored the set of PSF factor {factor:g}")
    results = {
        "network": network.name,
        "survey": survey,
        "reference_fwhm_arcsec": reference,
        "reference_from": source,
        "threshold_logit": threshold,
        "rows": rows,
        "worst_drop": {
            key: experiments.worst_drop(rows, key)
            for key in ("auc", "completeness", "accuracy", "tpr_at_1pct")
        },
    }
    provenance = {
        "sets": [set_record(p, "test", factor=f, seed=experiment.seed) for f, p in paths.items()],
        "networks": [network.member_record()],
    }
    return results, provenance


# --- Training volume (He et al. 2020 Sect. 5.2) ------------------------------------


def _run_volume(experiment: Experiment, out: Path, progress: Progress) -> tuple[dict, dict]:
    params, seed = experiment.parameters, experiment.seed
    architecture, sizes, epochs = params["architecture"], params["sizes"], params["epochs"]
    survey = params["survey"]
    bands = get_survey(survey)["bands"]
    # Steps: the sets, then per size its epochs and its scoring.
    step = stepper(progress, 1 + len(sizes) * (epochs + 1))
    made = {
        role: simulated(survey, n, seed + k, out / f"{role}.fits", progress, f"{role} set")
        for k, (role, n) in enumerate(
            (
                ("train", max(sizes)),
                ("validation", min(VAL_STAMPS, params["n_test"])),
                ("test", params["n_test"]),
            )
        )
    }
    train_path, val_path, test_path = made["train"], made["validation"], made["test"]
    cross_path, cross_from = cross_set(params, survey, params["n_test"], seed + 3, out)
    if cross_path is not None:
        check_bands(cross_path, bands, "cross-simulator test set")
    step("simulated the sets")
    tests = {"project test": read_stampset(test_path)}
    if cross_path is not None:
        tests["cross-simulator test"] = read_stampset(cross_path)
    user = experiment.created_by
    rows, networks = [], []
    for size in sizes:
        started = time.monotonic()

        def report(epoch, total, loss, val_auc, size=size):
            auc = f", validation AUC {val_auc:.4f}" if val_auc is not None else ""
            step(f"{size} stamps: epoch {epoch}/{total}, loss {loss:.4f}{auc}")

        network = services.train_and_register(
            f"experiment-{experiment.pk}-{architecture}-{size}",
            train_path,
            services.settings_for(architecture, epochs=epochs, seed=seed, patience=3),
            val_path,
            user,
            report,
            limit=size,
            extra={"experiment": experiment.pk},
        )
        # fp32 eager, as the evaluation that measured its threshold.
        scorer = services.load_scorer(network, variant="fp32", compile=False, output="log-odds")
        threshold = network.threshold_logit_fpr_1pct
        row = {
            "size": size,
            "network": network.name,
            "epochs_run": network.training["epochs_run"],
            "best_epoch": network.training.get("best_epoch"),
            "seconds": time.monotonic() - started,
        }
        for name, stampset in tests.items():
            labels, theta_e, snr = labels_meta(stampset)
            scores = scorer.score_stampset(stampset)
            row[name] = experiments.set_metrics(scores, labels, threshold, theta_e, snr)
        rows.append(row)
        networks.append(network.member_record())
        # Epochs that early stopping skipped count as done.
        progress.update(1 + len(rows) * (epochs + 1), message=f"{size} stamps: scored", force=True)
    results = {
        "architecture": architecture,
        "survey": survey,
        "tests": list(tests),
        "cross_simulator": cross_from,
        "rows": rows,
    }
    sets = [
        set_record(train_path, "train (nested: the first N stamps)", seed=seed),
        set_record(val_path, "validation", seed=seed + 1),
        set_record(test_path, "project test", seed=seed + 2),
    ]
    if cross_path is not None:
        sets.append(set_record(cross_path, "cross-simulator test", origin=cross_from))
    # The training set is the bulk of the disk (~3.8 GB at the default 80,000
    # KiDS stamps) and is made again from the seed (byte for byte on the same
    # kind of device, simulations.generate): its record
    # (sha256 and seed) stays, the file goes.
    train_path.unlink()
    sets[0]["removed"] = "after training: simulate it again from the seed"
    provenance = {
        "sets": sets,
        "networks": networks,
    }
    return results, provenance


# --- Network complexity and simulation realism (Lanusse et al. 2018 Fig. 9) ---------

COMPLEXITY_ARCHITECTURES = ("he2020-cnn", "deeplens-resnet")
REALISM = ("simple", "realistic")


def _run_complexity(experiment: Experiment, out: Path, progress: Progress) -> tuple[dict, dict]:
    params, seed = experiment.parameters, experiment.seed
    survey, epochs, n_train, n_test = (
        params["survey"], params["epochs"], params["n_train"], params["n_test"]
    )  # fmt: skip
    config = get_survey(survey)
    configs = {"simple": experiments.simple_config(config), "realistic": config}
    # Steps: the sets, then per network its epochs and its scoring, then the comparison.
    step = stepper(progress, 2 + len(COMPLEXITY_ARCHITECTURES) * len(REALISM) * (epochs + 1))
    sets, records = {}, []
    for k, realism in enumerate(REALISM):
        base = seed + 10 * k
        for role, n, offset in (("train", n_train, 0), ("val", min(VAL_STAMPS, n_test), 1),
                                ("test", n_test, 2)):  # fmt: skip
            path = out / f"{realism}-{role}.fits"
            simulated(configs[realism], n, base + offset, path, progress, f"{realism} {role} set")
            sets[(realism, role)] = path
            records.append(set_record(path, f"{realism} {role}", seed=base + offset))
    tests = {realism: read_stampset(sets[(realism, "test")]) for realism in REALISM}
    cross_path, cross_from = cross_set(params, survey, n_test, seed + 30, out)
    if cross_path is not None:
        check_bands(cross_path, config["bands"], "cross-simulator test set")
        tests["cross-simulator"] = read_stampset(cross_path)
        records.append(set_record(cross_path, "cross-simulator test", origin=cross_from))
    step("simulated the sets")
    device = default_device()
    scores: dict[str, dict[str, np.ndarray]] = {}
    trained = []
    for architecture in COMPLEXITY_ARCHITECTURES:
        for realism in REALISM:
            key = f"{architecture} on {realism}"

            def report(epoch, total, loss, val_auc, key=key):
                step(f"{key}: epoch {epoch}/{total}, loss {loss:.4f}, validation AUC {val_auc:.4f}")

            settings_ = services.settings_for(architecture, epochs=epochs, seed=seed, patience=3)
            model, preprocessor, history, info = train(
                sets[(realism, "train")], settings_, out / f"work-{architecture}-{realism}",
                sets[(realism, "val")], device, report,
            )  # fmt: skip
            weights = out / f"{architecture}-{realism}.pt"
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            torch.save({"state_dict": state, "preprocessor": preprocessor.to_dict()}, weights)
            shutil.rmtree(out / f"work-{architecture}-{realism}", ignore_errors=True)
            scorer = Scorer(model, preprocessor, device=device, output="log-odds")
            scores[key] = {name: scorer.score_stampset(s) for name, s in tests.items()}
            trained.append({"name": key, "architecture": architecture, "trained_on": realism,
                            "weights": str(weights), "weights_sha256": sha256_of(weights),
                            "epochs_run": info["epochs_run"], "best_epoch": info["best_epoch"],
                            "seconds": info["duration_s"]})  # fmt: skip
            # Epochs that early stopping skipped count as done.
            progress.update(1 + len(trained) * (epochs + 1), message=f"{key}: scored", force=True)
    results = {"survey": survey, "cross_simulator": cross_from, "tests": list(tests),
               "networks": trained, "matrix": [], "differences": []}  # fmt: skip
    for entry in trained:
        for name, stampset in tests.items():
            labels, theta_e, snr = labels_meta(stampset)
            s = scores[entry["name"]][name]
            results["matrix"].append(
                {
                    "network": entry["name"],
                    "test": name,
                    **experiments.set_metrics(s, labels, None, theta_e, snr),
                    "roc": experiments.roc_points(s, labels),
                }  # fmt: skip
            )
    # The ResNet against the CNN on each training set, and realism against
    # simplicity for each architecture, on every test set (paired bootstrap).
    pairs = [(f"deeplens-resnet on {r}", f"he2020-cnn on {r}") for r in REALISM] + [
        (f"{a} on realistic", f"{a} on simple") for a in COMPLEXITY_ARCHITECTURES
    ]
    for name, stampset in tests.items():
        for a, b in pairs:
            diff = experiments.bootstrap_auc_difference(
                scores[a][name], scores[b][name], stampset.labels, seed=seed
            )
            results["differences"].append({"test": name, "a": a, "b": b, **diff})
    step("scored and compared")
    return results, {"sets": records, "networks": trained}
