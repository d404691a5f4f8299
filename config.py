"""Configuration read from the environment.

Production (``APP_ENV=production``, the default for ``wsgi.py``) refuses to start
without its secrets. Development generates its secrets once under ``instance/``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


class ConfigurationError(RuntimeError):
    """Raised when the environment does not hold what production needs."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def database_url(value: str | None) -> str | None:
    """Use psycopg 3 for PostgreSQL URLs given in the usual ``postgresql://`` form."""
    if value and value.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def _development_secrets() -> dict[str, str]:
    """Generate development secrets once and keep them under instance/."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "dev-secrets.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        if "AUDIT_SIGNING_KEY" not in loaded:  # made before audit checkpoints existed
            loaded["AUDIT_SIGNING_KEY"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
            path.write_text(json.dumps(loaded))
        return loaded
    values = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "FIELD_ENCRYPTION_KEYS": "dev1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "BLIND_INDEX_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "AUDIT_SIGNING_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    return values


def _decoded_key(value: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        return None


def _federation_problems(settings: dict[str, Any]) -> list[str]:
    problems = []
    if settings.get("FEDERATION_SIGNING_KEY"):
        seed = _decoded_key(str(settings["FEDERATION_SIGNING_KEY"]))
        if seed is None or len(seed) != 32:
            problems.append("FEDERATION_SIGNING_KEY must be base64url of a 32-byte Ed25519 private key")
    for item in settings.get("FEDERATION_ENCRYPTION_KEYS") or []:
        raw = _decoded_key(item)
        if raw is None or len(raw) != 32:
            problems.append("FEDERATION_ENCRYPTION_KEYS must list base64url 32-byte X25519 private keys")
            break
    if settings.get("FEDERATION_BASE_URL") and not (
        settings.get("FEDERATION_COUNTRY")
        and settings.get("FEDERATION_SIGNING_KEY")
        and settings.get("FEDERATION_ENCRYPTION_KEYS")
    ):
        problems.append(
            "FEDERATION_BASE_URL needs FEDERATION_COUNTRY, FEDERATION_SIGNING_KEY and FEDERATION_ENCRYPTION_KEYS"
        )
    from app.federation.envelope import valid_installation_url  # here: app imports this module

    url = str(settings.get("FEDERATION_BASE_URL") or "").rstrip("/")
    if url and not valid_installation_url(url, allow_local_http=bool(settings.get("FEDERATION_ALLOW_LOCAL_HTTP"))):
        problems.append("FEDERATION_BASE_URL must be the installation's https:// address")
    country = str(settings.get("FEDERATION_COUNTRY") or "")
    if country and not re.match(r"^[A-Z]{2}$", country):
        problems.append("FEDERATION_COUNTRY must be an ISO 3166-1 alpha-2 code, like RO")
    if settings.get("APP_ENV") == "production" and settings.get("FEDERATION_ALLOW_LOCAL_HTTP"):
        problems.append("FEDERATION_ALLOW_LOCAL_HTTP is for tests and demonstrations, never production")
    return problems


def _secret_problems(settings: dict[str, Any]) -> list[str]:
    """Check the form of the secrets, so a typo fails at start-up and not at first use."""
    problems = []
    if len(settings["SECRET_KEY"]) < 32:
        problems.append("SECRET_KEY must be at least 32 characters")
    key_ids: list[str] = []
    for item in str(settings["FIELD_ENCRYPTION_KEYS"]).split(","):
        key_id, _, encoded = item.strip().partition(":")
        key = _decoded_key(encoded)
        if not key_id or key is None or len(key) != 32:
            problems.append("FIELD_ENCRYPTION_KEYS must be a comma-separated list of id:base64url(32 bytes)")
            break
        key_ids.append(key_id)
    if len(set(key_ids)) != len(key_ids):
        problems.append("FIELD_ENCRYPTION_KEYS lists a key id twice")
    blind = _decoded_key(str(settings["BLIND_INDEX_KEY"]))
    if blind is None or len(blind) < 32:
        problems.append("BLIND_INDEX_KEY must be base64url of at least 32 random bytes")
    seed = _decoded_key(str(settings["AUDIT_SIGNING_KEY"]))
    if seed is None or len(seed) != 32:
        problems.append("AUDIT_SIGNING_KEY must be base64url of a 32-byte Ed25519 private key")
    problems += _federation_problems(settings)
    for item in settings.get("AUDIT_RETIRED_PUBLIC_KEYS") or []:
        public = _decoded_key(item)
        if public is None or len(public) != 32:
            problems.append("AUDIT_RETIRED_PUBLIC_KEYS must list base64url 32-byte Ed25519 public keys")
            break
    return problems


class BaseConfig:
    """Settings shared by every environment. Values are safe production defaults."""

    APP_ENV = "production"
    TESTING = False
    DEBUG = False

    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI: str | None = database_url(os.environ.get("DATABASE_URL"))
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}
    # Field encryption: "kid:base64key,kid2:base64key"; the first is the active key.
    FIELD_ENCRYPTION_KEYS: str | None = os.environ.get("FIELD_ENCRYPTION_KEYS")
    BLIND_INDEX_KEY: str | None = os.environ.get("BLIND_INDEX_KEY")
    # Audit checkpoints are signed with this Ed25519 key (base64url of the 32-byte private
    # key, `flask audit keygen`); public keys of earlier signing keys stay listed to verify
    # older checkpoints.
    AUDIT_SIGNING_KEY: str | None = os.environ.get("AUDIT_SIGNING_KEY")
    AUDIT_RETIRED_PUBLIC_KEYS: list[str] = _env_list("AUDIT_RETIRED_PUBLIC_KEYS", [])
    # A signed checkpoint of the chain head at most this often, and a full verification
    # at most this often, both from the periodic tick.
    AUDIT_CHECKPOINT_MINUTES = _env_int("AUDIT_CHECKPOINT_MINUTES", 60)
    AUDIT_VERIFY_HOURS = _env_int("AUDIT_VERIFY_HOURS", 24)
    # Anomaly flags on the supervisor pages: more distinct cases viewed by one user in one
    # hour than this, and activity in these local hours (start-end, the country's time zone).
    AUDIT_CASES_PER_HOUR_THRESHOLD = _env_int("AUDIT_CASES_PER_HOUR_THRESHOLD", 30)
    AUDIT_QUIET_HOURS = os.environ.get("AUDIT_QUIET_HOURS", "22-6")
    # Emergency ("break-glass") access to a case lasts this long.
    BREAK_GLASS_DURATION = timedelta(hours=_env_int("BREAK_GLASS_HOURS", 3))
    REDIS_URL: str | None = os.environ.get("REDIS_URL")
    # Rate-limit counters: Redis when REDIS_URL is set. A single-server installation may
    # choose RATELIMIT_STORAGE_URI=memory:// explicitly; production never falls back silently.
    RATELIMIT_STORAGE_URI: str | None = os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL")
    # Background jobs (e-mail, deadlines): an RQ queue in Redis; unset: run in-process.
    JOBS_REDIS_URL: str | None = os.environ.get("JOBS_REDIS_URL") or os.environ.get("REDIS_URL")
    # The deadline tick (reminders, expiry, escalation) as a repeating RQ job, in seconds.
    JOBS_TICK_SECONDS = _env_int("JOBS_TICK_SECONDS", 60)
    # A ticker thread under `flask run` when there is no Redis; only development sets it.
    JOBS_INPROCESS_TICK_SECONDS = 0
    # E-mail notifications (no personal data, only a link). No MAIL_SERVER: in-app only.
    MAIL_SERVER: str | None = os.environ.get("MAIL_SERVER")
    MAIL_PORT = _env_int("MAIL_PORT", 587)
    MAIL_STARTTLS = _env_bool("MAIL_STARTTLS", True)
    MAIL_USERNAME: str | None = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD: str | None = os.environ.get("MAIL_PASSWORD")
    MAIL_FROM = os.environ.get("MAIL_FROM", "no-reply@localhost")
    # The address users reach the app at, for links in e-mails.
    EXTERNAL_URL = os.environ.get("EXTERNAL_URL", "http://127.0.0.1:5000")
    # How long a recipient keeps reading a referral's shared data after it ended.
    REFERRAL_ACCESS_GRACE = timedelta(days=_env_int("REFERRAL_ACCESS_GRACE_DAYS", 14))
    # Host names this installation answers to (comma-separated); links in the UI use them.
    TRUSTED_HOSTS: list[str] | None = _env_list("TRUSTED_HOSTS", []) or None

    # Sessions (ASVS V3)
    SESSION_IDLE_TIMEOUT = timedelta(minutes=_env_int("SESSION_IDLE_MINUTES", 30))
    SESSION_ABSOLUTE_LIFETIME = timedelta(hours=_env_int("SESSION_ABSOLUTE_HOURS", 12))
    # "__Host-": the browser only accepts it over HTTPS, for this exact host, path "/".
    SESSION_COOKIE_NAME = "__Host-trs_session"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PENDING_SIGN_IN_LIFETIME = timedelta(minutes=5)
    ACTIVATION_LINK_LIFETIME = timedelta(hours=_env_int("ACTIVATION_LINK_HOURS", 72))

    # Sign-in throttling (Flask-Limiter syntax); only failed attempts count.
    SIGN_IN_LIMIT_PER_ACCOUNT = os.environ.get("SIGN_IN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")
    SIGN_IN_LIMIT_PER_ADDRESS = os.environ.get("SIGN_IN_LIMIT_PER_ADDRESS", "30 per 15 minutes")
    RATELIMIT_HEADERS_ENABLED = False

    # Two-factor sign-in is always mandatory for these roles; the others follow
    # TWO_FACTOR_REQUIRED_FOR_ALL.
    TWO_FACTOR_MANDATORY_ROLES = ("focal_point", "supervisor", "agency_admin", "system_admin")
    TWO_FACTOR_REQUIRED_FOR_ALL = _env_bool("TWO_FACTOR_REQUIRED_FOR_ALL", False)
    TOTP_ISSUER = os.environ.get("TOTP_ISSUER", "Victim referral")

    # Passwords
    PASSWORD_MIN_LENGTH = 12
    PASSWORD_MAX_LENGTH = 128
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4

    # Requests
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)
    MAX_FORM_MEMORY_SIZE = 500 * 1024
    TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)
    HSTS = True
    PREFERRED_URL_SCHEME = "https"

    # Federation (docs/FEDERATION.md): this installation's address and country as its peers
    # know them, its Ed25519 signing key and its X25519 decryption keys (base64url of the
    # 32-byte private keys, `flask federation keygen`; the first decryption key is current,
    # the others are kept during a rollover). Unset: no packages are sent or received.
    FEDERATION_BASE_URL: str | None = os.environ.get("FEDERATION_BASE_URL")
    FEDERATION_COUNTRY: str | None = os.environ.get("FEDERATION_COUNTRY")
    FEDERATION_SIGNING_KEY: str | None = os.environ.get("FEDERATION_SIGNING_KEY")
    FEDERATION_ENCRYPTION_KEYS: list[str] = _env_list("FEDERATION_ENCRYPTION_KEYS", [])
    # Plain http:// addresses of peers on 127.0.0.1 only (two installations on one machine,
    # in tests and demonstrations). Never in production.
    FEDERATION_ALLOW_LOCAL_HTTP = _env_bool("FEDERATION_ALLOW_LOCAL_HTTP", False)
    FEDERATION_TIMEOUT_SECONDS = _env_int("FEDERATION_TIMEOUT_SECONDS", 10)
    FEDERATION_MAX_BACKOFF_SECONDS = _env_int("FEDERATION_MAX_BACKOFF_SECONDS", 3600)
    FEDERATION_INBOX_LIMIT = os.environ.get("FEDERATION_INBOX_LIMIT", "60/minute")
    # Deliver a queued package at once (a job after the commit); the periodic tick retries.
    FEDERATION_DELIVER_AT_ONCE = _env_bool("FEDERATION_DELIVER_AT_ONCE", True)

    # Internationalisation
    # English, French, German, Romanian, Bulgarian: every catalogue and indicator text complete.
    LANGUAGES = ("en", "fr", "de", "ro", "bg")
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    REQUIRED_IN_PRODUCTION = (
        "SECRET_KEY",
        "SQLALCHEMY_DATABASE_URI",
        "FIELD_ENCRYPTION_KEYS",
        "BLIND_INDEX_KEY",
        "AUDIT_SIGNING_KEY",
        "RATELIMIT_STORAGE_URI",
    )

    @classmethod
    def prepare(cls) -> dict[str, Any]:
        """Return the settings as a mapping, refusing to go on without sound secrets."""
        settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
        missing = [key for key in cls.REQUIRED_IN_PRODUCTION if not settings.get(key)]
        if missing:
            names = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL", "RATELIMIT_STORAGE_URI": "REDIS_URL"}
            raise ConfigurationError(
                "Refusing to start in production: set the environment variable(s) "
                + ", ".join(names.get(key, key) for key in missing)
                + ". See docs/DEPLOYMENT.md."
            )
        problems = _secret_problems(settings)
        if problems:
            raise ConfigurationError("Refusing to start: " + "; ".join(problems) + ". See docs/DEPLOYMENT.md.")
        return settings


class ProductionConfig(BaseConfig):
    pass


class DevelopmentConfig(BaseConfig):
    APP_ENV = "development"
    DEBUG = False
    SESSION_COOKIE_SECURE = False
    HSTS = False
    PREFERRED_URL_SCHEME = "http"
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL")) or f"sqlite:///{INSTANCE_DIR / 'app.db'}"
    TOTP_ISSUER = "Victim referral (demo)"
    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL") or "memory://"
    SESSION_COOKIE_NAME = "trs_session"  # plain HTTP on 127.0.0.1: no __Host- prefix
    JOBS_INPROCESS_TICK_SECONDS = _env_int("JOBS_INPROCESS_TICK_SECONDS", 60)

    @classmethod
    def prepare(cls) -> dict[str, Any]:
        generated = _development_secrets()
        for key, value in generated.items():
            if not getattr(cls, key):
                setattr(cls, key, os.environ.get(key) or value)
        return super().prepare()


class TestingConfig(BaseConfig):
    APP_ENV = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105 - tests only
    SESSION_COOKIE_SECURE = False
    HSTS = False
    PREFERRED_URL_SCHEME = "http"
    SQLALCHEMY_DATABASE_URI = "sqlite://"  # tests pass the database they use
    FIELD_ENCRYPTION_KEYS = (
        "t2:"
        + base64.urlsafe_b64encode(b"\x02" * 32).decode()
        + ",t1:"
        + base64.urlsafe_b64encode(b"\x01" * 32).decode()
    )
    BLIND_INDEX_KEY = base64.urlsafe_b64encode(b"\x03" * 32).decode()
    AUDIT_SIGNING_KEY = base64.urlsafe_b64encode(b"\x04" * 32).decode()
    SESSION_COOKIE_NAME = "trs_session"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    RATELIMIT_STORAGE_URI = "memory://"
    REDIS_URL = None
    JOBS_REDIS_URL = None
    MAIL_SERVER = None


CONFIGS: dict[str, type[BaseConfig]] = {
    "production": ProductionConfig,
    "development": DevelopmentConfig,
    "testing": TestingConfig,
}


def config_for(name: str | None = None) -> type[BaseConfig]:
    env = name or os.environ.get("APP_ENV", "production")
    try:
        return CONFIGS[env]
    except KeyError as exc:
        raise ConfigurationError(f"Unknown APP_ENV {env!r}; use one of {', '.join(CONFIGS)}.") from exc
