"""Job-queue overhead: what the Job record costs per job.

Runs N trivial jobs through a real Redis and a real SimpleWorker twice:
once as bare rq jobs (the reference, measured in the same run) and once as
LensFinder tracked jobs (a Job row created, marked running, progressed and
finished). Prints jobs/s and milliseconds per job for both.

    .venv/bin/python bench/jobs.py [--jobs 500] [--redis-url redis://127.0.0.1:6379/14]

Uses a throw-away SQLite database and flushes the given Redis database.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="lf-bench-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="lensfinder.settings",
        DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3",
        REDIS_URL=args.redis_url,
        LENSFINDER_DATA_DIR=tmp,
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    import django_rq
    from rq.worker import SimpleWorker

    from core import jobs, queue

    q = django_rq.get_queue("default")
    q.connection.flushdb()

    def drain():
        SimpleWorker([q], connection=q.connection).work(burst=True, logging_level="WARNING")

    def timed(label, enqueue_all):
        t0 = time.perf_counter()
        enqueue_all()
        t1 = time.perf_counter()
        drain()
        t2 = time.perf_counter()
        per_job_ms = (t2 - t0) / args.jobs * 1e3
        enqueue_ms, run_ms = (t1 - t0) / args.jobs * 1e3, (t2 - t1) / args.jobs * 1e3
        print(
            f"{label:28s} {args.jobs / (t2 - t0):8.1f} jobs/s  {per_job_ms:7.2f} ms/job "
            f"(enqueue {enqueue_ms:.2f} ms, run {run_ms:.2f} ms)"
        )
        return per_job_ms

    # Reference: a built-in function, no database at all.
    ref = timed(
        "bare rq jobs (reference)", lambda: [q.enqueue("builtins.abs", i) for i in range(args.jobs)]
    )
    tracked = timed(
        "tracked LensFinder jobs",
        lambda: [queue.launch(jobs.selftest, 1, 0, title="bench") for _ in range(args.jobs)],
    )
    print(f"tracking overhead: {tracked - ref:.2f} ms/job ({tracked / ref:.1f}x the reference)")
    q.connection.flushdb()


if __name__ == "__main__":
    main()
