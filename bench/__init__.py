"""Benchmark harness: the service against a minimal reference app, side by side, with wrk.

Run it with `make bench` (see docs/performance.md).
"""
