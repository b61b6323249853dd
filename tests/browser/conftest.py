"""Fixtures of the browser journeys: one server and one Chromium for the whole module.

A test that fails leaves a screenshot of its page in `test-results/screenshots/`.
Without `/usr/bin/chromium` the journeys are skipped, except in CI (`CI` set),
where that is a failure: `.ci/run` installs Debian's Chromium.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from tests.browser.harness import CHROMIUM, Site, Watch, chromium, offline_context, running_site

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[object]:
    report = yield
    if call.when == "call":
        item.stash[_FAILED] = report.failed  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    async with running_site(tmp_path_factory.mktemp("site")) as running:
        yield running


@pytest.fixture(scope="module")
async def browser(site: Site) -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def context(
    browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[BrowserContext, Watch]]:
    options = getattr(request, "param", {})
    context, watch = await offline_context(browser, **options)
    yield context, watch
    await context.close()


@pytest.fixture
async def page(
    context: tuple[BrowserContext, Watch], request: pytest.FixtureRequest
) -> AsyncIterator[Page]:
    browser_context, watch = context
    page = await browser_context.new_page()
    page.set_default_timeout(15_000)
    yield page
    if request.node.stash.get(_FAILED, False):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / f"{request.node.name}.png", full_page=True)
    assert watch.outside == [], f"requests left 127.0.0.1: {watch.outside}"


@pytest.fixture
def watch(context: tuple[BrowserContext, Watch]) -> Watch:
    return context[1]
