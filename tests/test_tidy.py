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


def test_plots_come_from_one_place():
    """plotly.js is named in one template partial, and figures get their HTML
    and look from core.plots alone (no second to_html or layout)."""
    tags = [p.relative_to(ROOT) for p in (ROOT / "templates").rglob("*.html")
            if "plotly.min.js" in p.read_text()]  # fmt: skip
    assert tags == [Path("templates/partials/plotly.html")]
    python = [p for d in ("inspection", "classifier", "core", "simulations")
              for p in (ROOT / d).rglob("*.py")]  # fmt: skip
    layouts = [p.relative_to(ROOT) for p in python if "LAYOUT = {" in p.read_text()]
    assert layouts == [Path("core/plots.py")]
    to_html = [p.relative_to(ROOT) for p in python if "include_plotlyjs=False" in p.read_text()]
    # The evaluation report is a standalone HTML file: it inlines plotly.js once.
    assert set(to_html) <= {Path("core/plots.py"), Path("classifier/report.py")}
