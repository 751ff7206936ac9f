"""Reading a study folder: every language of a version must have the same structure (no db)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from consentkit.authoring.reader import read_study_folder
from consentkit.errors import InvalidDataError
from consentkit.paths import data_dir

FR = Path("forms/parental-consent/v1/fr.yaml")


def _folder_with_french(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(data_dir() / "demo-nbl-1", folder)
    text = (folder / FR).read_text(encoding="utf-8")
    assert old in text
    (folder / FR).write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def _problems(folder: Path) -> list[str]:
    with pytest.raises(InvalidDataError) as caught:
        read_study_folder(folder)
    errors: list[str] = caught.value.details["errors"]
    return errors


def test_read_study_folder_names_a_translation_with_another_correct_answer(
    tmp_path: Path,
) -> None:
    folder = _folder_with_french(tmp_path, "correct: chance", "correct: doctor")

    assert _problems(folder) == [
        f"{FR.as_posix()}: question 'who-decides-group' has different options or answer "
        "than in en.yaml."
    ]


def test_read_study_folder_names_a_translation_with_another_required_flag(
    tmp_path: Path,
) -> None:
    folder = _folder_with_french(
        tmp_path,
        "code: participation\n    required: true",
        "code: participation\n    required: false",
    )

    assert _problems(folder) == [
        f"{FR.as_posix()}: item 'participation' has a different code or required flag "
        "than in en.yaml."
    ]


def test_read_study_folder_accepts_the_demo_study_whose_languages_agree() -> None:
    bundle = read_study_folder(data_dir() / "demo-nbl-1")

    assert bundle.study["trial_id"] == "DEMO-NBL-1"


def test_read_study_folder_names_an_item_renamed_in_a_translation_both_ways(
    tmp_path: Path,
) -> None:
    folder = _folder_with_french(
        tmp_path,
        "- id: participation\n    code: participation",
        "- id: taking-part\n    code: participation",
    )

    assert sorted(_problems(folder)) == [
        f"{FR.as_posix()}: item 'participation' is missing (it is in en.yaml).",
        f"{FR.as_posix()}: item 'taking-part' is not in en.yaml.",
    ]
