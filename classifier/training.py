"""Training a network on a stamp-set file (pure: torch, no Django).

As in the papers: binary cross-entropy (two-class softmax for the CNN's two
outputs), Adam, the learning rate divided by 10 every ``lr_step_epochs``
(40 for DeepLens), augmentation on every batch. A checkpoint is written after
every epoch; ``train`` resumes from it when one with the same settings is
there. With a seed, training on the CPU is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from classifier import metrics
from classifier.augment import augment
from classifier.inference import score_array
from classifier.networks import ARCHITECTURES, build
from classifier.preprocessing import Preprocessor
from core.files import sha256_of
from simulations.stampset import read_stampset

if TYPE_CHECKING:
    from simulations.stampset import StampSet


PREPROCESS_CHUNK = 2048


class TrainingError(ValueError):
    """Training cannot start; the message says why."""


@dataclass
class TrainSettings:
    architecture: str
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    lr_step_epochs: int | None = None  # divide the rate by 10 every this many epochs
    seed: int = 0
    augment: bool = True
    # Early stopping: stop after this many epochs without a better validation
    # AUC and keep the best epoch's weights (None: run every epoch, keep the last).
    patience: int | None = None
    # The inputs' stretch (``Preprocessor.stretch``): "linear" or "asinh".
    stretch: str = "linear"
    # The network's input pixel scale, arcsec (None: the architecture's; the
    # He et al. CNN bins KiDS stamps 2x2 to 0.42"/px, 0.21 crops them instead).
    pixscale_arcsec: float | None = None
    # Fine-tuning: the sha256 of the weights training starts from (None: a
    # fresh initialisation from the seed). Part of the key, so a checkpoint
    # never resumes onto other starting weights.
    init_sha256: str | None = None

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise TrainingError(
                f"Unknown architecture {self.architecture!r}: choose {' or '.join(ARCHITECTURES)}."
            )
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise TrainingError("epochs and batch size must be >= 1 and the learning rate > 0.")
        if self.patience is not None and self.patience < 1:
            raise TrainingError("patience must be >= 1 epoch (or None: no early stopping).")

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def resume_key(self) -> str:
        """What an interrupted training must share to be resumed: everything
        but the epoch budget and the patience, so that a long training can be
        stopped (killed) and finished with fewer epochs, or extended."""
        budget_free = {**asdict(self), "epochs": None, "patience": None}
        return hashlib.sha256(json.dumps(budget_free, sort_keys=True).encode()).hexdigest()[:16]


def load_set(
    path: str | Path,
    preprocessor: Preprocessor,
    require_both_classes: bool = True,
    limit: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, StampSet]:
    """Preprocessed inputs (float16 to halve memory) and labels of a stamp
    set; ``limit``: of its first ``limit`` stamps only (the rest is not read)."""
    s = read_stampset(path)
    if s.bands != preprocessor.bands:
        raise TrainingError(
            f"{path} has bands {','.join(s.bands)}; the network takes "
            f"{','.join(preprocessor.bands)}."
        )
    n = len(s) if limit is None else limit
    if not 0 < n <= len(s):
        raise TrainingError(f"Cannot train on {limit} stamps of {path}: it holds {len(s)}.")
    labels = s.labels[:n]
    if np.any(labels < 0):
        raise TrainingError(f"{path} has unlabelled stamps (label -1): training needs labels.")
    if require_both_classes and len(np.unique(labels)) < 2:
        raise TrainingError(f"{path} holds only one class: training needs lenses and non-lenses.")
    x = torch.empty(
        (n, len(s.bands), preprocessor.size_px, preprocessor.size_px), dtype=torch.float16
    )
    for start in range(0, n, PREPROCESS_CHUNK):
        chunk = s.stamps(slice(start, min(start + PREPROCESS_CHUNK, n)))
        x[start : start + len(chunk)] = preprocessor(chunk, s.pixscale_arcsec).half()
    return x, torch.as_tensor(labels.astype(np.int64)), s


def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    if logits.ndim == 2:
        return F.cross_entropy(logits, labels)
    return F.binary_cross_entropy_with_logits(logits, labels.float())


def _save_atomic(obj, path):
    tmp = Path(f"{path}.tmp-{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(  # noqa: C901  (one epoch loop with its resume, early stop and checkpoints)
    train_path: str | Path,
    settings: TrainSettings,
    workdir: str | Path,
    val_path: str | Path | None = None,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int, float, float | None], None] | None = None,
    init_state: dict | None = None,
    limit: int | None = None,
    max_seconds: float | None = None,
) -> tuple[torch.nn.Module, Preprocessor, list[dict], dict]:
    """Train; returns (model, preprocessor, history, info). ``progress(epoch,
    epochs, loss, val_auc)`` is called after each epoch and may raise to stop.
    ``init_state``: a state dict of the same architecture to start from
    (fine-tuning; ``settings.init_sha256`` names it). ``limit``: train on the
    first ``limit`` stamps of the file only (the training-volume experiment's
    nested sets; recorded as ``info["n_train"]``). ``max_seconds``: a time
    budget, seconds of this call: no epoch starts that would end past it, as
    the last epoch's duration predicts (each call runs at least one), recorded
    as ``info["stopped_by"]``."""
    if (init_state is None) != (settings.init_sha256 is None):
        raise TrainingError("Fine-tuning needs both the starting weights and their sha256.")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    spec = ARCHITECTURES[settings.architecture]
    bands = read_stampset(train_path).bands
    try:
        preprocessor = Preprocessor(
            bands=bands,
            pixscale_arcsec=settings.pixscale_arcsec or spec["pixscale_arcsec"],
            size_px=spec["size_px"],
            stretch=settings.stretch,
        )
    except ValueError as exc:
        raise TrainingError(str(exc)) from exc
    x, y, train_set = load_set(train_path, preprocessor, limit=limit)
    val = load_set(val_path, preprocessor) if val_path else None

    if torch.device(device).type == "cuda" and 2 * x.nbytes < torch.cuda.mem_get_info(device)[0]:
        # The whole float16 set on the GPU: a batch is then gathered there
        # rather than copied from the host at every step (the small CNN's
        # steps are otherwise bound by that copy). Same order, same batches.
        x = x.to(device)
    torch.manual_seed(settings.seed)
    model = build(settings.architecture, len(bands))
    if init_state is not None:
        try:
            model.load_state_dict({k: v.float() for k, v in init_state.items()})
        except RuntimeError as exc:
            raise TrainingError(
                f"The starting weights do not fit a {settings.architecture} network taking "
                f"{len(bands)} band(s): {str(exc).splitlines()[0]}"
            ) from exc
    model = model.to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    step = settings.lr_step_epochs or 10**9
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=0.1)
    generator = torch.Generator().manual_seed(settings.seed)
    history, start_epoch = [], 0
    best = {"auc": -1.0, "epoch": 0, "model": None}
    checkpoint = workdir / "checkpoint.pt"
    train_sha256 = sha256_of(train_path)
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        same = state.get("resume_key", state["key"]) in (settings.resume_key(), settings.key())
        if same and state["train_sha256"] == train_sha256 and state.get("limit") == limit:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            generator.set_state(state["generator"])
            history, start_epoch = state["history"], state["epoch"]
            best = state["best"]

    started = time.monotonic()
    n = len(y)
    stopped_by, epoch_s = "epochs", 0.0
    for epoch in range(start_epoch, settings.epochs):
        if settings.patience and val is not None and epoch - best["epoch"] >= settings.patience:
            stopped_by = "patience"
            break
        # At least one epoch per call, so that a spent budget still makes
        # progress; after it, no epoch that the last one's duration says would
        # end past the budget.
        elapsed = time.monotonic() - started
        if max_seconds is not None and epoch > start_epoch and elapsed + epoch_s > max_seconds:
            stopped_by = "time budget"
            break
        epoch_started = time.monotonic()
        model.train()
        order = torch.randperm(n, generator=generator)
        total, seen = 0.0, 0
        for begin in range(0, n, settings.batch_size):
            idx = order[begin : begin + settings.batch_size]
            batch = x[idx].float().to(device)
            if settings.augment:
                batch = augment(batch, generator)
            batch = batch.contiguous(memory_format=torch.channels_last)
            loss = loss_fn(model(batch), y[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        scheduler.step()
        record = {"epoch": epoch + 1, "loss": total / seen, "lr": optimizer.param_groups[0]["lr"]}
        if val is not None:
            # Log-odds: probabilities of confident stamps tie at 1.0 in float32.
            scores = score_array(
                model,
                _Identity(preprocessor),
                val[0].float(),
                preprocessor.pixscale_arcsec,
                device,
                output="log-odds",
            )
            record["val_auc"] = metrics.auc(scores, val[1].numpy())
            if record["val_auc"] > best["auc"]:
                weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best = {"auc": record["val_auc"], "epoch": epoch + 1, "model": weights}
        history.append(record)
        epoch_s = time.monotonic() - epoch_started
        state = {
            "key": settings.key(),
            "resume_key": settings.resume_key(),
            "train_sha256": train_sha256,
            "limit": limit,
            "epoch": epoch + 1,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "generator": generator.get_state(),
            "history": history,
            "best": best,
        }
        _save_atomic(state, checkpoint)
        if progress:
            progress(epoch + 1, settings.epochs, record["loss"], record.get("val_auc"))
    if settings.patience and best["model"] is not None:
        model.load_state_dict(best["model"])
    info = {
        "train_file": str(train_path),
        "train_sha256": train_sha256,
        "val_file": str(val_path) if val_path else None,
        "n_train": n,
        "train_prior": float(y.float().mean()),
        "settings": asdict(settings),
        "epochs": settings.epochs,
        "epochs_run": len(history),
        "best_epoch": best["epoch"] if settings.patience else None,
        "stopped_by": stopped_by,
        "max_seconds": max_seconds,
        "duration_s": time.monotonic() - started,
        "history": history,
        "survey": train_set.survey,
    }
    if not all(math.isfinite(h["loss"]) for h in history):
        raise TrainingError("The loss became NaN or infinite: lower the learning rate.")
    return model.eval(), preprocessor, history, info


class _Identity:
    """A preprocessor for inputs that are already preprocessed."""

    def __init__(self, preprocessor):
        self.bands = preprocessor.bands

    def __call__(self, stamps, pixscale_arcsec, device=None):
        return torch.as_tensor(stamps).to(device)
