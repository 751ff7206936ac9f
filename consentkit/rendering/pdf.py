"""HTML to PDF/A-3b with WeasyPrint, fetching nothing but ``data:`` URIs.

Templates receive plain data, never Documents (Indico's hardened receipts are
the model). Everything people wrote is escaped by Jinja's autoescape; section
bodies arrive as HTML already made safe by consentkit.rendering.markdown.

WeasyPrint may only read ``data:`` URIs: a form author or signer who writes
``<img src="file:///etc/passwd">`` or an http(s) URL gets nothing fetched. The
fetcher records what it refused, so tests and logs can show it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import jinja2
from weasyprint import CSS, HTML, Attachment
from weasyprint.urls import URLFetcher

from consentkit.i18n import N_, gettext
from consentkit.paths import templates_dir

log = logging.getLogger(__name__)

#: Labels of the PDF, translated into the reader's language.
LABELS = {
    "study": N_("Study"),
    "trial": N_("Trial"),
    "sponsor": N_("Sponsor"),
    "participant": N_("Participant"),
    "form": N_("Form"),
    "version": N_("Version"),
    "ethics": N_("Ethics committee approval"),
    "content_hash": N_("Fingerprint (SHA-256) of this text"),
    "state": N_("State"),
    "opened_for": N_("Opened for"),
    "choices": N_("Choices"),
    "required": N_("required"),
    "yes": N_("Yes"),
    "no": N_("No"),
    "signatures": N_("Signatures"),
    "assent_choices": N_("What the child said"),
    "assent_signatures": N_("The child's assent"),
    "present": N_("Present when the child signed"),
    "drawn_signature": N_("Drawn signature"),
    "signature_method": N_("How it was signed"),
    "attested_by": N_("Attested by"),
    "early_reason": N_("Reason for signing before the reflection time ended"),
    "signed_utc": N_("Signed (UTC)"),
    "signed_local": N_("Signed (local time)"),
    "interview": N_("Interview"),
    "attestation": N_("Attestation"),
    "witness_for": N_("Witness for"),
    "guardian_exception": N_("Fewer parents sign: recognised exception"),
    "exception_evidence": N_("Evidence"),
    "exception_recorded_by": N_("Recorded by"),
    "other_parent_agreement": N_("Agreement of the other parent"),
    "language_signed": N_("Language and text signed"),
    "authentication": N_("Identity checked by"),
    "binding": N_("Signature binding (SHA-256)"),
    "no_signatures": N_("No signature yet."),
    "audit_trail": N_("Audit trail"),
    "when": N_("When (UTC)"),
    "event": N_("Event"),
    "by": N_("By"),
    "hash": N_("Hash"),
    "record_hash": N_("Record fingerprint"),
    "audit_note": N_(
        "The numbers are the steps of the participant's whole audit trail: steps about "
        "their other forms are left out of this document, so some numbers are skipped."
    ),
    "verification": N_("Verification code"),
    "development_seal": N_(
        "Development installation: this document is sealed with a test certificate "
        "and is not evidence."
    ),
    "withdrawal_title": N_("Confirmation of withdrawal"),
    "withdrawal_scopes": N_("What stops"),
    "withdrawal_reason": N_("Reason"),
    "reason_declined": N_("The person chose not to give a reason."),
    "no_reason": N_("No reason given."),
    "withdrawal_kept": N_(
        "Information collected before the withdrawal is kept and may still be used, "
        "as the law allows (EU Clinical Trials Regulation, Art 28(3)). Nothing new is "
        "collected in the scopes above."
    ),
    "recorded_by": N_("Recorded by"),
    "expressed_utc": N_("Expressed (UTC)"),
    "expressed_local": N_("Expressed (local time)"),
    "channel": N_("How it was expressed"),
}


class DataOnlyFetcher(URLFetcher):
    """A WeasyPrint fetcher that serves ``data:`` URIs and refuses everything else."""

    def __init__(self) -> None:
        """Create a fetcher with no network, file or redirect handlers in use."""
        super().__init__(allowed_protocols={"data"}, allow_redirects=False)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> Any:
        """Fetch ``data:`` URIs only; refuse (and remember) anything else."""
        if not url.lower().startswith("data:"):
            self.refused.append(url)
            log.warning("refused to fetch %r while rendering a PDF", url[:200])
            raise ValueError("consentkit PDFs may only use data: URIs")
        return super().fetch(url, headers)


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "pdf")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


@functools.cache
def _stylesheet() -> str:
    return (templates_dir() / "pdf" / "base.css").read_text(encoding="utf-8")


def labels(locale: str | None) -> dict[str, str]:
    """Return the PDF labels in ``locale``."""
    return {key: gettext(locale, text) for key, text in LABELS.items()}


def render_html(template: str, doc: Mapping[str, Any]) -> str:
    """Render a PDF template with plain data and the labels of ``doc["lang"]``."""
    return _environment().get_template(template).render(doc=doc, labels=labels(doc["lang"]))


def write_pdf(
    html: str,
    *,
    attachment_json: str,
    attachment_name: str,
    created: datetime,
    fetcher: DataOnlyFetcher | None = None,
) -> bytes:
    """Render HTML to tagged PDF/A-3b with the machine-readable record attached as JSON."""
    fetcher = fetcher or DataOnlyFetcher()
    document = HTML(string=html, url_fetcher=fetcher, base_url=None)
    attachment = Attachment(
        string=attachment_json,
        name=attachment_name,
        description="Machine-readable consent record (consentkit)",
        relationship="Data",
        created=created,
        modified=created,
        url_fetcher=fetcher,
    )
    pdf: bytes = document.write_pdf(
        stylesheets=[CSS(string=_stylesheet(), url_fetcher=fetcher)],
        pdf_variant="pdf/a-3b",
        # Tagged for screen readers (a structure tree with headings, tables and each
        # picture's alt text). WeasyPrint writes one variant's identification, so the
        # file says PDF/A-3b; the PDF/UA-1 identifier (pdfuaid) would need a second.
        pdf_tags=True,
        attachments=[attachment],
        pdf_identifier=None,
        custom_metadata=False,
        uncompressed_pdf=False,
    )
    return pdf
