"""The `consentkit` command reads well and says how to fix a broken machine."""

from __future__ import annotations

import importlib

import pytest
from click.testing import CliRunner

from consentkit.cli import main

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


def test_doctor_passes_on_a_prepared_machine() -> None:
    result = CliRunner().invoke(main, ["doctor"])

    assert result.exit_code == 0, result.output
