"""Running workers: `python -m app worker`, and the one `serve` starts by itself.

With the embedded broker (no broker configured), `serve` starts a worker process
next to the API and stops it on exit, restarting it if it dies, so `make run` runs
jobs with nothing else installed. The worker is in its own session (a Ctrl+C meant
for the server does not reach it half-way) and exits by itself if its parent dies.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from celery.exceptions import SecurityWarning

from app.config import Settings
from app.tasks.celery_app import celery_app, is_embedded, spool_dir

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 15.0  # seconds a stopping worker gets to finish (then it is killed)
RESTART_DELAY = 2.0
ROOT_WARNING = "You're running the worker with superuser privileges"


def worker_argv(
    settings: Settings,
    *,
    concurrency: int | None = None,
    loglevel: str = "INFO",
    pool: str = "prefork",
    hostname: str | None = None,
) -> list[str]:
    """The `celery worker` arguments for these settings."""
    argv = ["worker", f"--loglevel={loglevel}", f"--pool={pool}"]
    concurrency = concurrency or settings.celery_worker_concurrency
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if hostname:
        argv.append(f"--hostname={hostname}")
    if is_embedded(settings):
        # Nothing to talk to: these need remote control and events (see celery_app).
        argv += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    return argv


def run_worker(argv: Sequence[str], *, parent_pid: int | None = None) -> None:
    """Run a Celery worker in this process until it is told to stop."""
    if parent_pid is not None:
        _exit_with_parent(parent_pid)
        # Celery tells a worker running as root to switch users (--uid). The worker
        # `serve` starts has exactly the server's privileges and reads JSON messages
        # that only the server writes, so the advice is about running the server as
        # root (see the deployment docs), not something to print on every `make run`.
        # A standalone `python -m app worker` still warns.
        warnings.filterwarnings("ignore", message=ROOT_WARNING, category=SecurityWarning)
    celery_app.worker_main(list(argv))


def _exit_with_parent(parent_pid: int) -> None:
    """Shut down (warmly) once the process that started this one is gone."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        logger.warning("parent process %d is gone; stopping the worker", parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class EmbeddedWorker:
    """A `python -m app worker` child process, kept running until `stop()`.

    Stopping a worker that holds no message of the embedded broker kills it at
    once: Celery's warm shutdown of an idle worker takes several seconds. A busy one
    gets a warm shutdown to finish its task; if it is killed after all, the task is
    delivered again at the next start (late acknowledgement, idempotent jobs).
    """

    def __init__(self, command: Sequence[str], spool_dir: Path | None) -> None:
        self.command = list(command)
        self.spool_dir = spool_dir  # None: another broker, whose state is not visible here
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._supervise, name="worker-supervisor", daemon=True
        )

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is None or process.poll() is not None:
            return
        if not self._busy(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return
        process.send_signal(signal.SIGTERM)  # warm shutdown: running tasks finish
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("worker did not stop in %.0f s; killing it", STOP_TIMEOUT)
            os.killpg(process.pid, signal.SIGKILL)  # its task comes back at the next start
            process.wait()

    def _busy(self, pid: int) -> bool:
        """Whether the worker holds a message (its folder in the broker is not empty)."""
        if self.spool_dir is None:
            return True
        inboxes = (self.spool_dir / "unacked").glob(f"*-{pid}-*")
        return any(any(inbox.iterdir()) for inbox in inboxes if inbox.is_dir())

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                self.process = subprocess.Popen(self.command, start_new_session=True)
                logger.info("started job worker (pid %d)", self.process.pid)

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            process = self.process
            if process is not None and process.poll() is not None and not self._stopping.is_set():
                logger.error("job worker exited with %s; restarting it", process.returncode)
                self._stopping.wait(RESTART_DELAY)
                self._spawn()
            self._stopping.wait(0.5)


def wants_embedded_worker(settings: Settings) -> bool:
    """Whether `serve` should run a worker: EMBEDDED_WORKER, else "broker is embedded"."""
    if settings.embedded_worker is not None:
        return settings.embedded_worker
    return is_embedded(settings)


@contextmanager
def embedded_worker(settings: Settings) -> Iterator[EmbeddedWorker | None]:
    """A worker process for the duration of the block, when the settings want one."""
    if not wants_embedded_worker(settings):
        yield None
        return
    concurrency = settings.celery_worker_concurrency or 2
    command = [
        sys.executable, "-m", "app", "worker",
        f"--concurrency={concurrency}", f"--exit-with-parent={os.getpid()}",
    ]  # fmt: skip
    worker = EmbeddedWorker(
        command, spool_dir=spool_dir(settings) if is_embedded(settings) else None
    )
    # uvicorn re-raises the SIGTERM it caught once it has shut down; with the default
    # handler that would end this process before the worker is stopped.
    previous = signal.signal(signal.SIGTERM, _exit_quietly)
    worker.start()
    try:
        yield worker
    finally:
        signal.signal(signal.SIGTERM, previous)
        worker.stop()


def _exit_quietly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)
