"""A real server and Debian's Chromium, for the browser journeys and the docs' screenshot.

The server is `python -m app serve` on a free port with a database and data folder
of its own (SQLite, e-mails in its outbox), migrated and given a superuser with the
CLI, as a new user would. Chromium is the system's (`/usr/bin/chromium`): Playwright
drives it and never downloads a browser. Every request that leaves 127.0.0.1 is
aborted and recorded, so a page that needs the internet shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Playwright, Route, async_playwright

from tests.mail import Outbox
from tests.server import ServerProcess, running_server

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root, in a container
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "Admin-Console-1"
LOCAL_HOSTS = {"127.0.0.1"}


@dataclass
class Site:
    """The running service: its address, data folder and outbox."""

    server: ServerProcess
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def outbox(self) -> Outbox:
        return Outbox(self.data_dir / "outbox")


def server_env(data_dir: Path) -> dict[str, str]:
    return {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'app.db'}",
        "ENVIRONMENT": "development",
        "EMBEDDED_WORKER": "false",  # no job runs in these journeys
        "METRICS_ENABLED": "true",
    }


async def run_cli(env: dict[str, str], *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"python -m app {' '.join(args)} failed:\n{output.decode()}")


@contextlib.asynccontextmanager
async def running_site(data_dir: Path) -> AsyncIterator[Site]:
    """A migrated database with a superuser, and the server on it."""
    env = server_env(data_dir)
    await run_cli(env, "migrate")
    await run_cli(env, "create-superuser", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    unset = ("REDIS_URL", "SMTP_HOST", "CELERY_BROKER_URL", "PUBLIC_URL", "FRONTEND_URL")
    async with running_server(data_dir / "server.log", env, unset=unset) as server:
        yield Site(server, data_dir)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            yield browser
        finally:
            await browser.close()


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@dataclass
class Watch:
    """What a browser context tried to fetch elsewhere, and what its pages' CSP blocked."""

    outside: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)


async def offline_context(browser: Browser, **options: object) -> tuple[BrowserContext, Watch]:
    """A context that aborts (and records) every request leaving 127.0.0.1."""
    context = await browser.new_context(**options)  # type: ignore[arg-type]
    watch = Watch()

    async def guard(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            watch.outside.append(url)
            await route.abort("internetdisconnected")

    await context.route("**/*", guard)

    def on_page(page: object) -> None:
        page.on(  # type: ignore[attr-defined]
            "console",
            lambda message: (
                watch.csp_violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

    context.on("page", on_page)
    return context, watch
