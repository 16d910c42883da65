"""The scoring path: variants as accurate as fp32 eager, the chosen variant
recorded at evaluation, fallbacks where the hardware lacks bf16, unit-free
scores."""

import json
import warnings

import numpy as np
import pytest
import torch
from django.core.management import call_command

from classifier import metrics
from classifier.inference import (
    AUTOCAST,
    MAX_D_AUC,
    Scorer,
    pick_variant,
    resolve_variant,
    supported_variants,
)
from classifier.models import Network
from classifier.networks import build
from classifier.preprocessing import Preprocessor
from classifier.services import SHIPPED_DIR, evaluate, load_scorer
from classifier.training import sha256_of
from simulations import render
from simulations.surveys import get_survey

CPU_VARIANTS = supported_variants("cpu")


@pytest.fixture(scope="module")
def shipped_cnn():
    """The shipped kids-r CNN, loaded without the registry."""
    manifest = json.loads((SHIPPED_DIR / "kids-r-cnn.json").read_text())
    model = build("he2020-cnn")
    state = torch.load(SHIPPED_DIR / "kids-r-cnn.pt", weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval(), Preprocessor.from_dict(manifest["preprocessing"])


@pytest.fixture(scope="module")
def kids_stamps():
    labels = np.repeat(np.array([1, 0], np.int16), 100)
    stamps, _ = render.simulate_batch(get_survey("kids-r"), labels, np.random.default_rng(7))
    return stamps, labels


@pytest.mark.parametrize("variant", CPU_VARIANTS)
def test_every_variant_scores_like_fp32_eager(shipped_cnn, kids_stamps, variant):
    model, pre = shipped_cnn
    stamps, labels = kids_stamps
    reference = Scorer(model, pre, "cpu", variant="fp32", output="log-odds").score(stamps, 0.21)
    scorer = Scorer(model, pre, "cpu", batch_size=64, variant=variant, output="log-odds")
    assert scorer.variant == variant
    scores = scorer.score(stamps, 0.21)
    assert scores.dtype == np.float64 and scores.shape == (200,)
    # Compared in log-odds, the scale ranks and thresholds use: bf16 keeps 8
    # bits of mantissa (0.4% per operation), which the shipped CNN turns into
    # at most ~0.13 in log-odds (0.03 in P near 0.5) and ~0.02 typically; a
    # wrong cast or a variant that skips a layer is off by far more.
    assert np.abs(scores - reference).max() < 0.3
    assert np.median(np.abs(scores - reference)) < 0.05
    assert abs(metrics.auc(scores, labels) - metrics.auc(reference, labels)) < MAX_D_AUC


@pytest.mark.parametrize("variant", [v for v in CPU_VARIANTS if v != "fp32"])
def test_reduced_precision_scores_are_float32_probabilities(shipped_cnn, kids_stamps, variant):
    """Only the network runs in bf16: its probabilities come from float32
    softmax, not rounded to bf16's 8 bits (which would tie every score in
    [0.996, 1] at 1.0 and lose the ranking of the best candidates)."""
    model, pre = shipped_cnn
    scores = Scorer(model, pre, "cpu", variant=variant).score(kids_stamps[0], 0.21)
    rounded = torch.from_numpy(scores).to(AUTOCAST[variant]).double().numpy()
    between = (scores > 0.01) & (scores < 0.99)
    assert between.sum() > 5 and not np.any(rounded[between] == scores[between])


def test_log_odds_are_the_probabilities_before_the_sigmoid_and_do_not_tie(shipped_cnn, kids_stamps):
    model, pre = shipped_cnn
    stamps = kids_stamps[0]
    p = Scorer(model, pre, "cpu").score(stamps, 0.21)
    log_odds = Scorer(model, pre, "cpu", output="log-odds").score(stamps, 0.21)
    assert np.allclose(1 / (1 + np.exp(-log_odds)), p, atol=1e-6)
    # Where probabilities round to the same float32 (e.g. 1.0), log-odds keep their order.
    p32 = p.astype(np.float32)
    assert len(np.unique(log_odds)) == len(log_odds) >= len(np.unique(p32))
    with pytest.raises(ValueError, match="output must be one of probability, log-odds"):
        Scorer(model, pre, "cpu", output="logit")


@pytest.mark.parametrize("variant", CPU_VARIANTS)
def test_scaling_a_stamp_by_a_constant_leaves_the_scorers_score_unchanged(
    shipped_cnn, kids_stamps, variant
):
    model, pre = shipped_cnn
    stamps = kids_stamps[0][:32]
    scorer = Scorer(model, pre, "cpu", variant=variant)
    base = scorer.score(stamps, 0.21)
    for factor in (1e-4, 3.7, 2e5):
        scaled = scorer.score(stamps * np.float32(factor), 0.21)
        # fp32 inputs agree to rounding; bf16 may round such inputs apart.
        assert np.allclose(scaled, base, atol=1e-5 if variant == "fp32" else 5e-3)


def test_a_compiled_scorer_pads_the_last_batch_and_scores_like_eager(shipped_cnn, kids_stamps):
    model, pre = shipped_cnn
    stamps = kids_stamps[0][:40]  # batches of 16, 16 and a padded 8
    eager = Scorer(model, pre, "cpu", batch_size=16).score(stamps, 0.21)
    with warnings.catch_warnings():
        # A failed compile falls back to eager with this warning.
        warnings.filterwarnings("error", message="torch.compile failed")
        compiled = Scorer(model, pre, "cpu", batch_size=16, compile=True)
    assert compiled._net is not compiled.model
    assert np.allclose(compiled.score(stamps, 0.21), eager, atol=1e-4)


@pytest.mark.parametrize(("compiled_s", "kept"), [(2.0, False), (0.5, True)])
def test_an_automatic_compile_is_kept_only_when_it_is_faster(shipped_cnn, kids_stamps, monkeypatch,
                                                              compiled_s, kept):  # fmt: skip
    from classifier import inference

    class Compiled(torch.nn.Module):  # stands for torch.compile's graph
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x)

    def seconds(self, net, x):
        # The race's timings, scripted: eager takes 1 s a batch, the compiled
        # graph ``compiled_s``. Measured ones would test the machine's load.
        self._run(net, x)
        return compiled_s if isinstance(net, Compiled) else 1.0

    monkeypatch.setattr(inference.torch, "compile", lambda model, **kw: Compiled(model))
    monkeypatch.setattr(inference, "COMPILE_AFTER_S", 0.0)
    monkeypatch.setattr(inference.Scorer, "_seconds", seconds)
    model, pre = shipped_cnn
    stamps = kids_stamps[0][:40]
    scorer = Scorer(model, pre, "cpu", batch_size=16, compile="auto")
    eager = scorer.score(stamps, 0.21)
    assert np.allclose(scorer.score(stamps, 0.21), eager, atol=1e-6)
    assert isinstance(scorer._net, Compiled) is kept
    assert (scorer._net is scorer.model) is not kept
    assert scorer.compile_speedup == pytest.approx(1.0 / compiled_s)
    # An explicit compile is kept whatever it costs.
    assert isinstance(Scorer(model, pre, "cpu", batch_size=16, compile=True)._net, Compiled)


def test_bf16_falls_back_to_fp32_where_the_hardware_lacks_it():
    assert resolve_variant("bf16", "cpu", cpu_bf16=True) == "bf16"
    assert resolve_variant("bf16", "cpu", cpu_bf16=False) == "fp32"
    assert resolve_variant("fp16", "cpu", cpu_bf16=True) == "fp32"  # fp16 autocast: CUDA only
    assert resolve_variant("bf16", "cuda", cuda_bf16=True) == "bf16"
    assert resolve_variant("bf16", "cuda", cuda_bf16=False) == "fp32"
    assert resolve_variant("fp16", "cuda", cuda_bf16=False) == "fp16"
    assert resolve_variant("fp32", "cpu", cpu_bf16=False) == "fp32"
    assert supported_variants("cpu", cpu_bf16=False) == ("fp32",)
    with pytest.raises(ValueError, match="Unknown inference variant 'int8'"):
        resolve_variant("int8", "cpu")


def test_the_fastest_variant_within_the_auc_tolerance_is_picked():
    candidates = {
        "fp32": {"stamps_per_s": 100.0, "d_auc": 0.0},
        "bf16": {"stamps_per_s": 300.0, "d_auc": 0.0004},
        "fp16": {"stamps_per_s": 500.0, "d_auc": 0.002},  # faster but too inaccurate
    }
    assert pick_variant(candidates) == "bf16"
    candidates["bf16"]["stamps_per_s"] = 90.0  # slower than fp32: not worth it
    assert pick_variant(candidates) == "fp32"


@pytest.mark.django_db
def test_evaluating_with_save_records_the_chosen_variant_and_the_scorer_uses_it(data_dir):
    torch.manual_seed(0)
    weights = data_dir / "cnn.pt"
    torch.save(build("he2020-cnn").state_dict(), weights)
    pre = Preprocessor(bands=["r"], pixscale_arcsec=0.42, size_px=49)
    network = Network.objects.create(
        name="cnn", architecture="he2020-cnn", bands="r", pixscale_arcsec=0.42, stamp_size=49,
        preprocessing=pre.to_dict(), weights_path="cnn.pt", weights_sha256=sha256_of(weights),
    )  # fmt: skip
    test_set = data_dir / "test.fits"
    call_command("simulate", "--lenses", "30", "--nonlenses", "30", "--seed", "3",
                 "--out", str(test_set), verbosity=0)  # fmt: skip
    assert load_scorer(network, "cpu").variant == "fp32"  # nothing recorded yet
    report, scores, _ = evaluate(network, test_set, save=True, device="cpu")
    record = Network.objects.get(name="cnn").evaluation["inference"]
    assert record == report["inference"]
    assert set(record["candidates"]) == set(CPU_VARIANTS)
    assert record["variant"] == pick_variant(record["candidates"])
    assert record["d_auc"] < MAX_D_AUC and record["candidates"]["fp32"]["d_auc"] == 0
    assert record["candidates"]["fp32"]["auc"] == pytest.approx(report["auc"])
    assert all(c["stamps_per_s"] > 0 for c in record["candidates"].values())
    network.refresh_from_db()
    assert load_scorer(network, "cpu").variant == record["variant"]
    assert load_scorer(network, "cpu", variant="fp32").variant == "fp32"
