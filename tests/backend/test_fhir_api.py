"""The FHIR API: R4/R5 reads, the NDJSON export, OperationOutcome errors, who may read what.

Staff read FHIR with the participant page's scoping (backend.resources.fhir.routes.fhir_reader):
every role sees its own sites' participants; another site's participant answers 404 like
a code that does not exist; an export of a site the member has not got is 403.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fhir.resources import get_fhir_model_class
from fhir.resources.R4B import get_fhir_model_class as get_r4_class

from consentkit.services import documents, records
from tests.backend.staff_helpers import auth, make_member, token_for
from tests.consentkit.records_helpers import STAFF, T0, consented_family, make_family

TRIAL = "DEMO-NBL-1"
ROLES = ("sponsor-admin", "investigator", "site-staff", "monitor")
FHIR_JSON = "application/fhir+json"


def _validate(release: str, resource: dict[str, Any]) -> None:
    find = get_r4_class if release == "r4" else get_fhir_model_class
    find(resource["resourceType"]).model_validate(resource)


@pytest.fixture
def world(client: Any, demo_study: Any) -> dict[str, Any]:
    """Members of each role at FR-01 (the admin sees all); a consented family at FR-01 with
    its sealed PDF, and a family at NL-01 with an open record."""
    tokens = {
        role: token_for(
            client.application,
            make_member(
                client, f"{role}@example.org", role, () if role == "sponsor-admin" else ("FR-01",)
            ),
        )
        for role in ROLES
    }
    family, record = consented_family("FR-0001")
    document = documents.consent_document(family.participant, record.record_id)
    other = make_family("NL-0001", site="NL-01")
    other_record = records.open_record(
        other.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    return {
        "tokens": tokens,
        "family": family,
        "record": record,
        "document_id": str(document.document.id),
        "other_record": other_record,
    }


def _get(client: Any, path: str, token: str | None, **query: Any) -> Any:
    response = client.get(path, query_string=query, headers=auth(token) if token else {})
    response.get_data()
    response.close()
    return response


def _admin(world: dict[str, Any]) -> str:
    token: str = world["tokens"]["sponsor-admin"]
    return token


@pytest.mark.parametrize("release", ["r4", "r5"])
def test_fhir_api_search_answers_a_bundle_of_consents(
    client: Any, world: dict[str, Any], release: str
) -> None:
    response = _get(
        client, f"/api/fhir/{release}/Consent", _admin(world), study=TRIAL, patient="FR-0001"
    )

    assert response.status_code == 200
    assert response.mimetype == FHIR_JSON
    bundle = response.get_json()
    _validate(release, bundle)
    assert [e["resource"]["id"] for e in bundle["entry"]] == [world["record"].record_id]


@pytest.mark.parametrize("release", ["r4", "r5"])
def test_fhir_api_reads_consent_provenance_and_document(
    client: Any, world: dict[str, Any], release: str
) -> None:
    record_id = world["record"].record_id
    consent = _get(client, f"/api/fhir/{release}/Consent/{record_id}", _admin(world)).get_json()
    _validate(release, consent)
    search = _get(client, f"/api/fhir/{release}/export", _admin(world), study=TRIAL, site="FR-01")
    lines = [json.loads(line) for line in search.get_data(as_text=True).splitlines()]
    provenance_id = next(r["id"] for r in lines if r["resourceType"] == "Provenance")
    document_id = next(r["id"] for r in lines if r["resourceType"] == "DocumentReference")

    provenance = _get(client, f"/api/fhir/{release}/Provenance/{provenance_id}", _admin(world))
    document = _get(client, f"/api/fhir/{release}/DocumentReference/{document_id}", _admin(world))

    assert provenance.status_code == document.status_code == 200
    _validate(release, provenance.get_json())
    _validate(release, document.get_json())
    attachment = document.get_json()["content"][0]["attachment"]
    assert attachment["contentType"] == "application/pdf" and attachment["hash"]


def test_fhir_api_errors_are_operation_outcomes(client: Any, world: dict[str, Any]) -> None:
    record_id = world["record"].record_id
    for response, status, issue in (
        (_get(client, f"/api/fhir/r4/Consent/{record_id}", None), 401, "login"),
        (_get(client, "/api/fhir/r4/Consent/nope", _admin(world)), 404, "not-found"),
        (_get(client, "/api/fhir/r9/Consent/nope", _admin(world)), 404, "not-found"),
        (_get(client, "/api/fhir/r4/Consent", _admin(world)), 422, "invalid"),
    ):
        assert response.status_code == status
        assert response.mimetype == FHIR_JSON
        outcome = response.get_json()
        _validate("r4", outcome)
        assert outcome["issue"][0]["code"] == issue


def test_fhir_api_openapi_documents_fhir_json_errors(client: Any, demo_study: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()

    fhir_paths = {p: ops for p, ops in spec["paths"].items() if p.startswith("/api/fhir/")}
    assert len(fhir_paths) == 5
    for operations in fhir_paths.values():
        responses = operations["get"]["responses"]
        for code, response in responses.items():
            types = set(response.get("content", {}))
            if code == "200":
                assert types & {FHIR_JSON, "application/fhir+ndjson"}
            else:
                assert types == {FHIR_JSON}, (code, response)


def _fhir_paths(world: dict[str, Any], record: Any) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/api/fhir/r4/Consent", {"study": TRIAL, "patient": record.participant_code}),
        (f"/api/fhir/r5/Consent/{record.record_id}", {}),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_fhir_api_role_and_site_matrix(client: Any, world: dict[str, Any], role: str) -> None:
    token = world["tokens"][role]
    own, other = world["record"], world["other_record"]
    sees_all = role == "sponsor-admin"

    for path, query in _fhir_paths(world, own):
        assert _get(client, path, token, **query).status_code == 200, (role, path)
    for path, query in _fhir_paths(world, other):
        # Another site's participant answers like a code that does not exist.
        expected = 200 if sees_all else 404
        assert _get(client, path, token, **query).status_code == expected, (role, path)
    assert _get(client, "/api/fhir/r4/export", token, study=TRIAL, site="FR-01").status_code == 200
    other_site = _get(client, "/api/fhir/r4/export", token, study=TRIAL, site="NL-01")
    assert other_site.status_code == (200 if sees_all else 403)
    for path, query in _fhir_paths(world, own):
        assert _get(client, path, None, **query).status_code == 401


def test_fhir_api_export_without_site_covers_only_the_members_sites(
    client: Any, world: dict[str, Any]
) -> None:
    response = _get(client, "/api/fhir/r4/export", world["tokens"]["monitor"], study=TRIAL)

    consents = [
        json.loads(line)
        for line in response.get_data(as_text=True).splitlines()
        if '"resourceType":"Consent"' in line
    ]
    assert [c["id"] for c in consents] == [world["record"].record_id]


@pytest.mark.parametrize("release", ["r4", "r5"])
def test_fhir_api_export_pages_resume_with_the_cursor(
    client: Any, world: dict[str, Any], release: str
) -> None:
    seen: list[str] = []
    path, query = f"/api/fhir/{release}/export", {"study": TRIAL, "_count": 1}
    pages = 0
    while True:
        response = _get(client, path, _admin(world), **query)
        assert response.status_code == 200
        assert response.mimetype == "application/fhir+ndjson"
        for line in response.get_data(as_text=True).splitlines():
            resource = json.loads(line)
            _validate(release, resource)
            if resource["resourceType"] == "Consent":
                seen.append(resource["id"])
        pages += 1
        link = response.headers.get("Link")
        if not link:
            break
        target = urlsplit(link[1 : link.index(">")])
        path, query = target.path, {k: v[0] for k, v in parse_qs(target.query).items()}

    assert sorted(seen) == sorted([world["record"].record_id, world["other_record"].record_id])
    assert pages == 3  # one participant a page, then an empty last page


def test_fhir_api_export_since_leaves_out_what_did_not_change(
    client: Any, world: dict[str, Any]
) -> None:
    later = (T0 + timedelta(hours=2)).isoformat()

    response = _get(client, "/api/fhir/r4/export", _admin(world), study=TRIAL, _since=later)

    ids = {
        json.loads(line)["id"]
        for line in response.get_data(as_text=True).splitlines()
        if '"resourceType":"Consent"' in line
    }
    # The FR family signed a day after T0; the NL record was only opened at T0.
    assert ids == {world["record"].record_id}


def test_fhir_api_export_refuses_a_bad_cursor(client: Any, world: dict[str, Any]) -> None:
    response = _get(client, "/api/fhir/r4/export", _admin(world), study=TRIAL, cursor="nope")

    assert response.status_code == 422
    assert response.get_json()["issue"][0]["details"]["coding"][0]["code"] == "invalid-cursor"
