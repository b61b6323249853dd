"""Concurrent requests on committed data, through the application's own sessions.

Unlike the rest of the suite, these requests are not confined to a rolled-back
transaction: each one commits through `get_async_session` and the real engine, as
in production, so they really race. The `committed` fixture deletes what they made.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from app.db.session import get_session_factory, session_scope
from app.main import create_application
from app.models.item import Item
from app.models.user import User
from app.schemas.user import UserCreate
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
