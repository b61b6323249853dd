"""`python -m bench`: the service and the reference app, side by side, with wrk.

For each PostgreSQL dataset (1,000 users with 10,000 and with 1,000,000 items) both
apps run at once on the same database; every endpoint is warmed up, then measured
A B A B (service, reference, service, reference). On the largest dataset it also
measures 256 connections, logins with /health alongside, and the service with the
Redis rate limiter on. The service then runs alone on SQLite. Tables go to stdout
(Markdown) and everything to a JSON file under bench/results/.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import phases
from bench.dataset import Dataset
from bench.load import ensure_wrk
from bench.report import Row, login_table, save, table
from bench.servers import ROOT

logger = logging.getLogger("bench")
RESULTS = ROOT / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", default=quick, help="short runs, A B once (BENCH_QUICK=1)"
    )
    parser.add_argument(
        "--skip-1m", action="store_true", help="leave out the 1,000,000-item dataset"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="leave out the SQLite run")
    parser.add_argument(
        "--no-limiter", action="store_true", help="leave out the run with the Redis limiter on"
    )
    parser.add_argument("--no-login", action="store_true", help="leave out the login runs")
    parser.add_argument(
        "--no-floor", action="store_true",
        help="leave out the stack's floor (bench/floor.py: FastAPI apps without the service)",
    )  # fmt: skip
    parser.add_argument(
        "--only", default="", help="comma-separated scenario names (health,users_me,item,...)"
    )
    parser.add_argument(
        "--connections", type=int, default=32, help="connections of the main runs (32)"
    )
    parser.add_argument(
        "--high", type=int, default=256, help="connections of the error/tail run (256)"
    )
    parser.add_argument("--seconds", type=float, help="seconds per measurement (6; quick 2)")
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (1; the machine has 2 cores)"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/itemsvc_bench"
        ),
        help="base URL of the PostgreSQL datasets; _10k and _1m are appended (BENCH_PG_URL)",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for the limiter run (BENCH_REDIS_URL)",
    )  # fmt: skip
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("BENCH_PORT", "8400")),
        help="service port; the reference app uses the next one (BENCH_PORT)",
    )  # fmt: skip
    parser.add_argument(
        "--service-src", type=Path,
        help="run the service from this checkout instead (e.g. a git worktree of an older commit)",
    )  # fmt: skip
    parser.add_argument(
        "--service-env", action="append", default=[], metavar="KEY=VALUE",
        help="a setting for the service (repeatable), e.g. DB_POOL_PING_IDLE=0",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, help="JSON file (default bench/results/bench-<time>.json)"
    )
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (2.0 if args.quick else 6.0)
    args.warmup = 1.0 if args.quick else 2.0
    args.rounds = 1 if args.quick else 2
    args.only = {name for name in args.only.split(",") if name}
    args.service_env = dict(item.split("=", 1) for item in args.service_env)
    return args


def datasets(args: argparse.Namespace) -> list[Dataset]:
    sizes = [("10k", 10_000)] + ([] if args.skip_1m else [("1m", 1_000_000)])
    return [
        Dataset(f"pg-{label}", f"{args.pg_url}_{label}", 1_000, items) for label, items in sizes
    ]


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args = parse_args(argv)
    ensure_wrk()
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run = phases.Run(args=args, workdir=RESULTS / "run", secret=secrets.token_urlsafe(48))
    rows: list[Row] = []
    logins: list[Row] = []
    output = args.output or RESULTS / f"bench-{stamp}.json"
    meta = {
        "when": stamp,
        "args": {k: (str(v) if isinstance(v, Path | set) else v) for k, v in vars(args).items()},
        "cpus": os.cpu_count(),
    }
    phases_to_run = [(dataset, dataset is pg[-1]) for pg in [datasets(args)] for dataset in pg]
    if not args.no_sqlite:
        url = f"sqlite+aiosqlite:///{RESULTS / 'data' / 'bench_10k.db'}"
        phases_to_run.append((Dataset("sqlite-10k", url, 1_000, 10_000), True))
    for dataset, largest in phases_to_run:
        if dataset.backend == "postgresql":
            main_rows, login_rows = run.postgres(dataset, extended=largest)
        else:
            main_rows, login_rows = run.sqlite(dataset)
        rows += main_rows
        logins += login_rows
        meta["seconds_total"] = round(time.monotonic() - started)
        save(output, meta, rows + logins)  # after every phase: a later failure loses nothing
    save(RESULTS / "latest.json", meta, rows + logins)
    print(table(rows))  # noqa: T201 - the harness reports on stdout
    if logins:
        print("\n" + login_table(logins))  # noqa: T201
    print(f"\n{len(rows) + len(logins)} results in {output} ({meta['seconds_total']} s)")  # noqa: T201
    return 0
