from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings


def test_keyword_overrides() -> None:
    settings = Settings(database_url="sqlite+aiosqlite:///x.db", secret_key="k" * 40, debug=True)
    assert settings.sqlalchemy_url == "sqlite+aiosqlite:///x.db"
    assert settings.signing_key == "k" * 40
    assert settings.debug is True


def test_default_database_is_sqlite_under_data_dir(tmp_path: Path) -> None:
    settings = Settings(database_url="", data_dir=tmp_path)
    assert settings.sqlalchemy_url == f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"


def test_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(secret_key=None, data_dir=tmp_path).signing_key
    second = Settings(secret_key=None, data_dir=tmp_path).signing_key
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("secret", [None, "too-short"])
def test_production_requires_a_real_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", secret_key=secret)


@pytest.mark.parametrize(("algorithm", "length"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_production_key_is_at_least_as_long_as_the_hash(algorithm: str, length: int) -> None:
    Settings(environment="production", algorithm=algorithm, secret_key="k" * length)
    with pytest.raises(ValidationError, match=f"at least {length} characters for {algorithm}"):
        Settings(environment="production", algorithm=algorithm, secret_key="k" * (length - 1))


def test_production_turns_docs_off_and_logs_json() -> None:
    settings = Settings(environment="production", secret_key="s" * 32)
    assert settings.show_docs is False
    assert settings.json_logs is True


def test_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "many")
    with pytest.raises(ValidationError, match="db_pool_size"):
        Settings()


def test_lists_from_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]


def test_every_setting_describes_itself() -> None:
    # The settings reference and .env.example are written from these (tests/test_reference.py).
    undescribed = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undescribed == []
