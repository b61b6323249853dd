"""What people do with the service, in a real browser against a real server process.

Few and readable: the unit tests (tests/test_web_*.py) cover the branches; these
prove the journeys work end to end in Chromium, offline, with the pages' CSP on.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
import pytest
from playwright.async_api import Page, expect

from app.core.security import TokenType, encode_token
from tests.browser.harness import ADMIN_EMAIL, ADMIN_PASSWORD, Site, Watch
from tests.factories import PASSWORD
from tests.mail import body_of

pytestmark = pytest.mark.slow
NEW_PASSWORD = "Browser-Reset-77"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
# ReDoc's bundle adds two <style> elements before it reads its nonce (scrollbar CSS)
# and names its maker's logo on a CDN; the CSP blocks all three, and no request leaves.
REDOC_BLOCKED = ("Applying inline style", "cdn.redoc.ly")


async def register(site: Site, email: str) -> str:
    """A new account through the API; returns an access token for it."""
    async with httpx.AsyncClient(base_url=f"{site.url}/api/v1") as api:
        created = await api.post("/users", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text
        return await login(api, email, PASSWORD)


async def login(api: httpx.AsyncClient, email: str, password: str) -> str:
    response = await api.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def link_to(site: Site, email: str, subject_word: str) -> str:
    """The link of the newest such e-mail (sent after the response: waited for)."""
    for _ in range(100):
        messages = [m for m in site.outbox.to(email) if subject_word in m["Subject"]]
        if messages:
            [link] = [word for word in body_of(messages[-1]).split() if "token=" in word]
            return link
        await asyncio.sleep(0.05)
    raise AssertionError(f"no '{subject_word}' e-mail to {email}")


async def test_docs_render_offline_authorize_and_try_it_out(
    site: Site, page: Page, watch: Watch
) -> None:
    email = "docs-reader@example.com"
    await register(site, email)
    await page.goto(f"{site.url}/docs")
    operations = page.locator(".opblock")
    await expect(operations.first).to_be_visible()
    assert await operations.count() > 20
    # Authorize: the OAuth2 password flow against the login endpoint.
    await page.get_by_role("button", name="Authorize").first.click()
    await page.locator("#oauth_username").fill(email)
    await page.locator("#oauth_password").fill(PASSWORD)
    modal = page.locator(".modal-ux")
    await modal.locator("button.authorize").click()
    await expect(modal.locator("button.authorize")).to_have_text("Logout")
    await modal.locator("button.btn-done").click()
    # Try it out: GET /users/me with the token Swagger UI obtained.
    me = page.locator("#operations-users-read_me")
    await me.locator(".opblock-summary").click()
    await me.get_by_role("button", name="Try it out").click()
    await me.get_by_role("button", name="Execute").click()
    response = me.locator(".live-responses-table .response")
    await expect(response.locator(".response-col_status").first).to_have_text("200")
    await expect(response.locator(".microlight").first).to_contain_text(email)
    assert watch.csp_violations == []
    await page.goto(f"{site.url}/redoc")
    await expect(page.get_by_role("heading", name=re.compile("Items Service"))).to_be_visible()
    await expect(page.get_by_role("heading", name="Create Item")).to_be_visible()
    unexpected = [v for v in watch.csp_violations if not any(k in v for k in REDOC_BLOCKED)]
    assert unexpected == []


@pytest.mark.parametrize("context", [PHONE], indirect=True)
async def test_email_links_verify_and_reset_on_a_phone(
    site: Site, page: Page, watch: Watch
) -> None:
    email = "phone-user@example.com"
    await register(site, email)
    # The verification link confirms by itself (its button does without JavaScript).
    await page.goto(await link_to(site, email, "Confirm"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your e-mail address is verified."
    )
    assert "token" not in page.url
    # The reset link: a form for the new password; the old password stops working.
    async with httpx.AsyncClient(base_url=f"{site.url}/api/v1") as api:
        requested = await api.post("/auth/password-reset/request", json={"email": email})
        assert requested.status_code == 202
        reset = await link_to(site, email, "Reset")
        await page.goto(reset)
        assert "token" not in page.url  # taken out of the address bar
        await page.get_by_label("New password", exact=True).fill("Nope-1")
        await page.get_by_label("New password, again").fill("Nope-1")
        await page.get_by_role("button", name="Set the new password").click()
        await expect(page.locator("#password-error")).to_contain_text("at least 8")
        await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        await page.get_by_label("New password, again").fill(NEW_PASSWORD)
        await page.get_by_role("button", name="Set the new password").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Your password has been reset; sign in with it."
        )
        old = await api.post("/auth/login", data={"username": email, "password": PASSWORD})
        assert old.status_code == 401
        await login(api, email, NEW_PASSWORD)
    # The same link again, and an expired one: each says what happened.
    await page.goto(reset)
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "This link has already been used"
    )
    expired = encode_token(1, TokenType.EMAIL_VERIFICATION, timedelta(seconds=-5), {"email": email})
    await page.goto(f"{site.url}/verify-email?token={expired}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone's screen
    assert watch.csp_violations == []


async def sign_in(page: Page, site: Site, email: str, password: str) -> None:
    await page.goto(f"{site.url}/admin")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_an_admin_disables_a_user_whose_token_then_fails(
    site: Site, page: Page, watch: Watch
) -> None:
    email = "to-be-disabled@example.com"
    token = await register(site, email)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"{site.url}/api/v1", headers=headers) as api:
        assert (await api.get("/users/me")).status_code == 200
        await sign_in(page, site, ADMIN_EMAIL, ADMIN_PASSWORD)
        await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
        await page.get_by_role("link", name="Users").first.click()
        await page.get_by_label("E-mail address or name contains").fill("to-be-dis")
        await expect(page.locator("#results")).to_contain_text("1 user matching")  # live search
        await page.get_by_role("link", name=email).click()
        await page.get_by_role("button", name="Disable").click()
        await expect(page.get_by_role("status")).to_contain_text("sessions and tokens have ended")
        assert (await api.get("/users/me")).status_code == 401
        # A form posted without its CSRF token changes nothing.
        enable = page.locator("form:has(input[value=enable])")
        await enable.locator("input[name=csrf_token]").evaluate("input => input.remove()")
        await enable.get_by_role("button", name="Enable").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
        await page.go_back()
        await page.reload()
        await expect(page.locator(".facts")).to_contain_text("disabled")
    assert watch.csp_violations == []


async def test_a_plain_user_cannot_get_in(site: Site, page: Page) -> None:
    email = "plain-user@example.com"
    await register(site, email)
    await sign_in(page, site, email, PASSWORD)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Not an administrator")
    await page.goto(f"{site.url}/admin/users")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the admin console")
