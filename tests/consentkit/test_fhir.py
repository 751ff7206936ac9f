"""FHIR export of a full demo family: every resource validates, and the Consents read back agree.

Family: two parents consent to parental-consent v2 (one declines genetic analysis), the
investigator countersigns, the child assents, then a parent withdraws "samples-destroy".
Resources are validated again here with ``fhir.resources`` (R5 and its R4B package),
independently of the mapping's own check.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fhir.resources import get_fhir_model_class
from fhir.resources.R4B import get_fhir_model_class as get_r4_class

from consentkit.interop.fhir import Release, permissions_from_r4
from consentkit.services import documents, fhir, participation, records
from tests.consentkit.records_helpers import (
    STAFF,
    T0,
    Family,
    make_family,
    prepare,
    sign,
    signer_actor,
)

SIGNED = T0 + timedelta(hours=25)
WITHDRAWN = T0 + timedelta(days=10)


def _demo_family(
    *, withdraw: bool = True, scopes: tuple[str, ...] = ("samples-destroy",)
) -> tuple[Family, Any, Any]:
    family = make_family()
    parental = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    assent = records.open_record(family.participant, form_id="assent-6-9", actor=STAFF, now=T0)
    prepare(family, parental, family.guardians[0])
    prepare(family, parental, family.guardians[1], choices={"genetic-analysis": False})
    prepare(family, assent, family.child)
    for signer in (*family.guardians, family.investigator):
        sign(family, parental, signer, at=SIGNED)
    sign(family, assent, family.child, at=SIGNED)
    sign(family, assent, family.investigator, at=SIGNED)
    if withdraw:
        guardian = family.guardians[0]
        participation.withdraw(
            family.participant,
            scopes=list(scopes),
            expressed_by=str(guardian.id),
            actor=signer_actor(guardian),
            now=WITHDRAWN,
        )
    return family, parental, assent


def _validate(release: Release, resource: dict[str, Any]) -> None:
    find = get_r4_class if release is Release.R4 else get_fhir_model_class
    find(resource["resourceType"]).model_validate(resource)


@pytest.mark.parametrize("release", list(Release))
def test_fhir_every_resource_of_a_demo_family_validates(demo_study: Any, release: Release) -> None:
    family, parental, _ = _demo_family()
    documents.consent_document(family.participant, parental.record_id)

    found = fhir.participant_resources(family.participant, release, at=WITHDRAWN)

    assert len(found.consents) == 2
    assert len(found.provenances) == 5  # two parents, the child, the investigator twice
    assert len(found.document_references) == 1
    for resource in found.all():
        _validate(release, resource)


def test_fhir_r4_consent_follows_the_mii_broad_consent_shape(demo_study: Any) -> None:
    family, parental, _ = _demo_family()

    consent = fhir.consent(family.participant, parental.record_id, Release.R4)

    assert consent["scope"]["coding"][0]["code"] == "research"
    assert {"system": "http://loinc.org", "code": "57016-8"} in consent["category"][0]["coding"]
    assert len(consent["category"]) >= 2
    assert consent["policy"][0]["uri"]
    assert consent["provision"]["type"] == "deny" and consent["provision"]["period"]["start"]
    for nested in consent["provision"]["provision"]:
        assert nested["code"] and nested["period"]["start"]
        assert "provision" not in nested and "action" not in nested


def test_fhir_withdrawal_ends_the_grant_and_adds_a_deny(demo_study: Any) -> None:
    family, parental, _ = _demo_family()

    consent = fhir.consent(family.participant, parental.record_id, Release.R4)

    nested = {
        c["coding"][0]["code"]: p for p in consent["provision"]["provision"] for c in p["code"]
    }
    assert nested["sample-storage"]["type"] == "permit"
    assert nested["sample-storage"]["period"]["end"].startswith("2026-03-12")
    assert nested["samples-destroy"]["type"] == "deny"
    assert nested["genetic-analysis"]["type"] == "deny"  # one parent said no
    assert consent["status"] == "active"  # a scoped withdrawal keeps the consent


def test_fhir_full_withdrawal_makes_the_consent_inactive(demo_study: Any) -> None:
    family, parental, _ = _demo_family(withdraw=False)
    participation.withdraw(
        family.participant,
        scopes=["full"],
        expressed_by=str(family.guardians[0].id),
        actor=signer_actor(family.guardians[0]),
        now=WITHDRAWN,
    )

    r4 = fhir.consent(family.participant, parental.record_id, Release.R4)
    r5 = fhir.consent(family.participant, parental.record_id, Release.R5)

    assert (r4["status"], r5["status"], r5["decision"]) == ("inactive", "inactive", "deny")
    assert r4["provision"]["period"]["end"].startswith("2026-03-12")


def test_fhir_r5_consent_names_grantors_and_the_signed_document(demo_study: Any) -> None:
    family, parental, _ = _demo_family()
    documents.consent_document(family.participant, parental.record_id)

    consent = fhir.consent(family.participant, parental.record_id, Release.R5)

    grantors = {g["identifier"]["value"] for g in consent["grantor"]}
    assert grantors == {str(g.id) for g in family.guardians}
    assert consent["decision"] == "permit"
    assert consent["policyBasis"]["url"].endswith(":form:parental-consent:version:2")
    assert consent["sourceAttachment"][0]["hash"]
    assert consent["verification"][0]["verifiedBy"]["identifier"]["value"] == str(
        family.investigator.id
    )


def test_fhir_provenance_says_who_signed_for_whom_and_how(demo_study: Any) -> None:
    family, parental, _ = _demo_family()

    found = fhir.participant_resources(family.participant, Release.R4).provenances

    by_signer = {p["signature"][0]["who"]["identifier"]["value"]: p for p in found}
    parent = by_signer[str(family.guardians[0].id)]
    assert parent["target"] == [{"reference": f"Consent/{parental.record_id}"}]
    assert parent["signature"][0]["onBehalfOf"]["identifier"]["value"] == "P-001"
    assert parent["signature"][0]["sigFormat"] == "image/svg+xml"
    assert parent["agent"][0]["role"][0]["coding"][0]["code"] == "guardian"
    child = by_signer[str(family.child.id)]
    assert "onBehalfOf" not in child["signature"][0]


@pytest.mark.parametrize("release", list(Release))
def test_fhir_resources_never_carry_names(demo_study: Any, release: Release) -> None:
    family, parental, _ = _demo_family()
    documents.consent_document(family.participant, parental.record_id)

    text = json.dumps(fhir.participant_resources(family.participant, release).all())

    for name in ("Ελένη", "Παπαδοπούλου", "Иван", "Петров", "Dr Demo"):
        assert name not in text


@pytest.mark.parametrize("withdraw", [False, True])
def test_fhir_consents_read_back_give_the_profile_permissions(
    demo_study: Any, withdraw: bool
) -> None:
    family, _, _ = _demo_family(withdraw=withdraw)
    moment = WITHDRAWN if withdraw else SIGNED + timedelta(minutes=1)
    consents = fhir.participant_resources(family.participant, Release.R4, at=moment).consents

    read_back = permissions_from_r4(consents, at=moment)

    assert read_back == records.participation(family.participant, at=moment).permissions
    assert read_back.sample_collection is not withdraw
    assert read_back.genetic_analysis is False  # one parent said no


@pytest.mark.parametrize(
    ("scope", "stopped"),
    [
        ("stop-imp", "treatment"),
        ("no-further-contact", "contact"),
        ("stop-study-procedures", "study_procedures"),
        ("routine-data-only", "data_collection"),
    ],
)
def test_fhir_consents_read_back_a_scoped_withdrawal(
    demo_study: Any, scope: str, stopped: str
) -> None:
    family, _, _ = _demo_family(scopes=(scope,))
    consents = fhir.participant_resources(family.participant, Release.R4, at=WITHDRAWN).consents

    read_back = permissions_from_r4(consents, at=WITHDRAWN)

    assert read_back == records.participation(family.participant, at=WITHDRAWN).permissions
    assert getattr(read_back, stopped) in (False, "routine-care-only")


def test_fhir_consents_read_back_as_of_a_moment_before_the_withdrawal(demo_study: Any) -> None:
    family, _, _ = _demo_family()
    consents = fhir.participant_resources(family.participant, Release.R4, at=WITHDRAWN).consents

    before = permissions_from_r4(consents, at=WITHDRAWN - timedelta(minutes=1))

    assert before.sample_collection is True  # the withdrawal's deny starts at its time


def test_fhir_consents_read_back_after_a_full_withdrawal(demo_study: Any) -> None:
    family, _, _ = _demo_family(withdraw=False)
    participation.withdraw(
        family.participant,
        scopes=["full"],
        expressed_by=str(family.guardians[0].id),
        actor=signer_actor(family.guardians[0]),
        now=WITHDRAWN,
    )
    consents = fhir.participant_resources(family.participant, Release.R4, at=WITHDRAWN).consents

    read_back = permissions_from_r4(consents, at=WITHDRAWN)

    assert read_back == records.participation(family.participant, at=WITHDRAWN).permissions
    assert read_back.treatment is False
