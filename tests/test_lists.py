"""Lists declared with `Listing`: users' search, a caller's jobs, the declaration's checks."""

from __future__ import annotations

from typing import Literal

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.item import Item
from app.models.job import Job
from app.models.user import User
from app.services.base import PageRequest
from app.services.pagination import Listing, equals
from tests.factories import auth_headers, make_user

USERS = "/api/v1/users"
TASKS = "/api/v1/tasks"


@pytest.mark.usefixtures("database_url")
async def test_superuser_searches_users_by_email_or_name(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_user(session, is_superuser=True)
    by_email = await make_user(session, email="zebra_1%@example.com", full_name="Someone")
    by_name = await make_user(session, full_name="Ann Zebra_1%")
    await make_user(session, email="zebra11@example.com", full_name="Not a match")
    response = await client.get(USERS, params={"q": "ZEBRA_1%"}, headers=auth_headers(admin))
    assert response.status_code == 200, response.text
    found = response.json()["items"]
    assert [user["id"] for user in found] == [by_email.id, by_name.id]
    assert all("hashed_password" not in user and "token_version" not in user for user in found)


@pytest.mark.usefixtures("database_url")
async def test_users_filter_by_flags_and_walk_by_cursor_in_email_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_user(session, is_superuser=True, email="aaa-admin@example.com")
    disabled = [
        await make_user(session, is_active=False, email=f"off-{n}@example.com") for n in (3, 1, 2)
    ]
    params = {"is_active": "false", "sort": "-email", "page_size": 2}
    first = (await client.get(USERS, params=params, headers=auth_headers(admin))).json()
    second = (
        await client.get(
            USERS, params={**params, "cursor": first["next_cursor"]}, headers=auth_headers(admin)
        )
    ).json()
    emails = [user["email"] for user in first["items"] + second["items"]]
    expected = sorted((user.email for user in disabled), reverse=True)
    assert emails[: len(expected)] == expected
    assert all(not user["is_active"] for user in first["items"] + second["items"])
    admins = await client.get(USERS, params={"is_superuser": "true"}, headers=auth_headers(admin))
    assert admin.id in [user["id"] for user in admins.json()["items"]]
    assert all(user["is_superuser"] for user in admins.json()["items"])


@pytest.mark.usefixtures("database_url")
@pytest.mark.parametrize(
    "params", [{"sort": "hashed_password"}, {"is_active": "maybe"}, {"q": "x" * 201}]
)
async def test_user_list_refuses_bad_parameters(
    client: httpx.AsyncClient, session: AsyncSession, params: dict[str, str]
) -> None:
    admin = await make_user(session, is_superuser=True)
    response = await client.get(USERS, params=params, headers=auth_headers(admin))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def _jobs(session: AsyncSession, owner: User, *states: tuple[str, str]) -> list[Job]:
    jobs = [
        Job(task_id=f"{owner.id}-{n}", kind=kind, status=status, owner_id=owner.id)
        for n, (kind, status) in enumerate(states)
    ]
    session.add_all(jobs)
    await session.flush()
    return jobs


@pytest.mark.usefixtures("database_url")
async def test_the_task_list_holds_the_callers_jobs_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_user(session, is_superuser=True)
    user = await make_user(session)
    mine = await _jobs(session, user, ("import", "SUCCESS"), ("export", "PENDING"))
    await _jobs(session, admin, ("export", "FAILURE"))
    for caller, expected in [(user, mine), (admin, None)]:
        response = await client.get(TASKS, headers=auth_headers(caller))
        assert response.status_code == 200, response.text
        listed = response.json()["items"]
        owners_task_ids = [job["task_id"] for job in listed]
        assert all(task_id.startswith(f"{caller.id}-") for task_id in owners_task_ids)
        if expected is not None:  # newest first, ties by id
            assert owners_task_ids == [job.task_id for job in reversed(expected)]
            assert set(listed[0]) == {
                "task_id", "kind", "status", "progress", "error", "created_at", "finished_at"
            }  # fmt: skip
    assert (await client.get(TASKS)).status_code == 401


@pytest.mark.usefixtures("database_url")
async def test_tasks_filter_by_status_and_kind_and_walk_by_cursor(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    jobs = await _jobs(
        session, user, *[("import", "SUCCESS")] * 3, ("export", "SUCCESS"), ("import", "FAILURE")
    )
    headers = auth_headers(user)
    params = {"status": "SUCCESS", "kind": "import", "sort": "created_at", "page_size": 2}
    first = (await client.get(TASKS, params=params, headers=headers)).json()
    second = (
        await client.get(TASKS, params={**params, "cursor": first["next_cursor"]}, headers=headers)
    ).json()
    listed = [job["task_id"] for job in first["items"] + second["items"]]
    assert listed == [job.task_id for job in jobs[:3]]
    assert (first["total"], second["next_cursor"]) == (3, None)
    bad = await client.get(TASKS, params={"status": "DONE"}, headers=headers)
    assert bad.status_code == 422


class _Query(BaseModel):
    title: str | None = None
    sort: Literal["title", "-title"] = "title"


def test_a_filter_without_a_condition_is_refused_at_declaration() -> None:
    with pytest.raises(TypeError, match=r"_Query filters by \['title'\]"):
        Listing(Item.__table__, _Query)


def test_a_sort_that_is_not_a_literal_is_refused_at_declaration() -> None:
    class Unsorted(BaseModel):
        sort: str = "title"

    with pytest.raises(TypeError, match="must be a Literal"):
        Listing(Item.__table__, Unsorted)


def test_filter_names_that_paging_uses_are_refused() -> None:
    class Limited(BaseModel):
        limit: int | None = None
        sort: Literal["title"] = "title"

    with pytest.raises(TypeError, match="taken by paging"):
        Listing(Item.__table__, Limited, filters={"limit": equals(Item.__table__.c.price)})


async def test_a_fixed_filter_without_a_condition_is_refused(session: AsyncSession) -> None:
    listing = Listing(Item.__table__, _Query, filters={"title": equals(Item.__table__.c.title)})
    with pytest.raises(TypeError, match="no condition declared"):
        await listing.page(session, _Query(), PageRequest(), {"owner_id": 1})


def test_sorts_get_cursor_parsers_from_their_column_types() -> None:
    listing = Listing(Item.__table__, _Query, filters={"title": equals(Item.__table__.c.title)})
    assert listing.sort_keys["-title"].parse("Lamp") == "Lamp"
    assert listing.sort_keys["-title"].descending
