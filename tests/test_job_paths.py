"""Every dotted path of a job function the code has ever written to a ``Job``
row or an rq queue still leads to a job: rows and queued jobs outlive a move
of the code (``inspection/jobs.py`` holds the entry points; an old path that
moved is kept importable)."""

import re

import pytest
from rq.utils import import_attribute

from tests.conftest import ROOT

# Paths written by earlier versions and no longer by the code.
FORMER = ["inspection.adapt.adapt_job"]

PATH = re.compile(r"[\"']((?:inspection|classifier|core)(?:\.\w+)*\.jobs\.\w+)[\"']")


def _written_by_the_code():
    found = set()
    for folder in ("core", "classifier", "inspection", "simulations", "scripts", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            found.update(PATH.findall(path.read_text()))
    return sorted(found)


WRITTEN = _written_by_the_code()


def test_the_code_writes_the_paths_looked_for():
    assert {"inspection.jobs.score_chunk", "inspection.jobs.adapt_network"} <= set(WRITTEN)


@pytest.mark.parametrize("path", WRITTEN + FORMER)
def test_a_job_path_resolves_to_a_job(path):
    func = import_attribute(path)
    assert callable(func)
    assert hasattr(func, "__wrapped__"), f"{path} is not a tracked job function"
