"""The documentation pages and the static files: everything from this origin, cached by version."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from app.main import create_application
from app.web.assets import STATIC_DIR, VENDORED, static_tag
from tests.web_helpers import assert_page_headers

_ASSET = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.fixture
async def plain_client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_application())
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_load_every_asset_from_this_origin(
    plain_client: httpx.AsyncClient, path: str
) -> None:
    async with plain_client as client:
        page = await client.get(path)
        assert page.status_code == 200
        assert_page_headers(page)
        assets = _ASSET.findall(page.text)
        assert assets
        assert all(a.startswith(f"/static/{static_tag()}/") for a in assets), assets
        assert "fonts.googleapis" not in page.text
        assert "cdn" not in page.text
        for asset in assets:
            served = await client.get(asset)
            assert served.status_code == 200, asset
            assert served.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_redoc_styles_are_allowed_by_a_fresh_nonce_only(
    plain_client: httpx.AsyncClient,
) -> None:
    async with plain_client as client:
        first, second = await client.get("/redoc"), await client.get("/redoc")
    nonces = [
        re.search(r"'nonce-([^']+)'", r.headers["content-security-policy"]) for r in (first, second)
    ]
    assert all(nonces)
    assert nonces[0].group(1) != nonces[1].group(1)
    assert f'data-style-nonce="{nonces[0].group(1)}"' in first.text  # type: ignore[union-attr]


async def test_an_old_or_unknown_static_path_is_not_found(plain_client: httpx.AsyncClient) -> None:
    async with plain_client as client:
        assert (await client.get("/static/0.0.0-old/css/site.css")).status_code == 404
        assert (await client.get(f"/static/{static_tag()}/css/nope.css")).status_code == 404
        assert (await client.get(f"/static/{static_tag()}/../config.py")).status_code == 404
        assert (await client.get("/static/")).status_code == 404


def test_every_vendored_package_ships_its_licence() -> None:
    for package in VENDORED:
        folder = STATIC_DIR / "vendor" / package.folder
        names = {f.rsplit("/", 1)[-1] for f in package.files}
        assert {p.name for p in folder.iterdir()} == names, package.npm_name
        assert "LICENSE" in names


async def test_docs_follow_the_docs_switch(set_env: Callable[..., None]) -> None:
    set_env(DOCS_ENABLED="false")
    transport = httpx.ASGITransport(app=create_application())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await client.get(path)).status_code == 404
