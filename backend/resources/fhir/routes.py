"""FHIR R4 and R5 reads of consent records, and a study's bulk export as NDJSON.

Every route asks :func:`fhir_reader` who may read what: a signed-in staff member,
scoped to their sites exactly like the participant page (another site's participant
answers 404 like a code that does not exist), or a service account with the
``fhir:read`` scope, for its study and sites (403 elsewhere). Errors are OperationOutcome
resources in ``application/fhir+json`` (backend.errors.problem). Mapping: docs/fhir.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Response, stream_with_context, url_for
from flask.views import MethodView

from backend.auth.clients import Caller, authenticated_caller
from backend.errors import FHIR_JSON
from backend.extensions import FhirBlueprint
from backend.resources.fhir.schemas import ConsentSearchArgsSchema, ExportArgsSchema
from consentkit.errors import NotFoundError, PermissionDeniedError
from consentkit.interop.fhir import Release, searchset
from consentkit.policy.roles import Action
from consentkit.services import fhir, participants, service_accounts
from consentkit.services import staff as staff_service

blp = FhirBlueprint(
    "fhir", __name__, url_prefix="/api/fhir", description="FHIR Consent, Provenance, documents"
)

FHIR_NDJSON = "application/fhir+ndjson"
RELEASE = {
    "in": "path",
    "name": "release",
    "required": True,
    "schema": {"type": "string", "enum": [r.value for r in Release]},
}
RESOURCE = {
    "type": "object",
    "required": ["resourceType", "id"],
    "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"}},
}


def _ok(description: str, schema: dict[str, Any] = RESOURCE) -> dict[str, Any]:
    return {
        "responses": {
            "200": {"description": description, "content": {FHIR_JSON: {"schema": schema}}}
        }
    }


ERRORS = (401, 403, 404)


#: The service-account scope that opens these reads.
SCOPE = "fhir:read"


@dataclass(frozen=True)
class FhirReader:
    """Who reads FHIR, and what they may see: a participant, or a study's sites.

    A staff member sees what the participant page shows them (another site's
    participant answers 404, like a code that does not exist). A service account
    with ``fhir:read`` sees its study's participants at its sites; another
    study or site is refused with 403, as the permission API does.
    """

    caller: Caller

    def participant(self, trial_id: str, code: str) -> Any:
        """Return a participant the reader may see."""
        if self.caller.staff is not None:
            return staff_service.participant_for(self.caller.staff, trial_id, code, Action.VIEW)
        assert self.caller.client is not None
        service_accounts.authorise(self.caller.client, SCOPE, trial_id)
        return self.sees(participants.get_participant(trial_id, code))

    def sees(self, participant: Any) -> Any:
        """Return ``participant`` if the reader may see them."""
        if self.caller.staff is not None:
            return self.participant(participant.trial_id, participant.code)
        assert self.caller.client is not None
        service_accounts.authorise(
            self.caller.client, SCOPE, participant.trial_id, participant.site_code
        )
        return participant

    def sites(self, trial_id: str, site: str | None) -> list[str] | None:
        """Return the sites of a study the reader may export (None: all)."""
        if self.caller.staff is not None:
            return staff_service.site_filter(self.caller.staff, Action.EXPORT, trial_id, site)
        assert self.caller.client is not None
        service_accounts.authorise(self.caller.client, SCOPE, trial_id, site)
        if site:
            return [site]
        return None if self.caller.client.sites is None else sorted(self.caller.client.sites)


def fhir_reader() -> FhirReader:
    """Return the reader of this request: the one place FHIR access is decided.

    A signed-in staff member, or a service account. An account without the
    ``fhir:read`` scope is refused before anything is looked up, so it cannot
    tell an existing record id from an unknown one.

    Raises:
        AuthenticationError: nobody signed in.
        PermissionDeniedError: a service account without ``fhir:read``.
    """
    caller = authenticated_caller(staff=True)
    if caller.client is not None and SCOPE not in caller.client.scopes:
        raise PermissionDeniedError("You do not have access to this.")
    return FhirReader(caller)


def _release(value: str) -> Release:
    try:
        return Release(value)
    except ValueError:
        raise NotFoundError("Nothing was found at this address.") from None


def _fhir(resource: dict[str, Any]) -> Response:
    return Response(
        json.dumps(resource, ensure_ascii=False, default=str), status=200, mimetype=FHIR_JSON
    )


def _documented(*statuses: int) -> Any:
    def decorate(view: Any) -> Any:
        for status in statuses:
            view = blp.alt_response(status, description=f"{status}: OperationOutcome")(view)
        return view

    return decorate


@blp.route("/<release>/Consent", parameters=[RELEASE])
class ConsentSearchViews(MethodView):
    """Consents of one participant."""

    @blp.arguments(ConsentSearchArgsSchema, location="query")
    @_documented(*ERRORS)
    @blp.doc(**_ok("A searchset Bundle of Consent resources"))
    def get(self, args: dict[str, Any], release: str) -> Response:
        """Search the Consents of a participant (one per consent record)."""
        chosen = _release(release)
        participant = fhir_reader().participant(args["study"], args["patient"])
        found = fhir.participant_resources(participant, chosen).consents
        return _fhir(searchset(chosen, found))


@blp.route("/<release>/Consent/<record_id>", parameters=[RELEASE])
class ConsentByIdViews(MethodView):
    """One Consent."""

    @_documented(*ERRORS)
    @blp.doc(**_ok("A Consent"))
    def get(self, release: str, record_id: str) -> Response:
        """Read a Consent by id (the consent record's id)."""
        chosen = _release(release)
        reader = fhir_reader()
        participant = reader.sees(fhir.participant_of_record(record_id))
        return _fhir(fhir.consent(participant, record_id, chosen))


@blp.route("/<release>/Provenance/<provenance_id>", parameters=[RELEASE])
class ProvenanceByIdViews(MethodView):
    """One signature's Provenance."""

    @_documented(*ERRORS)
    @blp.doc(**_ok("A Provenance"))
    def get(self, release: str, provenance_id: str) -> Response:
        """Read the Provenance of a signature (id: record id, dash, event number)."""
        chosen = _release(release)
        reader = fhir_reader()
        record_id = fhir.record_of_provenance(provenance_id)
        participant = reader.sees(fhir.participant_of_record(record_id))
        return _fhir(fhir.provenance(participant, provenance_id, chosen))


@blp.route("/<release>/DocumentReference/<document_id>", parameters=[RELEASE])
class DocumentReferenceByIdViews(MethodView):
    """One sealed PDF's DocumentReference."""

    @_documented(*ERRORS)
    @blp.doc(**_ok("A DocumentReference"))
    def get(self, release: str, document_id: str) -> Response:
        """Read the DocumentReference of a sealed PDF, with its hashes."""
        chosen = _release(release)
        reader = fhir_reader()
        participant = reader.sees(fhir.participant_of_document(document_id))
        return _fhir(fhir.document_reference(participant, document_id, chosen))


@blp.route("/<release>/export", parameters=[RELEASE])
class ExportViews(MethodView):
    """A study's resources in bulk."""

    @blp.arguments(ExportArgsSchema, location="query")
    @_documented(*ERRORS)
    @blp.doc(
        responses={
            "200": {
                "description": 'One resource per line; `Link: <...>; rel="next"` resumes',
                "content": {FHIR_NDJSON: {"schema": {"type": "string"}}},
            }
        }
    )
    def get(self, args: dict[str, Any], release: str) -> Response:
        """Export a study's Consents, Provenances and DocumentReferences as NDJSON (streamed).

        A page covers ``_count`` participants in a stable order; the ``Link`` header's
        ``next`` gives the cursor of the next page (none on the last). ``_since`` leaves
        out participants with nothing new since then.
        """
        chosen = _release(release)
        sites = fhir_reader().sites(args["study"], args.get("site"))
        page = fhir.export(
            args["study"],
            chosen,
            site_codes=sites,
            since=args.get("since"),
            cursor=args.get("cursor"),
            count=args.get("count", fhir.EXPORT_PAGE),
        )
        response = Response(stream_with_context(page.lines), mimetype=FHIR_NDJSON)
        if page.next_cursor is not None:
            query = {k: v for k, v in args.items() if k not in ("cursor", "since", "count")}
            if args.get("since"):
                query["_since"] = args["since"].isoformat()
            if args.get("count"):
                query["_count"] = args["count"]
            link = url_for(
                ".ExportViews", release=release, cursor=page.next_cursor, **query, _external=False
            )
            response.headers["Link"] = f'<{link}>; rel="next"'
        return response
