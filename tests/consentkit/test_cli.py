"""The `consentkit` command reads well and says how to fix a broken machine."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Sequence

import pytest
from click.testing import CliRunner

from consentkit.cli import main
from tests.conftest import REPO_ROOT

doctor_module = importlib.import_module("consentkit.cli.doctor")


def test_cli_help_lists_commands_with_summaries() -> None:
    result = CliRunner().invoke(main, ["--help"])

    assert result.exit_code == 0
    assert "db" in result.output
    assert "doctor" in result.output
    assert "CONSENTKIT_MONGODB_URI" in result.output


def test_doctor_prints_apt_line_when_fonts_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor_module.shutil, "which", lambda _name: None)

    result = CliRunner().invoke(main, ["doctor"])

    assert result.exit_code == 1
    assert "apt-get install -y" in result.output
    assert "fonts-dejavu-core" in result.output


def test_doctor_fails_when_harfbuzz_subset_is_missing_even_after_weasyprint_was_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import weasyprint  # noqa: F401 - as `make test` or any command would have done already

    real = doctor_module.library_loads
    asked: list[str] = []

    def without_subset(sonames: Sequence[str]) -> bool:
        asked.extend(sonames)
        return "libharfbuzz-subset.so.0" not in sonames and real(sonames)

    monkeypatch.setattr(doctor_module, "library_loads", without_subset)

    result = CliRunner().invoke(main, ["doctor"])

    assert result.exit_code == 1
    assert "HarfBuzz-Subset (libharfbuzz-subset.so.0)" in result.output
    assert "sudo apt-get install -y libharfbuzz-subset0" in result.output
    assert "libpango-1.0.so.0" in asked  # every library is looked at, not just the one


def test_doctor_lists_every_missing_package_on_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(doctor_module, "library_loads", lambda _sonames: False)
    monkeypatch.setattr(doctor_module.shutil, "which", lambda _name: None)

    result = CliRunner().invoke(main, ["doctor"])

    assert result.exit_code == 1
    [line] = [row for row in result.output.splitlines() if "apt-get install" in row]
    wanted = {lib.package for lib in doctor_module.LIBRARIES} | {"fontconfig", "fonts-dejavu-core"}
    assert set(line.split("install -y ")[1].split()) == wanted


def test_the_cli_does_not_import_weasyprint_when_it_loads() -> None:
    code = "import sys, consentkit.cli; sys.exit('weasyprint' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO_ROOT)
    assert done.returncode == 0


def test_doctor_passes_on_a_prepared_machine() -> None:
    result = CliRunner().invoke(main, ["doctor"])

    assert result.exit_code == 0, result.output
