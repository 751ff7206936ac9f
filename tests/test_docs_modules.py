"""Every rule module is named in docs/architecture.md, so a newcomer finds a rule by its module.

The page lists each module of ``consentkit/policy`` and ``consentkit/services`` and each
top-level module of ``consentkit`` with the rule it owns. A module added without a row, or
a row left behind by a module that was removed or renamed, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
#: A table row's first cell: | `services/forms.py` | ...
ROW = re.compile(r"^\|\s*`([a-z0-9_/]+\.py)`\s*\|", re.MULTILINE)
#: Modules that hold no rule: package markers and the ``python -m`` entry point.
NO_RULE = {"__init__.py", "__main__.py"}


def _modules() -> set[str]:
    package = ROOT / "consentkit"
    found = {p.name for p in package.glob("*.py")}
    for folder in ("policy", "services"):
        found |= {f"{folder}/{p.name}" for p in (package / folder).glob("*.py")}
    return {name for name in found if Path(name).name not in NO_RULE}


def test_architecture_page_names_every_policy_and_service_module() -> None:
    named = set(ROW.findall(PAGE.read_text(encoding="utf-8")))

    assert sorted(_modules() - named) == []


def test_architecture_page_names_no_module_that_does_not_exist() -> None:
    named = set(ROW.findall(PAGE.read_text(encoding="utf-8")))

    assert sorted(named - _modules()) == []


def test_architecture_page_gives_each_module_one_row() -> None:
    rows = ROW.findall(PAGE.read_text(encoding="utf-8"))

    assert sorted(name for name in set(rows) if rows.count(name) > 1) == []
