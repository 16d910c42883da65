"""The consensus catalogue at He et al. 2020's scale: 8,143 candidates graded
by 6 inspectors (48,858 grades), cross-matched with lenscat (32,766 lenses)
and an LRG sample of 28,815.

Times, on a throw-away database (SQLite, or PostgreSQL with --pg): building
the catalogue (grades, scores, posterior), agreement, the prior-list report,
a FITS export, the 100-stamp gallery and the whole Catalogues page as an
admin gets it; next to a reference measured in the same run: reading the
campaign's grades once with a plain ``values_list`` (the least any
catalogue must do).

    .venv/bin/python bench/catalogue.py [--candidates 8143] [--inspectors 6]
        [--lrgs 28815] [--pg postgres://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "lensfinder_bench_catalogue"


def timed(label, fn, reference=None, repeats=3):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    ratio = f"  ({best / reference:5.1f}x the reference)" if reference else ""
    print(f"  {label:44s} {best * 1000:8.1f} ms{ratio}")
    return out, best


def setup(tmp, n_lrgs, n_candidates, n_inspectors):
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from classifier.models import Network
    from classifier.services import register_shipped
    from core.logodds import logit
    from inspection.grading import services as grading
    from inspection.grading.services import create_inspector
    from inspection.ingest.services import ingest_survey
    from inspection.models import Assignment, CampaignItem, Grade, Score, ScoringRun
    from simulations.stampset import StampSetWriter

    register_shipped()
    rng = np.random.default_rng(0)
    path = tmp / "stamps.fits"
    with StampSetWriter(path, n_lrgs, ["g", "r", "i"], (21, 21), 0.2, survey="bench") as w:
        for start in range(0, n_lrgs, 5000):
            n = min(5000, n_lrgs - start)
            meta = {
                "id": [f"s{i}" for i in range(start, start + n)],
                "label": np.full(n, -1),
                "ra": rng.uniform(130, 140, n),
                "dec": rng.uniform(-2, 2, n),
            }
            w.write(rng.normal(0, 10, (n, 3, 21, 21)).astype(np.float32), meta)
    survey = ingest_survey("bench", stamps=path)
    network = Network.objects.get(name="kids-r-cnn")
    run = ScoringRun.objects.create(
        survey=survey,
        network=network,
        threshold=0.5,
        threshold_logit=0.0,
        chunk_size=2000,
        n_sources=n_lrgs,
    )
    # Scores as a run would leave them (the scoring itself is bench/scoring.py's).
    sources = list(survey.sources.order_by("stamp_index").values_list("pk", flat=True))
    scores = rng.uniform(0, 0.5, n_lrgs)
    scores[rng.choice(n_lrgs, n_candidates, replace=False)] = rng.uniform(0.5, 1, n_candidates)
    rows = (
        Score(run=run, source_id=s, score=v, logit=logit(v))
        for s, v in zip(sources, scores, strict=True)
    )
    Score.objects.bulk_create(rows, batch_size=5000)
    users = [
        create_inspector(f"bench{k}", password="bench-password-1")[0] for k in range(n_inspectors)
    ]
    campaign = grading.create_campaign(run, "bench", users, known_fraction=0)
    # Grades written in bulk (record_grade's cost is bench/grading.py's).
    assignments = list(Assignment.objects.filter(campaign=campaign).values_list("pk", flat=True))
    grades = rng.choice([0, 1, 2], len(assignments), p=[0.8, 0.15, 0.05])
    Grade.objects.bulk_create(
        (Grade(assignment_id=a, grade=int(g)) for a, g in zip(assignments, grades, strict=True)),
        batch_size=5000,
    )
    assert CampaignItem.objects.filter(campaign=campaign).count() == n_candidates
    return campaign, users


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=8143)
    parser.add_argument("--inspectors", type=int, default=6)
    parser.add_argument("--lrgs", type=int, default=28815)
    parser.add_argument("--pg", help="PostgreSQL admin URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lf-bench-catalogue-") as tmp:
        tmp = Path(tmp)
        url = f"sqlite:///{tmp}/bench.sqlite3"
        if args.pg:
            import psycopg

            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB}")
                conn.execute(f"CREATE DATABASE {DB}")
            url = args.pg.rsplit("/", 1)[0] + f"/{DB}"
        os.environ.update(
            DJANGO_SETTINGS_MODULE="lensfinder.settings",
            DATABASE_URL=url,
            LENSFINDER_DATA_DIR=str(tmp),
            DEBUG="false",
            SECRET_KEY="bench-" + "x" * 50,
            ALLOWED_HOSTS="testserver",
        )
        t0 = time.perf_counter()
        campaign, _ = setup(tmp, args.lrgs, args.candidates, args.inspectors)
        from django.contrib.auth import get_user_model
        from django.test import Client
        from django.urls import reverse

        from inspection.catalogues import services as catalogues
        from inspection.models import Grade

        lenscat = catalogues.add_lenscat()
        print(
            f"{args.candidates:,} candidates x {args.inspectors} inspectors "
            f"({args.candidates * args.inspectors:,} grades), {args.lrgs:,} LRGs, lenscat "
            f"({lenscat.lenses.count():,} lenses); {'PostgreSQL' if args.pg else 'SQLite'}; "
            f"set up in {time.perf_counter() - t0:.0f} s"
        )

        def reference():
            return list(
                Grade.objects.filter(assignment__campaign=campaign).values_list(
                    "assignment__item__source_id", "assignment__inspector_id", "grade"
                )
            )

        _, ref = timed("reference: read the grades once", reference)
        cat, _ = timed("build (grades, scores, posterior)", lambda: catalogues.build(campaign), ref)
        timed("agreement (kappa, alpha, bias, pairwise)", lambda: catalogues.agreement(cat), ref)
        report, _ = timed(
            "prior report with lenscat (2 arcsec)",
            lambda: catalogues.prior_report(cat, [lenscat]),
            ref,
        )
        out = tmp / "high.fits"
        timed(
            "FITS export of every candidate",
            lambda: catalogues.export_catalogue(cat, out, "candidates", report),
            ref,
        )
        gallery = lambda: catalogues.gallery_png(cat, "candidates", report, limit=100)  # noqa: E731
        timed("gallery of the first 100 candidates", gallery, ref)
        admin = get_user_model().objects.create_user(
            "admin", password="x", is_staff=True, is_superuser=True
        )
        client = Client()
        client.force_login(admin)
        url = reverse("inspection:catalogue", args=[campaign.pk])
        response, _ = timed(
            "the Catalogues page (all of the above + plots)", lambda: client.get(url), ref
        )
        assert response.status_code == 200, response.status_code
        if os.environ.get("PROFILE_PAGE"):
            import cProfile
            import pstats

            cProfile.runctx("client.get(url)", globals(), locals(), str(tmp / "prof"))
            pstats.Stats(str(tmp / "prof")).sort_stats("cumulative").print_stats(25)
        print(
            f"  page size {len(response.content) / 1e6:.1f} MB; {int(cat.high.sum()):,} high "
            f"probability, {report.n_new:,} new"
        )
        if args.pg:
            from django.db import connections

            connections.close_all()
            import psycopg

            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB}")


if __name__ == "__main__":
    main()
