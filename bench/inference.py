"""Scoring speed of the two networks against the machine's compute limit.

Measures, in one run: float32 matmul GFLOP/s (the compute reference), then
stamps per second through the full scoring path (preprocess + network) for
each network and batch size in fp32 eager, channels_last, bfloat16 autocast
(+ channels_last) and torch.compile (bf16, channels_last), each printed as a
fraction of the compute limit (FLOPs per stamp / measured matmul peak), and
the AUC difference of each variant from fp32 eager on a simulated test set.

    .venv/bin/python bench/inference.py [--batches 64,256,1024] [--stamps 4096]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifier import metrics  # noqa: E402
from classifier.networks import ARCHITECTURES, build, lens_probability  # noqa: E402
from classifier.preprocessing import Preprocessor  # noqa: E402


def matmul_gflops(n=2048, repeats=10):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def flops_per_stamp(model, size, bands):
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(1, bands, size, size))
    return counter.get_total_flops()


def variants(model):
    cl = model.to(memory_format=torch.channels_last)
    compiled = torch.compile(cl, dynamic=False)
    return {
        "fp32 eager": (model, False, False),
        "channels_last": (cl, True, False),
        "bf16 + channels_last": (cl, True, True),
        "compiled bf16 + cl": (compiled, True, True),
    }


@torch.no_grad()
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="64,256,1024")
    parser.add_argument("--stamps", type=int, default=4096)
    args = parser.parse_args()
    from simulations import render
    from simulations.surveys import get_survey

    peak = matmul_gflops()
    print(f"float32 matmul: {peak:.0f} GFLOP/s ({torch.get_num_threads()} threads)")
    shipped = ROOT / "classifier" / "shipped"
    for arch, survey, name in (("he2020-cnn", "kids-r", "kids-r-cnn"),
                               ("deeplens-resnet", "lsst-g", "lsst-g-deeplens")):  # fmt: skip
        config = get_survey(survey)
        rng = np.random.default_rng(0)
        labels = rng.permutation(np.repeat([1, 0], args.stamps // 2)).astype(np.int16)
        stamps = np.concatenate([render.simulate_batch(config, labels[i : i + 256], rng)[0]
                                 for i in range(0, len(labels), 256)])  # fmt: skip
        spec = ARCHITECTURES[arch]
        pre = Preprocessor(bands=config["bands"], pixscale_arcsec=spec["pixscale_arcsec"],
                           size_px=spec["size_px"])  # fmt: skip
        torch.manual_seed(0)
        model = build(arch, len(config["bands"])).eval()
        weights = shipped / f"{name}.pt"
        trained = weights.exists()
        if trained:
            state = torch.load(weights, weights_only=True)
            model.load_state_dict({k: v.float() for k, v in state.items()})
        flops = flops_per_stamp(model, spec["size_px"], len(config["bands"]))
        limit = peak * 1e9 / flops
        which = f"shipped {name}" if trained else "untrained weights"
        print(f"\n{arch} ({which}): {flops / 1e6:.1f} MFLOP/stamp -> compute limit "
              f"{limit:,.0f} stamps/s")  # fmt: skip
        reference = run(model, pre, stamps, config["pixscale_arcsec"], 256, False, False)
        for name, (net, cl, bf16) in variants(model).items():
            for batch in (int(b) for b in args.batches.split(",")):
                run(net, pre, stamps[:batch], config["pixscale_arcsec"], batch, cl, bf16)  # warm-up
                t0 = time.perf_counter()
                scores = run(net, pre, stamps, config["pixscale_arcsec"], batch, cl, bf16)
                rate = len(stamps) / (time.perf_counter() - t0)
                d_auc = abs(metrics.auc(scores, labels) - metrics.auc(reference, labels))
                print(f"  {name:22s} batch {batch:5d}: {rate:9,.0f} stamps/s "
                      f"({rate / limit:6.1%} of limit)  |dAUC| {d_auc:.5f}")  # fmt: skip


if __name__ == "__main__":
    main()
