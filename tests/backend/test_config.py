"""Configuration fails fast instead of running unsafely."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.config import load_config
from consentkit.errors import ConfigurationError


def test_config_refuses_production_without_secret() -> None:
    with pytest.raises(ConfigurationError, match="CONSENTKIT_SECRET_KEY"):
        load_config(environ={})


def test_config_refuses_short_production_secret() -> None:
    with pytest.raises(ConfigurationError, match="at least 32"):
        load_config(environ={"CONSENTKIT_SECRET_KEY": "short"})


def test_config_reads_prefixed_environment_variables() -> None:
    config = load_config(
        environ={
            "CONSENTKIT_SECRET_KEY": "x" * 40,
            "CONSENTKIT_LOG_FORMAT": "json",
            "CONSENTKIT_MONGODB_URI": "mongodb://db.example:27017/ck",
        }
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
