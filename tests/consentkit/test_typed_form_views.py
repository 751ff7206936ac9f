"""The reading services return the JSON shapes they declare (real db).

``FormView``, ``StudySummary``, ``FormSummary``, ``VersionMeta`` and
``ParticipantForms`` are TypedDicts because the API sends them as they are: a
key returned but not declared (or declared but missing) would let mypy pass a
caller that reads a key the JSON does not have.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from consentkit.services import forms
from consentkit.services.requirements import ParticipantForms, participant_forms

TRIAL = "DEMO-NBL-1"


def _keys(shape: Any) -> set[str]:
    return set(shape.__required_keys__ | shape.__optional_keys__)


def test_version_view_keys_are_exactly_the_declared_form_view(demo_study: Any) -> None:
    view = forms.version_view(TRIAL, "parental-consent", 1, requested="fr")

    assert set(view) == _keys(forms.FormView)
    assert set(view["sections"][0]) == _keys(forms.SectionView)
    assert set(view["items"][0]) == _keys(forms.ItemView)
    assert set(view["questions"][0]) == _keys(forms.QuestionView)
    assert set(view["signer_roles"][0]) == _keys(forms.RoleLabel)


def test_study_summary_keys_are_exactly_the_declared_study_summary(demo_study: Any) -> None:
    summary = forms.study_summary(forms.get_study(TRIAL))

    assert set(summary) == _keys(forms.StudySummary)
    assert set(summary["sites"][0]) == _keys(forms.SiteSummary)


def test_list_forms_keys_are_exactly_the_declared_form_summary(demo_study: Any) -> None:
    [first, *_] = forms.list_forms(TRIAL, on=date(2026, 11, 24))

    assert set(first) == _keys(forms.FormSummary)
    assert set(first["versions"][0]) == _keys(forms.VersionMeta)


def test_participant_forms_keys_are_exactly_the_declared_participant_forms(
    demo_study: Any,
) -> None:
    result = participant_forms(
        TRIAL, site_code="FR-01", birth_date=date(2018, 5, 1), on=date(2026, 11, 24)
    )

    assert set(result) == _keys(ParticipantForms)
    assert set(result["forms"][0]) == _keys(forms.FormView)
