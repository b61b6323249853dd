"""`python -m app serve`: uvicorn, with one or several worker processes.

- Workers: `WORKERS` processes share the listening socket; uvicorn restarts one
  that dies. With more than one, metrics switch to prometheus-client's
  multiprocess mode in a fresh folder (or `PROMETHEUS_MULTIPROC_DIR` when set,
  emptied first), removed again on exit.
- Proxies: uvicorn rewrites the client address and scheme from
  `X-Forwarded-For`/`X-Forwarded-Proto` only for peers in `TRUSTED_PROXIES`; the
  rate limiter applies the same rule itself, so both agree.
- Shutdown: on SIGTERM or SIGINT each worker stops accepting connections, lets
  requests in flight finish (at most `SHUTDOWN_TIMEOUT` seconds), then runs the
  application's shutdown (connection pools closed).
- Logging: the application's configuration (JSON lines in production) in every
  worker; no uvicorn access log, the request-logging middleware writes one line
  per request with its route and request id.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
from pathlib import Path

import uvicorn

from app.config import Settings
from app.core.logging import logging_config

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_folder() -> tuple[Path, bool]:
    """The multiprocess metrics folder, emptied, and whether we created it (to remove it)."""
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        folder = Path(configured)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # counters of a previous run would be summed in
            stale.unlink()
        return folder, False
    return Path(tempfile.mkdtemp(prefix="itemsvc-metrics-")), True


def forwarded_allow_ips(settings: Settings) -> str | None:
    networks = (
        str(ipaddress.ip_network(entry, strict=False)) for entry in settings.trusted_proxies
    )
    return ",".join(networks) or None


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    reload: bool = False,
) -> None:
    workers = 1 if reload else workers or settings.workers
    folder, created = metrics_folder() if workers > 1 else (None, False)
    if folder is not None:
        # Read by prometheus-client when each worker process imports the application.
        os.environ[MULTIPROC_ENV] = str(folder)
    try:
        uvicorn.run(
            "app.main:app",
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            reload=reload,
            loop=settings.event_loop,
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=forwarded_allow_ips(settings),
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=settings.shutdown_timeout,
            log_config=logging_config(settings),
        )
    finally:
        if created and folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
