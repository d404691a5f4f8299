"""Configuration: production refuses to start without its secrets; development makes its own."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

import config


def restore(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the environment back first, then reload: a reload with the test's variables still
    set would leave them in the configuration classes for every later test."""
    monkeypatch.undo()
    importlib.reload(config)


def test_production_refuses_to_start_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SECRET_KEY",
        "DATABASE_URL",
        "FIELD_ENCRYPTION_KEYS",
        "BLIND_INDEX_KEY",
        "AUDIT_SIGNING_KEY",
        "REDIS_URL",
        "RATELIMIT_STORAGE_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    reloaded = importlib.reload(config)
    try:
        with pytest.raises(reloaded.ConfigurationError) as excinfo:
            reloaded.ProductionConfig.prepare()
        message = str(excinfo.value)
        for name in (
            "SECRET_KEY",
            "DATABASE_URL",
            "FIELD_ENCRYPTION_KEYS",
            "BLIND_INDEX_KEY",
            "AUDIT_SIGNING_KEY",
            "REDIS_URL",
        ):
            assert name in message
    finally:
        restore(monkeypatch)


def test_production_starts_with_secrets_and_is_hardened(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app")
    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", "k1:" + "A" * 43)
    monkeypatch.setenv("BLIND_INDEX_KEY", "B" * 43)
    monkeypatch.setenv("AUDIT_SIGNING_KEY", "C" * 43)
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    reloaded = importlib.reload(config)
    try:
        settings = reloaded.ProductionConfig.prepare()
        assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://app@db/app"
        assert settings["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"
        assert settings["SESSION_COOKIE_NAME"].startswith("__Host-")
        assert settings["SESSION_COOKIE_SECURE"] and settings["SESSION_COOKIE_HTTPONLY"]
        assert settings["SESSION_COOKIE_SAMESITE"] == "Lax" and settings["HSTS"] and not settings["DEBUG"]
    finally:
        restore(monkeypatch)


def test_development_generates_secrets_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "AUDIT_SIGNING_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    reloaded = importlib.reload(config)
    try:
        first = reloaded.DevelopmentConfig.prepare()
        stored = json.loads((tmp_path / "dev-secrets.json").read_text())
        assert first["SECRET_KEY"] == stored["SECRET_KEY"]
        assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0  # readable by the owner only
        again = importlib.reload(config).DevelopmentConfig.prepare()
        assert again["SECRET_KEY"] == first["SECRET_KEY"]
        assert str(tmp_path / "app.db") in again["SQLALCHEMY_DATABASE_URI"]
    finally:
        restore(monkeypatch)


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(config.ConfigurationError):
        config.config_for("staging-typo")


# Well-formed production secrets (fake values).
PRODUCTION = {
    "SECRET_KEY": "s" * 40,
    "DATABASE_URL": "postgresql://app@db/app",
    "REDIS_URL": "redis://cache:6379/0",
    "FIELD_ENCRYPTION_KEYS": "k1:" + "A" * 43,
    "BLIND_INDEX_KEY": "B" * 43,
    "AUDIT_SIGNING_KEY": "C" * 43,
}


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("SECRET_KEY", "short", "SECRET_KEY must be at least 32 characters"),
        ("FIELD_ENCRYPTION_KEYS", "k1:c2hvcnQ", "id:base64url(32 bytes)"),
        ("FIELD_ENCRYPTION_KEYS", "k1:" + "A" * 43 + ",k1:" + "B" * 43, "key id twice"),
        ("BLIND_INDEX_KEY", "secret", "BLIND_INDEX_KEY must be base64url"),
        ("AUDIT_SIGNING_KEY", "c2hvcnQ", "AUDIT_SIGNING_KEY must be base64url"),
    ],
)
def test_malformed_secrets_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    good = PRODUCTION
    for key, setting in {**good, name: value}.items():
        monkeypatch.setenv(key, setting)
    reloaded = importlib.reload(config)
    try:
        with pytest.raises(reloaded.ConfigurationError, match=re.escape(problem)):
            reloaded.ProductionConfig.prepare()
    finally:
        restore(monkeypatch)


FEDERATED = {
    **PRODUCTION,
    "FEDERATION_BASE_URL": "https://referral.fr.example",
    "FEDERATION_COUNTRY": "FR",
    "FEDERATION_SIGNING_KEY": "D" * 43,
    "FEDERATION_ENCRYPTION_KEYS": "E" * 43,
}


def test_federation_settings_start(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, setting in FEDERATED.items():
        monkeypatch.setenv(key, setting)
    try:
        settings = importlib.reload(config).ProductionConfig.prepare()
        assert settings["FEDERATION_COUNTRY"] == "FR" and settings["FEDERATION_ENCRYPTION_KEYS"] == ["E" * 43]
    finally:
        restore(monkeypatch)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"FEDERATION_BASE_URL": "http://referral.fr.example"},
            "FEDERATION_BASE_URL must be the installation's https://",
        ),
        ({"FEDERATION_COUNTRY": "France"}, "FEDERATION_COUNTRY must be an ISO 3166-1 alpha-2 code"),
        ({"FEDERATION_SIGNING_KEY": "c2hvcnQ"}, "FEDERATION_SIGNING_KEY must be base64url"),
        ({"FEDERATION_ENCRYPTION_KEYS": "c2hvcnQ"}, "FEDERATION_ENCRYPTION_KEYS must list"),
        ({"FEDERATION_COUNTRY": ""}, "FEDERATION_BASE_URL needs FEDERATION_COUNTRY"),
        ({"FEDERATION_ALLOW_LOCAL_HTTP": "true"}, "never production"),
    ],
)
def test_federation_settings_are_checked_at_start(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, str], problem: str
) -> None:
    for key, setting in {**FEDERATED, **changes}.items():
        monkeypatch.setenv(key, setting)
    reloaded = importlib.reload(config)
    try:
        with pytest.raises(reloaded.ConfigurationError, match=re.escape(problem)):
            reloaded.ProductionConfig.prepare()
    finally:
        restore(monkeypatch)
