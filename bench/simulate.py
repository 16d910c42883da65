"""Simulator speed against lenstronomy, and memory while streaming.

Speed: KiDS-r lens stamps (97x97 at 0.21"/px, 2x2 supersampling) made by
lenstronomy's ImageModel one system at a time (the reference, measured in
the same run: SIE + Sersic lens light + Sersic source, Gaussian PSF,
Poisson + Gaussian noise) and by LensFinder's batched simulator, eager and
with torch.compile (after its one-off compilation, reported separately).
LensFinder's stamps are its full population and so do more: SIE + shear +
subhaloes, one- or two-clump sources, companions, field galaxies and stars,
Moffat PSFs, correlated noise, the S/N floor. ``--mixed`` also times the
training mix (half non-lenses of every look-alike kind).

Memory: the peak resident memory of `simulate_stampset` streaming N stamps
to disk, against the size of the cube it writes.

    .venv/bin/python bench/simulate.py [--lenstronomy 100] [--ours 5000] [--memory 20000]

Run workers the way `make run` does for the best figures:
LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 MALLOC_CONF=... (see README).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def lenstronomy_rate(n, seed=0):
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel
    from lenstronomy.SimulationAPI.data_api import DataAPI  # noqa: F401 - import cost outside
    from lenstronomy.Util import image_util, param_util

    rng = np.random.default_rng(seed)
    size, pix = 97, 0.21
    lens_model = LensModel(["SIE"])
    light = LightModel(["SERSIC_ELLIPSE"])
    start = time.perf_counter()
    for _ in range(n):
        data = ImageData(
            image_data=np.zeros((size, size)),
            transform_pix2angle=np.eye(2) * pix,
            ra_at_xy_0=-(size - 1) / 2 * pix,
            dec_at_xy_0=-(size - 1) / 2 * pix,
        )
        psf = PSF(psf_type="GAUSSIAN", fwhm=rng.uniform(0.55, 0.75), pixel_size=pix, truncation=5)
        model = ImageModel(
            data, psf, lens_model, light, light, kwargs_numerics={"supersampling_factor": 2}
        )
        q, phi = rng.uniform(0.7, 1.0), rng.uniform(0, np.pi)
        e1, e2 = param_util.phi_q2_ellipticity(phi, q)
        kw_lens = [
            {"theta_E": rng.uniform(1.4, 5), "e1": e1, "e2": e2, "center_x": 0, "center_y": 0}
        ]
        se1, se2 = param_util.phi_q2_ellipticity(rng.uniform(0, np.pi), rng.uniform(0.7, 1))
        kw_src = [
            {
                "amp": 50.0,
                "R_sersic": rng.uniform(0.2, 0.7),
                "n_sersic": rng.uniform(2, 5),
                "e1": se1,
                "e2": se2,
                "center_x": 0.1,
                "center_y": 0.05,
            }
        ]
        kw_ll = [
            {
                "amp": 500.0,
                "R_sersic": 2.0,
                "n_sersic": rng.uniform(2, 5),
                "e1": e1,
                "e2": e2,
                "center_x": 0,
                "center_y": 0,
            }
        ]
        image = model.image(kw_lens, kw_src, kw_ll)
        image = image_util.add_poisson(np.clip(image, 0, None), exp_time=1.0)
        image = image + image_util.add_background(image, sigma_bkd=30.0)
    return n / (time.perf_counter() - start)


def ours_rate(n, compile, seed=0, mixed=False):
    import torch

    from simulations import render
    from simulations.surveys import get_survey

    config = get_survey("kids-r")
    rng = np.random.default_rng(seed)
    labels = np.tile(np.array([1, 0], np.int16), 128) if mixed else np.ones(256, np.int16)
    t0 = time.perf_counter()
    render.simulate_batch(config, labels, rng, compile=compile)  # warm-up / compilation
    warmup = time.perf_counter() - t0
    done, start = 0, time.perf_counter()
    while done < n:
        render.simulate_batch(config, labels, rng, compile=compile)
        done += len(labels)
    rate = done / (time.perf_counter() - start)
    return rate, warmup, torch.get_num_threads()


def peak_memory(n):
    """Stream ``n`` stamps in a child process; its own peak RSS (MiB), the
    file size (MiB) and the seconds taken. Compilation runs in helper
    processes, so the child's figure is the simulator's alone.

    The child runs with the system allocator: the jemalloc settings tuned for
    inference workers (dirty_decay_ms:-1) keep freed pages and would report
    ~2.4 GB for the same run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.fits")
        code = "\n".join(
            [
                f"import resource, sys; sys.path.insert(0, {str(ROOT)!r})",
                "from simulations.generate import simulate_stampset",
                f"simulate_stampset('kids-r', {n // 2}, {n - n // 2}, 1, {out!r})",
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
            ]
        )
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        )
        seconds = time.perf_counter() - t0
        peak_kib = int(done.stdout.split()[-1])
        size = os.path.getsize(out)
    return peak_kib / 1024, size / 2**20, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lenstronomy", type=int, default=100, help="stamps for the reference")
    parser.add_argument("--ours", type=int, default=5120, help="stamps for LensFinder (0: skip)")
    parser.add_argument("--memory", type=int, default=20000, help="stamps streamed (0: skip)")
    parser.add_argument("--mixed", action="store_true", help="also time half non-lenses")
    args = parser.parse_args()

    if args.ours:
        speed(args)
    if args.memory:
        peak, size, seconds = peak_memory(args.memory)
        print(
            f"streaming {args.memory} stamps: peak RSS {peak:.0f} MiB for a {size:.0f} MiB file "
            f"({args.memory / seconds:.0f} stamps/s end to end)"
        )


def speed(args):
    ref = lenstronomy_rate(args.lenstronomy)
    print(f"lenstronomy (reference)       {ref:8.1f} stamps/s")
    eager, _, threads = ours_rate(min(args.ours, 2048), compile=False)
    ratio = eager / ref
    print(
        f"LensFinder eager              {eager:8.1f} stamps/s  ({ratio:5.1f}x, {threads} threads)"
    )
    fused, warmup, _ = ours_rate(args.ours, compile=True)
    print(
        f"LensFinder torch.compile      {fused:8.1f} stamps/s  ({fused / ref:5.1f}x; "
        f"first batch incl. compilation {warmup:.1f} s)"
    )
    if args.mixed:
        for compile, name in ((False, "eager"), (True, "torch.compile")):
            rate, _, _ = ours_rate(min(args.ours, 2048), compile=compile, mixed=True)
            print(f"  half non-lenses, {name:13s} {rate:8.1f} stamps/s  ({rate / ref:5.1f}x)")


if __name__ == "__main__":
    main()
