"""Real Celery workers for tests: `python -m app worker` processes on a real broker.

The embedded broker always; Redis too when TEST_REDIS_URL is set. A worker reads the
real database, so tests that use one create their data through `live_client` /
`committed_factory` (committed), not the rolled-back `client`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import get_settings
from app.tasks import queue
from app.tasks.celery_app import create_celery_app

REDIS_URL = os.environ.get("TEST_REDIS_URL")
BROKERS = ["embedded", "redis"] if REDIS_URL else ["embedded"]
FINISHED = ("SUCCESS", "FAILURE")


@dataclass(frozen=True)
class Broker:
    name: str
    env: dict[str, str]
    job_dir: Path


@contextmanager
def use_broker(name: str, job_dir: Path, **settings: str) -> Iterator[Broker]:
    """Point this process (settings, publishing) at a broker; worker processes get `env`."""
    env = {"JOB_DIR": str(job_dir), **settings}
    if name == "redis":
        assert REDIS_URL is not None
        # Redis as the broker, and as the (optional) result backend of Celery's tools.
        env.update(CELERY_BROKER_URL=REDIS_URL, CELERY_RESULT_BACKEND=REDIS_URL)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        get_settings.cache_clear()
        publisher = create_celery_app()  # configured from the settings above, on first use
        patch.setattr(queue, "celery_app", publisher)
        try:
            yield Broker(name=name, env=env, job_dir=job_dir)
        finally:
            publisher.close()
    get_settings.cache_clear()


class Worker:
    """One worker process (prefork, one task at a time) in its own process group."""

    def __init__(self, broker: Broker, log: Path) -> None:
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "worker", "--concurrency=1", "--loglevel=INFO"],
            env={**os.environ, **broker.env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        """Stop an idle worker. At once: Celery's own shutdown takes seconds, and an
        idle worker has nothing to lose."""
        self.kill()

    def kill(self) -> None:
        """Kill the worker and its pool processes at once, as a power cut would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.log.close()


async def wait_for_task(
    client: httpx.AsyncClient,
    task_id: str,
    headers: dict[str, str],
    *,
    until: tuple[str, ...] = FINISHED,
    within: float = 60.0,
    poll: float = 0.1,
) -> dict[str, Any]:
    """Poll GET /tasks/{id} until its status is one of `until`."""
    deadline = time.monotonic() + within
    while True:
        response = await client.get(f"/api/v1/tasks/{task_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in until:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"task still {body['status']} after {within} s: {body}")
        await asyncio.sleep(poll)
