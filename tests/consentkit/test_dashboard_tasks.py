"""The dashboard's counts follow consent tasks opened and completed through open_for_task.

A re-consent task after a major version counts in ``reconsent_due`` until the family
consents to the new version through the record the task opened; the worklists'
task status (the projection) goes open -> in-progress -> done on the same events.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from consentkit.models.task import ConsentTask
from consentkit.services import dashboard, transitions
from consentkit.services.competence import record_competence_reached
from consentkit.services.importing import import_study
from consentkit.services.tasks import create_due_tasks
from tests.consentkit.records_helpers import STAFF, consented_family, prepare, sign

TRIAL = "DEMO-NBL-1"


def _set_version(folder: Path, index: int, **changes: Any) -> None:
    path = folder / "forms" / "parental-consent" / "form.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["versions"][index].update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_summary_reconsent_due_drops_when_the_task_opened_for_it_is_consented(
    clean_db: Any, study_folder: Path
) -> None:
    _set_version(study_folder, 1, status="approved")
    import_study(study_folder)
    family, v1 = consented_family("P-RECOUNT")
    _set_version(study_folder, 1, status="published")
    import_study(study_folder)  # publishes v2 (major): the re-consent task
    [task] = ConsentTask.objects(reason="reconsent")
    # The import's events are stamped now, and a chain's times never go back.
    start = datetime.now(UTC) + timedelta(minutes=1)
    due = dashboard.summary(TRIAL, at=start).reconsent_due

    opened = transitions.open_for_task(family.participant, task.key, actor=STAFF, now=start)
    while_open = dashboard.summary(TRIAL, at=start)
    status_while_open = ConsentTask.objects.get(key=task.key).status
    for guardian in family.guardians:
        prepare(family, opened.record, guardian, at=start)
    for signer in (*family.guardians, family.investigator):
        sign(family, opened.record, signer, at=start + timedelta(hours=25))
    after = dashboard.summary(TRIAL, at=start + timedelta(hours=25))

    assert (due, while_open.reconsent_due, after.reconsent_due) == (1, 1, 0)
    assert (status_while_open, ConsentTask.objects.get(key=task.key).status) == (
        "in-progress",
        "done",
    )
    assert (after.by_state["consented"], after.by_state["superseded"]) == (1, 1)
    assert [(f.version, f.by_state["consented"]) for f in after.by_form_version] == [
        (1, 0),
        (2, 1),
    ]
    assert v1.version == 1


#: PL: 18 is the age of legal competence and the row asks for re-consent then.
BORN = date(2008, 6, 10)
AFTER_18 = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)


def test_due_counts_parents_consent_suspended_at_competence_then_consented_again(
    demo_study: Any,
) -> None:
    family, parents = consented_family("PL-18", site="PL-01", birth_date=BORN)
    create_due_tasks(on=date(2026, 5, 15), now=datetime(2026, 5, 15, 9, 0, tzinfo=UTC))
    [task] = ConsentTask.objects(participant_code="PL-18", reason="competence-age")

    report = record_competence_reached(on=AFTER_18.date(), now=AFTER_18)
    again = record_competence_reached(on=AFTER_18.date(), now=AFTER_18 + timedelta(minutes=1))
    suspended = dashboard.summary(TRIAL, at=AFTER_18)
    own = transitions.open_for_task(family.participant, task.key, actor=STAFF, now=AFTER_18)
    prepare(family, own.record, family.child, at=AFTER_18, locale="pl")
    for signer in (family.child, family.investigator):
        sign(family, own.record, signer, at=AFTER_18 + timedelta(hours=25), locale="pl")
    after = dashboard.summary(TRIAL, at=AFTER_18 + timedelta(hours=26))

    assert ([s.participant_code for s in report.suspended], again.suspended) == (["PL-18"], [])
    assert suspended.by_state["suspended-awaiting-own-consent"] == 1
    assert suspended.by_state["consented"] == 0
    assert after.by_state["suspended-awaiting-own-consent"] == 0
    assert after.by_state["consented"] == 2
    assert ConsentTask.objects.get(key=task.key).status == "done"
    assert parents.form_id == "parental-consent"
