"""Configuration fails fast instead of running unsafely."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.config import load_config
from consentkit.errors import ConfigurationError

REQUIRED_IN_PRODUCTION = [
    "CONSENTKIT_SECRET_KEY",
    "CONSENTKIT_IDENTITY_KEYS",
    "CONSENTKIT_AUDIT_KEY",
    "CONSENTKIT_BLIND_INDEX_KEY",
    "CONSENTKIT_SEAL_CERT",
    "CONSENTKIT_SEAL_KEY",
    "CONSENTKIT_OTP_SENDER",
    "CONSENTKIT_PUBLIC_URL",
]


def production(tmp_path: Path, **changes: str) -> dict[str, str]:
    """A complete production environment (files that exist; the keys are not checked here)."""
    cert, key = tmp_path / "seal.pem", tmp_path / "seal.key"
    cert.write_text("cert")
    key.write_text("key")
    env = {
        "CONSENTKIT_SECRET_KEY": "s" * 40,
        "CONSENTKIT_IDENTITY_KEYS": "k" * 44,
        "CONSENTKIT_AUDIT_KEY": "a" * 40,
        "CONSENTKIT_BLIND_INDEX_KEY": "b" * 40,
        "CONSENTKIT_SEAL_CERT": str(cert),
        "CONSENTKIT_SEAL_KEY": str(key),
        "CONSENTKIT_OTP_SENDER": "smtp",
        "CONSENTKIT_PUBLIC_URL": "https://consent.example.org",
    }
    return {**env, **changes}


def test_config_refuses_production_without_secret() -> None:
    with pytest.raises(ConfigurationError, match="CONSENTKIT_SECRET_KEY"):
        load_config(environ={})


def test_config_refuses_short_production_secret() -> None:
    with pytest.raises(ConfigurationError, match="at least 32"):
        load_config(environ={"CONSENTKIT_SECRET_KEY": "short"})


def test_config_refuses_production_listing_everything_missing() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_config(environ={})

    for name in REQUIRED_IN_PRODUCTION:
        assert name in refused.value.message
    assert len(refused.value.details["errors"]) == len(REQUIRED_IN_PRODUCTION)


def test_config_refuses_production_with_a_seal_file_that_is_not_there(tmp_path: Path) -> None:
    env = production(tmp_path, CONSENTKIT_SEAL_KEY=str(tmp_path / "missing.key"))

    with pytest.raises(ConfigurationError, match="CONSENTKIT_SEAL_KEY names no readable file"):
        load_config(environ=env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONSENTKIT_OTP_SENDER", "console"),
        ("CONSENTKIT_PUBLIC_URL", "http://consent.example.org"),
        ("CONSENTKIT_AUDIT_KEY", "short"),
        ("CONSENTKIT_BLIND_INDEX_KEY", "short"),
    ],
)
def test_config_refuses_unsafe_production_values(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name) as refused:
        load_config(environ=production(tmp_path, **{name: value}))

    assert len(refused.value.details["errors"]) == 1


def test_config_accepts_a_complete_production_configuration(tmp_path: Path) -> None:
    assert load_config(environ=production(tmp_path))["ENV"] == "production"


def test_config_reads_prefixed_environment_variables(tmp_path: Path) -> None:
    config = load_config(
        environ=production(
            tmp_path,
            CONSENTKIT_LOG_FORMAT="json",
            CONSENTKIT_MONGODB_URI="mongodb://db.example:27017/ck",
        )
    )

    assert config["LOG_FORMAT"] == "json"
    assert config["MONGODB_URI"] == "mongodb://db.example:27017/ck"


def test_config_rejects_unknown_environment_name() -> None:
    with pytest.raises(ConfigurationError, match="CONSENTKIT_ENV"):
        load_config(environ={"CONSENTKIT_ENV": "staging"})


def test_config_development_secret_is_random_and_kept(tmp_path: Path) -> None:
    env = {"CONSENTKIT_ENV": "development", "CONSENTKIT_DATA_DIR": str(tmp_path)}

    first = load_config(environ=env)["SECRET_KEY"]
    second = load_config(environ=env)["SECRET_KEY"]
    other = load_config(environ={**env, "CONSENTKIT_DATA_DIR": str(tmp_path / "other")})

    assert first == second
    assert len(first) >= 32
    assert other["SECRET_KEY"] != first


def test_config_refuses_an_smtp_password_over_a_clear_connection_at_start(tmp_path: Path) -> None:
    env = production(
        tmp_path,
        CONSENTKIT_SMTP_USER="consentkit",
        CONSENTKIT_SMTP_PASSWORD="secret",
        CONSENTKIT_SMTP_TLS="off",
    )

    with pytest.raises(ConfigurationError, match="CONSENTKIT_SMTP_TLS") as refused:
        load_config(environ=env)

    assert len(refused.value.details["errors"]) == 1
    assert "secret" not in refused.value.message


@pytest.mark.parametrize(
    ("key", "value", "meaning"),
    [
        ("TRUSTED_PROXIES", "6", "number of proxies"),
        ("TRUSTED_PROXIES", "-1", "number of proxies"),
        ("TRUSTED_PROXIES", "two", "number of proxies"),
        ("TRUSTED_PROXIES", True, "number of proxies"),
        ("PAPER_SCAN_MAX_BYTES", str(1024 * 1024 - 1), "number of bytes"),
        ("PAPER_SCAN_MAX_BYTES", str(200 * 1024 * 1024 + 1), "number of bytes"),
        ("PAPER_SCAN_MAX_BYTES", "20MB", "number of bytes"),
    ],
)
def test_config_refuses_a_number_setting_out_of_its_range_naming_what_it_counts(
    key: str, value: object, meaning: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_config({"TESTING": True, key: value}, environ={})

    assert raised.value.message.startswith(f"CONSENTKIT_{key} must be")
    assert meaning in raised.value.message
    assert repr(value) in raised.value.message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TRUSTED_PROXIES", "0"),
        ("TRUSTED_PROXIES", "5"),
        ("PAPER_SCAN_MAX_BYTES", str(1024 * 1024)),
        ("PAPER_SCAN_MAX_BYTES", str(200 * 1024 * 1024)),
    ],
)
def test_config_accepts_a_number_setting_at_either_end_of_its_range(key: str, value: str) -> None:
    assert load_config({"TESTING": True}, environ={f"CONSENTKIT_{key}": value})[key] == int(value)
