"""Scoring stamps with a trained network (pure: torch, no Django).

A ``Scorer`` runs the full scoring path, preprocess (resample + normalise)
then the network, in batches under ``torch.inference_mode`` with
channels_last inputs (2x on the CNN, docs/design.md), on a copy of the network
with its BatchNorms folded into the convolutions before them
(``networks.for_inference``), in one of these variants:

- ``fp32``: float32, the reference every evaluation is computed with;
- ``bf16``: bfloat16 autocast, on a CPU with native bf16 instructions
  (avx512_bf16 or AMX) or a CUDA GPU that supports bf16;
- ``fp16``: float16 autocast, CUDA only.

Each network records the variant to use (``Network.evaluation["inference"]``,
chosen by ``choose_variant`` when it is evaluated: the fastest whose test-set
AUC is within ``MAX_D_AUC`` of fp32's); a variant the machine cannot run
falls back to fp32 (``resolve_variant``).

``torch.compile`` (inductor, weights frozen in) costs ~3 s for the CNN and
~7-20 s for DeepLens, and gains 1.3-1.4x on DeepLens in bf16 (its
BatchNorm + ELU pairs fuse, and its ELUs use inductor's faster exp) and
loses ~20% on the CNN, so it only pays on long runs and not for every
network: ``compile="auto"`` compiles once a Scorer has spent
``COMPILE_AFTER_S`` seconds scoring (a survey run, not an evaluation), then
times the compiled graph against eager on the next batch and keeps the
faster; batches are padded to ``batch_size`` so that the graph is compiled
once. A failed compile (no C++ compiler) falls back to eager with a warning.
Threads: torch's default, one per core (the workers run one job at a time).

The log-odds are divided by the network's temperature (``temperature``,
fitted on its validation set, ``classifier.calibration``) before the
sigmoid, so scores are calibrated probabilities. ``tta=True`` averages the
log-odds of the 8 rotations and flips of each input (the dihedral group D4,
the symmetries the networks are trained with, ``augment.py``): 8x the work
for a score that no rotation or flip of the stamp changes. A ``Committee``
scores with several networks and averages their calibrated log-odds.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
from numpy.typing import ArrayLike

from classifier.networks import for_inference, lens_log_odds

if TYPE_CHECKING:
    from classifier.preprocessing import Preprocessor
    from simulations.stampset import StampSet


CHUNK = 1024
VARIANTS = ("fp32", "bf16", "fp16")
AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}
MAX_D_AUC = 0.001  # the largest |AUC - AUC(fp32)| a faster variant may cost
OUTPUTS = ("probability", "log-odds")
COMPILE_AFTER_S = 60.0


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (avx512_bf16 or AMX). Where
    it does not, oneDNN emulates bf16 and autocast is slower than fp32."""
    return torch.backends.mkldnn.is_available() and (
        torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    )


def supported_variants(
    device: str | torch.device, cpu_bf16: bool | None = None, cuda_bf16: bool | None = None
) -> tuple[str, ...]:
    """The variants ``device`` can run, fp32 first. ``cpu_bf16`` and
    ``cuda_bf16`` override the hardware checks (for tests)."""
    kind = torch.device(device).type
    if kind == "cpu":
        has_bf16 = cpu_has_native_bf16() if cpu_bf16 is None else cpu_bf16
        return ("fp32", "bf16") if has_bf16 else ("fp32",)
    if kind == "cuda":
        has_bf16 = torch.cuda.is_bf16_supported() if cuda_bf16 is None else cuda_bf16
        return ("fp32", "bf16", "fp16") if has_bf16 else ("fp32", "fp16")
    return ("fp32",)


def resolve_variant(variant: str, device: str | torch.device, **checks) -> str:
    """``variant`` where ``device`` can run it, else ``"fp32"``.

    Raises
    ------
    ValueError
        For a name that is not one of ``VARIANTS``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"Unknown inference variant {variant!r}: choose {', '.join(VARIANTS)}.")
    return variant if variant in supported_variants(device, **checks) else "fp32"


def dihedral(x: torch.Tensor) -> torch.Tensor:
    """The 8 images of each of ``x`` (N, B, S, S) under the dihedral group D4
    (rotations by 0, 90, 180, 270 degrees, each also mirrored), as one
    (8N, B, S, S) batch, transform-major: row ``k N + i`` is transform ``k``
    of image ``i``."""
    rotations = [torch.rot90(x, k, dims=(-2, -1)) for k in range(4)]
    return torch.cat(rotations + [r.flip(-1) for r in rotations])


def check_temperature(temperature: float) -> float:
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"The temperature must be a positive number, not {temperature!r}.")
    return float(temperature)


class _Scoring:
    """What a ``Scorer`` and a ``Committee`` share: ``score(stamps,
    pixscale_arcsec)`` on arrays, and this reading of stamp-set files."""

    def score_stampset(self, stampset, progress=None):
        """P(lens) for every stamp of a ``StampSet``, read chunk by chunk. A set
        with more bands than the network takes is scored on the network's own
        (an r network reads the r band of g,r,i stamps, so networks of
        different bands can be compared on the same stamps)."""
        bad = [b for b in self.bands if b not in stampset.bands]
        if bad:
            raise ValueError(
                f"The network takes bands {','.join(self.bands)}; {stampset.path} has "
                f"{','.join(stampset.bands)} (missing {','.join(bad)})."
            )
        picked = [stampset.bands.index(b) for b in self.bands]
        # None where the file holds exactly the network's bands: no copy per chunk.
        picked = None if picked == list(range(len(stampset.bands))) else picked
        scores = []
        n = len(stampset)
        for start in range(0, n, CHUNK):
            chunk = stampset.stamps(slice(start, start + CHUNK))
            if picked is not None:
                chunk = chunk[:, picked]
            if np.all(np.isnan(chunk)):
                raise ValueError(
                    f"{stampset.path}: stamps {start}-{start + len(chunk) - 1} are all NaN."
                )
            scores.append(self.score(chunk, stampset.pixscale_arcsec))
            if progress:
                progress(min(start + CHUNK, n), n)
        return np.concatenate(scores) if scores else np.zeros(0)


class Scorer(_Scoring):
    """A loaded network ready to score arrays of stamps: the one object the
    scoring jobs of a survey run and the commands use.

    ``stamps`` are ``(N, B, H, W)`` in the network's bands (``self.bands``),
    at any pixel scale and in any pixel units; ``score`` returns P(lens) as
    float64.

    Parameters
    ----------
    model : torch.nn.Module
        The network, on ``device``.
    preprocessor : Preprocessor
    device : str or torch.device, optional
        By default the model's.
    batch_size : int
        Stamps per network call (32-256 is the sweet spot on a CPU).
    variant : str
        One of ``VARIANTS``; falls back to fp32 where the device cannot run it
        (``self.variant`` says what runs).
    compile : bool or "auto"
        ``torch.compile`` the network now (True), never (False), or once
        ``COMPILE_AFTER_S`` seconds have been spent scoring ("auto").
    output : str
        ``"probability"`` (P(lens)) or ``"log-odds"`` (log P/(1-P), which
        keeps its order where probabilities round to 1).
    temperature : float
        The log-odds are divided by it before the sigmoid (and in the
        log-odds output): the network's fitted temperature, 1 for none.
    tta : bool
        Average the log-odds over the 8 rotations and flips of each input.
    """

    def __init__(
        self,
        model,
        preprocessor,
        device=None,
        batch_size=256,
        variant="fp32",
        compile=False,
        output="probability",
        temperature=1.0,
        tta=False,
    ):
        if compile not in (True, False, "auto"):
            raise ValueError(f"compile must be True, False or 'auto', not {compile!r}.")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}.")
        self.output = output
        self.temperature = check_temperature(temperature)
        self.tta = bool(tta)
        self.device = torch.device(device or next(model.parameters()).device)
        # A copy with BatchNorms folded into their convolutions (the caller's
        # network is left untouched, in whatever mode it was).
        self.model = for_inference(model).to(self.device, memory_format=torch.channels_last)
        self.preprocessor = preprocessor
        self.batch_size = int(batch_size)
        self.requested_variant = variant
        self.variant = resolve_variant(variant, self.device)
        self.compile = compile
        self.n_scored = 0
        self.seconds = 0.0  # spent in ``score``: n_scored / seconds is the rate
        self._net = self.model
        self._compiled = False
        self._race_pending = False  # after an automatic compile: eager or compiled?
        self.compile_speedup = None  # eager time / compiled time, once raced
        if compile is True:
            self._compile()

    @property
    def bands(self) -> list[str]:
        return list(self.preprocessor.bands)

    def _compile(self):
        self._compiled = True  # tried once, whatever the outcome
        try:
            net = torch.compile(self.model, dynamic=False, options={"freezing": True})
            size = self.preprocessor.size_px
            with torch.inference_mode():  # the mode it will run in; freezing needs no grad
                self._run(
                    net,
                    torch.zeros(self.batch_size, len(self.bands), size, size, device=self.device),
                )
        except Exception as exc:  # a missing compiler or an unsupported op: stay eager
            warnings.warn(f"torch.compile failed ({exc}); scoring in eager mode.", stacklevel=3)
            return
        self._net = net

    def _faster(self, x, repeats=3):
        """The eager or the compiled network, whichever scores the batch ``x``
        faster (best of ``repeats``); decided once, after an automatic compile."""
        self._race_pending = False
        best = {
            net: min(self._seconds(net, x) for _ in range(repeats))
            for net in (self.model, self._net)
        }
        self.compile_speedup = best[self.model] / best[self._net]
        return self._net if best[self._net] < best[self.model] else self.model

    def _seconds(self, net, x):
        """Wall-clock seconds ``net`` takes to score ``x``: what the race
        compares (a test replaces it, to check the decision, not the clock)."""
        started = time.perf_counter()
        self._run(net, x)
        return time.perf_counter() - started

    def _run(self, net, x):
        n = len(x)
        if self.tta:
            x = dihedral(x)
        x = x.contiguous(memory_format=torch.channels_last)
        dtype = AUTOCAST.get(self.variant)
        with torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=bool(dtype)):
            logits = net(x)
        # The log-odds and probability in float32: bf16 spaces values near 1
        # by 2^-8, which would tie every confident lens at 1.0 and the ranking
        # with them.
        z = lens_log_odds(logits.float())
        if self.tta:
            # Sorted before the mean so that the sum runs in the same order
            # whichever of its 8 images a stamp arrives as: a stamp and its
            # rotations get the same score, not one an ulp away.
            z = z.view(8, n).sort(dim=0).values.mean(dim=0)
        if self.temperature != 1.0:
            z = z / self.temperature
        return z if self.output == "log-odds" else torch.sigmoid(z)

    def score(self, stamps: ArrayLike, pixscale_arcsec: float) -> np.ndarray:
        """P(lens) for stamps ``(N, B, H, W)`` at ``pixscale_arcsec`` (arcsec/px)."""
        if self.compile == "auto" and not self._compiled and self.seconds >= COMPILE_AFTER_S:
            self._compile()
            self._race_pending = self._net is not self.model
        started = time.perf_counter()
        n, out = len(stamps), []
        with torch.inference_mode():
            for start in range(0, n, self.batch_size):
                x = self.preprocessor(
                    stamps[start : start + self.batch_size], pixscale_arcsec, self.device
                )
                short = self.batch_size - len(x)
                if self._net is not self.model and short:  # a compiled graph has one shape
                    x = torch.cat([x, x.new_zeros((short, *x.shape[1:]))])
                if self._race_pending:
                    self._net = self._faster(x)
                out.append(self._run(self._net, x)[: self.batch_size - short])
        scores = torch.cat(out).double().cpu().numpy() if out else np.zeros(0)
        self.n_scored += n
        self.seconds += time.perf_counter() - started
        return scores


class Committee(_Scoring):
    """Several networks scored as one: the mean of their log-odds, each
    already divided by its own network's temperature, divided by the
    committee's own ``temperature`` (1 unless one was fitted to it).

    Averaging log-odds (a geometric mean of the odds) rather than
    probabilities keeps a confident member's evidence where its probability
    has rounded to 1, and keeps the result a log-odds that a temperature and
    Lanusse et al.'s prior shift apply to.

    Parameters
    ----------
    members : sequence of Scorer
        Scorers with ``output="log-odds"`` taking the same bands; each runs
        its own preprocessing (members may stretch their inputs differently).
    temperature : float
    output : str
        As for ``Scorer``.
    """

    def __init__(self, members, temperature=1.0, output="probability"):
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"A committee needs at least 2 members, not {len(members)}.")
        if any(m.output != "log-odds" for m in members):
            raise ValueError("A committee's member scorers must output log-odds.")
        if any(m.bands != members[0].bands for m in members):
            raise ValueError(
                "A committee's members must take the same bands, not "
                + " and ".join(",".join(m.bands) for m in members)
                + "."
            )
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}.")
        self.members = members
        self.temperature = check_temperature(temperature)
        self.output = output
        self.n_scored = 0
        self.seconds = 0.0

    # What runs and evaluations read off a scorer: the first member's (the
    # members are made alike, from one call).
    @property
    def bands(self) -> list[str]:
        return self.members[0].bands

    @property
    def variant(self) -> str:
        return self.members[0].variant

    @property
    def device(self) -> torch.device:
        return self.members[0].device

    @property
    def batch_size(self) -> int:
        return self.members[0].batch_size

    @property
    def tta(self) -> bool:
        return self.members[0].tta

    def score(self, stamps: ArrayLike, pixscale_arcsec: float) -> np.ndarray:
        """P(lens) (or log-odds) for stamps ``(N, B, H, W)`` at ``pixscale_arcsec``."""
        started = time.perf_counter()
        z = np.mean([m.score(stamps, pixscale_arcsec) for m in self.members], axis=0)
        if self.temperature != 1.0:
            z = z / self.temperature
        self.n_scored += len(stamps)
        self.seconds += time.perf_counter() - started
        if self.output == "log-odds":
            return z
        return torch.sigmoid(torch.from_numpy(np.asarray(z, np.float64))).numpy()


def score_array(
    model: torch.nn.Module,
    preprocessor: Preprocessor,
    stamps: ArrayLike,
    pixscale_arcsec: float,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    output: str = "probability",
) -> np.ndarray:
    """P(lens) (or its log-odds) for stamps (N, B, H, W) as a float64 numpy
    array, in fp32 eager (the reference)."""
    scorer = Scorer(model, preprocessor, device, batch_size, output=output)
    return scorer.score(stamps, pixscale_arcsec)


def score_stampset(
    model: torch.nn.Module,
    preprocessor: Preprocessor,
    stampset: StampSet,
    device: str | torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """P(lens) in fp32 eager for every stamp of a ``StampSet``."""
    return Scorer(model, preprocessor, device).score_stampset(stampset, progress)


def pick_variant(candidates: dict[str, dict], max_d_auc: float = MAX_D_AUC) -> str:
    """The fastest of ``candidates`` (``{variant: {"stamps_per_s", "d_auc"}}``,
    fp32 among them) whose |dAUC| from fp32 is below ``max_d_auc``."""
    ok = [v for v, c in candidates.items() if v == "fp32" or c["d_auc"] < max_d_auc]
    return max(ok, key=lambda v: candidates[v]["stamps_per_s"])


def choose_variant(
    model: torch.nn.Module,
    preprocessor: Preprocessor,
    stampset: StampSet,
    auc: float,
    device: str | torch.device | None = None,
    batch_size: int = 256,
) -> dict:
    """Which variant a network should score with: the fastest whose AUC on
    the labelled ``stampset`` differs from fp32 eager's by less than
    ``MAX_D_AUC``, each timed through the full scoring path.

    The candidates take turns on each chunk of the file (reading it is not
    timed), so that a busy machine slows them alike. ``auc(scores)`` is the
    metric. Returns the record kept as ``Network.evaluation["inference"]``:
    the variant, its |dAUC|, and each candidate's rate (stamps/s), AUC and
    |dAUC|.
    """
    device = torch.device(device or next(model.parameters()).device)
    return compare_variants(
        [Scorer(model, preprocessor, device, batch_size, v) for v in supported_variants(device)],
        stampset,
        auc,
    )


def compare_variants(scorers: list[Scorer], stampset: StampSet, auc: float) -> dict:
    """``choose_variant``'s record for ready scorers, one per variant (fp32
    among them): ``Scorer``s or ``Committee``s alike."""
    device, batch_size = scorers[0].device, scorers[0].batch_size
    scores = {s.variant: [] for s in scorers}
    for start in range(0, len(stampset), CHUNK):
        chunk = stampset.stamps(slice(start, start + CHUNK))
        turn = start // CHUNK % len(scorers)
        for scorer in scorers[turn:] + scorers[:turn]:
            if start == 0:  # a warm-up batch, untimed
                scorer.score(chunk[:batch_size], stampset.pixscale_arcsec)
                scorer.n_scored, scorer.seconds = 0, 0.0
            scores[scorer.variant].append(scorer.score(chunk, stampset.pixscale_arcsec))
    candidates = {
        s.variant: {
            "stamps_per_s": s.n_scored / s.seconds,
            "auc": auc(np.concatenate(scores[s.variant])),
        }
        for s in scorers
    }
    for c in candidates.values():
        c["d_auc"] = abs(c["auc"] - candidates["fp32"]["auc"])
    best = pick_variant(candidates)
    return {
        "variant": best,
        "d_auc": candidates[best]["d_auc"],
        "max_d_auc": MAX_D_AUC,
        "device": str(device),
        "batch_size": batch_size,
        "n_stamps": len(stampset),
        "candidates": candidates,
    }
