"""Logging set-up: readable lines in development, JSON lines in production.

Every record carries the id of the request it was logged in (`request_id`, "-"
outside a request): the request pipeline sets `request_id_var`, and a filter on
the handler copies it onto each record, whichever library logged it.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from app.config import Settings

# uvicorn adds `color_message` (the message with terminal colours) to its records.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

READABLE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any `extra=` fields kept as keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` document; uvicorn applies it in each worker process."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if settings.json_logs
        else {"format": READABLE_FORMAT, "datefmt": "%H:%M:%S"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["default"], "level": settings.log_level.upper()},
        "loggers": {
            # The request-logging middleware logs every request once; uvicorn's access
            # log would repeat it without the route or the request id.
            "uvicorn.access": {"level": "WARNING"},
            "sqlalchemy.engine": {"level": "WARNING"},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
