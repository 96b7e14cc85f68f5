"""A production install (`pip install .`, no extras) must be able to import every module of the
app: each third-party module that `benefits/` imports comes from a base dependency of
pyproject.toml or from something a base dependency requires. (The notices' HTTP channel once
imported `requests`, which only the test extra brought, and `make run` on a fresh clone failed.)"""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata

from tests.conftest import ROOT


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _base_closure() -> set[str]:
    """The base dependencies and everything they require (extras left out, and anything not
    installed here, such as a Windows-only requirement)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo, seen = [_name(r) for r in project["dependencies"]], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requirements:
            if ";" in requirement and "extra" in requirement.split(";", 1)[1]:
                continue
            todo.append(_name(requirement))
    return seen


def _imported_top_levels() -> set[str]:
    found = set()
    for path in (ROOT / "benefits").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"benefits", "config", "devservers", "__future__"}


def test_every_module_the_app_imports_comes_from_a_base_dependency():
    providers = metadata.packages_distributions()
    closure = _base_closure()
    missing = {module: sorted(providers.get(module, ["?"])) for module in _imported_top_levels()
               if not any(_name(dist) in closure for dist in providers.get(module, []))}
    assert not missing, f"imported by benefits/ but not brought by a base dependency: {missing}"
