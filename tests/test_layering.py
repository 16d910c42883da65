"""The direction of dependencies (docs/design.md): pure modules import no Django,
and the web process never imports torch."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

PURE = [
    "simulations.lensing", "simulations.light", "simulations.observe", "simulations.cosmology",
    "simulations.populations", "simulations.render", "simulations.stampset",
    "simulations.surveys", "simulations.generate", "simulations.semireal", "simulations.field",
    "simulations.display", "classifier.networks", "classifier.preprocessing",
    "classifier.augment", "classifier.metrics", "classifier.training", "classifier.inference",
    "classifier.figures", "classifier.report", "classifier.calibration", "core.sky",
    "core.files", "core.tables", "core.stats", "core.imaging", "core.logodds", "core.liveness",
    "simulations.audit", "core.noise", "core.display", "core.plots",
    "inspection.catalogue", "inspection.cuts", "inspection.cutouts", "inspection.consensus",
    "inspection.priors", "inspection.dashboards", "inspection.gallery", "inspection.grade_body",
]  # fmt: skip


def python(code):
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_django(module):
    assert python(f"import sys, {module}; print('django' in sys.modules)") == "False"


def test_the_web_process_does_not_import_torch():
    code = (
        "import os, sys; os.environ['DJANGO_SETTINGS_MODULE'] = 'lensfinder.settings'\n"
        "import django; django.setup()\n"
        "from django.urls import get_resolver; get_resolver().url_patterns\n"
        "from django.test import Client; Client().get('/accounts/login/')\n"
        "print('torch' in sys.modules)"
    )
    assert python(code) == "False"
