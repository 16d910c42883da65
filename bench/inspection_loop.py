"""Issue 18's figures on a simulated campaign of the demo field: the gradings
retirement saves and what it costs, the completeness injected lenses
measure, and the Dawid-Skene ranking's AUC against the summed total's.

On a throw-away SQLite database and data dir: the demo field
(``simulate_field`` with the demo's seed; ``--lenses``/``--lrgs`` scale it)
is ingested and scored with the shipped ``kids-r-cnn`` through
``launch_run`` + ``run_in_process``, as ``setup_demo`` scores the demo with
``kids-gri-cnn`` (the figures in docs/design.md were measured with the
binned ``kids-r-cnn`` of commit 18afa6b), at a threshold that makes the
top ``--candidate-share`` of the LRGs candidates (the demo field is small:
at the network's 1% FPR threshold it has a handful). A simulated g,r,i
known set (as the demo's) is mixed in at ``--known-fraction``. Two
campaigns are made from the same run, with ``--inject`` injected lenses
each (``inspection.completeness``): one without retirement and one with
``retire_after = --retire``. Six simulated graders of known skill (the
confusion matrices of ``bench/dawid_skene.py``) grade them through
``grading.record_grade`` (the grade path of the pages, retirement
included) in a random interleaving, each grade drawn from the grader's
matrix row for the item's truth (candidates: ``truth.fits``; known items
and injections: their truth) with one seed per (grader, item), so both
campaigns see the same grades where both ask for them.

Printed: assignments withdrawn ungraded (gradings saved) and their share;
known and injected lenses retired as 0; end-to-end completeness of the
injections (network x inspectors, Wilson 1 sigma) with and without
retirement; the AUC of the candidates ranked by summed total, Space Warps
posterior and Dawid-Skene posterior against ``truth.fits``.

    .venv/bin/python bench/inspection_loop.py [--lenses 40] [--lrgs 160] [--inject 60]
        [--retire 2] [--candidate-share 0.5] [--known-fraction 0.15] [--seed 0]
"""

import argparse
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dawid_skene import GRADERS  # noqa: E402

DEMO_FIELD_SEED = 2020  # inspection/management/commands/setup_demo.py


def setup(tmp, args):
    import django

    django.setup()
    from astropy.table import Table
    from django.core.management import call_command

    from classifier.models import Network
    from classifier.services import register_shipped
    from inspection.grading import services as grading
    from inspection.ingest.services import ingest_survey
    from inspection.scoring import services as runs
    from simulations.field import simulate_field

    call_command("migrate", verbosity=0)
    register_shipped()
    n_galaxies = 250 * args.lrgs // 40  # the demo's mix of field objects, scaled
    folder, _ = simulate_field(tmp / "field", seed=DEMO_FIELD_SEED, n_lenses=args.lenses,
                               n_lrgs=args.lrgs, n_galaxies=n_galaxies,
                               n_stars=60 * args.lrgs // 40, n_faint_red=30 * args.lrgs // 40,
                               size_px=int(1500 * np.sqrt(args.lrgs / 40)))  # fmt: skip
    survey = ingest_survey("demo-kids", catalogue=folder / "catalogue.fits",
                           tiles=[(b, folder / f"{b}.fits") for b in "gri"])  # fmt: skip
    run = runs.launch_run(survey, Network.objects.get(name="kids-r-cnn"), enqueue=False)
    runs.run_in_process(run)
    logits = np.array(run.scores.values_list("logit", flat=True))
    runs.set_threshold(run, threshold_logit=float(np.quantile(logits, 1 - args.candidate_share)))
    known_path = tmp / "known.fits"
    call_command("simulate", "--survey", "kids-gri", "--lenses", "30", "--nonlenses", "30",
                 "--seed", str(DEMO_FIELD_SEED), "--out", str(known_path), verbosity=0)  # fmt: skip
    known = grading.add_known_set("demo-known", known_path)
    truth = Table.read(folder / "truth.fits")
    ids, lens = np.asarray(truth["ID"]).astype(str), np.asarray(truth["is_lens"])
    is_lens = dict(zip(ids, lens, strict=True))
    return run, known, is_lens


def grade_campaign(campaign, graders, is_lens, seed):
    """Grade every assignment still shown, in a random interleaving of the
    graders, through ``record_grade`` (retirement withdraws as it goes)."""
    from inspection.grading import services as grading
    from inspection.models import Assignment

    confusion = {u.pk: np.array(GRADERS[name]) for name, u in graders.items()}
    rng = np.random.default_rng(seed)
    queues = {
        u.pk: list(
            Assignment.objects.filter(campaign=campaign, inspector=u)
            .select_related(
                "item__source", "item__known", "item__injection", "campaign", "inspector"
            )
            .order_by("position")
        )
        for u in graders.values()
    }
    while any(queues.values()):
        pk = rng.choice([k for k, q in queues.items() if q])
        a = queues[pk].pop(0)
        if Assignment.objects.filter(pk=a.pk, withdrawn_at__isnull=False).exists():
            continue  # retired before this grader reached it
        item = a.item
        if item.source_id:
            truth, key = bool(is_lens.get(item.source.catalogue_id, False)), f"s{item.source_id}"
        elif item.known_id:
            truth, key = item.known.is_lens, f"k{item.known_id}"
        else:
            truth, key = True, f"i{item.injection.stamp_index}"
        # One draw per (grader, item): both campaigns see the same grade.
        draw = np.random.default_rng([seed, pk, zlib.crc32(key.encode())])
        grading.record_grade(a, int(draw.choice(3, p=confusion[pk][int(truth)])))


def report(label, campaign, is_lens):
    from core.stats import rank_auc
    from inspection.catalogues import services as catalogues
    from inspection.completeness.services import campaign_completeness
    from inspection.grading import services as grading

    cost = grading.retirement_cost(campaign)
    injected_lenses = campaign.items.filter(injection__isnull=False)
    c = campaign_completeness(campaign)["overall"]
    cat = catalogues.build(campaign)
    truth = np.array([bool(is_lens.get(s.catalogue_id, False)) for s in cat.sources])
    print(f"\n{label} (campaign {campaign.pk}, retire_after={campaign.retire_after})")
    print(
        f"  gradings saved: {cost.withdrawn} of {cost.assignments} assignments withdrawn "
        f"ungraded ({cost.withdrawn / cost.assignments:.1%}); {cost.retired} items retired"
    )
    print(
        f"  known lenses retired as 0: {cost.known_lenses_retired} of {cost.known_lenses}; "
        f"injected lenses retired: {injected_lenses.filter(retired_at__isnull=False).count()} "
        f"of {injected_lenses.count()}"
    )
    lo, hi = c.end_to_end_interval
    print(
        f"  completeness (injections): {c.injected} injected, {c.passed} passed the network "
        f"(P = {c.p_network:.3f}), inspectors kept {c.kept} of {c.decided} "
        f"(P = {c.p_inspectors:.3f}); end to end {c.end_to_end:.3f} [{lo:.3f}, {hi:.3f}]"
    )
    if truth.any() and not truth.all():
        print(
            f"  ranking AUC on {len(truth)} candidates ({truth.sum()} lenses): "
            f"total {rank_auc(cat.totals, truth):.4f}, Space Warps "
            f"{rank_auc(cat.posterior, truth):.4f}, Dawid-Skene {rank_auc(cat.p_ds, truth):.4f}"
        )
    return c


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lenses", type=int, default=40)
    parser.add_argument("--lrgs", type=int, default=160)
    parser.add_argument("--inject", type=int, default=60)
    parser.add_argument("--retire", type=int, default=2)
    parser.add_argument("--candidate-share", type=float, default=0.5)
    parser.add_argument("--known-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lensfinder-loop-") as tmp:
        tmp = Path(tmp)
        os.environ.update(
            DJANGO_SETTINGS_MODULE="lensfinder.settings",
            DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3",
            LENSFINDER_DATA_DIR=str(tmp),
            DEBUG="false",
            SECRET_KEY="bench-" + "x" * 50,
        )
        t0 = time.perf_counter()
        run, known, is_lens = setup(tmp, args)
        from inspection.completeness.services import build_injections
        from inspection.grading import adaptive
        from inspection.grading import services as grading

        graders = {
            name: grading.create_inspector(name, password="pw-123456789")[0] for name in GRADERS
        }
        n_cand = run.candidates().count()
        n_lens = sum(bool(is_lens.get(s.catalogue_id)) for s in run.survey.sources.all())
        print(
            f"Demo field x{args.lrgs / 40:g}: {run.n_sources} LRGs ({n_lens} lenses), "
            f"{n_cand} candidates at log-odds >= {run.threshold_logit:.2f}; graders: "
            f"{', '.join(GRADERS)}; set-up {time.perf_counter() - t0:.0f} s"
        )
        results = {}
        for label, k in (("No retirement", None), (f"Retirement after {args.retire}", args.retire)):
            campaign = grading.create_campaign(
                run, label, list(graders.values()), known_fraction=args.known_fraction,
                known_sets=[known], seed=args.seed, inject_lenses=args.inject,
            )  # fmt: skip
            # The same injections in both (the injector's seed is seed + campaign id).
            build_injections(campaign, seed=args.seed - campaign.pk)
            campaign.refresh_from_db()
            grading.set_policy(campaign, adaptive.Policy(retire_after=k))
            grading.set_status(campaign, "open")
            grade_campaign(campaign, graders, is_lens, args.seed)
            results[k] = report(label, campaign, is_lens)
        print(f"\nTotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
