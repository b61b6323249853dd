"""Application settings, read from the environment and `.env` (pydantic-settings).

Each field's `description` (and `examples`) is the documentation: `python -m app docs`
writes the settings reference and `.env.example` from them. `get_settings()`
is cached, so importing this module is cheap and tests can build their own
`Settings(...)` with keyword overrides.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse as parse_rate_limit
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

logger = logging.getLogger(__name__)

Environment = Literal["development", "staging", "production"]
# RFC 7518, 3.2: an HMAC key at least as long as the hash. Shorter keys are refused in
# production (and PyJWT warns about them).
MIN_SECRET_LENGTH = {"HS256": 32, "HS384": 48, "HS512": 64}


# A page path: segments of URL-safe characters, no `..`, no query string.
_PAGE_PATH = re.compile(r"(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)+/?")
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def _split_csv(value: object) -> object:
    """Let list settings be written as `a,b,c` in the environment as well as JSON."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            return json.loads(stripped)
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", validate_default=True
    )

    # Application
    app_name: str = Field(
        default="Items Service",
        description="Name shown in the OpenAPI document and the e-mails.",
    )
    app_version: str = Field(default="1.0.0", description="Version shown in the OpenAPI document.")
    app_description: str = Field(
        default="User accounts and the items they own.",
        description="Description shown in the OpenAPI document.",
    )
    environment: Environment = Field(
        default="development",
        description=(
            "`development`, `staging` or `production`. Production requires `SECRET_KEY` (32+ "
            "characters for HS256, 48 for HS384, 64 for HS512), turns the docs off and logs "
            "JSON lines."
        ),
    )
    debug: bool = Field(default=False, description="FastAPI debug mode.")
    api_prefix: str = Field(default="/api/v1", description="Prefix of the API routes.")
    docs_enabled: bool | None = Field(
        default=None,
        description="Serve `/docs`, `/redoc` and `/openapi.json`. Default: on outside production.",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description=(
            "Folder of the SQLite database, the development secret key, the outbox and the "
            "job files."
        ),
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    log_json: bool | None = Field(
        default=None,
        description="JSON lines instead of readable lines. Default: on in production.",
    )

    # Database
    database_url: str = Field(
        default="",
        description=(
            "`sqlite+aiosqlite:///path` or `postgresql+asyncpg://user:pass@host:5432/db`. "
            "Empty: SQLite at `DATA_DIR/app.db`."
        ),
        examples=["postgresql+asyncpg://app:secret@127.0.0.1:5432/app"],
    )
    db_pool_size: int = Field(default=20, ge=1, description="Connections in each process's pool.")
    db_max_overflow: int = Field(
        default=0,
        ge=0,
        description=(
            "Connections opened beyond the pool in a burst (and closed after it; several ms "
            "each on asyncpg), so the pool is fixed-size by default."
        ),
    )
    db_pool_timeout: float = Field(
        default=3.0,
        gt=0,
        description="Seconds to wait for a pooled connection before answering 503.",
    )
    db_pool_recycle: int = Field(
        default=1800,
        ge=-1,
        description="Seconds before a connection is replaced; -1: never.",
    )
    db_pool_ping_idle: float = Field(
        default=1.0,
        ge=0,
        description=(
            "A pooled connection idle this many seconds is pinged before use (a dead one is "
            "replaced); 0 pings at every checkout."
        ),
    )
    # Requests holding a session at once; None: the pool's size (no wait for the pool), 0: no cap.
    db_session_limit: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Requests holding a database session at once, per process; the others wait their "
            "turn (FIFO) before their first query. Default: pool size + overflow; 0: no cap."
        ),
    )
    db_connect_timeout: float = Field(
        default=2.0,
        gt=0,
        description="Seconds to connect to PostgreSQL (asyncpg) before giving up.",
    )
    db_command_timeout: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Seconds a PostgreSQL statement may run (asyncpg): a silent database gives 503 quickly."
        ),
    )
    db_echo: bool = Field(default=False, description="Log every SQL statement.")

    # Security
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Signs tokens. Default outside production: generated once into `DATA_DIR/secret_key`."
        ),
    )
    algorithm: Literal["HS256", "HS384", "HS512"] = Field(
        default="HS256",
        description=(
            "JWT algorithm: `HS256`, `HS384` or `HS512` (a longer algorithm needs a longer "
            "key in production)."
        ),
    )
    access_token_expire_minutes: int = Field(
        default=15,
        ge=1,
        description="Access token lifetime, in minutes.",
    )
    refresh_token_expire_days: int = Field(
        default=14,
        ge=1,
        description="Refresh token lifetime, in days.",
    )
    email_token_expire_hours: int = Field(
        default=24,
        ge=1,
        description="E-mail verification token lifetime, in hours.",
    )
    password_reset_expire_minutes: int = Field(
        default=30,
        ge=1,
        description="Password reset token lifetime, in minutes.",
    )
    password_hash_time_cost: int = Field(
        default=3,
        ge=1,
        description="Argon2id time cost (iterations).",
    )
    password_hash_memory_cost: int = Field(
        default=65536,
        ge=8,
        description="Argon2id memory cost, in KiB.",
    )
    password_hash_parallelism: int = Field(
        default=4,
        ge=1,
        description="Argon2id parallelism (lanes).",
    )
    password_hash_concurrency: int = Field(
        default=2,
        ge=1,
        description=(
            "Password hashes computed at once per process (each takes `PASSWORD_HASH_MEMORY_COST`)."
        ),
    )
    password_hash_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description=(
            "Nice value (0-19) of the hashing threads on Linux, so request handling wins the "
            "CPU over hashing; 0 leaves them alone."
        ),
    )
    require_verified_email_for_items: bool = Field(
        default=False,
        description="Only users with a verified e-mail address may create items.",
    )

    # HTTP
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed by CORS (never `*` in production).",
        examples=[["https://app.example.com"]],
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Comma-separated addresses or CIDR networks of reverse proxies whose "
            "`X-Forwarded-For` is believed."
        ),
        examples=[["10.0.0.0/8"]],
    )
    max_body_size: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Request body limit, in bytes.",
    )
    max_import_size: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description=(
            "Size limit of an import file, in bytes (its multipart framing may add up to 64 "
            "KiB to the request)."
        ),
    )

    # Redis, rate limiting
    redis_url: str | None = Field(
        default=None,
        description=(
            "`redis://host:6379/0`: shared rate limits (and the jobs broker unless "
            "`CELERY_BROKER_URL` is set)."
        ),
        examples=["redis://127.0.0.1:6379/0"],
    )
    rate_limit_enabled: bool = Field(default=True, description="Switch the rate limiter on or off.")
    rate_limit_requests: int = Field(
        default=100,
        ge=1,
        description="Requests per `RATE_LIMIT_PERIOD` for each client address, and for each user.",
    )
    rate_limit_period: int = Field(
        default=60,
        ge=1,
        description="The period of `RATE_LIMIT_REQUESTS`, in seconds.",
    )
    rate_limit_strategy: Literal["moving-window", "sliding-window-counter"] = Field(
        default="moving-window",
        description="`moving-window`, or `sliding-window-counter` (approximate, less memory).",
    )
    rate_limit_key_prefix: str = Field(
        default="ratelimit",
        min_length=1,
        description="Prefix of the rate limiter's Redis keys.",
    )
    # Stricter limits in the `limits` notation ("10/minute", "5 per 15 minutes").
    rate_limit_login: str = Field(
        default="10/minute",
        description=(
            "Login attempts per client address, in the `limits` notation (`10/minute`, `5 per"
            " 15 minutes`)."
        ),
    )
    rate_limit_login_email: str = Field(
        default="5/minute",
        description="Login attempts per e-mail address tried.",
    )
    rate_limit_password_reset: str = Field(
        default="5/hour",
        description="Password-reset requests per client address.",
    )
    rate_limit_password_reset_email: str = Field(
        default="3/hour",
        description="Password-reset requests per e-mail address.",
    )
    rate_limit_password_change: str = Field(
        default="5 per 15 minutes",
        description=(
            "Password changes (`PATCH /users/me` with `current_password`) per user: guesses "
            "of the current password."
        ),
    )

    # Operations
    access_log: bool = Field(default=True, description="One log line per request.")
    metrics_enabled: bool = Field(default=True, description="Serve `GET /metrics`.")
    shutdown_timeout: int = Field(
        default=20,
        ge=1,
        description="Seconds a stopping server gives the requests in flight.",
    )

    # E-mail
    smtp_host: str | None = Field(
        default=None,
        description="SMTP relay. Without it, e-mails are written to `DATA_DIR/outbox/`.",
        examples=["smtp.example.com"],
    )
    smtp_port: int = Field(
        default=587,
        ge=1,
        le=65535,
        description="SMTP relay port (usually 587 with STARTTLS, 465 with `SMTP_TLS`).",
    )
    smtp_user: str | None = Field(
        default=None,
        description="SMTP login (AUTH), when the relay needs one.",
    )
    smtp_password: SecretStr | None = Field(
        default=None,
        description="SMTP password, with `SMTP_USER`.",
    )
    smtp_tls: bool = Field(
        default=False,
        description="Implicit TLS from the first byte (port 465).",
    )
    smtp_starttls: bool = Field(
        default=True,
        description=(
            "Require STARTTLS (a relay that does not offer it is an error, never a plain-text"
            " fall-back); ignored with `SMTP_TLS`."
        ),
    )
    smtp_timeout: float = Field(default=10.0, gt=0, description="Seconds per SMTP operation.")
    email_from: str = Field(
        default="Items Service <no-reply@localhost>",
        description="Sender of every e-mail (header and envelope).",
    )
    public_url: str | None = Field(
        default=None,
        description=(
            "The address people reach this service at (`https://api.example.com`): the base "
            "of the links in e-mails. Default: `http://HOST:PORT`, where `serve` listens "
            "(`127.0.0.1` when `HOST` is `0.0.0.0` or `::`)."
        ),
    )
    frontend_url: str | None = Field(
        default=None,
        description=(
            "A front end of the deployment's own that opens the e-mail links instead of this "
            "service's pages: links become `FRONTEND_URL` + `VERIFY_EMAIL_PATH` (or "
            "`RESET_PASSWORD_PATH`) + `?token=...`."
        ),
    )
    verify_email_path: str = Field(
        default="/verify-email",
        description="Path of the page that e-mail verification links open.",
    )
    reset_password_path: str = Field(
        default="/reset-password",
        description="Path of the page that password-reset links open.",
    )

    # Admin console (/admin)
    admin_enabled: bool = Field(
        default=True,
        description="Serve the admin console at `/admin` (superusers only).",
    )
    admin_session_idle_minutes: int = Field(
        default=30,
        ge=1,
        description="An admin console session ends after this many minutes without a request.",
    )
    admin_session_max_hours: int = Field(
        default=8,
        ge=1,
        description="An admin console session ends this many hours after sign-in, however used.",
    )

    # Celery, background jobs (none set: the embedded broker under job_dir)
    celery_broker_url: str | None = Field(
        default=None,
        description="Where tasks go. Default: `REDIS_URL`, else the embedded broker in `JOB_DIR`.",
        examples=["redis://127.0.0.1:6379/1"],
    )
    celery_result_backend: str | None = Field(
        default=None,
        description=(
            "Optional result backend for Celery's own tools; job status is kept in the database."
        ),
    )
    celery_visibility_timeout: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Seconds before Redis hands an unacknowledged task to another worker; must exceed"
            " the longest job. Default: `JOB_TIME_LIMIT` + 300."
        ),
    )
    celery_worker_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="Tasks a worker runs at once. Default: one per CPU (`serve`'s own worker: 2).",
    )
    embedded_worker: bool | None = Field(
        default=None,
        description=(
            "Whether `serve` starts a worker process of its own. Default: on when the broker "
            "is embedded."
        ),
    )
    job_dir: Path | None = Field(
        default=None,
        description=(
            "Uploads, exports and the embedded broker; shared by the API and the workers. "
            "Default: `DATA_DIR/jobs`."
        ),
    )
    job_file_max_age: int = Field(
        default=24 * 3600,
        ge=60,
        description="Seconds before job files are swept.",
    )
    job_time_limit: int = Field(
        default=1800,
        ge=10,
        description="Seconds a job may run (it fails cleanly 30 s before).",
    )
    job_max_retries: int = Field(
        default=5,
        ge=0,
        description="Retries of a job while the database is unavailable.",
    )
    import_max_rows: int = Field(default=100_000, ge=1, description="Rows per import file.")
    import_batch_size: int = Field(
        default=1000,
        ge=1,
        le=10_000,
        description="Rows per insert (and checkpoint) of an import.",
    )

    # Server (python -m app serve)
    host: str = Field(default="127.0.0.1", description="Address `python -m app serve` listens on.")
    port: int = Field(
        default=8000,
        ge=1,
        le=65535,
        description="Port `python -m app serve` listens on.",
    )
    workers: int = Field(default=1, ge=1, description="Server processes of `python -m app serve`.")
    # asyncio by default: with uvloop, at 256 connections a few requests waited 1-3 s
    # (TCP retransmissions on loopback) in about one run in five; asyncio showed no such
    # tail and the same throughput (docs/performance.md). "uvloop" is one setting away.
    event_loop: Literal["asyncio", "uvloop"] = Field(
        default="asyncio",
        description="Event loop of `serve`: `asyncio` or `uvloop`.",
    )

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, values: object) -> object:
        if isinstance(values, dict):
            for key in ("cors_origins", "trusted_proxies"):
                if key in values:
                    values[key] = _split_csv(values[key])
        return values

    @field_validator(
        "rate_limit_login",
        "rate_limit_login_email",
        "rate_limit_password_reset",
        "rate_limit_password_reset_email",
        "rate_limit_password_change",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        parse_rate_limit(value)  # ValueError names the bad string; pydantic names the setting
        return value

    @field_validator("public_url", "frontend_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// address, not {value!r}")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query string or a fragment")
        return value.strip().rstrip("/")

    @field_validator("verify_email_path", "reset_password_path")
    @classmethod
    def _check_page_path(cls, value: str) -> str:
        if not _PAGE_PATH.fullmatch(value):
            raise ValueError(
                f"must be a path such as /verify-email (letters, digits, - _ . /), not {value!r}"
            )
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # an address or a CIDR network
        return value

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.environment == "production":
            key = self.secret_key.get_secret_value() if self.secret_key else ""
            minimum = MIN_SECRET_LENGTH[self.algorithm]
            if len(key) < minimum:
                raise ValueError(
                    f"SECRET_KEY must be set to at least {minimum} characters "
                    f"for {self.algorithm} in production"
                )
            if "*" in self.cors_origins:
                raise ValueError("CORS_ORIGINS may not be '*' in production")
        return self

    @property
    def session_limit(self) -> int:
        if self.db_session_limit is not None:
            return self.db_session_limit
        return self.db_pool_size + self.db_max_overflow

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def show_docs(self) -> bool:
        return self.docs_enabled if self.docs_enabled is not None else not self.is_production

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.is_production

    @property
    def base_url(self) -> str:
        """Where people reach this service: `PUBLIC_URL`, else where `serve` listens."""
        if self.public_url:
            return self.public_url
        host = self.host if self.host not in _ANY_ADDRESS else "127.0.0.1"
        if ":" in host:  # an IPv6 address
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def link_base(self) -> str:
        """The base of the links in e-mails: the deployment's front end, or this service."""
        return self.frontend_url or self.base_url

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'app.db'}"

    @property
    def job_path(self) -> Path:
        """The folder of job files (uploads, exports, the embedded broker), made absolute."""
        return (self.job_dir or self.data_dir / "jobs").absolute()

    @property
    def signing_key(self) -> str:
        """The key that signs tokens: explicit, or a development key kept in data_dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return _development_secret(self.data_dir)


@lru_cache(maxsize=8)
def _development_secret(data_dir: Path) -> str:
    """Generate a random key once and keep it, so tokens survive restarts in development."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    logger.warning("Generated a development SECRET_KEY in %s", path)
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()


def __getattr__(name: str) -> Settings:
    # `settings` is served lazily so that importing this module reads no environment.
    if name == "settings":
        return get_settings()
    raise AttributeError(name)
