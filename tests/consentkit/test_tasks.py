"""Tasks created by a major version and by age transitions, exactly once."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from consentkit.cli import main
from consentkit.models.task import ConsentTask
from consentkit.services.importing import import_study
from consentkit.services.tasks import create_due_tasks
from consentkit.services.transitions import open_for_task
from tests.consentkit.records_helpers import STAFF, consented_family, make_family


def _set_version(folder: Path, form: str, index: int, **changes: Any) -> None:
    path = folder / "forms" / form / "form.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["versions"][index].update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _consent_on_v1(code: str) -> Any:
    return consented_family(code)[0]


def test_publishing_a_major_version_asks_consented_families_once(
    clean_db: Any, study_folder: Path
) -> None:
    _set_version(study_folder, "parental-consent", 1, status="approved")
    import_study(study_folder)
    _consent_on_v1("P-MAJ")
    _set_version(study_folder, "parental-consent", 1, status="published")

    import_study(study_folder)
    import_study(study_folder)

    tasks = list(ConsentTask.objects(reason="reconsent"))
    assert [(t.participant_code, t.form_id, t.version) for t in tasks] == [
        ("P-MAJ", "parental-consent", "2")
    ]


def test_publishing_a_minor_version_creates_no_task(clean_db: Any, study_folder: Path) -> None:
    _set_version(study_folder, "parental-consent", 1, status="approved", change="minor")
    import_study(study_folder)
    _consent_on_v1("P-MIN")
    _set_version(study_folder, "parental-consent", 1, status="published")

    import_study(study_folder)

    assert ConsentTask.objects(reason="reconsent").count() == 0


def test_due_creates_an_age_band_task_once(demo_study: Any) -> None:
    # Turns 10 on 2026-04-01: leaves the 6-9 pictorial band for the 10-13 one.
    make_family("P-BAND", birth_date=date(2016, 4, 1))

    first = create_due_tasks(on=date(2026, 3, 2), horizon_days=90)
    again = create_due_tasks(on=date(2026, 3, 2), horizon_days=90)

    [task] = ConsentTask.objects(participant_code="P-BAND")
    assert task.reason == "age-band"
    assert task.due_date == date(2026, 4, 1)
    assert len(first.created) == 1
    assert again.created == [] and again.existing == 1


def test_due_ignores_transitions_beyond_the_horizon(demo_study: Any) -> None:
    make_family("P-FAR", birth_date=date(2016, 12, 1))

    report = create_due_tasks(on=date(2026, 3, 2), horizon_days=30)

    assert report.created == []


def test_due_turning_12_in_the_netherlands_asks_for_the_co_consent(demo_study: Any) -> None:
    # NL WMO: a child turning 12 co-signs with both parents; that is not the own consent at 16.
    make_family("P-NL12", site="NL-01", birth_date=date(2014, 4, 1))

    create_due_tasks(on=date(2026, 3, 2), horizon_days=90)

    [task] = ConsentTask.objects(participant_code="P-NL12")
    assert (task.reason, task.form_kind) == ("minor-role", "young-person-co-consent")


def test_due_a_co_signing_13_year_old_in_the_netherlands_has_no_band_task_at_14(
    demo_study: Any,
) -> None:
    # NL 12-15 co-sign; nothing changes at 14 (the 14-17 assent band is not their document).
    make_family("P-NL14", site="NL-01", birth_date=date(2012, 4, 1))

    report = create_due_tasks(on=date(2026, 3, 2), horizon_days=90)

    assert report.created == []


def test_due_a_german_co_signer_turning_12_is_asked_to_sign_the_12_to_17_co_consent(
    demo_study: Any,
) -> None:
    # DE: a capable minor's written consent beside the parents' (S, from 7 in the pack); the
    # demo's DE bands give a 7-11 co-consent and a 12-17 one, so turning 12 changes the form.
    family = make_family("P-DE12", site="DE-01", birth_date=date(2014, 4, 1))

    create_due_tasks(on=date(2026, 3, 2), horizon_days=90)
    [task] = ConsentTask.objects(participant_code="P-DE12")
    opened = open_for_task(
        family.participant, task.key, actor=STAFF, now=datetime(2026, 4, 2, 9, tzinfo=UTC)
    )

    assert (task.reason, task.form_kind, task.due_date) == (
        "age-band",
        "young-person-co-consent",
        date(2026, 4, 1),
    )
    assert opened.record.form_id == "young-person-co-consent"  # not the 7-11 form
    assert opened.task.why.purpose("en") == "Consent at 12"


def test_due_a_german_co_signer_turning_13_keeps_the_12_to_17_co_consent(
    demo_study: Any,
) -> None:
    make_family("P-DE13", site="DE-01", birth_date=date(2013, 4, 1))

    report = create_due_tasks(on=date(2026, 3, 2), horizon_days=90)

    assert report.created == []


def _run_due(monkeypatch: pytest.MonkeyPatch, uri: str, db_name: str, *extra: str) -> Any:
    monkeypatch.setenv("CONSENTKIT_MONGODB_URI", uri)
    monkeypatch.setenv("CONSENTKIT_MONGODB_DB", db_name)
    return CliRunner().invoke(main, ["due", "--on", "2026-03-02", "--study", "DEMO-NBL-1", *extra])


def test_cli_due_says_what_it_created_one_line_each_and_a_summary(
    demo_study: Any, connected: str, db_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_family("P-BAND", birth_date=date(2016, 4, 1))
    make_family("P-NL12", site="NL-01", birth_date=date(2014, 4, 1))

    first = _run_due(monkeypatch, connected, db_name)
    again = _run_due(monkeypatch, connected, db_name)

    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [
        "P-BAND (FR-01): age-band, child-assent, due 2026-04-01",
        "P-NL12 (NL-01): minor-role, young-person-co-consent, due 2026-04-01",
        "2 task(s) created, 0 already existed",
    ]
    assert again.output.splitlines() == ["0 task(s) created, 2 already existed"]


def test_cli_due_json_lists_the_created_tasks(
    demo_study: Any, connected: str, db_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_family("P-BAND", birth_date=date(2016, 4, 1))

    result = _run_due(monkeypatch, connected, db_name, "--json")

    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    [task] = body["created"]
    assert body["on"] == "2026-03-02" and body["existing"] == 0
    assert task["participant_code"] == "P-BAND"
    assert (task["reason"], task["form_kind"], task["due_date"]) == (
        "age-band",
        "child-assent",
        "2026-04-01",
    )
    assert task["key"] == ConsentTask.objects.get(participant_code="P-BAND").key
