"""Signers' identifying data: encrypted at rest, out of the audit trail, rotatable keys.

GDPR Art 32 and 89(1) (pseudonymisation of research data); the Fernet key list is
documented in :mod:`consentkit.crypto`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from consentkit import crypto
from consentkit.errors import ConfigurationError
from consentkit.services import participants, records
from tests.consentkit.records_helpers import STAFF, T0, make_family, prepare, sign

IDENTITY = {
    "name": "Ελένη Παπαδοπούλου",
    "email": "eleni.papadopoulou@example.org",
    "phone": "+33 6 12 34 56 78",
}


def _text(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, default=str)


def _register(family: Any) -> Any:
    return participants.add_signer(
        family.participant, role="guardian", identity=IDENTITY, actor=STAFF, now=T0
    )


@pytest.fixture
def rotated(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """Prepend a new identity key to the configured one: ``(new, old)``."""
    old = os.environ["CONSENTKIT_IDENTITY_KEYS"]
    new = Fernet.generate_key().decode()
    yield new, old
    monkeypatch.undo()
    crypto.reset_keys()


def _use_keys(monkeypatch: pytest.MonkeyPatch, keys: str) -> None:
    monkeypatch.setenv("CONSENTKIT_IDENTITY_KEYS", keys)
    crypto.reset_keys()


# ---------------------------------------------------------------- kept apart and encrypted


def test_add_signer_stores_no_identifying_data_in_clear(demo_study: Any, clean_db: Any) -> None:
    family = make_family()

    signer = _register(family)

    stored = clean_db["signers"].find_one({"_id": signer.id})
    text = _text(stored)
    assert stored is not None
    assert all(value not in text for value in IDENTITY.values())
    assert "Παπαδοπούλου" not in text


def test_signer_identity_returns_the_decrypted_data(demo_study: Any) -> None:
    family = make_family()

    signer = _register(family)

    assert participants.signer_identity(signer) == IDENTITY


def test_add_signer_keeps_identifying_data_out_of_every_audit_event(
    demo_study: Any, clean_db: Any
) -> None:
    family = make_family()

    _register(family)

    events = list(clean_db["audit_events"].find())
    names = [
        participants.signer_identity(s)["name"] for s in participants.signers_of(family.participant)
    ]
    assert any(e["type"] == "signer.added" for e in events)
    for event in events:
        text = _text(event)
        assert all(value not in text for value in IDENTITY.values())
        assert all(name not in text for name in names)


def test_sign_puts_the_name_in_the_trail_only_as_the_printed_name_of_the_signature(
    demo_study: Any, clean_db: Any
) -> None:
    family = make_family()
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    guardian = family.guardians[0]
    name = participants.signer_identity(guardian)["name"]
    prepare(family, record, guardian)

    sign(family, record, guardian, at=T0 + timedelta(hours=25))

    # 21 CFR 11.50(a): the signed record shows the printed name, so that one place has it.
    naming = [e for e in clean_db["audit_events"].find() if name in _text(e)]
    assert [e["type"] for e in naming] == ["signature.added"]
    payload = naming[0]["payload"]
    assert [key for key, value in payload.items() if name in _text(value)] == ["printed_name"]


# ---------------------------------------------------------------- key rotation


def test_decrypt_identity_old_tokens_still_decrypt_after_a_new_key_is_prepended(
    demo_study: Any, rotated: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    family = make_family()
    signer = _register(family)
    new, old = rotated

    _use_keys(monkeypatch, f"{new},{old}")

    assert participants.signer_identity(signer) == IDENTITY


def test_rotate_token_re_encrypts_under_the_new_key_alone(
    demo_study: Any, rotated: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    family = make_family()
    signer = _register(family)
    new, old = rotated
    _use_keys(monkeypatch, f"{new},{old}")

    token = crypto.rotate_token(signer.identity)

    assert json.loads(Fernet(new.encode()).decrypt(token.encode())) == IDENTITY
    _use_keys(monkeypatch, new)
    assert crypto.decrypt_identity(token) == IDENTITY


def test_encrypt_identity_uses_the_newest_key(
    rotated: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    new, old = rotated
    _use_keys(monkeypatch, f"{new},{old}")

    token = crypto.encrypt_identity(IDENTITY)

    assert json.loads(Fernet(new.encode()).decrypt(token.encode())) == IDENTITY


def test_decrypt_identity_under_an_unknown_key_is_a_configuration_error() -> None:
    stranger = Fernet(Fernet.generate_key()).encrypt(json.dumps(IDENTITY).encode()).decode()

    with pytest.raises(ConfigurationError):
        crypto.decrypt_identity(stranger)


def test_signer_identity_after_its_key_was_dropped_is_a_configuration_error(
    demo_study: Any, rotated: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    family = make_family()
    signer = _register(family)
    new, _old = rotated

    _use_keys(monkeypatch, new)

    with pytest.raises(ConfigurationError):
        participants.signer_identity(signer)


def test_rotate_token_under_an_unknown_key_is_a_configuration_error() -> None:
    stranger = Fernet(Fernet.generate_key()).encrypt(json.dumps(IDENTITY).encode()).decode()

    with pytest.raises(ConfigurationError):
        crypto.rotate_token(stranger)
