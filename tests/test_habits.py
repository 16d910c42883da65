"""Habits that hold: every public function of the pure modules and of the
services (the modules holding the ORM logic views and commands call) has type
hints, so a reader sees what goes in and what comes out."""

import functools
import importlib
import inspect
import tomllib

import pytest

from tests.conftest import ROOT
from tests.test_layering import NOT_STAGES, PURE, PURE_ELSEWHERE, STAGES

# Pure modules not yet annotated (none now): list one here only with the reason.
NOT_YET: set[str] = set()

SERVICES = [
    *(f"inspection.{stage}.services" for stage in STAGES),
    "inspection.jobs",
    "classifier.services",
    "classifier.fit",
    "classifier.jobs",
    "classifier.experiment_services",
    "classifier.experiment_runs",
    "core.queue",
    "core.claims",
    "core.uploads",
    "core.progress",
    "core.jobs",
    "core.installation",
    "core.roles",
]

MODULES = [m for m in PURE if m not in NOT_YET] + SERVICES


def _public_functions(module):
    """(qualified name, function) for each public function defined in
    ``module``: module-level, and public methods of its public classes."""
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(member, staticmethod | classmethod):
                    member = member.__func__
                elif isinstance(member, property):
                    member = member.fget
                elif isinstance(member, functools.cached_property):
                    member = member.func
                if inspect.isfunction(member):
                    yield f"{name}.{attr}", member


def _missing_hints(function):
    """What of ``function``'s signature is not annotated."""
    signature = inspect.signature(function)
    missing = []
    for parameter in signature.parameters.values():
        if parameter.name in ("self", "cls") or parameter.kind in (
            parameter.VAR_POSITIONAL,
            parameter.VAR_KEYWORD,
        ):
            continue
        if parameter.annotation is parameter.empty:
            missing.append(parameter.name)
    if signature.return_annotation is signature.empty:
        missing.append("return")
    return missing


@pytest.mark.parametrize("name", MODULES)
def test_public_functions_have_type_hints(name):
    module = importlib.import_module(name)
    bare = {
        qualified: missing
        for qualified, function in _public_functions(module)
        if (missing := _missing_hints(function))
    }
    assert not bare, f"{name}: public functions without type hints: {bare}"


def test_docstring_and_complexity_rules_cover_the_pure_modules():
    """ruff's D and C901 hold in exactly the pure modules: pyproject.toml
    ignores them in every file but those (one negated pattern: the pure
    modules outside the inspection app, and every module of its stage
    packages), then again in what of ``inspection/*/*.py`` is not pure (the
    stages' services.py, and the packages that are not stages)."""
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert {"D", "C901"} <= set(lint["select"])
    ignores = lint["per-file-ignores"]
    [pattern] = [k for k in ignores if k.startswith("!{")]
    assert set(ignores[pattern]) == {"D", "C901"}
    scoped = set(pattern.removeprefix("!{").removesuffix("}").split(","))
    assert scoped == {m.replace(".", "/") + ".py" for m in PURE_ELSEWHERE} | {"inspection/*/*.py"}
    not_pure = (
        "inspection/{" + ",".join(["*/services.py", *(f"{d}/*" for d in sorted(NOT_STAGES))]) + "}"
    )
    assert set(ignores[not_pure]) == {"D", "C901"}
