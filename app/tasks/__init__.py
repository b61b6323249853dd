"""Background work: the Celery application (`celery_app`) and its tasks."""

from app.tasks.celery_app import celery_app

__all__ = ["celery_app"]
