"""Configuration has one reader in the library and one table in the README (issue 12).

``consentkit/settings.py`` is the only library module that reads the environment, so
a setting's name, default and parsing live in one place; the README's configuration
table is what an operator reads, so it names every variable the code reads and no
variable it does not.
"""

from __future__ import annotations

import re
from pathlib import Path

from backend import config

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(
    r"\bCONSENTKIT_[A-Z][A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])"
)  # not a prefix like CONSENTKIT_SMTP_*
ENVIRONMENT_READ = re.compile(
    r"\bos\.(environ|getenv|getenvb)\b|\bfrom\s+os\s+import\b[^\n]*\b(environ|getenv)"
)


def _sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _names_in_code(*folders: str) -> set[str]:
    return {name for path in _sources(*folders) for name in NAME.findall(path.read_text("utf-8"))}


def _readme_rows() -> set[str]:
    """Return the names in the first column of the README's configuration table."""
    section = ROOT.joinpath("README.md").read_text("utf-8").split("\n## Configuration", 1)[1]
    section = section.split("\n## ", 1)[0]
    return {
        name
        for line in section.splitlines()
        if line.startswith("|")
        for name in NAME.findall(line.split("|")[1])
    }


def test_configuration_only_settings_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for path in _sources("consentkit")
        if path != ROOT / "consentkit" / "settings.py"
        and ENVIRONMENT_READ.search(path.read_text("utf-8"))
    ]

    assert readers == []


def test_configuration_every_variable_read_has_a_readme_row() -> None:
    # backend/config.py reads PREFIX + each key of DEFAULTS without spelling the name.
    read = _names_in_code("consentkit", "backend") | {
        config.PREFIX + key for key in config.DEFAULTS
    }

    assert sorted(read - _readme_rows()) == []


def test_configuration_readme_has_no_row_for_a_variable_nothing_reads() -> None:
    read = _names_in_code("consentkit", "backend", "tests") | {
        config.PREFIX + key for key in config.DEFAULTS
    }

    assert sorted(_readme_rows() - read) == []
