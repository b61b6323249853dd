"""Password-reset requests for a registered and an unknown address: same answer, same time?

Starts the same server as `login_loop.py` (SQLite, e-mails to the outbox folder),
then sends reset requests alternating between the seeded address and unknown ones,
one at a time, and prints the latency of each kind side by side. The e-mail for the
registered address is written after the response, so it should not show.

    .venv/bin/python -m bench.reset_timing --requests 300
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from bench.login_loop import EMAIL, out, percentile, running_server
from bench.servers import free_port

PATH = "/api/v1/auth/password-reset/request"


async def measure(base_url: str, requests: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"registered": [], "unknown": []}
    bodies: dict[str, set[bytes]] = {"registered": set(), "unknown": set()}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for n in range(requests + 10):
            kind = "registered" if n % 2 == 0 else "unknown"
            email = EMAIL if kind == "registered" else f"nobody{n}@example.com"
            started = time.perf_counter()
            response = await client.post(PATH, json={"email": email})
            elapsed = time.perf_counter() - started
            assert response.status_code == 202, response.text
            bodies[kind].add(response.content)
            if n >= 10:  # the first few warm up both paths
                samples[kind].append(elapsed)
    assert bodies["registered"] == bodies["unknown"], bodies
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests in all")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    args = parser.parse_args()
    with running_server(args.port or free_port()) as base_url:
        samples = asyncio.run(measure(base_url, args.requests))
    out("| address | requests | p50 | p90 | p99 |")
    out("|---|---|---|---|---|")
    for kind, values in samples.items():
        cells = [f"{percentile(values, q) * 1000:.1f} ms" for q in (50, 90, 99)]
        out(f"| {kind} | {len(values)} | " + " | ".join(cells) + " |")
    out("identical bodies: yes")


if __name__ == "__main__":
    main()
