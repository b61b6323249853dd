"""Hashing off the event loop, at low priority, and logins that run concurrently."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import threading

import httpx
import pytest

from app.core.security import (
    get_password_hash,
    hash_password_async,
    run_hashing,
    verify_and_update_password_async,
    verify_password,
)
from app.db.session import get_session_factory, session_scope
from app.main import create_application
from app.services.user import UserService
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.usefixtures("database_url")


def _thread_and_priority() -> tuple[int, int]:
    return threading.get_ident(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


async def test_hashing_runs_in_a_worker_thread() -> None:
    thread, _ = await run_hashing(_thread_and_priority)
    assert thread != threading.get_ident()
    hashed = await hash_password_async(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert verify_password(PASSWORD, hashed)
    assert await verify_and_update_password_async(PASSWORD, hashed) == (True, None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
async def test_hashing_threads_yield_to_the_event_loop() -> None:
    _, priority = await run_hashing(_thread_and_priority)
    assert priority >= 10  # PASSWORD_HASH_NICE's default
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < priority


async def test_corrupt_or_unknown_hashes_never_verify() -> None:
    for stored in ("", "plain-text", "$argon2id$v=19$m=1024,t=1,p=1$broken", "$2b$04$short"):
        assert not verify_password(PASSWORD, stored)
        assert await verify_and_update_password_async(PASSWORD, stored) == (False, None)
    assert not verify_password("other", get_password_hash(PASSWORD))


async def test_concurrent_logins_all_succeed(database_url: str) -> None:
    """Real transactions on the real pool (no test savepoints): on SQLite, a login
    that kept its read snapshot through the hash lost to the first concurrent write
    with an immediate "database is locked"."""
    factory = get_session_factory()
    email = f"concurrent-{secrets.token_hex(4)}@example.com"
    async with session_scope(factory) as session:
        user_id = (await make_user(session, email=email)).id
    transport = httpx.ASGITransport(app=create_application(), raise_app_exceptions=False)
    body = {"email": email, "password": PASSWORD}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(
                *(client.post("/api/v1/auth/login", json=body) for _ in range(6))
            )
        assert [r.status_code for r in responses] == [200] * 6, responses[-1].text
    finally:
        async with session_scope(factory) as session:
            users = UserService(session)
            await users.delete(await users.get_by_id(user_id))
