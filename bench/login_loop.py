"""Logins at several concurrencies against a real server, with /health latency alongside.

Starts `python -m app serve` on 127.0.0.1 with the embedded defaults (SQLite in a
temporary folder, default Argon2id parameters, rate limiting off so every login is
hashed), seeds one user, then:

1. measures `GET /health` latency on the idle server (the baseline, one window
   before each busy phase, pooled);
2. for each concurrency, runs that many clients logging in back to back while the
   same /health probe runs, and reports login throughput and latency next to the
   /health p50/p99 and the ratio of its p99 to the idle p99.

Password hashing runs in worker threads, so the event loop should keep answering
/health while logins run: the target is a p99 ratio within 3x at 8 concurrent logins.

    .venv/bin/python -m bench.login_loop --concurrency 1,4,8,16 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.servers import ROOT, free_port, service

EMAIL = "bench@example.com"
PASSWORD = "Bench-Password-1"
ARGON2_SETTINGS = (
    "PASSWORD_HASH_TIME_COST",
    "PASSWORD_HASH_MEMORY_COST",
    "PASSWORD_HASH_PARALLELISM",
)


@dataclass
class Phase:
    concurrency: int
    seconds: float
    logins: list[float]
    failures: int
    health: list[float]


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def server_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Default Argon2 parameters and the embedded back ends, whatever the shell says.
    for name in (*ARGON2_SETTINGS, "DATABASE_URL", "REDIS_URL", "SMTP_HOST", "CELERY_BROKER_URL"):
        env.pop(name, None)
    env.update(
        ENVIRONMENT="development",
        DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite+aiosqlite:///{data_dir / 'bench.db'}",
        SECRET_KEY=secrets.token_urlsafe(48),
        RATE_LIMIT_ENABLED="false",  # measure hashing, not the brute-force limiter
        LOG_LEVEL="WARNING",
    )
    return env


def run_cli(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "app", *args], env=env, cwd=ROOT, check=True, capture_output=True
    )


@contextlib.contextmanager
def running_server(port: int) -> Iterator[str]:
    """A migrated, seeded server process on 127.0.0.1:port; stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="login-bench-") as tmp:
        data_dir = Path(tmp)
        env = server_env(data_dir)
        run_cli(env, "migrate")
        run_cli(env, "create-superuser", "--email", EMAIL, "--password", PASSWORD)
        with service(port, env, data_dir / "server.log") as server:
            yield server.base_url


async def probe_health(
    client: httpx.AsyncClient, stop: asyncio.Event, interval: float
) -> list[float]:
    """/health latencies (seconds), one request at a time, `interval` apart."""
    samples: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        response = await client.get("/health")
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
        await asyncio.sleep(interval)
    return samples


async def login_worker(client: httpx.AsyncClient, stop: asyncio.Event, phase: Phase) -> None:
    body = {"email": EMAIL, "password": PASSWORD}
    while not stop.is_set():
        started = time.perf_counter()
        response = await client.post("/api/v1/auth/login", json=body)
        if response.status_code == 200:
            phase.logins.append(time.perf_counter() - started)
        else:
            phase.failures += 1


async def run_phase(base_url: str, concurrency: int, seconds: float, interval: float) -> Phase:
    phase = Phase(concurrency, seconds, [], 0, [])
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=max(concurrency, 1))
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as prober,
        httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as logins,
    ):
        await prober.get("/health")  # connect before measuring
        probe = asyncio.create_task(probe_health(prober, stop, interval))
        workers = [
            asyncio.create_task(login_worker(logins, stop, phase)) for _ in range(concurrency)
        ]
        await asyncio.sleep(seconds)
        stop.set()
        phase.health = await probe
        await asyncio.gather(*workers)
    return phase


def report(idle: Phase, phases: list[Phase]) -> None:
    idle_p50, idle_p99 = percentile(idle.health, 50), percentile(idle.health, 99)
    out(
        f"/health idle: p50 {idle_p50 * 1000:.1f} ms, p99 {idle_p99 * 1000:.1f} ms "
        f"({len(idle.health)} requests)"
    )
    out()
    header = (
        "logins",
        "logins/s",
        "login p50",
        "login p99",
        "health p50",
        "health p99",
        "p99 busy/idle",
        "failures",
    )
    out("| " + " | ".join(header) + " |")
    out("|" + "---|" * len(header))
    for phase in phases:
        p99 = percentile(phase.health, 99)
        cells = (
            str(phase.concurrency),
            f"{len(phase.logins) / phase.seconds:.1f}",
            f"{percentile(phase.logins, 50) * 1000:.0f} ms",
            f"{percentile(phase.logins, 99) * 1000:.0f} ms",
            f"{percentile(phase.health, 50) * 1000:.1f} ms",
            f"{p99 * 1000:.1f} ms",
            f"{p99 / idle_p99:.2f}x",
            str(phase.failures),
        )
        out("| " + " | ".join(cells) + " |")


async def bench(base_url: str, args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as warm:
        for _ in range(2):  # first logins pay one-off costs (imports, the dummy hash)
            body = {"email": EMAIL, "password": PASSWORD}
            (await warm.post("/api/v1/auth/login", json=body)).raise_for_status()
    # An idle window before every busy one, pooled into the baseline: other load on
    # the machine drifts during a run, and this spreads the baseline across it.
    idle = Phase(0, 0.0, [], 0, [])
    phases = []
    for concurrency in args.concurrency:
        window = await run_phase(base_url, 0, args.idle, args.interval)
        idle.health += window.health
        idle.seconds += window.seconds
        phases.append(await run_phase(base_url, concurrency, args.duration, args.interval))
    report(idle, phases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--concurrency",
        default="1,4,8,16",
        type=lambda v: [int(n) for n in v.split(",")],
        help="comma-separated numbers of concurrent login clients (default 1,4,8,16)",
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per concurrency")
    parser.add_argument(
        "--idle", type=float, default=5, help="seconds of idle baseline before each phase"
    )
    parser.add_argument(
        "--interval", type=float, default=0.01, help="pause between /health probes (s)"
    )
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    args = parser.parse_args()
    with running_server(args.port or free_port()) as base_url:
        out(f"server {base_url}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        asyncio.run(bench(base_url, args))


if __name__ == "__main__":
    main()
