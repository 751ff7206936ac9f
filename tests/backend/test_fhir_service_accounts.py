"""FHIR for machines: a service account with ``fhir:read`` reads its study's sites (issue 16).

A registry or EDC reads Consents with client credentials, not a staff login. It sees
its own sites' participants; another site, or a call without the scope, is refused
with 403, as the permission API refuses; without the scope, an existing record id and
an unknown one get the same answer, so ids cannot be probed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class as get_r4_class

from consentkit.models.service_account import ServiceCall
from consentkit.services import records
from tests.backend.permission_helpers import bearer
from tests.consentkit.records_helpers import STAFF, T0, consented_family, make_family

TRIAL = "DEMO-NBL-1"


@pytest.fixture
def families(demo_study: Any) -> dict[str, Any]:
    """A consented family at FR-01 and a family at NL-01 with an open record."""
    _family, record = consented_family("FR-0001")
    other = make_family("NL-0001", site="NL-01")
    other_record = records.open_record(
        other.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    return {"record": record, "other_record": other_record}


def _get(client: Any, path: str, headers: dict[str, str], **query: Any) -> Any:
    response = client.get(path, query_string=query, headers=headers)
    response.get_data()
    response.close()
    return response


def test_an_account_with_fhir_read_reads_the_consents_of_its_sites(
    client: Any, families: dict[str, Any]
) -> None:
    headers = bearer(client, scopes=("fhir:read",), sites=("FR-01",))
    own = families["record"]

    search = _get(client, "/api/fhir/r4/Consent", headers, study=TRIAL, patient="FR-0001")
    read = _get(client, f"/api/fhir/r5/Consent/{own.record_id}", headers)
    export = _get(client, "/api/fhir/r4/export", headers, study=TRIAL)

    assert search.status_code == 200, search.get_json()
    bundle = search.get_json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [own.record_id]
    get_r4_class("Bundle").model_validate(bundle)
    assert read.status_code == 200
    assert read.get_json()["status"] == "active"
    consents = [
        json.loads(line)
        for line in export.get_data(as_text=True).splitlines()
        if '"resourceType":"Consent"' in line
    ]
    assert [c["id"] for c in consents] == [own.record_id]  # not the NL-01 family's


def test_another_sites_participant_and_export_are_refused(
    client: Any, families: dict[str, Any]
) -> None:
    headers = bearer(client, scopes=("fhir:read",), sites=("FR-01",))
    other = families["other_record"]

    assert _get(client, f"/api/fhir/r4/Consent/{other.record_id}", headers).status_code == 403
    search = _get(client, "/api/fhir/r4/Consent", headers, study=TRIAL, patient="NL-0001")
    assert search.status_code == 403
    export = _get(client, "/api/fhir/r4/export", headers, study=TRIAL, site="NL-01")
    assert export.status_code == 403


def test_without_fhir_read_an_existing_and_an_unknown_id_get_the_same_refusal(
    client: Any, families: dict[str, Any]
) -> None:
    headers = bearer(client, scopes=("permissions:read",))
    own = families["record"]

    existing = _get(client, f"/api/fhir/r4/Consent/{own.record_id}", headers)
    unknown = _get(client, "/api/fhir/r4/Consent/no-such-record", headers)

    assert existing.status_code == unknown.status_code == 403
    assert existing.mimetype == "application/fhir+json"
    assert existing.get_json()["resourceType"] == "OperationOutcome"


def test_each_fhir_call_of_an_account_is_logged(client: Any, families: dict[str, Any]) -> None:
    headers = bearer(client, scopes=("fhir:read",))

    for _ in range(2):
        _get(client, "/api/fhir/r4/Consent", headers, study=TRIAL, patient="FR-0001")

    calls = ServiceCall.objects().order_by("at")
    assert [c.path.split("?")[0] for c in calls] == ["/api/fhir/r4/Consent"] * 2
