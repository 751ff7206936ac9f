"""Sealing PDFs (PAdES with pyHanko) and checking seals.

The institution's certificate and key come from configuration
(``CONSENTKIT_SEAL_CERT``, ``CONSENTKIT_SEAL_KEY``, optional
``CONSENTKIT_SEAL_KEY_PASSWORD``); a seal is PAdES baseline B-B, or B-T when
``CONSENTKIT_TSA_URL`` names a time-stamp authority. Verification trusts
``CONSENTKIT_TRUST_ROOTS`` (PEM files, comma-separated), or the seal
certificate itself when none are configured.

Outside production, a self-signed development certificate is generated once
under the data directory with a loud warning: documents sealed with it prove
integrity to this installation only, never to an inspector.
"""

from __future__ import annotations

import functools
import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from consentkit import settings
from consentkit.errors import ConfigurationError

log = logging.getLogger(__name__)

FIELD_NAME = "ConsentkitSeal"


@dataclass(frozen=True)
class SealMaterial:
    """Where the seal key and certificate are, and whether they are for development."""

    cert_file: Path
    key_file: Path
    password: bytes | None
    is_development: bool


def _generate_development_material(directory: Path) -> SealMaterial:
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "seal-cert.pem", directory / "seal-key.pem"
    if not cert_file.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "consentkit development seal - NOT VALID"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "consentkit development"),
            ]
        )
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_file.chmod(0o600)
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        log.warning(
            "GENERATED A SELF-SIGNED DEVELOPMENT SEAL in %s. PDFs sealed with it are not "
            "evidence for anyone else. Set CONSENTKIT_SEAL_CERT and CONSENTKIT_SEAL_KEY.",
            directory,
        )
    return SealMaterial(cert_file, key_file, None, is_development=True)


def seal_material() -> SealMaterial:
    """Return the configured seal material (generating development material if allowed).

    Raises:
        ConfigurationError: production without a configured certificate and key.
    """
    cert, key = settings.seal_cert(), settings.seal_key()
    if cert and key:
        password = settings.seal_key_password()
        return SealMaterial(Path(cert), Path(key), password.encode() if password else None, False)
    if settings.environment() == "production":
        raise ConfigurationError(
            "CONSENTKIT_SEAL_CERT and CONSENTKIT_SEAL_KEY must be set in production."
        )
    return _generate_development_material(settings.data_dir() / "keys")


@functools.lru_cache(maxsize=4)
def _signer(material: SealMaterial) -> signers.SimpleSigner:
    signer = signers.SimpleSigner.load(
        str(material.key_file), str(material.cert_file), key_passphrase=material.password
    )
    if signer is None:
        raise ConfigurationError(
            "Cannot load the seal key/certificate %(cert_file)s.",
            params={"cert_file": material.cert_file},
        )
    return signer


def _timestamper() -> Any:
    url = settings.tsa_url()
    if not url:
        return None
    from pyhanko.sign.timestamps import HTTPTimeStamper

    return HTTPTimeStamper(url)


def seal_pdf(pdf: bytes, *, reason: str = "Consent record sealed by consentkit") -> bytes:
    """Seal a PDF with the institution's certificate (PAdES B-B, or B-T with a TSA)."""
    material = seal_material()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    timestamper = _timestamper()
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        reason=reason,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        use_pades_lta=False,
    )
    out = io.BytesIO()
    signers.sign_pdf(writer, meta, signer=_signer(material), timestamper=timestamper, output=out)
    return out.getvalue()


def trust_roots() -> list[asn1_x509.Certificate]:
    """Return the certificates verification trusts."""
    files = settings.trust_roots() or [seal_material().cert_file]
    roots = []
    for path in files:
        data = path.read_bytes()
        for cert in x509.load_pem_x509_certificates(data):
            roots.append(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)))
    return roots


@dataclass
class SealReport:
    """What checking a PDF's seal found."""

    sealed: bool
    intact: bool
    trusted: bool
    covers_whole_file: bool
    signer: str | None
    signed_at: datetime | None
    problem: str | None

    @property
    def ok(self) -> bool:
        """Return True when the seal is present, intact, trusted and covers every byte."""
        return self.sealed and self.intact and self.trusted and self.covers_whole_file

    def to_dict(self) -> dict[str, Any]:
        """Return the ``seal`` part of a verification answer (public and staff alike)."""
        return {
            "sealed": self.sealed,
            "intact": self.intact,
            "trusted": self.trusted,
            "covers_whole_file": self.covers_whole_file,
            "signer": self.signer,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
        }


def check_seal(pdf: bytes) -> SealReport:
    """Validate the consentkit seal of a PDF against the configured trust roots."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = [s for s in reader.embedded_signatures]
    except Exception as exc:
        return SealReport(False, False, False, False, None, None, f"not a readable PDF: {exc}")
    if not embedded:
        return SealReport(False, False, False, False, None, None, "the PDF has no seal")
    signature = embedded[-1]
    try:
        status = validate_pdf_signature(
            signature, ValidationContext(trust_roots=trust_roots(), allow_fetching=False)
        )
    except Exception as exc:
        return SealReport(True, False, False, False, None, None, f"the seal is damaged: {exc}")
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    problem = None
    if not status.intact:
        problem = "the document was changed after it was sealed"
    elif not status.trusted:
        problem = "the seal certificate is not one this installation trusts"
    elif not whole:
        problem = "content was added after the seal"
    subject = status.signing_cert.subject.human_friendly if status.signing_cert else None
    return SealReport(
        True, status.intact, status.trusted, whole, subject, status.signer_reported_dt, problem
    )
