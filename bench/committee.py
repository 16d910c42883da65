"""Test-time augmentation and committees against the plain scorer, in one run.

On a labelled stamp set, for each network given (plain, and with TTA: the
mean log-odds of the 8 rotations and flips of each stamp) and for the
committee of them all (plain and with TTA; the mean of the members'
calibrated log-odds, built in memory, nothing registered): AUC, TPR at 1%
FPR and stamps/s through the full scoring path (preprocess + network), each
rate also as a multiple of the first network's plain rate, measured in the
same run (these machines are noisy). fp32 eager unless ``--variant``; rates
are the best of ``--repeats`` runs after an untimed warm-up batch.

    .venv/bin/python bench/committee.py --networks kids-r-cnn,my-cnn \\
        --test var/build-networks/kids-cross.fits [--n 2000]

The networks come from the registry of the database the environment names
(``LENSFINDER_DATA_DIR``, ``DATABASE_URL``), as for ``manage.py``. A
committee must be valid (``services.committee_candidates``: at least 2
networks taking the same bands, pixel scale and stamp size); with one
network only its plain and TTA rows are printed.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(scorer, stamps, pixscale_arcsec, labels, repeats):
    """(AUC, TPR at 1% FPR, stamps/s) of ``scorer``'s log-odds on ``stamps``."""
    from classifier import metrics

    scorer.score(stamps[: scorer.batch_size], pixscale_arcsec)  # warm-up, untimed
    best, log_odds = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        log_odds = scorer.score(stamps, pixscale_arcsec)
        best = min(best, time.perf_counter() - started)
    _, tpr = metrics.tpr_at_fpr(log_odds, labels, 0.01)
    return metrics.auc(log_odds, labels), tpr, len(stamps) / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", required=True, help="comma-separated registered networks")
    parser.add_argument("--test", required=True, help="labelled stamp-set FITS file")
    parser.add_argument("--n", type=int, default=2000, help="stamps scored (the file's first)")
    parser.add_argument("--variant", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lensfinder.settings")
    import django

    django.setup()
    from classifier.inference import Committee
    from classifier.services import (
        NetworkError,
        committee_candidates,
        get_network,
        load_scorer,
        open_stampset,
    )

    names = [n.strip() for n in args.networks.split(",") if n.strip()]
    try:
        networks = committee_candidates(names) if len(names) > 1 else [get_network(names[0])]
        stampset = open_stampset(args.test)
    except NetworkError as exc:
        sys.exit(f"bench/committee.py: {exc}")
    n = min(args.n, len(stampset))
    stamps = stampset.stamps(slice(0, n))
    labels = stampset.labels[:n]
    if len(np.unique(labels)) < 2 or np.any(labels < 0):
        sys.exit(f"The first {n} stamps of {args.test} need lenses and non-lenses, all labelled.")

    def scorer(network, tta):
        return load_scorer(
            network,
            args.device,
            args.variant,
            compile=False,
            batch_size=args.batch_size,
            output="log-odds",
            tta=tta,
        )

    rows = []
    for network in networks:
        rows.append((f"plain {network.name}", scorer(network, False)))
        rows.append((f"TTA {network.name}", scorer(network, True)))
    if len(networks) > 1:
        # A committee's members with their own temperatures, the mean not rescaled.
        for label, tta in (("committee", False), ("committee+TTA", True)):
            rows.append((label, Committee([scorer(m, tta) for m in networks], output="log-odds")))

    temperatures = ", ".join(f"{m.name} T={m.temperature:.3g}" for m in networks)
    print(
        f"{n} stamps of {args.test} ({int(labels.sum())} lenses), {args.variant} on "
        f"{args.device}, batch {args.batch_size}; {temperatures}"
    )
    print(f"{'':<34}{'AUC':>8}{'TPR@1%FPR':>11}{'stamps/s':>11}{'x plain':>9}")
    reference = None
    for label, s in rows:
        auc, tpr, rate = measure(s, stamps, stampset.pixscale_arcsec, labels, args.repeats)
        reference = reference or rate  # the first network's plain path
        print(f"{label:<34}{auc:>8.4f}{tpr:>11.3f}{rate:>11.0f}{rate / reference:>9.2f}")


if __name__ == "__main__":
    main()
