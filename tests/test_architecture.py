"""Each rule of consentkit has one owner that others reach by a public name (issue 12).

A private name (``_x``) is an owner's detail: when another module imports it, the rule
it implements has two homes and a change to one breaks the other unseen. The import
cycles and layers are checked by import-linter (``[tool.importlinter]`` in pyproject).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _private_imports(path: Path) -> list[str]:
    """Return ``module.name`` for each private name this file takes from another module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()  # local names bound to a consentkit module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("consentkit"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{node.module}.{alias.name}")
                if _is_module(f"{node.module}.{alias.name}"):
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(
                a.asname or a.name for a in node.names if a.name.startswith("consentkit")
            )
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_consentkit_imports_no_private_name_from_another_module() -> None:
    crossing = {
        str(path.relative_to(ROOT)): names
        for path in sorted((ROOT / "consentkit").rglob("*.py"))
        if (names := _private_imports(path))
    }

    assert crossing == {}


def _test_module_imports(path: Path) -> list[str]:
    """Return each ``test_*`` module this file imports from."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
            imported.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.extend(alias.name for alias in node.names)
    return sorted(
        {name for name in imported if name.split(".")[-1].startswith("test_") and _is_module(name)}
    )


def test_no_test_module_imports_from_another_test_module() -> None:
    # A helper kept in a test module is a dependency nobody sees: moving or splitting that
    # module breaks its importers, and a fixture imported by name needs a noqa to survive the
    # linter. Fixtures go to conftest.py, plain helpers to *_helpers.py.
    importing = {
        str(path.relative_to(ROOT)): names
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if (names := _test_module_imports(path))
    }

    assert importing == {}
