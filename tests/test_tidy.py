"""The tree stays tidy: ruff format and lint, and no model change without a migration."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

RUFF = Path(sys.executable).with_name("ruff")


def run(*argv):
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)


def test_it_is_formatted_with_ruff():
    done = run(str(RUFF), "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_it_passes_ruff_lint():
    done = run(str(RUFF), "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_it_has_a_migration_for_every_model_change():
    done = run(sys.executable, "manage.py", "makemigrations", "--check", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
