"""Concurrent requests on committed data, through the application's own sessions.

Unlike the rest of the suite, these requests are not confined to a rolled-back
transaction: each one commits through `get_async_session` and the real engine, as
in production, so they really race. The `committed` fixture deletes what they made.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, update

from app.core.security import create_password_reset_token
from app.db.base import utcnow
from app.db.session import get_engine, get_session_factory, session_scope
from app.main import create_application
from app.models.item import Item
from app.models.refresh_token import RefreshToken
from app.models.user import User
from app.schemas.user import UserCreate
from app.services.auth import RESET_TOKEN_SPENT
from app.services.user import UserService
from tests.factories import PASSWORD, auth_headers

pytestmark = pytest.mark.usefixtures("database_url")
API = "/api/v1"
CONCURRENCY = 50


class Committed:
    """Creates users (and their items) in committed transactions; deletes them afterwards."""

    def __init__(self) -> None:
        self.prefix = f"race-{uuid.uuid4().hex[:12]}"

    def email(self, name: str) -> str:
        return f"{self.prefix}-{name}@example.com"

    async def user(self, name: str) -> User:
        async with session_scope(get_session_factory()) as session:
            return await UserService(session).create(
                UserCreate(email=self.email(name), password=PASSWORD)
            )

    async def item(self, owner: User) -> Item:
        async with session_scope(get_session_factory()) as session:
            item = Item(title="Original", price=Decimal("1.00"), owner_id=owner.id)
            session.add(item)
            await session.flush()
            return item

    async def cleanup(self) -> None:
        async with session_scope(get_session_factory()) as session:
            users = UserService(session)
            query = select(User).where(User.email.startswith(self.prefix))
            for user in (await session.scalars(query)).all():
                await users.delete(user)


@pytest.fixture
async def committed() -> AsyncIterator[Committed]:
    data = Committed()
    yield data
    await data.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The application with nothing overridden: its own engine, sessions and commits."""
    transport = httpx.ASGITransport(app=create_application(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


class Started:
    """Statements matching a pattern that the application's engine has started to run."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)
        self.seen: list[str] = []
        self._changed = asyncio.Event()

    def record(self, _connection: Any, statement: Any, *_args: Any) -> None:
        if self.pattern.search(str(statement)):
            self.seen.append(str(statement))
            self._changed.set()

    async def wait(self, count: int, *, within: float = 5.0) -> None:
        """Until `count` have started, or `within` seconds have passed (the asserts judge)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while len(self.seen) < count:
                    self._changed.clear()
                    await self._changed.wait()


@contextmanager
def statements_started(pattern: str) -> Iterator[Started]:
    """Record matching statements as they are handed to the engine, before any cursor
    event: one that then waits for a lock (a row lock on PostgreSQL, SQLite's BEGIN
    IMMEDIATE, issued from a cursor event) is already counted."""
    started = Started(pattern)
    sync_engine = get_engine().sync_engine
    event.listen(sync_engine, "before_execute", started.record)
    try:
        yield started
    finally:
        event.remove(sync_engine, "before_execute", started.record)


@asynccontextmanager
async def user_row_held(user: User) -> AsyncIterator[None]:
    """A transaction that has written the user's row and stays open until the block ends.

    Writers of that row wait meanwhile: for its row lock on PostgreSQL, for the
    database's write lock on SQLite. Readers do not.
    """
    async with get_engine().connect() as connection, connection.begin():
        unchanged = update(User).where(User.id == user.id).values(full_name=User.full_name)
        await connection.execute(unchanged)
        yield


async def test_concurrent_updates_of_one_item_all_succeed(
    client: httpx.AsyncClient, committed: Committed
) -> None:
    owner = await committed.user("owner")
    item = await committed.item(owner)
    changes = [{"title": f"Title {n}", "price": f"{n}.50"} for n in range(CONCURRENCY)]
    responses = await asyncio.gather(
        *(
            client.patch(f"{API}/items/{item.id}", json=change, headers=auth_headers(owner))
            for change in changes
        )
    )
    failures = [r.text for r in responses if r.status_code != 200]
    assert statuses(responses) == {200: CONCURRENCY}, failures
    final = (await client.get(f"{API}/items/{item.id}")).json()
    # One writer's whole change, not a mix of two.
    assert {"title": final["title"], "price": final["price"]} in changes


async def test_concurrent_registrations_of_one_email_make_one_account(
    client: httpx.AsyncClient, committed: Committed
) -> None:
    body = {"email": committed.email("twin").upper(), "password": PASSWORD}
    responses = await asyncio.gather(
        *(client.post(f"{API}/users", json=body) for _ in range(CONCURRENCY))
    )
    assert statuses(responses) == {201: 1, 409: CONCURRENCY - 1}, statuses(responses)
    refused = [r.json()["error"]["code"] for r in responses if r.status_code == 409]
    assert set(refused) == {"CONFLICT"}
    async with session_scope(get_session_factory()) as session:
        count = await session.scalar(
            select(func.count()).where(User.email == committed.email("twin"))
        )
    assert count == 1


async def test_concurrent_refreshes_of_one_token_let_exactly_one_through(
    client: httpx.AsyncClient, committed: Committed
) -> None:
    user = await committed.user("refresher")
    login = await client.post(f"{API}/auth/login", json={"email": user.email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = {"refresh_token": login.json()["refresh_token"]}
    responses = await asyncio.gather(
        *(client.post(f"{API}/auth/refresh", json=token) for _ in range(CONCURRENCY))
    )
    assert statuses(responses) == {200: 1, 401: CONCURRENCY - 1}, statuses(responses)
    refused = [r.json()["error"]["code"] for r in responses if r.status_code == 401]
    assert set(refused) == {"UNAUTHORIZED"}


async def test_concurrent_resets_with_one_token_let_exactly_one_through(
    client: httpx.AsyncClient, committed: Committed
) -> None:
    user = await committed.user("resetter")
    token = create_password_reset_token(user.id, hashed_password=user.hashed_password)
    passwords = ["First-Reset-11", "Second-Reset-22"]
    with statements_started(r"^UPDATE users SET .*hashed_password") as writes:
        # Both requests read the user and check the token before either writes: each
        # finds the hash the token was issued against, and waits to replace it.
        async with user_row_held(user):
            resets = [
                asyncio.create_task(
                    client.post(
                        f"{API}/auth/password-reset",
                        json={"token": token, "new_password": password},
                    )
                )
                for password in passwords
            ]
            await writes.wait(len(passwords))
        responses = await asyncio.gather(*resets)
    assert statuses(responses) == {200: 1, 401: 1}, [r.text for r in responses]
    refused = next(r for r in responses if r.status_code == 401)
    assert refused.json()["error"]["message"] == RESET_TOKEN_SPENT
    winner = passwords[[r.status_code for r in responses].index(200)]
    for password in passwords:
        login = await client.post(
            f"{API}/auth/login", json={"email": user.email, "password": password}
        )
        assert login.status_code == (200 if password == winner else 401), password


async def test_a_logout_landing_between_a_refreshs_read_and_its_claim_wins(
    client: httpx.AsyncClient, committed: Committed
) -> None:
    user = await committed.user("logout-race")
    login = await client.post(f"{API}/auth/login", json={"email": user.email, "password": PASSWORD})
    body = {"refresh_token": login.json()["refresh_token"]}
    engine = get_engine()
    with statements_started(r"^UPDATE refresh_tokens SET used_at") as claims:
        # The logout's revocation is written, not yet committed: the refresh reads the
        # token as live, then its claim waits for the revocation to commit.
        async with engine.connect() as connection, connection.begin():
            await connection.execute(
                update(RefreshToken)
                .where(RefreshToken.user_id == user.id)
                .values(revoked_at=utcnow())
            )
            refresh = asyncio.create_task(client.post(f"{API}/auth/refresh", json=body))
            await claims.wait(1)
        response = await refresh
    assert response.status_code == 401, response.text
    async with session_scope(get_session_factory()) as session:
        rows = await session.scalar(select(func.count()).where(RefreshToken.user_id == user.id))
    assert rows == 1  # no new token issued from the revoked family
