"""`GET /metrics`: counts and latencies by route template and status, in flight, DB pool."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.main import create_application
from tests.factories import make_item, make_user

pytestmark = pytest.mark.usefixtures("database_url")
TEMPLATE = "/api/v1/items/{item_id}"


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    item = await make_item(session, await make_user(session))
    before = await scrape(client)
    for item_id in (item.id, 999_999, 999_998):
        await client.get(f"/api/v1/items/{item_id}")
    after = await scrape(client)

    def delta(name: str, status: str) -> float:
        labels = {"method": "GET", "route": TEMPLATE, "status": status}
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("http_requests_total", "200") == 1
    assert delta("http_requests_total", "404") == 2
    assert delta("http_request_duration_seconds_count", "404") == 2
    routes = {dict(labels).get("route") for name, labels in after if name == "http_requests_total"}
    assert not any(route and route.endswith(("999999", "999998")) for route in routes)


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    for n in range(3):
        await client.get(f"/scanner/probe-{n}")
    after = await scrape(client)
    labels = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert (
        value(after, "http_requests_total", **labels)
        - value(before, "http_requests_total", **labels)
        == 3
    )


async def test_in_flight_and_pool_gauges(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/items")
    samples = await scrape(client)
    assert value(samples, "http_requests_in_flight") == 1  # the scrape itself
    for gauge in ("db_pool_size", "db_pool_checked_in", "db_pool_checked_out", "db_pool_overflow"):
        assert (gauge, frozenset()) in samples
    assert value(samples, "db_pool_checked_out") >= 1  # the test's own transaction holds one


async def test_metrics_can_be_switched_off() -> None:
    app = create_application(Settings(metrics_enabled=False))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/metrics")).status_code == 404
