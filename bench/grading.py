"""Grading under load: 20 simulated inspectors grade at once against gunicorn
on PostgreSQL; prints grades/s and the p50/p95 latency of the grade request
and of fetching the next candidate's two (pre-rendered) images, next to a
reference measured in the same run: the latency of the login page, the
cheapest page the server has.

    .venv/bin/python bench/grading.py [--inspectors 20] [--items 150] [--workers 4]
        [--think-ms 700] [--pg postgres://postgres@127.0.0.1:5432/postgres]

With --think-ms 0 every inspector fires the next request as soon as the last
returns: that measures the server's saturation throughput, and latency is
then mostly queueing.
"""

import argparse
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "lensfinder_bench_grading"


def fresh_database(admin_url):
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")
    return admin_url.rsplit("/", 1)[0] + f"/{DB}"


def setup(tmp, n_items, n_inspectors):
    import django

    django.setup()
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from classifier.models import Network
    from inspection.grading import services as grading
    from inspection.grading.services import create_inspector
    from inspection.ingest.services import ingest_survey
    from inspection.scoring import services as runs
    from simulations.stampset import StampSetWriter

    rng = np.random.default_rng(0)
    path = tmp / "stamps.fits"
    with StampSetWriter(path, n_items, ["g", "r", "i"], (97, 97), 0.2, survey="bench") as w:
        meta = {
            "id": [f"s{i}" for i in range(n_items)],
            "label": np.full(n_items, -1),
            "ra": rng.uniform(10, 11, n_items),
            "dec": rng.uniform(-1, 1, n_items),
        }
        w.write(rng.normal(0, 10, (n_items, 3, 97, 97)).astype(np.float32), meta)
    survey = ingest_survey("bench", stamps=path)
    # Noise stamps narrower than the network's field: the fit warning is
    # expected here and says nothing about grading speed.
    run = runs.launch_run(
        survey,
        Network.objects.get(name="kids-r-cnn"),
        threshold=0.0,
        enqueue=False,
        accept_warnings=True,
    )
    runs.run_in_process(run)
    users = [
        create_inspector(f"bench{k}", password=secrets.token_hex(8))[0] for k in range(n_inspectors)
    ]
    for user in users:
        grading.skill_of(user)
    from inspection.models import Skill

    Skill.objects.update(passed_at=django.utils.timezone.now())
    campaign = grading.create_campaign(run, "bench", users, known_fraction=0)
    grading.set_status(campaign, "open")
    t0 = time.perf_counter()
    grading.prerender_campaign(campaign)
    print(f"pre-rendered {2 * campaign.items.count()} previews in {time.perf_counter() - t0:.1f} s")
    sessions = []
    for user in users:
        s = SessionStore()
        s["_auth_user_id"] = str(user.pk)
        s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        s["_auth_user_hash"] = user.get_session_auth_hash()
        s.create()
        sessions.append(s.session_key)
    return campaign.pk, sessions


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inspector(threading.Thread):
    def __init__(self, port, campaign, session, barrier, think_s):
        super().__init__()
        self.think_s = think_s
        self.port, self.campaign, self.barrier = port, campaign, barrier
        self.csrf = secrets.token_hex(16)  # 32 chars: Django accepts an unmasked secret
        self.headers = {
            "Cookie": f"sessionid={session}; csrftoken={self.csrf}",
            "X-CSRFToken": self.csrf,
            "Content-Type": "application/json",
            "Host": "127.0.0.1",
        }
        self.grade_ms, self.images_ms, self.login_ms, self.errors = [], [], [], 0

    def request(self, conn, method, url, body=None):
        t0 = time.perf_counter()
        conn.request(method, url, body=body, headers=self.headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            self.errors += 1
        return data, (time.perf_counter() - t0) * 1000

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        items = json.loads(self.request(conn, "GET", f"/grading/{self.campaign}/items.json")[0])
        items = items["items"]
        self.barrier.wait()
        for k, item in enumerate(items):
            body = json.dumps({"id": item["id"], "grade": k % 3, "stretch": "asinh", "zoom": "1"})
            self.grade_ms.append(
                self.request(conn, "POST", f"/grading/{self.campaign}/grade/", body)[1]
            )
            if k + 1 < len(items):
                nxt = items[k + 1]["images"]
                self.images_ms.append(sum(self.request(conn, "GET", u)[1] for u in nxt.values()))
            if k % 10 == 0:
                self.login_ms.append(self.request(conn, "GET", "/accounts/login/")[1])
            if self.think_s:
                time.sleep(self.think_s * (0.5 + (k % 7) / 6))  # looking at the next stamps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inspectors", type=int, default=20)
    parser.add_argument("--items", type=int, default=150)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=700,
        help="mean time an inspector looks before grading (0: as fast as the server)",
    )
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lf-bench-grading-") as tmp:
        tmp = Path(tmp)
        env = {
            **os.environ,
            "DATABASE_URL": fresh_database(args.pg),
            "LENSFINDER_DATA_DIR": str(tmp),
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_hex(32),
            "ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SETTINGS_MODULE": "lensfinder.settings",
        }
        os.environ.update(env)
        campaign, sessions = setup(tmp, args.items, args.inspectors)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "lensfinder.wsgi",
                "-w",
                str(args.workers),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            barrier = threading.Barrier(args.inspectors)
            threads = [
                Inspector(port, campaign, s, barrier, args.think_ms / 1000) for s in sessions
            ]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(10)
        grade = np.concatenate([t.grade_ms for t in threads])
        images = np.concatenate([t.images_ms for t in threads])
        login = np.concatenate([t.login_ms for t in threads])
        errors = sum(t.errors for t in threads)
        from inspection.models import Grade

        stored = Grade.objects.filter(assignment__campaign_id=campaign).count()
        print(
            f"{args.inspectors} inspectors x {args.items} candidates, gunicorn -w "
            f"{args.workers}, PostgreSQL, think time {args.think_ms:.0f} ms: "
            f"{len(grade) / seconds:,.0f} grades/s; {stored} grades stored of {len(grade)} "
            f"sent, {errors} errors"
        )
        for label, ms in (
            ("grade (POST, upsert + history)", grade),
            ("next candidate's 2 images", images),
            ("login page (reference)", login),
        ):
            print(
                f"  {label:34s} p50 {np.percentile(ms, 50):6.1f} ms   "
                f"p95 {np.percentile(ms, 95):6.1f} ms"
            )
        print("  target: grade p95 < 50 ms")


if __name__ == "__main__":
    main()
