"""Dawid-Skene against the summed total and the Space Warps posterior on a
simulated campaign whose truth is known.

Six simulated graders of known skill (their 3x2 confusion matrices below)
grade every candidate of a simulated candidate set (a fraction of them
lenses) and a set of known items (half lenses), as a campaign with known
items mixed in would. Each candidate has a simulated calibrated network
score: log-odds drawn from N(+d/2, 1) for lenses and N(-d/2, 1) for
non-lenses, so its exact P(lens) is sigmoid(logit(f) + d x) with f the lens
fraction (AUC of the network alone: Phi(d / sqrt 2)).

For each seed it ranks the candidates by

- He et al.'s summed total (``consensus.total_scores``),
- the Space Warps posterior (``consensus.space_warps_posterior``) with each
  grader's skill measured on the known items as ``Skill`` counts them
  ((right + 1) / (seen + 2), a 1 or a 2 saying "lens"),
- the Dawid-Skene posterior (``dawid_skene.fit``, known items clamped),

both posteriors starting from the network's P(lens), and prints each
ranking's AUC (``core.stats.rank_auc``), mean and standard deviation over
the seeds, with the largest error of the fitted confusion matrices. With
``--no-network`` both posteriors start from the campaign level instead
(Space Warps: the true lens fraction; Dawid-Skene: its fitted campaign prior).

    .venv/bin/python bench/dawid_skene.py [--candidates 2000] [--lens-fraction 0.1]
        [--known 50] [--p-graded 1.0] [--network-d 1.5] [--seeds 20] [--no-network]
        [--same-skill good]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.logodds import sigmoid  # noqa: E402
from core.stats import rank_auc  # noqa: E402
from inspection.catalogues import consensus  # noqa: E402
from inspection.catalogues import dawid_skene as ds  # noqa: E402

# P(grade g | class k): rows non-lens then lens, columns grades 0, 1, 2.
GRADERS = {
    "expert": [[0.90, 0.08, 0.02], [0.05, 0.25, 0.70]],
    "good": [[0.80, 0.15, 0.05], [0.10, 0.35, 0.55]],
    "generous": [[0.15, 0.80, 0.05], [0.05, 0.15, 0.80]],  # a 1 for most non-lenses
    "harsh": [[0.97, 0.02, 0.01], [0.60, 0.30, 0.10]],  # a 2 only when sure
    "noisy": [[0.50, 0.30, 0.20], [0.30, 0.35, 0.35]],
    "guesser": [[0.34, 0.33, 0.33], [0.33, 0.33, 0.34]],
}


def one_campaign(rng, confusion, args):
    """AUCs of the rankings and the largest matrix error, for one seed."""
    n, n_known = args.candidates, args.known
    truth = (rng.random(n) < args.lens_fraction).astype(int)
    known = np.r_[np.ones(n_known), np.zeros(n_known)].astype(int)
    item, rater, grade = ds.simulate_grades(confusion, np.r_[truth, known], rng, args.p_graded)
    n_raters = len(confusion)
    grades = np.full((n + 2 * n_known, n_raters), np.nan)
    grades[item, rater] = grade
    candidates, on_known = grades[:n], grades[n:]

    x = rng.normal(np.where(truth == 1, args.network_d / 2, -args.network_d / 2), 1.0)
    f = args.lens_fraction
    network = sigmoid(np.log(f / (1 - f)) + args.network_d * x)
    prior = None if args.no_network else network

    said = consensus.said_lens(on_known)
    seen = ~np.isnan(on_known)
    p_lens = ((said & seen)[:n_known].sum(axis=0) + 1) / (seen[:n_known].sum(axis=0) + 2)
    p_not = ((~said & seen)[n_known:].sum(axis=0) + 1) / (seen[n_known:].sum(axis=0) + 2)
    sw = consensus.space_warps_posterior(f if prior is None else prior, candidates, p_lens, p_not)

    fit = ds.fit(
        item,
        rater,
        grade,
        n + 2 * n_known,
        n_raters,
        prior=None if prior is None else np.r_[prior, np.full(2 * n_known, np.nan)],
        truth=np.r_[np.full(n, np.nan), known],
    )
    lens = truth == 1
    return {
        "network": rank_auc(network, lens),
        "total": rank_auc(consensus.total_scores(candidates), lens),
        "space_warps": rank_auc(sw, lens),
        "dawid_skene": rank_auc(fit.posterior[:n], lens),
        "matrix_error": float(np.abs(fit.confusion - confusion).max()),
        "iterations": fit.n_iter,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--lens-fraction", type=float, default=0.1)
    parser.add_argument("--known", type=int, default=50, help="known lenses (and non-lenses)")
    parser.add_argument("--p-graded", type=float, default=1.0, help="share each grader sees")
    parser.add_argument("--network-d", type=float, default=1.5, help="separation, sigma")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--no-network", action="store_true")
    parser.add_argument(
        "--same-skill", choices=list(GRADERS), help="a control: all six graders as this one"
    )
    args = parser.parse_args(argv)
    graders = (
        {f"{args.same_skill}{n}": GRADERS[args.same_skill] for n in range(6)}
        if (args.same_skill)
        else GRADERS
    )
    confusion = np.array(list(graders.values()))
    runs = [one_campaign(np.random.default_rng(s), confusion, args) for s in range(args.seeds)]
    print(
        f"{args.candidates} candidates ({args.lens_fraction:.0%} lenses), {args.known} known "
        f"lenses + {args.known} known non-lenses, {len(graders)} graders "
        f"({', '.join(graders)}), each grading {args.p_graded:.0%}; prior: "
        + ("campaign level" if args.no_network else f"network with d = {args.network_d}")
        + f"; {args.seeds} seeds"
    )
    for key, label in [
        ("network", "network score alone"),
        ("total", "summed total (He et al.)"),
        ("space_warps", "Space Warps posterior (binary)"),
        ("dawid_skene", "Dawid-Skene posterior (0/1/2)"),
    ]:
        values = np.array([r[key] for r in runs])
        print(f"  AUC {label:32s} {values.mean():.4f} +- {values.std(ddof=1):.4f}")
    wins = np.mean([r["dawid_skene"] > max(r["total"], r["space_warps"]) for r in runs])
    errors = np.array([r["matrix_error"] for r in runs])
    print(f"  Dawid-Skene ranks best in {wins:.0%} of the seeds")
    print(
        f"  largest confusion-matrix error {errors.mean():.3f} (worst seed {errors.max():.3f}); "
        f"EM iterations {np.mean([r['iterations'] for r in runs]):.0f}"
    )


if __name__ == "__main__":
    main()
