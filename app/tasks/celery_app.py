"""The Celery application, configured from settings on first use.

Where tasks go:

- `CELERY_BROKER_URL`, else `REDIS_URL`: that broker (Redis in production); run
  `python -m app worker` on as many machines as you like.
- neither: the embedded broker (`app.tasks.spool`), a folder under `JOB_DIR`; `serve`
  starts a worker process next to the API, so nothing else needs installing.

Delivery is at least once: late acknowledgement, `reject_on_worker_lost`, and on Redis
a visibility timeout above the task time limit with a frequent sweep of
unacknowledged messages, so the task of a killed worker runs again. Tasks are written
to be idempotent for that reason (see `app.tasks.jobs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery

from app.config import Settings, get_settings

EMBEDDED_TRANSPORT = "app.tasks.spool:Transport"
SOFT_LIMIT_MARGIN = 30  # seconds a task gets to record its failure before it is killed


def is_embedded(settings: Settings) -> bool:
    """True when no broker is configured: tasks go through the embedded folder broker."""
    return not (settings.celery_broker_url or settings.redis_url)


def spool_dir(settings: Settings) -> Path:
    """The embedded broker's folder."""
    return settings.job_path / "broker"


def visibility_timeout(settings: Settings) -> int:
    """Seconds before Redis hands an unacknowledged task to another worker."""
    return settings.celery_visibility_timeout or settings.job_time_limit + 300


def celery_config(settings: Settings) -> dict[str, Any]:
    limit = settings.job_time_limit
    config: dict[str, Any] = {
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_time_limit": limit,
        "task_soft_time_limit": max(limit - SOFT_LIMIT_MARGIN, limit // 2),
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "worker_max_tasks_per_child": 200,  # bounds memory held by long-lived children
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        # Publishing is done while a request waits: give up quickly, the client gets 503.
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 1,
        },
    }
    if is_embedded(settings):
        config.update(_embedded_config(settings))
    else:
        config.update(_redis_config(settings))
    # Job status lives in the `jobs` table (GET /tasks/{id}). A result backend is only
    # for Celery's own tools (`celery result`, Flower): tasks report their states there
    # when CELERY_RESULT_BACKEND is set, and nothing is stored otherwise.
    backend = settings.celery_result_backend
    config.update(
        result_backend=backend,
        task_ignore_result=backend is None,
        task_track_started=backend is not None,
        result_expires=settings.job_file_max_age,
    )
    if settings.celery_worker_concurrency:
        config["worker_concurrency"] = settings.celery_worker_concurrency
    return config


def _embedded_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": "filesystem://localhost/",
        "broker_transport": EMBEDDED_TRANSPORT,
        "broker_transport_options": {
            "spool_dir": str(spool_dir(settings)),
            "polling_interval": 0.1,
        },
        # Remote control and events broadcast to every worker (fanout): a folder broker
        # would keep those messages for workers that are long gone.
        "worker_enable_remote_control": False,
        "worker_send_task_events": False,
    }


def _redis_config(settings: Settings) -> dict[str, Any]:
    timeout = visibility_timeout(settings)
    transport_options = {
        "visibility_timeout": timeout,
        # kombu sweeps unacknowledged messages every interval x throttle seconds (about
        # 100 s by default); sweep often so a killed worker's task returns soon after
        # the visibility timeout.
        "unacked_restore_interval": max(1, min(10, timeout // 4)),
        "unacked_restore_throttle": 1,
        "socket_timeout": 5,
        "socket_connect_timeout": 3,
    }
    return {
        "broker_url": settings.celery_broker_url or settings.redis_url,
        "broker_transport_options": transport_options,
        "redis_socket_timeout": 5,
        "redis_socket_connect_timeout": 3,
    }


def create_celery_app() -> Celery:
    app = Celery("app", include=["app.tasks.jobs"])
    app.add_defaults(lambda: celery_config(get_settings()))
    return app


celery_app = create_celery_app()
