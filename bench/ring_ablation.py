"""Which training-set choices teach a network to tell unlensed rings from
Einstein rings? An ablation of generator lensfinder-sim-3's two changes.

Four training sets of the KiDS-r survey, each ``--n`` stamps: the earlier
generator (sim-2: lenses 45% doubles, 15% cusps, 25% quads, 15% rings;
unlensed rings all beaded, 20-90% of their light in knots, a quarter of
them complete), each change alone, and both (sim-3, the default). A He et
al. CNN at native 0.21"/px trains on each (``--epochs``, early stopping on
a validation set of the same variant) and is tested on a sim-2 project set
and on a lenstronomy KiDS-r set (``crosscheck``; by default the 2,000 +
2,000 stamps of seed 104 that the shipped manifests are evaluated on).
Prints AUC, TPR at 1% FPR, bright completeness and the AUC against
unlensed rings, per variant.

    .venv/bin/python bench/ring_ablation.py [--n 40000] [--epochs 8] [--workdir var/bench-rings]

About 5 minutes per variant on 2 cores at the defaults; one seed, so
differences of ~0.01 in AUC are noise.
"""

import argparse
import copy
import sys
import time
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # the benches' one evaluation

import cross_simulator  # noqa: E402

from classifier.training import TrainSettings, train  # noqa: E402
from crosscheck.lenstronomy_sets import make_set  # noqa: E402
from simulations.generate import simulate_stampset  # noqa: E402
from simulations.surveys import get_survey  # noqa: E402

SIM2 = {
    "configurations": {"double": 0.45, "cusp": 0.15, "quad": 0.25, "ring": 0.15},
    "rings": {"ring": 0.25, "partial-ring": 0.35, "tidal-arc": 0.40},
    "knotted": (0.2, 0.9),
}
# name: (doubles first, smooth and more complete rings)
VARIANTS = {
    "sim-2": (False, False),
    "doubles first": (True, False),
    "smooth rings, 40% complete": (False, True),
    "both (sim-3)": (True, True),
}


def configure(doubles_first, smooth_rings):
    """The KiDS-r configuration of a variant."""
    config = copy.deepcopy(get_survey("kids-r"))
    if not doubles_first:
        config["lens"]["configurations"] = SIM2["configurations"]
    if not smooth_rings:
        config["subkinds"]["ring"] = SIM2["rings"]
    if not smooth_rings:
        config["lookalikes"]["ring_knotted"] = SIM2["knotted"]
    return config


def simulate(config, n, seed, path):
    if not path.exists():
        with tqdm(total=n, desc=path.name, unit="stamp") as bar:
            simulate_stampset(
                config, n // 2, n - n // 2, seed, path, progress=lambda d, _: bar.update(d - bar.n)
            )
    return path


def evaluate(model, preprocessor, path):
    """AUC, TPR at 1% FPR, bright completeness, AUC against unlensed rings:
    from ``cross_simulator.evaluate``, the one evaluation of the benches."""
    result = cross_simulator.evaluate(model, preprocessor, path)
    rings = result["by_kind"].get("ring", {}).get("auc")
    return result["auc"], result["tpr_1pct"], result["complete_1.4_20"], rings


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40_000, help="training stamps per variant")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--n-test", type=int, default=4000)
    parser.add_argument("--cross-seed", type=int, default=104)
    parser.add_argument("--workdir", default=str(ROOT / "var" / "bench-rings"))
    args = parser.parse_args()
    folder = Path(args.workdir)
    folder.mkdir(parents=True, exist_ok=True)
    config = configure(False, False)
    tests = {
        "project (sim-2)": simulate(config, args.n_test, 13, folder / "sim2-test.fits"),
    }
    cross = folder / f"lenstronomy-kids-r-{args.cross_seed}.fits"
    if not cross.exists():
        make_set("kids-r", 2000, 2000, args.cross_seed, cross)
    tests["lenstronomy"] = cross
    rows = []
    for k, (name, flags) in enumerate(VARIANTS.items()):
        config = configure(*flags)
        tag = f"v{k}"
        train_path = simulate(config, args.n, 11, folder / f"{tag}-train-{args.n}.fits")
        val_path = simulate(config, 2000, 12, folder / f"{tag}-val.fits")
        settings = TrainSettings(
            architecture="he2020-cnn",
            epochs=args.epochs,
            lr=3e-4,
            seed=1,
            patience=3,
            stretch="asinh",
            pixscale_arcsec=0.21,
        )
        started = time.perf_counter()
        model, pre, _, info = train(train_path, settings, folder / f"work-{tag}-{args.n}", val_path)
        minutes = (time.perf_counter() - started) / 60
        rows.append((name, {t: evaluate(model, pre, p) for t, p in tests.items()}, minutes))
        print(f"{name}: trained in {minutes:.1f} min (best epoch {info['best_epoch']})", flush=True)
    print(f"\nTrained on {args.n} KiDS-r stamps per variant, {args.epochs} epochs at most:")
    print(
        f"  {'training set':28s} {'project sim-2 AUC/TPR@1%':26s} "
        f"{'lenstronomy AUC/TPR@1%/bright':30s} AUC vs unlensed rings (lenstronomy)"
    )
    for name, result, _ in rows:
        a, t, _, _ = result["project (sim-2)"]
        la, lt, lb, lr = result["lenstronomy"]
        print(
            f"  {name:28s} {a:.3f} / {t:.3f}{'':12s} {la:.3f} / {lt:.3f} / {lb:.3f}{'':8s} {lr:.3f}"
        )


if __name__ == "__main__":
    main()
