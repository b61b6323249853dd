"""Retake the pictures of the documentation: `make screenshots`.

Starts the service on demo data (`python -m app seed`), signs in to the admin
console in Chromium and writes `docs/img/admin-console.png`.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from tests.browser.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    chromium,
    offline_context,
    run_cli,
    running_site,
    server_env,
)

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"


async def take() -> Path:
    with tempfile.TemporaryDirectory(prefix="itemsvc-screenshots-") as folder:
        data_dir = Path(folder)
        async with running_site(data_dir) as site, chromium() as browser:
            await run_cli(server_env(data_dir), "seed", "--users", "14", "--items", "120")
            context, watch = await offline_context(browser, viewport={"width": 1200, "height": 760})
            page = await context.new_page()
            await page.goto(f"{site.url}/admin/login")
            await page.get_by_label("E-mail address").fill(ADMIN_EMAIL)
            await page.get_by_label("Password").fill(ADMIN_PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.goto(f"{site.url}/admin/users?q=demo")
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            target = DOCS_IMAGES / "admin-console.png"
            await page.screenshot(path=target)
            assert watch.outside == [], watch.outside
            await context.close()
    return target


if __name__ == "__main__":
    written = asyncio.run(take())
    print(f"wrote {written}")  # noqa: T201
