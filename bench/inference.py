"""Scoring speed of the two networks against the machine's compute limit.

Measures, in one run: float32 (and bfloat16) matmul GFLOP/s, the compute
reference; then stamps per second through the full scoring path
(preprocess + network) for each network and batch size in fp32 eager,
channels_last, bfloat16 autocast (+ channels_last) and torch.compile
(frozen, channels_last, in fp32 and, where the CPU has bf16, bf16), each as
a fraction of the fp32 compute limit (measured matmul peak / FLOPs per
stamp) with its |dAUC| from fp32 eager; preprocessing alone; and the
DEFAULT scoring path, what ``classifier.inference.Scorer`` runs for the
shipped network (its recorded variant, eager, and as long runs get it:
compiled, or eager where compiling is slower), against the targets of the
classifier issue. Rates are the best of ``--repeats`` runs, as the machine
is shared.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \\
    MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1,thp:always,metadata_thp:auto \\
    .venv/bin/python bench/inference.py [--batches 64,256,1024] [--stamps 4096]
"""

import argparse
import copy
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifier import metrics  # noqa: E402
from classifier.inference import COMPILE_AFTER_S, Scorer, supported_variants  # noqa: E402
from classifier.networks import build, lens_probability  # noqa: E402
from classifier.preprocessing import Preprocessor  # noqa: E402

TARGETS = {"he2020-cnn": 20_000, "deeplens-resnet": 2_000}  # stamps/s, default path
SHIPPED = (("he2020-cnn", "kids-r", "kids-r-cnn"), ("deeplens-resnet", "lsst-g", "lsst-g-deeplens"))


def matmul_gflops(dtype=torch.float32, n=2048, repeats=10):
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def flops_per_stamp(model, size, bands):
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(1, bands, size, size))
    return counter.get_total_flops()


def best_rate(fn, n, repeats):
    """(result, best stamps/s over ``repeats`` timed calls after a warm-up)."""
    out, best = fn(), 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = max(best, n / (time.perf_counter() - t0))
    return out, best


@torch.inference_mode()
def preprocess_all(pre, batches, pixscale):
    return [pre(b, pixscale) for b in batches]


@torch.inference_mode()
def run(model, pre, stamps, pixscale, batch, channels_last, bf16):
    scores = []
    for start in range(0, len(stamps), batch):
        chunk = stamps[start : start + batch]
        if len(chunk) < batch:  # a fixed shape: compiled graphs do not recompile
            chunk = np.concatenate(
                [chunk, np.zeros((batch - len(chunk), *chunk.shape[1:]), chunk.dtype)]
            )
        x = pre(chunk, pixscale)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            scores.append(lens_probability(model(x)).float().numpy())
    return np.concatenate(scores)[: len(stamps)]


def variants(model, bf16):
    eager = copy.deepcopy(model)
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    out = {"fp32 eager": (eager, False, False), "channels_last": (cl, True, False)}
    if bf16:
        out["bf16 + channels_last"] = (cl, True, True)
    out["compiled fp32 + cl"] = ("compile", True, False)
    if bf16:
        out["compiled bf16 + cl"] = ("compile", True, True)
    return out


def simulate(survey, n):
    from simulations import render
    from simulations.surveys import get_survey

    config = get_survey(survey)
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.repeat([1, 0], n // 2)).astype(np.int16)
    stamps = np.concatenate(
        [
            render.simulate_batch(config, labels[i : i + 256], rng)[0]
            for i in range(0, len(labels), 256)
        ]
    )
    return config, stamps, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="64,256,1024")
    parser.add_argument("--stamps", type=int, default=4096, help="CNN test stamps")
    parser.add_argument("--deeplens-stamps", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled variants")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    peak = matmul_gflops()
    bf16 = "bf16" in supported_variants("cpu")
    peak_bf16 = matmul_gflops(torch.bfloat16)
    print(
        f"float32 matmul: {peak:.0f} GFLOP/s ({torch.get_num_threads()} threads); "
        f"bfloat16 matmul: {peak_bf16:.0f} GFLOP/s "
        f"(native bf16: {'yes' if bf16 else 'no'})"
    )
    summary = []
    for arch, survey, name in SHIPPED:
        n = args.stamps if arch == "he2020-cnn" else args.deeplens_stamps
        config, stamps, labels = simulate(survey, n)
        ps = config["pixscale_arcsec"]
        manifest = json.loads((ROOT / "classifier" / "shipped" / f"{name}.json").read_text())
        pre = Preprocessor.from_dict(manifest["preprocessing"])
        torch.manual_seed(0)
        model = build(arch, len(config["bands"])).eval()
        state = torch.load(ROOT / "classifier" / "shipped" / f"{name}.pt", weights_only=True)
        model.load_state_dict({k: v.float() for k, v in state.items()})
        flops = flops_per_stamp(model, pre.size_px, len(pre.bands))
        limit = peak * 1e9 / flops
        print(
            f"\n{arch} (shipped {name}, {n} fresh stamps): {flops / 1e6:.1f} MFLOP/stamp -> "
            f"fp32 compute limit {limit:,.0f} stamps/s"
        )
        batches_256 = [stamps[i : i + 256] for i in range(0, n, 256)]
        _, rate = best_rate(partial(preprocess_all, pre, batches_256, ps), n, args.repeats)
        print(f"  preprocessing alone, batch 256: {rate:9,.0f} stamps/s")
        ceiling = 1 / (1 / limit + 1 / rate)  # fp32, where the CPU lacks bf16
        if bf16:
            # The most the full path could do: the network at the bf16 matmul
            # peak, after preprocessing at its measured rate.
            limit_bf16 = peak_bf16 * 1e9 / flops
            ceiling = 1 / (1 / limit_bf16 + 1 / rate)
            print(
                f"  bf16 compute limit {limit_bf16:,.0f} stamps/s; with preprocessing, the "
                f"full path's ceiling is {ceiling:,.0f} stamps/s"
            )
        reference = run(model, pre, stamps, ps, 256, False, False)
        auc_ref = metrics.auc(reference, labels)
        for label, (net, cl, use_bf16) in variants(model, bf16).items():
            if net == "compile" and args.no_compile:
                continue
            for batch in batches:
                m = net
                if net == "compile":
                    base = copy.deepcopy(model).to(memory_format=torch.channels_last)
                    m = torch.compile(base, dynamic=False, options={"freezing": True})
                    t0 = time.perf_counter()
                    run(m, pre, stamps[:batch], ps, batch, cl, use_bf16)
                    compile_s = time.perf_counter() - t0
                scores, rate = best_rate(
                    partial(run, m, pre, stamps, ps, batch, cl, use_bf16), n, args.repeats
                )
                d_auc = abs(metrics.auc(scores, labels) - auc_ref)
                extra = f"  (compile {compile_s:.0f} s)" if net == "compile" else ""
                print(
                    f"  {label:22s} batch {batch:5d}: {rate:9,.0f} stamps/s "
                    f"({rate / limit:6.1%} of limit)  |dAUC| {d_auc:.5f}{extra}"
                )
                if net == "compile":
                    torch._dynamo.reset()
        record = manifest["evaluation"].get("inference", {})
        variant = record.get("variant", "fp32")
        scorer = Scorer(copy.deepcopy(model), pre, "cpu", variant=variant)
        scores, rate = best_rate(partial(scorer.score, stamps, ps), n, args.repeats)
        d_auc = abs(metrics.auc(scores, labels) - auc_ref)
        label = f"DEFAULT Scorer ({scorer.variant})"
        print(
            f"  {label:22s} batch   256: {rate:9,.0f} stamps/s "
            f"({rate / limit:6.1%} of limit)  |dAUC| {d_auc:.5f}"
        )
        summary.append((arch, scorer.variant, "eager", rate, ceiling))
        if not args.no_compile:
            # As on a worker deep into a run: the automatic compile has happened
            # and the Scorer has kept the faster of compiled and eager.
            scorer = Scorer(copy.deepcopy(model), pre, "cpu", variant=variant, compile="auto")
            scorer.seconds = COMPILE_AFTER_S
            _, rate = best_rate(partial(scorer.score, stamps, ps), n, args.repeats)
            kept = "compiled" if scorer._net is not scorer.model else "eager"
            print(
                f"  {'  ... long runs':22s} batch   256: "
                f"{rate:9,.0f} stamps/s ({rate / limit:6.1%} of limit)  kept {kept}, "
                f"compiled/eager speed {scorer.compile_speedup or 0:.2f}x"
            )
            summary.append((arch, scorer.variant, f"long runs ({kept})", rate, ceiling))
            torch._dynamo.reset()
    print("\nDefault scoring path (Scorer) against the targets:")
    for arch, variant, mode, rate, ceiling in summary:
        target = TARGETS[arch]
        verdict = "met" if rate >= target else "NOT met"
        print(
            f"  {arch:16s} {variant} {mode:20s} {rate:9,.0f} stamps/s; target "
            f">= {target:,}: {verdict} ({rate / target:.0%}); "
            f"{rate / ceiling:.0%} of this machine's ceiling"
        )
    for arch, ceiling in {arch: ceiling for arch, *_, ceiling in summary}.items():
        if ceiling < TARGETS[arch]:
            print(
                f"  {arch}: the target is {TARGETS[arch] / ceiling:.1f}x this machine's ceiling "
                f"({ceiling:,.0f} stamps/s, the network's FLOPs at the matmul peak after "
                "preprocessing at its measured rate): computing those FLOPs, no variant "
                "meets it here"
            )


if __name__ == "__main__":
    main()
