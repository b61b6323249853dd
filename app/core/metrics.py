"""Prometheus metrics: requests by route template and status, in-flight requests, DB pool.

Labels use the route template (`/api/v1/items/{item_id}`), never the raw path, so
the number of series stays bounded whatever clients send; requests that matched
no route share the `<unmatched>` label.

Several worker processes: prometheus-client's multiprocess mode, switched on by
the `PROMETHEUS_MULTIPROC_DIR` environment variable before this module is
imported (`python -m app serve` sets it when `WORKERS` > 1). Each process then
writes its samples to files in that folder and `/metrics`, whichever worker
answers it, sums them all; gauges of processes that have exited are dropped.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fastapi.routing
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from starlette.types import Scope

from app.db.session import current_engine

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
POOL_SAMPLE_INTERVAL = 1.0  # seconds between pool samples taken after requests

# `*_created` series double the output and no dashboard here uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]
if _folder := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # The metrics below open their sample files there as soon as they are created.
    Path(_folder).mkdir(parents=True, exist_ok=True)

REQUESTS = Counter("http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from request start to the end of the response.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_FLIGHT = Gauge("http_requests_in_flight", "Requests being served.", multiprocess_mode="livesum")
POOL = {
    name: Gauge(f"db_pool_{name}", help_text, multiprocess_mode="livesum")
    for name, help_text in (
        ("size", "Connections the pool keeps open (DB_POOL_SIZE)."),
        ("checked_out", "Connections in use by requests."),
        ("checked_in", "Idle connections in the pool."),
        ("overflow", "Connections open beyond the pool size (negative: unused capacity)."),
    )
}


class RequestMetrics:
    """Record one finished request; label children are cached, as `labels()` is not free."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._last_pool_sample = 0.0

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method if method in METHODS else "OTHER", route, status)
        children = self._children.get(key)
        if children is None:
            labels = (key[0], route, str(status))
            children = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        now = time.monotonic()
        if now - self._last_pool_sample >= POOL_SAMPLE_INTERVAL:
            self._last_pool_sample = now
            sample_pool()


class RouteTemplates:
    """The full path template of the route a request matched, from `scope["route"]`.

    FastAPI puts the route as declared in its router (without the prefixes it was
    included under) in the scope; the application's flattened routes give the
    full template. Built once, on first use.
    """

    def __init__(self) -> None:
        self._templates: dict[int, str] | None = None

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        if self._templates is None:
            self._templates = _templates(scope["app"].routes)
        template = self._templates.get(id(route))
        return template if template is not None else str(getattr(route, "path", UNMATCHED))


def _templates(routes: Iterable[Any]) -> dict[int, str]:
    templates: dict[int, str] = {}
    for context in fastapi.routing.iter_route_contexts(list(routes)):
        if context.path_format is not None:
            templates.setdefault(id(context.original_route), context.path_format)
    return templates


def sample_pool() -> None:
    engine = current_engine()
    pool = engine.pool if engine is not None else None
    if pool is None or not hasattr(pool, "checkedout"):
        return  # no engine yet, or a pool without counters (SQLite in memory, NullPool)
    POOL["size"].set(pool.size())  # type: ignore[attr-defined]
    POOL["checked_out"].set(pool.checkedout())
    POOL["checked_in"].set(pool.checkedin())  # type: ignore[attr-defined]
    POOL["overflow"].set(pool.overflow())  # type: ignore[attr-defined]


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


def forget_dead_processes(folder: Path) -> None:
    """Drop the live gauges (in flight, pool) of worker processes that have exited."""
    for path in folder.glob("gauge_live*_*.db"):
        match = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if match and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), str(folder))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def multiprocess_dir() -> Path | None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(folder) if folder else None


def exposition() -> bytes:
    """The text a scrape receives: this process's registry, or every worker's files."""
    sample_pool()
    folder = multiprocess_dir()
    if folder is None:
        return generate_latest(REGISTRY)
    forget_dead_processes(folder)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def process_exited() -> None:
    """Call on worker shutdown, so its live gauges stop counting at once."""
    folder = multiprocess_dir()
    if folder is not None:
        multiprocess.mark_process_dead(os.getpid(), str(folder))  # type: ignore[no-untyped-call]


__all__ = ["CONTENT_TYPE_LATEST", "RequestMetrics", "RouteTemplates", "exposition"]
