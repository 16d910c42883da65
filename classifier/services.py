"""Training, registering, loading and evaluating networks: one code path for
the commands and the background jobs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from classifier import calibration, metrics
from classifier.defaults import TRAINING_DEFAULTS
from classifier.inference import (
    Committee,
    Scorer,
    compare_variants,
    default_device,
    supported_variants,
)
from classifier.models import Network
from classifier.networks import build
from classifier.preprocessing import Preprocessor
from classifier.training import TrainingError, TrainSettings, train
from core.files import sha256_of
from core.logodds import sigmoid
from simulations import audit
from simulations.stampset import StampSetError, read_stampset

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from simulations.stampset import StampSet


class NetworkError(ValueError):
    """A network or its input is not usable; the message says what to do."""


def networks_dir() -> Path:
    return Path(settings.DATA_DIR) / "networks"


def get_network(name: str) -> Network:
    try:
        return Network.objects.get(name=name)
    except Network.DoesNotExist:
        known = ", ".join(Network.objects.values_list("name", flat=True)) or "none yet"
        raise NetworkError(f"No network named {name!r} (registered: {known}).") from None


SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
SHIPPED_PREFIX = "shipped:"


def weights_file(network: Network) -> Path:
    """The weights on disk: under the data dir, or shipped with the code."""
    if network.weights_path.startswith(SHIPPED_PREFIX):
        return SHIPPED_DIR / network.weights_path.removeprefix(SHIPPED_PREFIX)
    path = Path(network.weights_path)
    return path if path.is_absolute() else Path(settings.DATA_DIR) / path


def set_tta(network: Network, tta: bool, val_path: str | Path | None) -> None:
    """Switch the network's test-time augmentation on or off (not saved here):
    its temperature is dropped, to be fitted again on ``val_path`` with the
    new scores, and so are its thresholds. Refused once it has scored runs:
    their scores and thresholds would no longer be the network's."""
    if bool(tta) == network.tta:
        return
    if network.is_committee:
        raise NetworkError(f"{network.name} is a committee: its members' TTA settings apply.")
    n_runs = network.runs.count() if network.pk else 0
    if n_runs:
        raise NetworkError(
            f"{network.name} has scored {n_runs} run(s): switching TTA would change its scores "
            "under them. Export a copy under another name instead."
        )
    if not val_path:
        raise NetworkError(
            "Switching TTA changes the scores: give --val to fit the temperature again."
        )
    training = {k: v for k, v in network.training.items() if k != "calibration"}
    network.training = {**training, "tta": bool(tta)}


def export(
    network: Network,
    folder: str | Path,
    test_path: str | Path,
    cross_test_path: str | Path | None = None,
    val_path: str | Path | None = None,
    baseline: str | Path | None = None,
    tta: bool | None = None,
) -> Path:
    """Half-precision weights and a manifest (with the evaluation on the unseen
    ``test_path`` and, when given, on ``cross_test_path``, a set from another
    simulator) written to ``folder``, as shipped networks are. A network
    without a temperature gets one fitted on ``val_path`` when given (it
    travels in the manifest's ``training``). A ``baseline`` network is
    evaluated on the same cross-simulator set and kept beside it, so the
    manifest says whether this network beats it (the g,r,i CNN is shipped
    only if it beats the r one)."""
    if baseline is not None and not cross_test_path:
        raise NetworkError("A baseline is compared on the cross-simulator set: give --cross-test.")
    if tta is not None:
        set_tta(network, tta, val_path)  # saved with the evaluation below
    if network.is_committee:
        raise NetworkError(
            f"{network.name} is a committee: it has no weights to export. Export its members "
            f"({', '.join(m['name'] for m in network.training['members'])}) instead."
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report, _, _ = evaluate(network, test_path, save=True, val_path=val_path)
    cross = evaluate(network, cross_test_path)[0] if cross_test_path else None
    if cross:
        save_cross_simulator(network, cross)
    compared = evaluate(baseline, cross_test_path)[0] if baseline is not None else None
    model, _ = load_model(network, "cpu")
    weights = folder / f"{network.name}.pt"
    torch.save(
        {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()},
        weights,
    )
    if compared:
        compared = {"network": baseline.name, **compared}
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
        **({"baseline_cross_simulator": compared} if compared else {}),
        "threshold_fpr_1pct": report["threshold_at_fpr"]["0.01"],
    }
    (folder / f"{network.name}.json").write_text(json.dumps(manifest, indent=2))
    return weights


def register_shipped(
    folder: str | Path | None = None, only: Iterable[str] | None = None
) -> list[str]:
    """Register (or refresh) every network shipped in ``classifier/shipped``,
    or those named in ``only``; returns their names. Idempotent: runs after
    every migrate."""
    folder = Path(folder or SHIPPED_DIR)
    names = []
    for manifest_path in sorted(folder.glob("*.json")):
        if only is not None and manifest_path.stem not in only:
            continue
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
                "evaluation_cross_simulator": m.get("evaluation_cross_simulator") or {},
                "threshold_fpr_1pct": m["threshold_fpr_1pct"],
            },
        )
        names.append(m["name"])
    return names


def check_weights(network: Network) -> Path:
    """The network's weights file, there and matching its sha256."""
    path = weights_file(network)
    if not path.is_file():
        raise NetworkError(f"The weights of {network.name} are missing: {path}.")
    if sha256_of(path) != network.weights_sha256:
        raise NetworkError(f"The weights of {network.name} ({path}) do not match their sha256.")
    return path


def load_model(
    network: Network, device: str | torch.device | None = None
) -> tuple[torch.nn.Module, Preprocessor]:
    """The network's model (eval mode) and preprocessor; checks the weights' sha256."""
    if network.is_committee:
        raise NetworkError(f"{network.name} is a committee: load it with load_scorer.")
    path = check_weights(network)
    device = device or default_device()
    model = build(network.architecture, len(network.band_list))
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model = model.to(device).to(memory_format=torch.channels_last).eval()
    return model, Preprocessor.from_dict(network.preprocessing)


def inference_variant(network: Network) -> str:
    """The variant recorded when the network was evaluated (fp32 before that)."""
    return ((network.evaluation or {}).get("inference") or {}).get("variant", "fp32")


def load_scorer(
    network: Network,
    device: str | torch.device | None = None,
    variant: str | None = None,
    compile: bool | str = "auto",
    batch_size: int = 256,
    output: str = "probability",
    temperature: float | None = None,
    tta: bool | None = None,
) -> Scorer | Committee:
    """A ``Scorer`` for the network (weights checked), on ``device`` or the
    default, in its recorded inference variant unless ``variant`` is given;
    compiled once a long run has scored enough stamps (``compile="auto"``);
    its log-odds divided by the network's temperature unless ``temperature``
    is given; ``tta``: averaged over the 8 rotations and flips of each stamp,
    by default as the network records (``Network.tta``: its temperature and
    thresholds were measured so). A committee gets a ``Committee`` of its
    members' scorers, each as it records unless ``tta`` is given."""
    temperature = network.temperature if temperature is None else temperature
    if network.is_committee:
        # The committee's recorded variant for all, else each member's own.
        variant = variant or ((network.evaluation or {}).get("inference") or {}).get("variant")
        members = [
            load_scorer(member, device, variant, compile, batch_size, "log-odds", tta=tta)
            for member in committee_networks(network)
        ]
        return Committee(members, temperature, output)
    model, preprocessor = load_model(network, device)
    return Scorer(
        model,
        preprocessor,
        batch_size=batch_size,
        output=output,
        variant=variant or inference_variant(network),
        compile=compile,
        temperature=temperature,
        tta=network.tta if tta is None else tta,
    )


# --- Committees --------------------------------------------------------------


def committee_candidates(names: str | Iterable[str]) -> list[Network]:
    """The registered networks ``names`` (a list, or one comma-separated
    string), checked to make a committee: at least 2 distinct trained
    networks, all taking the same bands, pixel scale and stamp size, their
    weights present. Raises ``NetworkError`` naming the problem."""
    if isinstance(names, str):
        names = names.split(",")
    names = [n.strip() for n in names if n.strip()]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise NetworkError(f"Committee members listed twice: {', '.join(twice)}.")
    if len(names) < 2:
        raise NetworkError(
            f"A committee needs at least 2 members; got {len(names)}"
            + (f" ({names[0]})" if names else "")
            + "."
        )
    found = {n.name: n for n in Network.objects.filter(name__in=names)}
    unknown = [n for n in names if n not in found]
    if unknown:
        known = ", ".join(Network.objects.values_list("name", flat=True)) or "none yet"
        raise NetworkError(
            f"No network named {', '.join(map(repr, unknown))} (registered: {known})."
        )
    members = [found[n] for n in names]
    nested = [m for m in members if m.is_committee]
    if nested:
        inside = [r["name"] for m in nested for r in m.training["members"]]
        raise NetworkError(
            f"{', '.join(m.name for m in nested)} is a committee itself: list trained networks "
            f"(its members: {', '.join(inside)})."
        )
    for label, value in (
        ("bands", lambda m: m.bands),
        ("pixel scales", lambda m: m.pixscale_arcsec),
        ("stamp sizes", lambda m: m.stamp_size),
    ):
        if len({value(m) for m in members}) > 1:
            each = ", ".join(f"{m.name} {value(m)}" for m in members)
            raise NetworkError(
                f"Committee members must take the same stamps; their {label} differ ({each})."
            )
    for m in members:
        check_weights(m)
    return members


def make_committee(
    name: str, member_names: str | Iterable[str], user: User | None = None
) -> Network:
    """Register ``name``, a committee of the networks ``member_names``: its
    score is the mean of their calibrated log-odds (``inference.Committee``).
    Nothing is registered if anything is wrong (``committee_candidates``)."""
    try:
        validate_slug(name)
    except ValidationError:
        raise NetworkError(
            f"{name!r} is not a valid name: use letters, digits, - and _ (e.g. kids-r-committee)."
        ) from None
    if Network.objects.filter(name=name).exists():
        raise NetworkError(f"A network named {name!r} exists already: choose another name.")
    members = committee_candidates(member_names)
    records = [m.member_record() for m in members]
    first = members[0]
    return Network.objects.create(
        name=name,
        architecture=Network.COMMITTEE,
        bands=first.bands,
        pixscale_arcsec=first.pixscale_arcsec,
        stamp_size=first.stamp_size,
        # Each member preprocesses for itself (their stretches may differ).
        preprocessing={},
        weights_path="",
        # A fingerprint of what the committee computes, as the weights' sha256
        # is for a network (the scoring workers key their cache on it).
        weights_sha256=sha256_of_json(records),
        training={
            "members": records,
            "train_prior": calibration.combined_prior([m.train_prior or 0.5 for m in members]),
        },
        created_by=user if user is not None and user.is_authenticated else None,
    )


def sha256_of_json(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def committee_networks(committee: Network) -> list[Network]:
    """A committee's member networks, as they were when it was made."""
    members = []
    for record in committee.training["members"]:
        try:
            member = Network.objects.get(name=record["name"])
        except Network.DoesNotExist:
            raise NetworkError(
                f"Committee {committee.name}: its member {record['name']!r} is no longer "
                "registered; make the committee again from registered networks."
            ) from None
        if member.member_record() != record:
            raise NetworkError(
                f"Committee {committee.name}: its member {member.name} has changed since the "
                "committee was made (weights or temperature); make the committee again."
            )
        members.append(member)
    return members


def open_stampset(path: str | Path) -> StampSet:
    try:
        return read_stampset(path)
    except StampSetError as exc:
        raise NetworkError(str(exc)) from exc


def train_and_register(
    name: str,
    train_path: str | Path,
    settings_: TrainSettings,
    val_path: str | Path | None = None,
    user: User | None = None,
    progress: Callable | None = None,
    device: str | torch.device | None = None,
    init_from: Network | None = None,
    limit: int | None = None,
    extra: dict | None = None,
    max_seconds: float | None = None,
) -> Network:
    """Train a network and add it to the registry; nothing is registered if
    anything fails. Resumes from the checkpoint of an interrupted run.
    ``init_from``: a registered network of the same architecture whose
    weights training starts from (fine-tuning; recorded as ``training
    ["parent"]``; it keeps the parent's TTA setting); ``settings_.init_sha256``
    is set from it. ``limit``: the first stamps of the file only
    (``training.train``); ``extra``: more keys for ``training`` (e.g. the
    experiment that made it); ``max_seconds``: the training's time budget
    (``training.train``)."""
    if Network.objects.filter(name=name).exists():
        raise NetworkError(f"A network named {name!r} exists already: choose another name.")
    device = device or default_device()
    init_state, parent = None, None
    if init_from is not None:
        if init_from.is_committee or init_from.architecture != settings_.architecture:
            raise NetworkError(
                f"Cannot fine-tune {init_from.name} ({init_from.architecture}) as a "
                f"{settings_.architecture}: start from a network of that architecture."
            )
        bands = open_stampset(train_path).bands
        if bands != init_from.band_list:
            raise NetworkError(
                f"{train_path} has bands {','.join(bands)}; {init_from.name} takes "
                f"{init_from.bands}: fine-tune on stamps of its bands."
            )
        init_state = torch.load(check_weights(init_from), map_location="cpu", weights_only=True)
        # The parent's inputs, or its weights would see another stretch or scale.
        settings_ = replace(
            settings_,
            init_sha256=init_from.weights_sha256,
            stretch=init_from.preprocessing.get("stretch", "linear"),
            pixscale_arcsec=init_from.pixscale_arcsec,
        )
        parent = {"name": init_from.name, "weights_sha256": init_from.weights_sha256}
    workdir = Path(settings.DATA_DIR) / "training" / name
    try:
        model, preprocessor, history, info = train(
            train_path,
            settings_,
            workdir,
            val_path,
            device,
            progress,
            init_state,
            limit,
            max_seconds=max_seconds,
        )
    except (TrainingError, StampSetError) as exc:
        raise NetworkError(str(exc)) from exc
    info.update(extra or {})
    if parent:
        info["parent"] = parent
        if init_from.tta:
            # Scores as its parent does: its temperature and thresholds,
            # fitted below, are then measured with TTA too.
            info["tta"] = True
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
            # The temperature first: the evaluation's thresholds depend on it.
            try:
                record = fit_calibration(network, val_path, device)
            except NetworkError as exc:
                # Trained all the same: a validation set that fixes no
                # temperature (one the network separates perfectly) leaves
                # the scores as trained, and the record says why.
                record = {"temperature": None, "error": str(exc), "file": str(val_path)}
            network.training = {**network.training, "calibration": record}
            network.save(update_fields=["training"])
            evaluate(network, val_path, save=True)
    except BaseException:
        Network.objects.filter(name=name).delete()
        weights.unlink(missing_ok=True)
        raise
    shutil.rmtree(workdir, ignore_errors=True)  # the checkpoint is no longer needed
    return network


FPR_POINTS = ("0.01", "0.001")


def evaluation_report(
    scores: np.ndarray,
    labels: np.ndarray,
    theta_e: np.ndarray | None = None,
    snr: np.ndarray | None = None,
    logits: np.ndarray | None = None,
    kinds: np.ndarray | None = None,
) -> dict:
    """The evaluation JSON (keys fixed by the classifier issue).

    With the stamps' ``kinds`` (META ``kind``), ``by_kind`` says how each kind
    of non-lens fares at the 1% FPR operating point (``metrics.by_kind``).

    With the network's log-odds ``logits`` (``scores`` = P(lens) from them),
    the operating points by FPR are found on the log-odds, which keep their
    order where the probabilities tie at 1.0, and the thresholds are also
    recorded as log-odds (``threshold_logit_at_fpr``): the ones runs compare."""
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
    if logits is not None:
        out["threshold_logit_at_fpr"] = {}
        for point in FPR_POINTS:
            threshold, tpr = metrics.tpr_at_fpr(logits, labels, float(point))
            out["threshold_logit_at_fpr"][point] = threshold
            out["tpr_at_fpr"][point] = tpr  # what a run at this threshold finds
    out["roc"] = {"fpr": roc_fpr[keep].tolist(), "tpr": roc_tpr[keep].tolist()}
    # At 1% FPR, on the log-odds where known: the operating point runs use.
    ranked = scores if logits is None else logits
    threshold = out["threshold_at_fpr" if logits is None else "threshold_logit_at_fpr"]["0.01"]
    if theta_e is not None and snr is not None:
        out["completeness_grid"] = metrics.completeness_grid(
            ranked, labels, theta_e, snr, threshold
        )
    if kinds is not None:
        out["by_kind"] = metrics.by_kind(ranked, labels, kinds, threshold)
    return out


def has_temperature(network: Network) -> bool:
    return bool((network.calibration or {}).get("temperature"))


def fit_calibration(
    network: Network,
    val_path: str | Path,
    device: str | torch.device | None = None,
    progress: Callable | None = None,
) -> dict:
    """The temperature of ``network`` fitted on the labelled ``val_path``
    (``calibration.fit_temperature`` on its uncalibrated log-odds, fp32), with
    the set's NLL and ECE before and after (``calibration.summary``): the
    record kept as ``training["calibration"]``. Not stored here."""
    stampset = open_stampset(val_path)
    labels = stampset.labels
    scorer = load_scorer(
        network, device, variant="fp32", compile=False, output="log-odds", temperature=1.0
    )
    try:
        log_odds = scorer.score_stampset(stampset, progress)
        temperature = calibration.fit_temperature(log_odds, labels)
        record = calibration.summary(log_odds, labels, temperature)
    except ValueError as exc:  # CalibrationError among them
        raise NetworkError(f"Cannot calibrate {network.name} on {val_path}: {exc}") from exc
    return {**record, "file": str(val_path), "file_sha256": sha256_of(val_path)}


def evaluate(
    network: Network,
    path: str | Path,
    save: bool = False,
    device: str | torch.device | None = None,
    progress: Callable | None = None,
    val_path: str | Path | None = None,
) -> tuple[dict, np.ndarray, StampSet]:
    """Score a labelled stamp set in fp32 eager (the reference) and report;
    ``save`` stores the report on the network, with the inference variant
    chosen on this set (``report["inference"]``, see ``choose_variant``).

    Scores are calibrated with the network's temperature; one without a
    temperature gets one fitted on ``val_path`` when given (stored with
    ``save``, with the report whose thresholds depend on it).
    ``report["calibration"]`` has this set's NLL, ECE and reliability bins
    before and after."""
    started = time.monotonic()
    stampset = open_stampset(path)
    labels = stampset.labels
    if np.any(labels < 0):
        raise NetworkError(f"{path} has unlabelled stamps (label -1): evaluation needs labels.")
    fitted = None
    if val_path is not None and not has_temperature(network):
        n_runs = network.runs.count() if save and network.pk else 0
        if n_runs:
            # Its new scores and thresholds would not compare with those runs'
            # (a resumed run would even mix them).
            raise NetworkError(
                f"{network.name} has scored {n_runs} run(s) without a temperature: fitting one "
                "now would change its scores under them. Evaluate without --save to see the "
                "calibrated report, or train a new network with a validation set."
            )
        fitted = fit_calibration(network, val_path, device)
    temperature = fitted["temperature"] if fitted else network.temperature
    scorer = load_scorer(
        network, device, variant="fp32", compile=False, output="log-odds", temperature=temperature
    )
    try:
        # P(lens) in float64 from the log-odds: float32 probabilities of
        # confident stamps tie at 1.0, which would blur the AUC and thresholds.
        logits = scorer.score_stampset(stampset, progress)
        scores = sigmoid(logits)
        meta = stampset.meta
        theta_e = (
            np.asarray(meta["theta_e"]) if "theta_e" in meta.colnames else np.zeros(len(labels))
        )
        snr = np.asarray(meta["snr"]) if "snr" in meta.colnames else np.zeros(len(labels))
        kinds = np.asarray(meta["kind"]).astype(str) if "kind" in meta.colnames else None
        report = evaluation_report(scores, labels, theta_e, snr, logits, kinds)
        # The scores are ``logits``, already divided by the temperature.
        report["calibration"] = {
            **calibration.summary(logits * temperature, labels, temperature),
            "fitted_on": (fitted or network.calibration or {}).get("file"),
        }
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
        # One scorer per variant the device runs (a committee's members all in it).
        report["inference"] = compare_variants(
            [
                load_scorer(
                    network, scorer.device, v, False, scorer.batch_size, temperature=temperature
                )
                for v in supported_variants(scorer.device)
            ],
            stampset,
            lambda s: metrics.auc(s, labels),
        )
        network.evaluation = report
        network.threshold_fpr_1pct = report["threshold_at_fpr"]["0.01"]
        fields = ["evaluation", "threshold_fpr_1pct"]
        if fitted:  # saved with the thresholds computed with it
            network.training = {**network.training, "calibration": fitted}
            fields.append("training")
        network.save(update_fields=fields)
    return report, scores, stampset


def save_cross_simulator(network: Network, report: dict) -> None:
    """Store an evaluation on a cross-simulator set (``evaluate``'s report)
    beside the network's own: its thresholds stay those of its own test set,
    the operating point its runs use."""
    network.evaluation_cross_simulator = report
    network.save(update_fields=["evaluation_cross_simulator"])


def score_file(
    network: Network,
    path: str | Path,
    out_csv: str | Path,
    device: str | torch.device | None = None,
    progress: Callable | None = None,
) -> int:
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


def settings_for(architecture: str, **overrides) -> TrainSettings:
    """Training defaults per architecture (``classifier.defaults``), with overrides."""
    values = {
        **TRAINING_DEFAULTS.get(architecture, {}),
        **{k: v for k, v in overrides.items() if v is not None},
    }
    try:
        return TrainSettings(architecture=architecture, **values)
    except TrainingError as exc:
        raise NetworkError(str(exc)) from exc
