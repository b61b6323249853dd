"""Application settings, read from the environment and `.env` (pydantic-settings).

Every setting is documented in the README and in `.env.example`. `get_settings()`
is cached, so importing this module is cheap and tests can build their own
`Settings(...)` with keyword overrides.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from limits import parse as parse_rate_limit
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

logger = logging.getLogger(__name__)

Environment = Literal["development", "staging", "production"]
# RFC 7518, 3.2: an HMAC key at least as long as the hash. Shorter keys are refused in
# production (and PyJWT warns about them).
MIN_SECRET_LENGTH = {"HS256": 32, "HS384": 48, "HS512": 64}


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
    app_name: str = "Items Service"
    app_version: str = "1.0.0"
    app_description: str = "User accounts and the items they own."
    environment: Environment = "development"
    debug: bool = False
    api_prefix: str = "/api/v1"
    docs_enabled: bool | None = None  # None: on outside production
    data_dir: Path = Path("data")
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON lines in production

    # Database
    database_url: str = ""  # empty: SQLite under data_dir
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout: float = Field(default=3.0, gt=0)
    db_pool_recycle: int = Field(default=1800, ge=-1)
    db_pool_ping_idle: float = Field(default=1.0, ge=0)  # ping connections idle this long
    # Requests holding a session at once; None: the pool's size (no wait for the pool), 0: no cap.
    db_session_limit: int | None = Field(default=None, ge=0)
    db_connect_timeout: float = Field(default=2.0, gt=0)
    db_command_timeout: float = Field(default=5.0, gt=0)
    db_echo: bool = False

    # Security
    secret_key: SecretStr | None = None
    algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_expire_minutes: int = Field(default=15, ge=1)
    refresh_token_expire_days: int = Field(default=14, ge=1)
    email_token_expire_hours: int = Field(default=24, ge=1)
    password_reset_expire_minutes: int = Field(default=30, ge=1)
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_cost: int = Field(default=65536, ge=8)  # KiB
    password_hash_parallelism: int = Field(default=4, ge=1)
    password_hash_concurrency: int = Field(default=2, ge=1)
    password_hash_nice: int = Field(default=10, ge=0, le=19)  # Linux: hashing threads yield
    require_verified_email_for_items: bool = False

    # HTTP
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_size: int = Field(default=1024 * 1024, ge=1024)
    max_import_size: int = Field(default=50 * 1024 * 1024, ge=1024)

    # Redis, rate limiting
    redis_url: str | None = None
    rate_limit_enabled: bool = True
    rate_limit_requests: int = Field(default=100, ge=1)
    rate_limit_period: int = Field(default=60, ge=1)
    rate_limit_strategy: Literal["moving-window", "sliding-window-counter"] = "moving-window"
    rate_limit_key_prefix: str = Field(default="ratelimit", min_length=1)  # Redis key prefix
    # Stricter limits in the `limits` notation ("10/minute", "5 per 15 minutes").
    rate_limit_login: str = "10/minute"  # per client address
    rate_limit_login_email: str = "5/minute"  # per e-mail address tried
    rate_limit_password_reset: str = "5/hour"  # per client address
    rate_limit_password_reset_email: str = "3/hour"  # per e-mail address
    rate_limit_password_change: str = "5 per 15 minutes"  # per user: guesses of the current one

    # Operations
    access_log: bool = True  # one log line per request
    metrics_enabled: bool = True  # GET /metrics
    shutdown_timeout: int = Field(default=20, ge=1)  # seconds to finish in-flight requests

    # E-mail
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = False  # implicit TLS (port 465)
    smtp_starttls: bool = True
    smtp_timeout: float = Field(default=10.0, gt=0)
    email_from: str = "Items Service <no-reply@localhost>"
    frontend_url: str = "http://127.0.0.1:8000"

    # Celery, background jobs (none set: the embedded broker under job_dir)
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    celery_visibility_timeout: int | None = Field(default=None, ge=1)  # None: time limit + 300 s
    celery_worker_concurrency: int | None = Field(default=None, ge=1)  # None: one per CPU
    embedded_worker: bool | None = None  # None: `serve` runs a worker when the broker is embedded
    job_dir: Path | None = None  # None: data_dir / "jobs"
    job_file_max_age: int = Field(default=24 * 3600, ge=60)
    job_time_limit: int = Field(default=1800, ge=10)
    job_max_retries: int = Field(default=5, ge=0)
    import_max_rows: int = Field(default=100_000, ge=1)
    import_batch_size: int = Field(default=1000, ge=1, le=10_000)

    # Server (python -m app serve)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    # asyncio by default: with uvloop, at 256 connections a few requests waited 1-3 s
    # (TCP retransmissions on loopback) in about one run in five; asyncio showed no such
    # tail and the same throughput (README, Performance). "uvloop" is one setting away.
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"

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
