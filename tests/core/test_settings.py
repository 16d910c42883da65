"""Settings as a fresh process reads them from its environment."""

import os
import stat
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# DJANGO_ALLOW_ASYNC_UNSAFE: conftest sets it for Playwright; deploy checks refuse it.
OUR_VARIABLES = {"SECRET_KEY", "DATABASE_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
HTTPS_SWITCHES = {
    "LENSFINDER_SECURE_COOKIES": "true",
    "LENSFINDER_SSL_REDIRECT": "true",
    "LENSFINDER_HSTS_SECONDS": "31536000",
    "LENSFINDER_HSTS_INCLUDE_SUBDOMAINS": "true",
    "LENSFINDER_HSTS_PRELOAD": "true",
    "LENSFINDER_BEHIND_PROXY": "true",
}


def manage(*args, **env):
    """manage.py in a fresh process, with only the settings variables given
    (and the caller's data dir)."""
    full = {
        k: v
        for k, v in os.environ.items()
        if k not in OUR_VARIABLES and not k.startswith("LENSFINDER_")
    }
    if "LENSFINDER_DATA_DIR" in os.environ:
        full["LENSFINDER_DATA_DIR"] = os.environ["LENSFINDER_DATA_DIR"]
    full.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full, capture_output=True, text=True
    )


def django_check(**env):
    return manage("check", **env)


def setting(name, **env):
    done = manage(
        "shell", "-v", "0", "-c", f"from django.conf import settings; print(settings.{name})", **env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_it_starts_with_debug_off_unless_asked(tmp_path):
    assert setting("DEBUG", LENSFINDER_DATA_DIR=str(tmp_path)) == "False"
    # A bare DEBUG, which other tools' instructions set, does not turn it on.
    assert setting("DEBUG", LENSFINDER_DATA_DIR=str(tmp_path), DEBUG="true") == "False"
    assert setting("DEBUG", LENSFINDER_DATA_DIR=str(tmp_path), LENSFINDER_DEBUG="1") == "True"


def test_it_generates_the_secret_key_once_into_the_data_dir(tmp_path):
    key = setting("SECRET_KEY", LENSFINDER_DATA_DIR=str(tmp_path))
    path = tmp_path / "secret_key"
    assert len(key) >= 50 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert setting("SECRET_KEY", LENSFINDER_DATA_DIR=str(tmp_path)) == key
    assert setting("SECRET_KEY", LENSFINDER_DATA_DIR=str(tmp_path), SECRET_KEY="y" * 50) == "y" * 50

    path.chmod(0o644)
    done = django_check(LENSFINDER_DATA_DIR=str(tmp_path))
    assert done.returncode != 0 and f"run chmod 600 {path}" in done.stderr


def test_it_starts_with_debug_off_and_a_secret_key():
    done = django_check(SECRET_KEY="x" * 50, ALLOWED_HOSTS="lens.example")
    assert done.returncode == 0, done.stderr


def test_check_deploy_is_clean_once_the_https_switches_are_set(tmp_path):
    plain = manage("check", "--deploy", LENSFINDER_DATA_DIR=str(tmp_path))
    for warning in ("W004", "W008", "W012", "W016"):
        assert f"security.{warning}" in plain.stderr
    done = manage("check", "--deploy", "--fail-level", "WARNING", LENSFINDER_DATA_DIR=str(tmp_path),
                  **HTTPS_SWITCHES)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout
    header = setting("SECURE_PROXY_SSL_HEADER", LENSFINDER_DATA_DIR=str(tmp_path), **HTTPS_SWITCHES)
    assert header == "('HTTP_X_FORWARDED_PROTO', 'https')"


@pytest.mark.parametrize(
    "path", ["js/grading.js", "css/lensfinder.css", "vendor/plotly/plotly.min.js"]
)
def test_it_serves_static_files_with_debug_off(client, settings, path):
    assert settings.DEBUG is False
    response = client.get(f"/static/{path}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"LENSFINDER_DEBUG": "perhaps"}, "LENSFINDER_DEBUG='perhaps' is not a boolean"),
        ({"LENSFINDER_MAX_UPLOAD_MB": "0"}, "LENSFINDER_MAX_UPLOAD_MB='0' is not a whole number"),
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
