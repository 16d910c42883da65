"""Issue 14's demo-field target, measured: every lens among the candidates
and at most 2 of the non-lens LRGs, for the shipped networks.

On a throw-away SQLite database and data dir, for each seed, a field as the
demo's (``simulate_field``: 40 LRGs of which 8 are lenses, with the demo's
field galaxies, stars and faint red objects) is ingested and scored by each
network as ``setup_demo`` does (``launch_run`` + ``run_in_process``, at the
network's own 1%-FPR threshold). The demo itself is seed 2020; the other
seeds say whether a figure is the network's or that one field's.

Printed per network and seed: lenses among the candidates (of the field's
lenses), non-lens LRGs among the candidates, the rank of the lowest-scoring
lens among all LRGs and the Einstein radius, arc S/N and configuration of
each lens missed; then the totals over the seeds.

    .venv/bin/python bench/demo_field.py [--networks kids-r-cnn,kids-gri-cnn]
        [--seeds 2020,1,2,3,4,5]
"""

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO_FIELD_SEED = 2020  # inspection/management/commands/setup_demo.py


def measure(tmp: Path, networks: list[str], seeds: list[int]) -> None:
    import django

    django.setup()
    from astropy.table import Table
    from django.core.management import call_command

    from classifier.models import Network
    from classifier.services import register_shipped
    from inspection.ingest.services import ingest_survey
    from inspection.scoring import services as runs
    from simulations.field import simulate_field

    call_command("migrate", verbosity=0)
    register_shipped()
    totals = {name: Counter() for name in networks}
    for seed in seeds:
        folder, _ = simulate_field(tmp / f"field-{seed}", seed=seed)
        truth = Table.read(folder / "truth.fits")
        ids = np.asarray(truth["ID"]).astype(str)
        is_lens = dict(zip(ids, np.asarray(truth["is_lens"]), strict=True))
        lens_info = {
            i: f'theta_E {t:.1f}" S/N {n:.0f} {c}'
            for i, t, n, c, lens in zip(ids, truth["theta_e"], truth["snr"],
                                        truth["lens_configuration"], truth["is_lens"], strict=True)
            if lens
        }  # fmt: skip
        survey = ingest_survey(
            f"demo-{seed}",
            catalogue=folder / "catalogue.fits",
            tiles=[(b, folder / f"{b}.fits") for b in "gri"],
        )
        for name in networks:
            run = runs.launch_run(survey, Network.objects.get(name=name), enqueue=False)
            runs.run_in_process(run)
            rows = list(run.scores.values_list("source__catalogue_id", "logit"))
            lens = np.array([bool(is_lens.get(cid, False)) for cid, _ in rows])
            logit = np.array([lg for _, lg in rows], dtype=float)
            passed = logit >= run.threshold_logit
            order = np.argsort(-logit, kind="stable")
            worst_lens_rank = int(np.flatnonzero(lens[order])[-1]) + 1 if lens.any() else 0
            found, others = int((passed & lens).sum()), int((passed & ~lens).sum())
            missed = [lens_info[rows[i][0]] for i in np.flatnonzero(lens & ~passed)]
            totals[name].update(
                found=found, lenses=int(lens.sum()), others=others, lrgs=int((~lens).sum())
            )
            tag = " (the demo)" if seed == DEMO_FIELD_SEED else ""
            print(
                f"{name:16s} seed {seed:5d}{tag}: lenses among candidates {found}/{lens.sum()}, "
                f"non-lens LRGs among candidates {others}/{(~lens).sum()}, "
                f"lowest lens ranks {worst_lens_rank} of {len(rows)} LRGs"
                + (f"; missed: {'; '.join(missed)}" if missed else ""),
                flush=True,
            )
    for name, t in totals.items():
        print(
            f"{name:16s} all {len(seeds)} fields: lenses {t['found']}/{t['lenses']} "
            f"({t['found'] / max(t['lenses'], 1):.2f}), non-lens LRGs {t['others']}/{t['lrgs']} "
            f"({t['others'] / max(t['lrgs'], 1):.3f}; target: every lens, at most 2 per field)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", default="kids-r-cnn,kids-gri-cnn")
    parser.add_argument("--seeds", default="2020,1,2,3,4,5")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lensfinder-demo-bench-") as tmp:
        os.environ["LENSFINDER_DATA_DIR"] = tmp
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lensfinder.settings")
        measure(
            Path(tmp),
            [n for n in args.networks.split(",") if n],
            [int(s) for s in args.seeds.split(",") if s],
        )


if __name__ == "__main__":
    main()
