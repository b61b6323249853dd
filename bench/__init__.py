"""Benchmark harness: the service against a minimal reference app, side by side, with wrk.

Run it with `make bench` (see docs/performance.md).
"""

# An item's columns as the service answers them: the reference and the floor read these.
ITEM_COLUMNS = "id, title, description, price, owner_id, created_at, updated_at"
