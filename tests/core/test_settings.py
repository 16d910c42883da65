"""Settings as a fresh process reads them from its environment."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def django_check(**env):
    full = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL"}}
    full.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=full, capture_output=True, text=True
    )


def test_it_requires_a_secret_key_when_debug_is_off():
    done = django_check(DEBUG="false")
    assert done.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is required when DEBUG is off" in done.stderr


def test_it_starts_with_debug_off_and_a_secret_key():
    done = django_check(DEBUG="false", SECRET_KEY="x" * 50, ALLOWED_HOSTS="lens.example")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DEBUG": "perhaps"}, "DEBUG='perhaps' is not a boolean"),
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "unsupported scheme 'mysql'"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL='localhost:6379'"),
        ({"DB_CONN_MAX_AGE": "forever"}, "DB_CONN_MAX_AGE='forever' is not a whole number"),
    ],
)
def test_it_fails_loudly_on_malformed_settings(env, message):
    done = django_check(**env)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and message in done.stderr


def test_it_creates_the_data_dir_and_explains_when_it_cannot(tmp_path):
    data_dir = tmp_path / "fresh" / "var"
    assert django_check(LENSFINDER_DATA_DIR=str(data_dir)).returncode == 0
    assert data_dir.is_dir()

    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    done = django_check(LENSFINDER_DATA_DIR=str(blocker / "var"))
    assert done.returncode != 0
    assert "cannot be created" in done.stderr and "point it at a writable directory" in done.stderr
