"""Training, registering, loading and evaluating networks: one code path for
the commands and the background jobs."""

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from django.db import transaction

from classifier import metrics
from classifier.inference import Scorer, choose_variant, default_device
from classifier.models import Network
from classifier.networks import build
from classifier.preprocessing import Preprocessor
from classifier.training import TrainingError, TrainSettings, train
from core.files import sha256_of
from simulations import audit
from simulations.stampset import StampSetError, read_stampset


class NetworkError(ValueError):
    """A network or its input is not usable; the message says what to do."""


def networks_dir():
    return Path(settings.DATA_DIR) / "networks"


def get_network(name):
    try:
        return Network.objects.get(name=name)
    except Network.DoesNotExist:
        known = ", ".join(Network.objects.values_list("name", flat=True)) or "none yet"
        raise NetworkError(f"No network named {name!r} (registered: {known}).") from None


SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
SHIPPED_PREFIX = "shipped:"


def weights_file(network):
    """The weights on disk: under the data dir, or shipped with the code."""
    if network.weights_path.startswith(SHIPPED_PREFIX):
        return SHIPPED_DIR / network.weights_path.removeprefix(SHIPPED_PREFIX)
    path = Path(network.weights_path)
    return path if path.is_absolute() else Path(settings.DATA_DIR) / path


def export(network, folder, test_path, cross_test_path=None):
    """Half-precision weights and a manifest (with the evaluation on the unseen
    ``test_path`` and, when given, on ``cross_test_path``, a set from another
    simulator) written to ``folder``, as shipped networks are."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report, _, _ = evaluate(network, test_path, save=True)
    cross = evaluate(network, cross_test_path)[0] if cross_test_path else None
    model, _ = load_model(network, "cpu")
    weights = folder / f"{network.name}.pt"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()},
               weights)  # fmt: skip
    manifest = {
        "name": network.name,
        "architecture": network.architecture,
        "bands": network.bands,
        "pixscale_arcsec": network.pixscale_arcsec,
        "stamp_size": network.stamp_size,
        "preprocessing": network.preprocessing,
        "weights_sha256": sha256_of(weights),
        "training": network.training,
        "evaluation": report,
        "evaluation_cross_simulator": cross,
        "threshold_fpr_1pct": report["threshold_at_fpr"]["0.01"],
    }
    (folder / f"{network.name}.json").write_text(json.dumps(manifest, indent=2))
    return weights


def register_shipped(folder=None):
    """Register (or refresh) every network shipped in ``classifier/shipped``;
    returns their names. Idempotent: runs after every migrate."""
    folder = Path(folder or SHIPPED_DIR)
    names = []
    for manifest_path in sorted(folder.glob("*.json")):
        m = json.loads(manifest_path.read_text())
        Network.objects.update_or_create(
            name=m["name"],
            defaults={
                "architecture": m["architecture"],
                "bands": m["bands"],
                "pixscale_arcsec": m["pixscale_arcsec"],
                "stamp_size": m["stamp_size"],
                "preprocessing": m["preprocessing"],
                "weights_path": SHIPPED_PREFIX + f"{m['name']}.pt",
                "weights_sha256": m["weights_sha256"],
                "training": m["training"],
                "evaluation": m["evaluation"],
                "threshold_fpr_1pct": m["threshold_fpr_1pct"],
            },
        )
        names.append(m["name"])
    return names


def load_model(network, device=None):
    """The network's model (eval mode) and preprocessor; checks the weights' sha256."""
    path = weights_file(network)
    if not path.is_file():
        raise NetworkError(f"The weights of {network.name} are missing: {path}.")
    if sha256_of(path) != network.weights_sha256:
        raise NetworkError(f"The weights of {network.name} ({path}) do not match their sha256.")
    device = device or default_device()
    model = build(network.architecture, len(network.band_list))
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model = model.to(device).to(memory_format=torch.channels_last).eval()
    return model, Preprocessor.from_dict(network.preprocessing)


def inference_variant(network):
    """The variant recorded when the network was evaluated (fp32 before that)."""
    return ((network.evaluation or {}).get("inference") or {}).get("variant", "fp32")


def load_scorer(network, device=None, variant=None, compile="auto", batch_size=256,
                output="probability"):  # fmt: skip
    """A ``Scorer`` for the network (weights checked), on ``device`` or the
    default, in its recorded inference variant unless ``variant`` is given;
    compiled once a long run has scored enough stamps (``compile="auto"``)."""
    model, preprocessor = load_model(network, device)
    return Scorer(model, preprocessor, batch_size=batch_size, output=output,
                  variant=variant or inference_variant(network), compile=compile)  # fmt: skip


def open_stampset(path):
    try:
        return read_stampset(path)
    except StampSetError as exc:
        raise NetworkError(str(exc)) from exc


def train_and_register(name, train_path, settings_, val_path=None, user=None, progress=None,
                       device=None):  # fmt: skip
    """Train a network and add it to the registry; nothing is registered if
    anything fails. Resumes from the checkpoint of an interrupted run."""
    if Network.objects.filter(name=name).exists():
        raise NetworkError(f"A network named {name!r} exists already: choose another name.")
    device = device or default_device()
    workdir = Path(settings.DATA_DIR) / "training" / name
    try:
        model, preprocessor, history, info = train(
            train_path, settings_, workdir, val_path, device, progress
        )
    except (TrainingError, StampSetError) as exc:
        raise NetworkError(str(exc)) from exc
    networks_dir().mkdir(parents=True, exist_ok=True)
    weights = networks_dir() / f"{name}.pt"
    tmp = weights.with_suffix(f".tmp-{os.getpid()}")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, weights)
    try:
        with transaction.atomic():
            network = Network.objects.create(
                name=name,
                architecture=settings_.architecture,
                bands=",".join(preprocessor.bands),
                pixscale_arcsec=preprocessor.pixscale_arcsec,
                stamp_size=preprocessor.size_px,
                preprocessing=preprocessor.to_dict(),
                weights_path=str(weights.relative_to(settings.DATA_DIR)),
                weights_sha256=sha256_of(weights),
                training=info,
                created_by=user if user is not None and user.is_authenticated else None,
            )
        if val_path:
            evaluate(network, val_path, save=True)
    except BaseException:
        Network.objects.filter(name=name).delete()
        weights.unlink(missing_ok=True)
        raise
    shutil.rmtree(workdir, ignore_errors=True)  # the checkpoint is no longer needed
    return network


FPR_POINTS = ("0.01", "0.001")


def evaluation_report(scores, labels, theta_e=None, snr=None):
    """The evaluation JSON (keys fixed by the classifier issue)."""
    roc_fpr, roc_tpr, _ = metrics.roc_curve(scores, labels)
    keep = np.unique(np.linspace(0, len(roc_fpr) - 1, min(len(roc_fpr), 400)).astype(int))
    out = {
        "n_lenses": int((labels == 1).sum()),
        "n_nonlenses": int((labels == 0).sum()),
        "auc": metrics.auc(scores, labels),
        "tpr0": metrics.tpr0(scores, labels),
        "tpr10": metrics.tpr10(scores, labels),
        "accuracy_at_0.5": metrics.accuracy(scores, labels, 0.5),
        "completeness_at_0.5": metrics.completeness(scores, labels, 0.5),
        "threshold_at_fpr": {},
        "tpr_at_fpr": {},
    }
    for point in FPR_POINTS:
        threshold, tpr = metrics.tpr_at_fpr(scores, labels, float(point))
        out["threshold_at_fpr"][point] = threshold
        out["tpr_at_fpr"][point] = tpr
    out["roc"] = {"fpr": roc_fpr[keep].tolist(), "tpr": roc_tpr[keep].tolist()}
    if theta_e is not None and snr is not None:
        out["completeness_grid"] = metrics.completeness_grid(
            scores, labels, theta_e, snr, out["threshold_at_fpr"]["0.01"]
        )
    return out


def evaluate(network, path, save=False, device=None, progress=None):
    """Score a labelled stamp set in fp32 eager (the reference) and report;
    ``save`` stores the report on the network, with the inference variant
    chosen on this set (``report["inference"]``, see ``choose_variant``)."""
    started = time.monotonic()
    stampset = open_stampset(path)
    labels = stampset.labels
    if np.any(labels < 0):
        raise NetworkError(f"{path} has unlabelled stamps (label -1): evaluation needs labels.")
    scorer = load_scorer(network, device, variant="fp32", compile=False, output="log-odds")
    try:
        # P(lens) in float64 from the log-odds: float32 probabilities of
        # confident stamps tie at 1.0, which would blur the AUC and thresholds.
        scores = 1.0 / (1.0 + np.exp(-scorer.score_stampset(stampset, progress)))
        meta = stampset.meta
        theta_e = (
            np.asarray(meta["theta_e"]) if "theta_e" in meta.colnames else np.zeros(len(labels))
        )
        snr = np.asarray(meta["snr"]) if "snr" in meta.colnames else np.zeros(len(labels))
        report = evaluation_report(scores, labels, theta_e, snr)
    except (ValueError, metrics.MetricsError) as exc:
        raise NetworkError(str(exc)) from exc
    # What single no-learning summaries achieve on the same set: the network
    # must beat the best of them by far, or it learned a shortcut.
    summaries = audit.audit_stampset(stampset)
    report["shortcut_audit"] = summaries
    report["best_single_summary"] = audit.best_summary(summaries)
    report["seconds"] = time.monotonic() - started
    report["file"] = str(path)
    report["file_sha256"] = sha256_of(path)
    if save:
        report["inference"] = choose_variant(
            scorer.model, scorer.preprocessor, stampset, lambda s: metrics.auc(s, labels),
            scorer.device, scorer.batch_size
        )  # fmt: skip
        network.evaluation = report
        network.threshold_fpr_1pct = report["threshold_at_fpr"]["0.01"]
        network.save(update_fields=["evaluation", "threshold_fpr_1pct"])
    return report, scores, stampset


def score_file(network, path, out_csv, device=None, progress=None):
    """Write ``id,score`` for every stamp of a stamp set."""
    stampset = open_stampset(path)
    scorer = load_scorer(network, device)
    try:
        scores = scorer.score_stampset(stampset, progress)
    except ValueError as exc:
        raise NetworkError(str(exc)) from exc
    out_csv = Path(out_csv)
    tmp = out_csv.with_name(f".{out_csv.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        f.write("id,score\n")
        for stamp_id, score in zip(stampset.ids, scores, strict=True):
            f.write(f"{stamp_id},{score:.8g}\n")
    os.replace(tmp, out_csv)
    return len(scores)


def settings_for(architecture, **overrides):
    """Training defaults per architecture (the papers'), with overrides."""
    # asinh inputs and, for the CNN (no BatchNorm), a rate of 3e-4 rather than
    # 1e-3: on the shortcut-free sets both learn faster (docs/simulations.md).
    defaults = {
        "he2020-cnn": {"lr": 3e-4, "batch_size": 64, "epochs": 20, "stretch": "asinh",
                       "patience": 5},
        "deeplens-resnet": {"lr": 1e-3, "batch_size": 128, "epochs": 120, "lr_step_epochs": 40,
                            "stretch": "asinh", "patience": 10},
    }  # fmt: skip
    values = {
        **defaults.get(architecture, {}),
        **{k: v for k, v in overrides.items() if v is not None},
    }
    try:
        return TrainSettings(architecture=architecture, **values)
    except TrainingError as exc:
        raise NetworkError(str(exc)) from exc
