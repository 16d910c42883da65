"""What each exact inference rewrite gains, against the original in the same run.

Each pair runs interleaved (A, B, A, B, ...) on the same inputs and reports
the best rate of each and the largest difference of their outputs, as these
machines are noisy:

- he2020-cnn: the paper's order (ReLU, then ``nn.MaxPool2d``'s kernel) against
  the network's (pool first, as a maximum of strided views, then ReLU), in
  fp32 and bf16 autocast, channels_last;
- deeplens-resnet: the network as trained against
  ``networks.for_inference`` (BatchNorms folded into their convolutions),
  in fp32 and bf16;
- the noise sigma of 97x97 KiDS-like stamps: two numpy selections (median,
  then median of the deviations) against one sort per row.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \\
    MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1,thp:always,metadata_thp:auto \\
    .venv/bin/python bench/rewrites.py [--rounds 5] [--batch 256]
"""

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifier.networks import build, for_inference  # noqa: E402
from core import imaging  # noqa: E402


def race(pairs, n, rounds):
    """{label: best items/s} and {label: output} for callables run in turn."""
    best = dict.fromkeys(pairs, 0.0)
    out = {}
    for fn in pairs.values():
        fn()  # warm-up
    for _ in range(rounds):
        for label, fn in pairs.items():
            t0 = time.perf_counter()
            out[label] = fn()
            best[label] = max(best[label], n / (time.perf_counter() - t0))
    return best, out


def report(title, best, out, unit="stamps/s"):
    (ref, ref_rate), (new, new_rate) = best.items()
    diff = (out[new].float() - out[ref].float()).abs().max().item()
    scale = out[ref].float().abs().max().item()
    print(
        f"{title}\n  {ref:44s} {ref_rate:9,.0f} {unit}\n  {new:44s} {new_rate:9,.0f} {unit}  "
        f"{new_rate / ref_rate:.2f}x; max |difference| {diff:.2e} "
        f"(outputs up to {scale:.2e})"
    )


def paper_order_cnn(model):
    """The He et al. forward with the same weights: ReLU, then the pooling kernel."""
    conv1, conv2 = model.features[0], model.features[3]

    def forward(x):
        h = F.max_pool2d(F.relu(conv1(x)), 2)
        return model.classifier(F.max_pool2d(F.relu(conv2(h)), 2))

    return forward


def with_batchnorm_statistics(model, size):
    """Running statistics and affine parameters away from their defaults, so
    that folding them is not the identity."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(3 * torch.randn(64, 1, size, size) + 1)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 2.0)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


def autocast(fn, x, bf16):
    def run():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return fn(x)

    return run


def two_selections(x):
    """The sigma as two numpy selections found it (the reference)."""
    k = (x.shape[-1] - 1) // 2
    a = x.numpy()
    med = np.partition(a, k, axis=-1)[..., k : k + 1]
    mad = np.partition(np.abs(a - med), k, axis=-1)[..., k]
    return torch.from_numpy(imaging.MAD_TO_SIGMA * mad)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    n, rounds = args.batch, args.rounds
    torch.manual_seed(0)
    print(f"{torch.get_num_threads()} threads, batch {n}, best of {rounds} interleaved rounds\n")

    with torch.inference_mode():
        cnn = build("he2020-cnn").eval().to(memory_format=torch.channels_last)
        x = torch.randn(n, 1, 49, 49).contiguous(memory_format=torch.channels_last)
        for bf16 in (False, True):
            best, out = race(
                {
                    "paper order: ReLU, then the pooling kernel": autocast(
                        paper_order_cnn(cnn), x, bf16
                    ),
                    "pool (strided maximum), then ReLU": autocast(cnn, x, bf16),
                },
                n,
                rounds,
            )
            report(f"he2020-cnn, {'bf16' if bf16 else 'fp32'}", best, out)

    resnet = with_batchnorm_statistics(build("deeplens-resnet"), 45)
    trained = copy.deepcopy(resnet).to(memory_format=torch.channels_last)
    folded = for_inference(resnet).to(memory_format=torch.channels_last)
    x = torch.randn(n, 1, 45, 45).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        for bf16 in (False, True):
            best, out = race(
                {
                    "as trained (BatchNorms apart)": autocast(trained, x, bf16),
                    "for_inference (BatchNorms folded)": autocast(folded, x, bf16),
                },
                n,
                rounds,
            )
            report(f"deeplens-resnet, {'bf16' if bf16 else 'fp32'}", best, out)
            if bf16:  # the scale of bf16's own rounding, for the difference above
                drift = (out["as trained (BatchNorms apart)"].float() - trained(x)).abs().max()
                print(f"  (bf16 itself, unfolded, differs from fp32 by up to {drift:.2e})")

    from simulations import render
    from simulations.surveys import get_survey

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n).astype(np.int16)
    stamps = render.simulate_batch(get_survey("kids-r"), labels, rng)[0]
    frame = imaging._frame(torch.from_numpy(stamps), imaging.BORDER_PX)
    best, out = race(
        {
            "two selections (np.partition x 2)": lambda: two_selections(frame),
            "one sort per row": lambda: imaging._finite_robust_sigma(frame)[0],
        },
        n,
        rounds,
    )
    report(f"noise sigma of {n} KiDS-like 97x97 stamps ({frame.shape[-1]}-pixel frames)", best, out)


if __name__ == "__main__":
    main()
