"""Sealed PDF copies of consent records and withdrawals (consentkit.services.documents).

Site FR-01 (both parents consent): Ελένη Παπαδοπούλου reads and signs parental-consent v2
in French, Иван Петров reads and signs it in German, the investigator countersigns in
French; later Ελένη withdraws without giving a reason. Each signer gets a copy in the
language they signed in (CTR Art 29(1)).

Rendering and sealing take about a second a document, so the signed family and its
PDFs are built once per module, in a database of their own that ``clean_db`` never
empties; tests that need an empty database use ``demo_study`` as usual.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import mongoengine
import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader

from consentkit import db as database
from consentkit.clock import now_utc
from consentkit.errors import ConflictError, InvalidDataError, NotFoundError
from consentkit.labels import label
from consentkit.models.document import StoredDocument
from consentkit.models.participant import Participant
from consentkit.models.study import FormVersion
from consentkit.rendering import pdf as pdf_rendering
from consentkit.rendering import seal as sealing
from consentkit.services import documents, participation, records, verification
from consentkit.services.forms import forget_catalogs
from consentkit.services.importing import import_demo_study
from tests.consentkit.records_helpers import (
    STAFF,
    T0,
    consented_family,
    make_family,
    prepare,
    sign,
    signer_actor,
)

SIGNED = T0 + timedelta(hours=25)
WITHDRAWN = T0 + timedelta(days=10)
GREEK, CYRILLIC = "Ελένη Παπαδοπούλου", "Иван Петров"
SCOPES = ("samples-destroy", "stop-imp")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory of this module's own: the development seal is generated under it."""
    directory = tmp_path_factory.mktemp("documents-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONSENTKIT_DATA_DIR", str(directory))
        yield directory


@dataclass(frozen=True)
class Signed:
    """The signed family of this module, its database, and the PDFs rendered for it."""

    db_name: str
    participant_id: str
    record_id: str
    guardian_ids: tuple[str, str]
    withdrawal_seq: int
    pdfs: dict[str, bytes]


@pytest.fixture(scope="module")
def signed(connected: str, db_name: str, data_dir: Path) -> Iterator[Signed]:
    """Sign, withdraw and render the de, fr and withdrawal PDFs once, in a database of their own."""
    own_db = f"{db_name}_documents"
    database.connect(connected, db_name=own_db)
    forget_catalogs()
    try:
        database.ensure_indexes()
        import_demo_study()
        family = make_family(names=(GREEK, CYRILLIC))
        record = records.open_record(
            family.participant, form_id="parental-consent", actor=STAFF, now=T0
        )
        eleni, ivan = family.guardians
        prepare(family, record, eleni, locale="fr")
        prepare(family, record, ivan, locale="de")
        sign(family, record, eleni, locale="fr", at=SIGNED)
        sign(family, record, ivan, locale="de", at=SIGNED)
        sign(family, record, family.investigator, locale="fr", at=SIGNED)
        withdrawal = participation.withdraw(
            family.participant,
            scopes=SCOPES,
            actor=signer_actor(eleni),
            expressed_by=str(eleni.id),
            reason_declined=True,
            now=WITHDRAWN,
        )
        participant = family.participant
        pdfs = {
            locale: documents.consent_document(participant, record.record_id, locale=locale).content
            for locale in ("de", "fr")
        }
        pdfs["withdrawal"] = documents.withdrawal_document(participant, withdrawal.seq).content
        yield Signed(
            db_name=own_db,
            participant_id=str(participant.id),
            record_id=record.record_id,
            guardian_ids=(str(eleni.id), str(ivan.id)),
            withdrawal_seq=withdrawal.seq,
            pdfs=pdfs,
        )
    finally:
        mongoengine.get_connection().drop_database(own_db)
        database.connect(connected, db_name=db_name)
        forget_catalogs()


@pytest.fixture
def signed_db(signed: Signed, connected: str, db_name: str) -> Iterator[Participant]:
    """Point the library at the signed family's database for one test; return the participant."""
    database.connect(connected, db_name=signed.db_name)
    forget_catalogs()
    yield Participant.objects.get(id=signed.participant_id)
    database.connect(connected, db_name=db_name)
    forget_catalogs()


@functools.lru_cache(maxsize=8)
def _text(pdf: bytes) -> str:
    """Return the text of every page, whitespace collapsed (lines wrap anywhere)."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _form_version() -> FormVersion:
    version: FormVersion = FormVersion.objects.get(
        trial_id="DEMO-NBL-1", form_id="parental-consent", version=2
    )
    return version


def _attached(pdf: bytes) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(documents.extract_record_json(pdf))
    return record


def _signer_event(participant: Participant, signer_id: str) -> dict[str, Any]:
    return next(
        e
        for e in records.history(participant)
        if e["type"] == "signature.added" and e["payload"]["signer_id"] == signer_id
    )


def _forged(record_json: str) -> bytes:
    """An unsealed PDF that says something else and carries ``record_json``."""
    return pdf_rendering.write_pdf(
        "<p>Forged consent</p>",
        attachment_json=record_json,
        attachment_name=documents.ATTACHMENT_NAME,
        created=T0,
    )


def _crash_a_render(participant: Participant, record_id: str) -> None:
    """Start rendering a consent document and die half-way, leaving its lock behind."""

    def crash(*_args: Any) -> bytes:
        raise RuntimeError("renderer died")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(documents, "render_consent_pdf", crash)
        with pytest.raises(RuntimeError):
            documents.consent_document(participant, record_id)


def _fresh_consent() -> tuple[Participant, str]:
    """A fresh FR-01 family on the demo study whose parental consent is complete (in French)."""
    family, record = consented_family()
    return family.participant, record.record_id


# ---------------------------------------------------------------- content of the copies


@pytest.mark.parametrize("name", [GREEK, CYRILLIC], ids=["greek", "cyrillic"])
def test_consent_document_german_copy_prints_both_guardians_names(
    signed: Signed, name: str
) -> None:
    assert name in _text(signed.pdfs["de"])


def test_consent_document_german_copy_shows_the_german_title(
    signed: Signed, signed_db: Participant
) -> None:
    assert _flat(_form_version().content["de"]["title"]) in _text(signed.pdfs["de"])


def test_consent_document_french_copy_shows_the_french_title(
    signed: Signed, signed_db: Participant
) -> None:
    text = _text(signed.pdfs["fr"])

    assert _flat(_form_version().content["fr"]["title"]) in text
    assert _flat(_form_version().content["de"]["title"]) not in text


def test_consent_document_german_copy_shows_the_version_signed(signed: Signed) -> None:
    version_label = pdf_rendering.labels("de")["version"]

    text = _text(signed.pdfs["de"])

    # The form by its kind and the language by its name, in German; no internal ids.
    kind = label("form_kind", "parental-consent", "de")
    assert f"{kind} · {version_label} 2 · Deutsch" in text
    assert "parental-consent ·" not in text


def test_consent_document_german_copy_shows_the_german_guardian_signature_meaning(
    signed: Signed, signed_db: Participant
) -> None:
    meaning = _form_version().content["de"]["signature_meanings"]["guardian"]

    assert _flat(meaning) in _text(signed.pdfs["de"])


def test_consent_document_keeps_each_signature_meaning_in_the_language_signed(
    signed: Signed, signed_db: Participant
) -> None:
    content = _form_version().content
    text = _text(signed.pdfs["de"])

    assert _flat(content["fr"]["signature_meanings"]["guardian"]) in text  # Ελένη signed in fr
    assert _flat(content["fr"]["signature_meanings"]["investigator"]) in text


@pytest.mark.parametrize("locale", ["de", "fr"])
def test_consent_document_attaches_the_record_in_the_copy_language(
    signed: Signed, signed_db: Participant, locale: str
) -> None:
    record = _attached(signed.pdfs[locale])

    assert record["locale"] == locale
    assert record["content_sha256"] == _form_version().content_sha256[locale]
    assert record["record_id"] == signed.record_id
    assert record["state"] == "consented"


def test_consent_document_attached_record_keeps_each_signature_language(
    signed: Signed,
) -> None:
    by_signer = {s["signer_id"]: s["locale"] for s in _attached(signed.pdfs["de"])["signatures"]}

    assert [by_signer[sid] for sid in signed.guardian_ids] == ["fr", "de"]


def test_consent_document_footer_shows_participant_code_and_page_of_pages(
    signed: Signed,
) -> None:
    pages = PdfReader(io.BytesIO(signed.pdfs["de"])).pages
    total = len(pages)

    assert total >= 2  # the audit trail starts a new page
    for number, page in enumerate(pages, start=1):
        text = page.extract_text()
        assert "P-001" in text
        assert re.search(rf"\b{number}\s*/\s*{total}\b", text), f"page {number}: no footer"


@pytest.mark.parametrize("document", ["de", "fr", "withdrawal"])
def test_consent_document_is_pdfa_3b(signed: Signed, document: str) -> None:
    xmp = PdfReader(io.BytesIO(signed.pdfs[document])).xmp_metadata

    assert xmp is not None
    assert b"pdfaid:part" in xmp.stream.get_data()
    assert (xmp.pdfaid_part, xmp.pdfaid_conformance) == ("3", "B")


def test_consent_document_french_copy_says_in_words_how_and_what_happened(
    signed: Signed,
) -> None:
    text = _text(signed.pdfs["fr"])

    assert (
        f"{pdf_rendering.labels('fr')['authentication']} {label('auth_method', 'otp', 'fr')}"
        in (text)
    )
    assert "session, otp" not in text
    assert label("event_type", "participant.enrolled", "fr") in text
    assert label("event_type", "items.chosen", "fr") in text
    for code in ("participant.enrolled", "signature.added", "signer:guardian", "staff:"):
        assert code not in text


@pytest.mark.parametrize("document", ["de", "fr"])
def test_consent_document_is_tagged_for_screen_readers(signed: Signed, document: str) -> None:
    root = PdfReader(io.BytesIO(signed.pdfs[document])).trailer["/Root"]

    assert "/StructTreeRoot" in root
    assert bool(root["/MarkInfo"]["/Marked"])
    assert root["/Lang"] == document


def test_consent_document_attaches_the_record_as_a_pdfa3_associated_file(
    signed: Signed,
) -> None:
    catalog = PdfReader(io.BytesIO(signed.pdfs["de"])).root_object
    associated = {
        str(spec.get_object()["/F"]): spec.get_object()["/AFRelationship"]
        for spec in catalog["/AF"]  # type: ignore[attr-defined]
    }

    assert associated == {documents.ATTACHMENT_NAME: "/Data"}


# ---------------------------------------------------------------- seal and verification


@pytest.mark.parametrize("document", ["de", "fr", "withdrawal"])
def test_check_seal_accepts_a_sealed_copy_over_the_whole_file(
    signed: Signed, document: str
) -> None:
    report = sealing.check_seal(signed.pdfs[document])

    assert (report.sealed, report.intact, report.trusted, report.covers_whole_file) == (
        True,
        True,
        True,
        True,
    )
    assert report.problem is None
    assert report.signer is not None and "development" in report.signer


def test_seal_validates_with_pyhanko_against_the_development_certificate(
    signed: Signed, data_dir: Path
) -> None:
    _, _, der = pem.unarmor((data_dir / "keys" / "seal-cert.pem").read_bytes())
    root = asn1_x509.Certificate.load(der)
    signature = PdfFileReader(io.BytesIO(signed.pdfs["de"])).embedded_signatures[0]

    status = validate_pdf_signature(
        signature, ValidationContext(trust_roots=[root], allow_fetching=False)
    )

    assert status.bottom_line
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert signature.field_name == sealing.FIELD_NAME


@pytest.mark.parametrize("locale", ["de", "fr"])
def test_verify_pdf_accepts_an_untouched_copy(
    signed: Signed, signed_db: Participant, locale: str
) -> None:
    report = documents.verify_pdf(signed.pdfs[locale])

    assert report.ok is True
    assert report.record_matches is True
    assert report.problems == []


def test_verify_pdf_rejects_a_copy_with_one_byte_flipped(
    signed: Signed, signed_db: Participant
) -> None:
    pdf = bytearray(signed.pdfs["de"])
    middle = len(pdf) // 2
    pdf[middle] ^= 0xFF

    report = documents.verify_pdf(bytes(pdf))

    assert report.ok is False
    assert report.seal["intact"] is False
    assert report.problems


def test_verify_pdf_rejects_bytes_appended_after_the_seal(
    signed: Signed, signed_db: Participant
) -> None:
    report = documents.verify_pdf(signed.pdfs["de"] + b"\n% appended\n")

    assert report.ok is False
    assert report.seal["covers_whole_file"] is False
    assert report.problems


def test_verify_pdf_rejects_an_unsealed_pdf_carrying_a_genuine_record(
    signed: Signed, signed_db: Participant
) -> None:
    forged = _forged(documents.extract_record_json(signed.pdfs["de"]))

    report = documents.verify_pdf(forged)

    assert report.record_matches is True  # the record was copied faithfully...
    assert report.seal["sealed"] is False  # ...but no seal vouches for this PDF
    assert report.ok is False


def test_verify_pdf_rejects_a_genuine_record_sealed_with_an_untrusted_certificate(
    signed: Signed,
    signed_db: Participant,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forged = _forged(documents.extract_record_json(signed.pdfs["de"]))
    monkeypatch.setenv("CONSENTKIT_DATA_DIR", str(tmp_path))  # another development seal
    resealed = sealing.seal_pdf(forged)
    monkeypatch.setenv("CONSENTKIT_DATA_DIR", str(data_dir))

    report = documents.verify_pdf(resealed)

    assert report.seal["sealed"] is True
    assert report.seal["trusted"] is False
    assert report.ok is False


@pytest.mark.parametrize(
    "attachment",
    [
        "[]",
        json.dumps(
            {
                "trial_id": "DEMO-NBL-1",
                "participant_code": "P-001",
                "record_id": "x",
                "locale": "fr",
                "as_of_seq": "15",
            }
        ),
    ],
    ids=["json-array", "string-as-of-seq"],
)
def test_verify_pdf_reports_a_malformed_attached_record_as_a_problem(
    signed_db: Participant, attachment: str
) -> None:
    report = documents.verify_pdf(_forged(attachment))

    assert report.ok is False
    assert report.record_matches is False
    assert report.problems


def test_verify_pdf_reports_a_record_that_differs_from_the_audit_trail(
    signed: Signed, signed_db: Participant
) -> None:
    events = mongoengine.get_db()["audit_events"]
    seq = _signer_event(signed_db, signed.guardian_ids[1])["seq"]
    where = {"participant_id": signed.participant_id, "seq": seq}
    events.update_one(where, {"$set": {"payload.printed_name": "Someone Else"}})
    try:
        report = documents.verify_pdf(signed.pdfs["de"])
    finally:
        events.update_one(where, {"$set": {"payload.printed_name": CYRILLIC}})

    assert report.record_matches is False
    assert report.ok is False
    assert report.seal["intact"] is True  # the PDF is genuine; the database changed
    assert any("audit trail in the database is broken" in p for p in report.problems)


def test_withdrawal_document_verifies(signed: Signed, signed_db: Participant) -> None:
    report = documents.verify_pdf(signed.pdfs["withdrawal"])

    assert report.ok is True
    assert report.record_matches is True
    assert report.record is not None and report.record["format"] == "consentkit.withdrawal/1"


def test_withdrawal_document_lists_the_scopes_and_the_declined_reason(signed: Signed) -> None:
    text = _text(signed.pdfs["withdrawal"])

    for scope in SCOPES:  # shown in the reader's language, not as codes
        assert _flat(label("withdrawal_scope", scope, "fr")) in text
        assert scope not in text
    assert _flat(pdf_rendering.labels("fr")["reason_declined"]) in text
    assert "fatigue" not in text


def test_withdrawal_document_attaches_the_withdrawal_event(signed: Signed) -> None:
    record = _attached(signed.pdfs["withdrawal"])

    assert record["as_of_seq"] == signed.withdrawal_seq
    assert record["scopes"] == sorted(SCOPES)
    assert (record["reason"], record["reason_declined"]) == (None, True)
    assert record["locale"] == "fr"  # the site's first language


# ---------------------------------------------------------------- what is not rendered


def test_consent_document_before_completion_is_record_incomplete(demo_study: Any) -> None:
    family = make_family()
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    prepare(family, record, family.guardians[0])
    sign(family, record, family.guardians[0], at=SIGNED)

    with pytest.raises(ConflictError) as caught:
        documents.consent_document(family.participant, record.record_id)

    assert caught.value.code == "record-incomplete"
    assert StoredDocument.objects.count() == 0


def test_consent_document_in_a_language_the_form_lacks_is_invalid(
    signed: Signed, signed_db: Participant
) -> None:
    with pytest.raises(InvalidDataError) as caught:
        documents.consent_document(signed_db, signed.record_id, locale="pt")

    assert caught.value.code == "unknown-locale"


def test_consent_document_unknown_record_is_not_found(signed_db: Participant) -> None:
    with pytest.raises(NotFoundError):
        documents.consent_document(signed_db, "0" * 32)


# ---------------------------------------------------------------- render once, store, read


def test_consent_document_second_request_returns_the_stored_bytes_without_rendering(
    signed: Signed, signed_db: Participant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_render(*_args: Any) -> bytes:
        raise AssertionError("rendered a document that is already stored")

    monkeypatch.setattr(documents, "render_consent_pdf", must_not_render)

    again = documents.consent_document(signed_db, signed.record_id, locale="de")

    first_sha256 = hashlib.sha256(signed.pdfs["de"]).hexdigest()
    assert hashlib.sha256(again.content).hexdigest() == first_sha256
    assert again.document.sha256 == first_sha256
    assert StoredDocument.objects(key=f"consent-record:{signed.record_id}:de").count() == 1


def test_consent_document_concurrent_requests_render_once(
    demo_study: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    participant, record_id = _fresh_consent()
    renders: list[int] = []
    render = documents.render_consent_pdf

    def counting(*args: Any) -> bytes:
        renders.append(1)
        return render(*args)

    monkeypatch.setattr(documents, "render_consent_pdf", counting)

    start = threading.Barrier(2)

    def request(_: int) -> documents.DocumentResult:
        start.wait(timeout=10)
        return documents.consent_document(participant, record_id)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(request, range(2)))

    assert len(renders) == 1
    assert results[0].content == results[1].content
    assert StoredDocument.objects(record_id=record_id).count() == 1
    assert StoredDocument.objects(record_id=record_id).get().status == "ready"


def test_consent_document_takes_over_a_stale_lock(demo_study: Any) -> None:
    participant, record_id = _fresh_consent()
    _crash_a_render(participant, record_id)
    StoredDocument.objects(record_id=record_id).update_one(
        set__lock_at=now_utc() - documents.STALE_LOCK - timedelta(seconds=1)
    )

    result = documents.consent_document(participant, record_id)

    assert result.document.status == "ready"
    assert StoredDocument.objects(record_id=record_id).count() == 1


def test_consent_document_after_a_failed_render_renders_again(
    demo_study: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    participant, record_id = _fresh_consent()
    _crash_a_render(participant, record_id)
    monkeypatch.setattr(documents, "WAIT_FOR_OTHER_RENDERER_S", 1.0)

    result = documents.consent_document(participant, record_id)

    assert result.document.status == "ready"


def test_render_pending_renders_each_completed_record_once(demo_study: Any) -> None:
    _participant, record_id = _fresh_consent()

    first, second = documents.render_pending(), documents.render_pending()

    assert (first, second) == (1, 0)
    assert StoredDocument.objects(record_id=record_id, status="ready").count() == 1


def test_render_pending_renders_a_record_whose_render_died(demo_study: Any) -> None:
    participant, record_id = _fresh_consent()
    _crash_a_render(participant, record_id)
    StoredDocument.objects(record_id=record_id).update_one(
        set__lock_at=now_utc() - documents.STALE_LOCK - timedelta(seconds=1)
    )

    rendered = documents.render_pending()

    assert rendered == 1
    assert StoredDocument.objects(record_id=record_id, status="ready").count() == 1


def test_render_pending_renders_each_withdrawal_confirmation_once(demo_study: Any) -> None:
    family = make_family("P-WDR")
    withdrawal = participation.withdraw(
        family.participant,
        scopes=["no-further-contact"],
        actor=signer_actor(family.guardians[0]),
        expressed_by=str(family.guardians[0].id),
        reason_declined=True,
    )

    first, second = documents.render_pending(), documents.render_pending()

    assert (first, second) == (1, 0)
    [stored] = StoredDocument.objects(kind="withdrawal-confirmation", status="ready")
    assert (stored.participant_id, stored.as_of_seq) == (str(family.participant.id), withdrawal.seq)
    assert documents.verify_pdf(documents._read(stored)).ok


@pytest.mark.parametrize("tail", [b"", b"\n% appended\n"])
def test_verify_seal_and_verify_pdf_describe_a_seal_alike(
    signed: Signed, signed_db: Participant, tail: bytes
) -> None:
    pdf = signed.pdfs["de"] + tail

    assert verification.verify_seal(pdf).seal == documents.verify_pdf(pdf).seal
