"""The cyclic garbage collector, tuned for a process that serves requests.

CPython's collector pauses the whole process (event loop included) while it scans
every tracked object of the generations it collects. A served process holds about
170,000 such objects from start-up alone (modules, classes, routes, pydantic and
SQLAlchemy structures), and each full collection scanned them all: 80 ms during
which no request moved, several times a minute under load. Those pauses were most
of the service's p99 latency.

Once the application has started, the process collects once and freezes what is
left (`gc.freeze()`): those objects move to a permanent generation that later
collections skip, so a full collection scans only what requests left behind. The
first generation's threshold also goes from 700 to 10,000 allocations, so most of
a request's objects are freed by reference counting before a collection looks at
them instead of being promoted to older generations.

Only what exists at start-up is frozen; everything created later is collected as
usual. Measured with wrk (docs/performance.md), 32 connections on 1M items.
"""

from __future__ import annotations

import gc

# Allocations between collections of the youngest generation (CPython's default: 700).
YOUNG_GENERATION_THRESHOLD = 10_000


def settle_after_startup() -> None:
    """Collect once, freeze the survivors, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
