"""Rows per second of a bulk import, through a real server and a real worker.

For each database URL given (default: a fresh SQLite file), starts `python -m app
serve` the way `make run` does (it starts the embedded worker; with `--broker-url`,
a separate `python -m app worker` on that broker instead), registers a user, uploads
a generated CSV of `--rows` rows (1% invalid), and polls the task to its end. It
prints, per run: the upload request (stored, structure checked, job queued), the job
itself (from the job's own start and finish times), and rows per second end to end.

The database is migrated first and the bench user is deleted afterwards, with its
items. Give PostgreSQL an empty database of its own:

    .venv/bin/python -m bench.import_rows --rows 100000 \\
        --database-url sqlite \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import delete, select

from app.config import Settings
from app.db.session import build_engine, make_session_factory
from app.models.job import Job
from app.models.user import User
from bench.servers import ROOT, free_port, service

PASSWORD = "Bench-Password-1"


@dataclass
class Run:
    upload: float
    job: float
    total: float
    created: int
    errors: int


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def make_csv(rows: int) -> bytes:
    lines = ["title,description,price"]
    for n in range(1, rows + 1):
        price = "-1" if n % 100 == 0 else f"{n % 5000}.{n % 100:02d}"
        lines.append(f"Item {n},Imported item number {n},{price}")
    return ("\n".join(lines) + "\n").encode()


@contextmanager
def services(database_url: str, broker_url: str | None, data_dir: Path) -> Iterator[str]:
    """A server (and, with a broker URL, a worker) on this database; yields its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(DATABASE_URL=database_url, DATA_DIR=str(data_dir), PORT=str(port))
    env.update(RATE_LIMIT_ENABLED="false", LOG_LEVEL="WARNING")
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    run = [sys.executable, "-m", "app"]
    subprocess.run([*run, "migrate"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    worker = None
    if broker_url:
        worker = subprocess.Popen([*run, "worker", "--loglevel=WARNING"], env=env, cwd=ROOT)
    try:
        with service(port, env, data_dir / "server.log") as server:
            yield server.base_url
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(60)


async def one_import(base: str, body: bytes) -> tuple[Run, str]:
    email = f"bench-{secrets.token_hex(4)}@example.com"
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=300) as http:
        created = await http.post("/users", json={"email": email, "password": PASSWORD})
        created.raise_for_status()
        login = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        started = time.perf_counter()
        files = {"file": ("bench.csv", body, "text/csv")}
        response = await http.post("/items/import", files=files, headers=headers)
        response.raise_for_status()
        uploaded = time.perf_counter()
        task_id = response.json()["task_id"]
        while True:
            task = (await http.get(f"/tasks/{task_id}", headers=headers)).json()
            if task["status"] in ("SUCCESS", "FAILURE"):
                break
            await asyncio.sleep(0.05)
        total = time.perf_counter() - started
    if task["status"] != "SUCCESS":
        raise RuntimeError(f"the import failed: {task['error']}")
    result = task["result"]
    run = Run(uploaded - started, 0.0, total, result["created"], len(result["errors"]))
    return run, task_id


async def job_seconds_and_cleanup(database_url: str, task_id: str) -> float:
    """The job's own duration (its start and finish times), then the bench user's deletion."""
    engine = build_engine(Settings(database_url=database_url), database_url)
    try:
        async with make_session_factory(engine).begin() as session:
            job = await session.scalar(select(Job).where(Job.task_id == task_id))
            if job is None or job.started_at is None or job.finished_at is None:
                raise RuntimeError(f"no finished job for task {task_id}")
            await session.execute(delete(User).where(User.id == job.owner_id))
            return (job.finished_at - job.started_at).total_seconds()
    finally:
        await engine.dispose()


def bench(database_url: str, broker_url: str | None, rows: int, repeat: int) -> list[Run]:
    body = make_csv(rows)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        if database_url == "sqlite":
            database_url = f"sqlite+aiosqlite:///{folder}/bench.db"
        with services(database_url, broker_url, Path(folder)) as base:
            for _ in range(repeat):
                run, task_id = asyncio.run(one_import(base, body))
                run.job = asyncio.run(job_seconds_and_cleanup(database_url, task_id))
                runs.append(run)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per import")
    parser.add_argument("--repeat", type=int, default=3, help="imports per database")
    parser.add_argument(
        "--database-url",
        action="append",
        help="`sqlite` (a fresh file) or a URL; repeat for several (default: sqlite)",
    )
    parser.add_argument("--broker-url", help="a broker for a separate worker (default: embedded)")
    args = parser.parse_args()
    out(f"{args.rows} rows per import, 1% invalid, {args.repeat} imports per database, median")
    out("| database | created | errors | upload | job | total | rows/s (job) | rows/s (total) |")
    out("|---|---|---|---|---|---|---|---|")
    for url in args.database_url or ["sqlite"]:
        runs = bench(url, args.broker_url, args.rows, args.repeat)
        upload, job, total = (
            statistics.median(getattr(run, name) for run in runs)
            for name in ("upload", "job", "total")
        )
        name = url.split("://")[0].split("+")[0]
        out(
            f"| {name} | {runs[0].created} | {runs[0].errors} | {upload:.2f} s | {job:.2f} s "
            f"| {total:.2f} s | {args.rows / job:,.0f} | {args.rows / total:,.0f} |"
        )


if __name__ == "__main__":
    main()
