"""`consentkit import`: the command trial staff run on a study folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from consentkit.cli import main


@pytest.fixture
def runner(connected: str, db_name: str, clean_db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CONSENTKIT_MONGODB_URI", connected)
    monkeypatch.setenv("CONSENTKIT_MONGODB_DB", db_name)
    return CliRunner()


def test_import_demo_twice_reports_no_change(runner: CliRunner) -> None:
    first = runner.invoke(main, ["import", "--demo"])
    second = runner.invoke(main, ["import", "--demo"])

    assert first.exit_code == 0, first.output
    assert "created" in first.output
    assert second.exit_code == 0
    assert "already up to date" in second.output


def test_import_lists_every_problem_with_file_and_line(
    runner: CliRunner, study_folder: Path
) -> None:
    form = study_folder / "forms" / "assent-10-13" / "form.yaml"
    form.write_text(
        form.read_text(encoding="utf-8").replace("change: initial", "change: major"),
        encoding="utf-8",
    )
    (study_folder / "forms" / "assent-6-9" / "v1" / "pl.yaml").unlink()

    result = runner.invoke(main, ["import", str(study_folder)])

    assert result.exit_code == 1
    assert "forms/assent-10-13/form.yaml:" in result.output
    assert "Version 1 is the initial version" in result.output
    assert "assent-6-9/v1: cannot publish version 1: no text in pl" in result.output
    assert "import refused" in result.output


def test_import_check_validates_without_writing(runner: CliRunner, study_folder: Path) -> None:
    from consentkit.models.study import Study

    result = runner.invoke(main, ["import", "--check", str(study_folder)])

    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output
    assert Study.objects.count() == 0


def test_import_needs_a_folder_or_demo(runner: CliRunner) -> None:
    result = runner.invoke(main, ["import"])

    assert result.exit_code == 2
    assert "--demo" in result.output
