"""The admin console: its sign-in and sessions, CSRF, and every action through the services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import get_settings
from app.core.security import hash_token
from app.db.base import utcnow
from app.main import create_application
from app.models.admin_session import AdminSession
from app.models.item import Item
from app.models.job import Job
from app.models.user import User
from app.services.admin_session import AdminSessionService
from app.services.user import UserService
from tests.factories import PASSWORD, auth_headers, make_item, make_user
from tests.web_helpers import assert_page_headers, csrf_of, heading_of, post_form, sign_in

pytestmark = pytest.mark.usefixtures("database_url")


@pytest.fixture
async def admin(session: AsyncSession) -> User:
    return await make_user(session, is_superuser=True, full_name="Ada Admin")


@pytest.fixture
async def console(client: httpx.AsyncClient, admin: User) -> httpx.AsyncClient:
    """A client signed in to the console as `admin`."""
    response = await sign_in(client, admin.email)
    assert response.status_code == 303, response.text
    return client


async def stored_sessions(session: AsyncSession, user: User) -> list[AdminSession]:
    rows = await session.scalars(select(AdminSession).where(AdminSession.user_id == user.id))
    return list(rows.all())


async def test_a_superuser_signs_in_to_a_server_side_session(
    client: httpx.AsyncClient, admin: User, session: AsyncSession
) -> None:
    page = await client.get("/admin/login")
    assert_page_headers(page)
    response = await sign_in(client, admin.email)
    assert (response.status_code, response.headers["location"]) == (303, "/admin")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("admin_session=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/admin", "Max-Age=28800"):
        assert attribute in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    [row] = await stored_sessions(session, admin)
    assert row.token_hash == hash_token(value)
    assert value not in row.token_hash
    dashboard = await client.get("/admin")
    assert dashboard.status_code == 200
    assert heading_of(dashboard) == "Dashboard"
    assert admin.email in dashboard.text
    assert_page_headers(dashboard)


async def test_the_cookie_is_secure_outside_development(
    client: httpx.AsyncClient, admin: User, set_env: Callable[..., None]
) -> None:
    set_env(ENVIRONMENT="staging")
    form = await client.get("/admin/login")
    # A Secure cookie is not sent back over http://: give the CSRF cookie by hand.
    client.cookies.set("csrf", form.cookies["csrf"])
    response = await client.post(
        "/admin/login",
        data={"csrf_token": csrf_of(form), "email": admin.email, "password": PASSWORD},
    )
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


async def test_a_plain_user_is_refused_with_a_clear_page(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    response = await sign_in(client, user.email)
    assert response.status_code == 403
    assert heading_of(response) == "Not an administrator"
    assert "admin console is for superusers only" in response.text
    assert "admin_session" not in response.headers.get("set-cookie", "")
    assert await stored_sessions(session, user) == []
    assert (await client.get("/admin")).status_code == 303


@pytest.mark.parametrize("password", ["Wrong-Password-1", ""])
async def test_wrong_credentials_show_the_form_again(
    client: httpx.AsyncClient, admin: User, session: AsyncSession, password: str
) -> None:
    response = await sign_in(client, admin.email, password)
    assert response.status_code in (400, 422)
    assert "<form" in response.text
    assert await stored_sessions(session, admin) == []


async def test_without_a_session_every_page_leads_to_the_sign_in(
    client: httpx.AsyncClient, admin: User
) -> None:
    for path in ("/admin", "/admin/users", "/admin/items/1", "/admin/jobs"):
        response = await client.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/admin/login")
    # An API bearer token is no way in either.
    response = await client.get("/admin/users", headers=auth_headers(admin))
    assert response.status_code == 303


async def test_the_api_does_not_accept_the_console_cookie(console: httpx.AsyncClient) -> None:
    response = await console.get("/api/v1/users/me")
    assert response.status_code == 401
    cookie = console.cookies["admin_session"]
    response = await console.get("/api/v1/users/me", headers={"Authorization": f"Bearer {cookie}"})
    assert response.status_code == 401


async def test_search_finds_users_by_email_or_name(
    console: httpx.AsyncClient, session: AsyncSession
) -> None:
    await make_user(session, email="zora.q@example.com", full_name="Zora")
    await make_user(session, email="other@example.com", full_name="Quincy Zed")
    by_email = await console.get("/admin/users", params={"q": "ZORA.Q"})
    assert "zora.q@example.com" in by_email.text
    assert "other@example.com" not in by_email.text
    by_name = await console.get("/admin/users", params={"q": "quincy"})
    assert "other@example.com" in by_name.text
    assert "zora.q@example.com" not in by_name.text
    literal = await console.get("/admin/users", params={"q": "%"})
    assert "0 users" in literal.text
    bad = await console.get("/admin/users", params={"page": "0"})
    assert bad.status_code == 422
    for path in ("/admin/users", "/admin/items"):  # the API's search text: no NUL
        assert (await console.get(path, params={"q": "a\x00"})).status_code == 422


async def test_disabling_a_user_refuses_their_access_token_at_once(
    console: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    headers = auth_headers(user)
    assert (await console.get("/api/v1/users/me", headers=headers)).status_code == 200
    page = f"/admin/users/{user.id}"
    response = await post_form(console, page, f"{page}/action", action="disable")
    assert (response.status_code, response.headers["location"]) == (303, f"{page}?done=disable")
    shown = await console.get(response.headers["location"])
    assert "sessions and tokens have ended" in shown.text
    assert (await console.get("/api/v1/users/me", headers=headers)).status_code == 401
    await session.refresh(user)
    assert user.is_active is False
    await post_form(console, page, f"{page}/action", action="enable")
    await session.refresh(user)
    assert user.is_active is True
    # Re-enabling revives no old token.
    assert (await console.get("/api/v1/users/me", headers=headers)).status_code == 401


@pytest.mark.parametrize(
    ("action", "field", "value"),
    [("verify", "is_verified", True), ("grant-superuser", "is_superuser", True)],
)
async def test_role_and_verification_buttons(
    console: httpx.AsyncClient, session: AsyncSession, action: str, field: str, value: bool
) -> None:
    user = await make_user(session, is_verified=False)
    page = f"/admin/users/{user.id}"
    response = await post_form(console, page, f"{page}/action", action=action)
    assert response.status_code == 303
    await session.refresh(user)
    assert getattr(user, field) is value


@pytest.mark.parametrize(
    ("csrf", "headers"),
    [
        (None, {}),
        ("forged", {}),
        ("other-session", {}),
        ("right", {"Sec-Fetch-Site": "cross-site"}),
    ],
)
async def test_a_post_without_its_csrf_token_changes_nothing(
    console: httpx.AsyncClient,
    session: AsyncSession,
    csrf: str | None,
    headers: dict[str, str],
) -> None:
    user = await make_user(session)
    page = await console.get(f"/admin/users/{user.id}")
    data = {"action": "disable"}
    if csrf == "right":
        data["csrf_token"] = csrf_of(page)
    elif csrf == "forged":
        data["csrf_token"] = "f" * 64
    elif csrf == "other-session":  # the CSRF token of the sign-in form, not of this session
        data["csrf_token"] = csrf_of(await console.get("/admin/login"))
    response = await console.post(f"/admin/users/{user.id}/action", data=data, headers=headers)
    assert response.status_code == 403
    assert_page_headers(response)
    await session.refresh(user)
    assert user.is_active is True


async def test_no_self_demotion_or_self_disabling(
    console: httpx.AsyncClient, admin: User, session: AsyncSession
) -> None:
    page = f"/admin/users/{admin.id}"
    shown = await console.get(page)
    assert "Remove superuser" not in shown.text
    assert ">Disable<" not in shown.text
    for action, message in [
        ("remove-superuser", "You cannot remove your own superuser role"),
        ("disable", "You cannot disable your own account"),
    ]:
        response = await post_form(console, page, f"{page}/action", action=action)
        assert response.status_code == 403
        assert message in response.text
    await session.refresh(admin)
    assert admin.is_superuser
    assert admin.is_active
    # The API applies the same rule.
    api = await console.patch(
        f"/api/v1/users/{admin.id}", json={"is_superuser": False}, headers=auth_headers(admin)
    )
    assert api.status_code == 403
    assert api.json()["error"]["message"] == "You cannot remove your own superuser role"


async def test_deleting_a_user_takes_a_confirmation_step(
    console: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    await make_item(session, user)
    confirm = await console.get(f"/admin/users/{user.id}/delete")
    assert heading_of(confirm) == f"Delete {user.email}?"
    assert await session.get(User, user.id) is not None  # opening it deleted nothing
    action = f"/admin/users/{user.id}/delete"
    response = await console.post(action, data={"csrf_token": csrf_of(confirm)})
    assert response.status_code == 303
    session.expunge_all()
    assert await session.get(User, user.id) is None
    assert await session.scalar(select(func.count()).where(Item.owner_id == user.id)) == 0
    twice = await console.post(action, data={"csrf_token": csrf_of(confirm)})
    assert twice.status_code == 404
    assert "User not found" in twice.text


async def test_a_user_page_shows_their_items_and_jobs(
    console: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    await make_item(session, user, title="Walnut desk")
    session.add(Job(task_id="a" * 36, kind="export", owner_id=user.id, status="SUCCESS"))
    await session.flush()
    page = await console.get(f"/admin/users/{user.id}")
    assert page.status_code == 200
    assert "Walnut desk" in page.text
    assert "aaaaaaaa" in page.text
    assert (await console.get("/admin/users/999999")).status_code == 404


async def test_items_search_filter_edit_and_delete(
    console: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, other = await make_user(session), await make_user(session)
    item = await make_item(session, owner, title="Brass lamp")
    await make_item(session, other, title="Brass bowl")
    found = await console.get("/admin/items", params={"q": "brass", "owner_id": owner.id})
    assert "Brass lamp" in found.text
    assert "Brass bowl" not in found.text
    page = f"/admin/items/{item.id}"
    bad = await post_form(console, page, page, title="  ", price="-1", description="")
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    api = await console.patch(
        f"/api/v1/items/{item.id}", json={"price": "-1"}, headers=auth_headers(owner)
    )
    api_message = api.json()["error"]["details"]["errors"][0]["message"]
    assert api_message.removeprefix("Value error, ") in bad.text  # the API's own words
    saved = await post_form(console, page, page, title="Brass lamp, polished", price="12.5")
    assert (saved.status_code, saved.headers["location"]) == (303, f"{page}?saved=1")
    await session.refresh(item)
    assert (item.title, str(item.price), item.description) == (
        "Brass lamp, polished",
        "12.50",
        None,
    )
    confirm = await console.get(f"{page}/delete")
    deleted = await console.post(f"{page}/delete", data={"csrf_token": csrf_of(confirm)})
    assert deleted.status_code == 303
    session.expunge_all()
    assert await session.get(Item, item.id) is None


async def test_jobs_list_detail_and_download(
    console: httpx.AsyncClient, session: AsyncSession, tmp_path: Path
) -> None:
    owner = await make_user(session)
    errors = {"created": 1, "errors": [{"row": 2, "error": "price: must be a number"}]}
    session.add(
        Job(task_id="b" * 36, kind="import", owner_id=owner.id, status="SUCCESS", result=errors)
    )
    export_file = get_settings().job_path / "admin-test-export.csv"
    export_file.parent.mkdir(parents=True, exist_ok=True)
    export_file.write_text("id,title\n1,Lamp\n")
    session.add(
        Job(
            task_id="c" * 36,
            kind="export",
            owner_id=owner.id,
            status="SUCCESS",
            progress=100,
            result_file=export_file.name,
        )
    )
    await session.flush()
    listed = await console.get("/admin/jobs", params={"status": "SUCCESS", "owner_id": owner.id})
    assert "bbbbbbbb" in listed.text
    assert "cccccccc" in listed.text
    detail = await console.get(f"/admin/jobs/{'b' * 36}")
    assert "price: must be a number" in detail.text
    download = await console.get(f"/admin/jobs/{'c' * 36}/download")
    assert download.status_code == 200
    assert download.text == "id,title\n1,Lamp\n"
    assert (await console.get(f"/admin/jobs/{'b' * 36}/download")).status_code == 404
    assert (await console.get("/admin/jobs", params={"status": "NOPE"})).status_code == 422
    export_file.unlink()


async def test_an_unknown_console_page_is_a_404_page(console: httpx.AsyncClient) -> None:
    for path in ("/admin/nope", "/admin/users/abc", "/admin/users/1/nope"):
        response = await console.get(path)
        assert response.status_code == 404, path
        assert "no such page" in response.text
        assert_page_headers(response)


async def test_the_dashboard_counts(console: httpx.AsyncClient, session: AsyncSession) -> None:
    page = await console.get("/admin")
    users = await session.scalar(select(func.count()).select_from(User))
    assert f'<div class="value">{users}</div><div class="label">users</div>' in page.text
    assert 'href="/metrics"' in page.text
    assert 'href="/health/ready"' in page.text


async def session_row(session: AsyncSession, admin: User) -> AdminSession:
    [row] = await stored_sessions(session, admin)
    return row


@pytest.mark.parametrize(
    "ending",
    ["password-change", "logout-all", "disabled", "demoted", "idle", "absolute", "signed-out"],
)
async def test_a_session_ends(
    console: httpx.AsyncClient, admin: User, session: AsyncSession, ending: str
) -> None:
    row = await session_row(session, admin)
    long_ago = utcnow() - timedelta(hours=9)
    changes = {
        "password-change": (User, {"token_version": User.token_version + 1}),
        "logout-all": (User, {"token_version": User.token_version + 1}),
        "disabled": (User, {"is_active": False}),
        "demoted": (User, {"is_superuser": False}),
        "idle": (AdminSession, {"last_seen_at": utcnow() - timedelta(minutes=31)}),
        "absolute": (AdminSession, {"expires_at": utcnow() - timedelta(seconds=1)}),
        "signed-out": (AdminSession, {"revoked_at": long_ago}),
    }
    model, values = changes[ending]
    target = admin.id if model is User else row.id
    await session.execute(update(model).where(model.id == target).values(**values))
    response = await console.get("/admin/users")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/login")
    assert 'admin_session=""' in response.headers["set-cookie"]  # and the cookie is dropped


async def test_activity_keeps_a_session_alive(
    console: httpx.AsyncClient, admin: User, session: AsyncSession
) -> None:
    row = await session_row(session, admin)
    earlier = utcnow() - timedelta(minutes=20)
    await session.execute(
        update(AdminSession).where(AdminSession.id == row.id).values(last_seen_at=earlier)
    )
    assert (await console.get("/admin/users")).status_code == 200  # a GET records it
    await session.refresh(row)
    assert row.last_seen_at > earlier + timedelta(minutes=19)


async def test_the_password_change_through_the_api_ends_the_console_session(
    console: httpx.AsyncClient, admin: User
) -> None:
    response = await console.patch(
        "/api/v1/users/me",
        json={"password": "Brand-New-Pass-1", "current_password": PASSWORD},
        headers=auth_headers(admin),
    )
    assert response.status_code == 200
    assert (await console.get("/admin")).status_code == 303


async def test_signing_out(console: httpx.AsyncClient, admin: User, session: AsyncSession) -> None:
    response = await post_form(console, "/admin", "/admin/logout")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/login")
    row = await session_row(session, admin)
    await session.refresh(row)
    assert row.revoked_at is not None
    assert (await console.get("/admin")).status_code == 303


async def test_signing_out_everywhere_ends_api_tokens_too(
    console: httpx.AsyncClient, admin: User
) -> None:
    headers = auth_headers(admin)
    response = await post_form(console, "/admin", "/admin/logout-all")
    assert response.status_code == 303
    assert (await console.get("/api/v1/users/me", headers=headers)).status_code == 401


async def test_sign_in_is_rate_limited_like_api_logins(
    admin: User, set_env: Callable[..., None], app: object
) -> None:
    set_env(RATE_LIMIT_ENABLED="true", RATE_LIMIT_LOGIN_EMAIL="2/minute")
    limited = create_application()
    limited.dependency_overrides = app.dependency_overrides  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for _ in range(2):
            assert (await sign_in(client, admin.email, "Wrong-Password-1")).status_code == 400
        refused = await sign_in(client, admin.email)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "Too many attempts" in refused.text


async def test_purging_deletes_ended_sessions_only(
    console: httpx.AsyncClient, admin: User, session: AsyncSession
) -> None:
    live = await session_row(session, admin)
    for values in ({"revoked_at": utcnow()}, {"expires_at": utcnow() - timedelta(seconds=1)}):
        ended = AdminSession(
            user_id=admin.id,
            token_hash=hash_token(str(values)),
            token_version=0,
            last_seen_at=utcnow(),
            expires_at=utcnow() + timedelta(hours=1),
        )
        session.add(ended)
        await session.flush()
        await session.execute(
            update(AdminSession).where(AdminSession.id == ended.id).values(**values)
        )
    assert await AdminSessionService(UserService(session)).purge_expired() == 2
    assert [row.id for row in await stored_sessions(session, admin)] == [live.id]


async def test_a_get_records_activity_through_the_real_session_dependency(
    live_client: httpx.AsyncClient, committed_factory: async_sessionmaker[AsyncSession]
) -> None:
    """GET requests normally get a read-only session; the console's may write."""
    async with committed_factory.begin() as setup:
        admin = await make_user(setup, is_superuser=True)
    assert (await sign_in(live_client, admin.email)).status_code == 303
    earlier = utcnow() - timedelta(minutes=5)
    async with committed_factory.begin() as setup:
        await setup.execute(
            update(AdminSession)
            .where(AdminSession.user_id == admin.id)
            .values(last_seen_at=earlier)
        )
    assert (await live_client.get("/admin/users")).status_code == 200
    async with committed_factory() as check:
        seen = await check.scalar(
            select(AdminSession.last_seen_at).where(AdminSession.user_id == admin.id)
        )
    assert seen is not None
    assert seen > earlier + timedelta(minutes=4)
