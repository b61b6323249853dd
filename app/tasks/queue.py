"""Putting a job's task on the broker. Called after the job's row is committed."""

from __future__ import annotations

from app.tasks.celery_app import celery_app

TASK_NAMES = {"import": "items.import", "export": "items.export"}


def publish(kind: str, job_id: int, task_id: str) -> None:
    """Queue the task of job `job_id` under `task_id` (blocking: call it from a thread)."""
    celery_app.send_task(TASK_NAMES[kind], args=(job_id,), task_id=task_id, retry=True)
