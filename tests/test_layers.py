"""The house layering, read from the import statements of every module under src/phenbench.

core/ imports no method and no application layer; a method imports no other method and neither
`apply` nor `report`; `imaging` (shared by all of them) imports nothing of phenbench but core.errors.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "phenbench"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth of the file (lazy imports in functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def phenbench_imports(folder: str) -> dict[str, set[str]]:
    return {
        str(path.relative_to(PACKAGE)): {name for name in imported_modules(path) if name.startswith("phenbench.")}
        for path in sorted((PACKAGE / folder).rglob("*.py"))
    }


def offending(folder: str, forbidden) -> list[str]:
    return [f"{file} imports {name}" for file, names in phenbench_imports(folder).items()
            for name in sorted(names) if forbidden(file, name)]


def test_the_folders_exist() -> None:
    for folder in ("core", "translators", "imaging", "apply", "report"):
        assert phenbench_imports(folder), folder  # a renamed folder would make the checks below vacuous


def test_core_imports_no_method_and_no_application_layer() -> None:
    layers = ("phenbench.translators", "phenbench.apply", "phenbench.report", "phenbench.metrics.")
    assert offending("core", lambda _, name: name.startswith(layers)) == []


def test_methods_import_neither_other_methods_nor_apply_nor_report() -> None:
    def forbidden(file: str, name: str) -> bool:
        parts = Path(file).parts  # translators/<method>/...
        if name.startswith(("phenbench.apply", "phenbench.report")):
            return True
        if name.startswith("phenbench.translators.") and len(parts) > 2:
            return name.split(".")[2] != parts[1]
        return False

    assert offending("translators", forbidden) == []


def test_imaging_sits_below_everything() -> None:
    assert offending("imaging", lambda _, name: not name.startswith(("phenbench.imaging", "phenbench.core.errors"))) == []


@pytest.mark.parametrize("module", ["translators/phenexplain/explain.py", "core/runner.py"])
def test_explain_and_the_runner_do_not_reach_into_apply(module: str) -> None:
    assert not {name for name in imported_modules(PACKAGE / module) if name.startswith("phenbench.apply")}
