"""Helpers for tests of the pages: tokens out of forms, signing in to the console."""

from __future__ import annotations

import re

import httpx

from tests.factories import PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
_HEADING = re.compile(r"<h1>(.*?)</h1>", re.S)


def csrf_of(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match is not None, f"no CSRF field on {page.request.url}"
    return match.group(1)


def heading_of(page: httpx.Response) -> str:
    match = _HEADING.search(page.text)
    assert match is not None, f"no heading on {page.request.url}"
    return " ".join(match.group(1).split())


def assert_page_headers(page: httpx.Response) -> None:
    """What every page must carry: its CSP, no caching, no Referer."""
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'self'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    """Post the console's sign-in form as a browser would (cookie and CSRF token first)."""
    form = await client.get("/admin/login")
    return await client.post(
        "/admin/login",
        data={"csrf_token": csrf_of(form), "email": email, "password": password},
    )


async def post_form(
    client: httpx.AsyncClient, page_url: str, to: str, **fields: str
) -> httpx.Response:
    """Open `page_url` (for its CSRF token) and post `fields` to `to`."""
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    return await client.post(to, data={"csrf_token": csrf_of(page), **fields})
