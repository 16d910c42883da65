"""Where a network's operating point goes: its figures on a labelled set with
all the non-lenses, then without the kinds named.

A network's TPR at 1% FPR is set by the non-lenses that score like lenses;
``by_kind`` in an evaluation says which. This says what the figures would be
if those kinds were told apart by other means (colour, a second band,
spectra): e.g. an r-band network against unlensed rings, which in r alone
look like Einstein rings. It reads the network in fp32 eager with its
temperature and TTA setting, as evaluations do, and ranks on log-odds.

    .venv/bin/python bench/without_kinds.py kids-r-cnn var/build-networks/kids-cross.fits \\
        [--exclude ring blue-neighbour,spiral]

``--exclude`` takes groups: each comma-separated group is removed on top of
the ones before it.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("network")
    parser.add_argument("set", help="a labelled stamp set whose META has kind, theta_e, snr")
    parser.add_argument("--exclude", nargs="*", default=["ring", "blue-neighbour,spiral"])
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lensfinder.settings")
    import django

    django.setup()
    from classifier import metrics
    from classifier.services import get_network, load_scorer, open_stampset

    network = get_network(args.network)
    stampset = open_stampset(args.set)
    scorer = load_scorer(network, "cpu", variant="fp32", compile=False, output="log-odds")
    logits = scorer.score_stampset(stampset)
    labels, meta = stampset.labels, stampset.meta
    kinds = np.asarray(meta["kind"]).astype(str)
    bright = metrics.bright_lenses(labels, meta["theta_e"], meta["snr"])
    removed: list[str] = []
    for group in [""] + args.exclude:
        removed += [k for k in group.split(",") if k]
        keep = (labels == 1) | ~np.isin(kinds, removed)
        threshold, tpr = metrics.tpr_at_fpr(logits[keep], labels[keep], 0.01)
        found_bright = np.mean(logits[bright] >= threshold)
        print(
            f"{network.name} without {', '.join(removed) or 'nothing'} "
            f"({int((keep & (labels == 0)).sum())} non-lenses): "
            f"AUC {metrics.auc(logits[keep], labels[keep]):.4f}, TPR at 1% FPR {tpr:.3f}, "
            f'completeness at it for theta_E > 1.4", S/N > 20 {found_bright:.3f}'
        )


if __name__ == "__main__":
    main()
