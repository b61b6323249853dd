"""Applications with the rate limiter on, called from chosen client addresses."""

from __future__ import annotations

import os
import secrets
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_application
from app.middleware import close_middleware

REDIS_URL = os.environ.get("TEST_REDIS_URL")

CHEAP_ROUTE = "/api/v1/items/0"  # an API route answered (422) without touching the database


def storage_params() -> list[Any]:
    return [
        pytest.param("memory", id="memory"),
        pytest.param(
            "redis",
            id="redis",
            marks=pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL not set"),
        ),
    ]


class Caller:
    """Send requests to an application as if from a given socket peer."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(
        self, method: str, path: str, *, peer: str = "203.0.113.10", **kwargs: Any
    ) -> httpx.Response:
        transport = httpx.ASGITransport(
            app=self.app, raise_app_exceptions=False, client=(peer, 50000)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)


class LimitedApps:
    """Build applications with the limiter on; their Redis connections are closed at the end."""

    def __init__(self, storage: str) -> None:
        self.storage = storage
        self.apps: list[FastAPI] = []

    def __call__(self, **overrides: Any) -> Caller:
        settings: dict[str, Any] = {
            "rate_limit_enabled": True,
            # A fresh prefix: counters of other tests and earlier runs never interfere.
            "rate_limit_key_prefix": f"test-{secrets.token_hex(6)}",
            "redis_url": REDIS_URL if self.storage == "redis" else None,
            **overrides,
        }
        app = create_application(Settings(**settings))
        self.apps.append(app)
        return Caller(app)

    async def close(self) -> None:
        for app in self.apps:
            await close_middleware(app)
