"""The direction of dependencies (docs/design.md): pure modules import no Django,
and the web process never imports torch. In the inspection app's stage
packages the pure modules are found by the rule: every module of a stage but
its ``services.py``, the one module of the stage that touches the ORM."""

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# The inspection app's stage packages are the sub-packages of ``inspection``
# other than these; in a stage, only ``services.py`` touches the ORM.
NOT_STAGES = {"views", "management", "migrations"}
STAGES = sorted(
    p.parent.name
    for p in (ROOT / "inspection").glob("*/__init__.py")
    if p.parent.name not in NOT_STAGES
)


def _stage_module(path):
    """``inspection/ingest/sources.py`` -> ``inspection.ingest.sources`` (a
    package's ``__init__.py`` -> the package)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# Every module of a stage package but its services.py: found by the rule.
STAGE_PURE = [
    _stage_module(path)
    for stage in STAGES
    for path in sorted((ROOT / "inspection" / stage).glob("*.py"))
    if path.name != "services.py"
]

PURE_ELSEWHERE = [
    "simulations.lensing", "simulations.light", "simulations.observe", "simulations.cosmology",
    "simulations.populations", "simulations.render", "simulations.stampset",
    "simulations.surveys", "simulations.generate", "simulations.semireal", "simulations.field",
    "simulations.display", "classifier.networks", "classifier.preprocessing",
    "classifier.augment", "classifier.metrics", "classifier.training", "classifier.inference",
    "classifier.figures", "classifier.report", "classifier.calibration", "core.sky",
    "core.files", "core.tables", "core.stats", "core.imaging", "core.logodds", "core.liveness",
    "simulations.audit", "core.noise", "core.display", "core.plots", "classifier.experiments",
    "classifier.defaults",
]  # fmt: skip

PURE = PURE_ELSEWHERE + STAGE_PURE


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


def test_the_stage_packages_are_found():
    """The rule finds the seven stages and their pure modules (a glob that
    found nothing would pass every test below)."""
    assert STAGES == [
        "adaptation",
        "catalogues",
        "completeness",
        "discussion",
        "grading",
        "ingest",
        "scoring",
    ]
    assert {
        "inspection.ingest.sources",
        "inspection.grading.grade_body",
        "inspection.completeness.completeness",
    } <= set(STAGE_PURE)
    assert not [m for m in STAGE_PURE if m.endswith(".services")]


# An import of Django, of the models, or of a module that touches the ORM.
ORM_IMPORT = re.compile(
    r"^\s*(?:from|import)\s+(?:django|rq|django_rq|core\.(?:models|queue|jobs|progress)"
    r"|classifier\.(?:models|services|jobs)|inspection\.(?:models|jobs|forms|urls|views)"
    r"|inspection\.\w+\.services|inspection\.\w+ import services)\b",
    re.M,
)


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_touches_the_orm_only_in_its_services_module(stage):
    """At most one module of a stage, ``services.py``, imports Django or the
    models; no other module names them even in a function body."""
    orm = sorted(
        path.name
        for path in (ROOT / "inspection" / stage).glob("*.py")
        if ORM_IMPORT.search(path.read_text())
    )
    assert orm in ([], ["services.py"]), f"inspection/{stage}: ORM imports in {orm}"
