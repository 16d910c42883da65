"""`make run` installs requirements.txt (and lenscat) only, while the suite
runs with the test tools of requirements-dev.txt too: the application must
not lean on a package that only those bring in (scipy came in only through
lenstronomy once, and `make run` failed on a fresh machine)."""

import re
import subprocess
import sys
from importlib.metadata import distributions, packages_distributions

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

EXTRA = ["lenscat"]  # installed by the Makefile with --no-deps


def runtime_closure():
    """Canonical names of the distributions requirements.txt installs."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in distributions()}
    todo = [
        re.split(r"[=<>\[; ]", line.strip(), maxsplit=1)[0]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    ] + EXTRA
    seen = set()
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen or name not in installed:
            continue
        seen.add(name)
        if name == "lenscat":
            continue  # --no-deps
        for spec in installed[name].requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def dev_only_modules():
    """Top-level modules that only test tools install."""
    closure = runtime_closure()
    return sorted(
        module
        for module, dists in packages_distributions().items()
        if not module.startswith("_") and not any(canonicalize_name(d) in closure for d in dists)
    )


PROBE = """
import sys
# None in sys.modules: "import x" fails and find_spec("x") says absent, as on
# a machine where only requirements.txt was installed.
for name in sys.argv[1].split(","):
    sys.modules[name] = None

import os, tempfile
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lensfinder.settings")
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # every view module imports
from simulations.field import simulate_field
with tempfile.TemporaryDirectory() as tmp:
    simulate_field(tmp + "/f", seed=1, n_lenses=1, n_lrgs=2, n_galaxies=5, n_stars=3,
                   n_faint_red=2, size_px=400)
from inspection.catalogues import prior_lists
assert len(prior_lists.crossmatch([10.0], [0.0], [10.0001], [0.0], 2.0)[0]) == 1
assert len(prior_lists.read_lenscat()) > 30000
print("ok")
"""


def test_the_runtime_requirements_cover_what_make_run_runs():
    hidden = dev_only_modules()
    assert "lenstronomy" in hidden and "pytest" in hidden and "django" not in hidden
    done = subprocess.run([sys.executable, "-c", PROBE, ",".join(hidden)], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
