"""E-mail delivery: SMTP when `SMTP_HOST` is set, otherwise `.eml` files in an outbox.

Services hand messages to a `Mailer`. In a request, `get_mailer` sends them through
FastAPI background tasks: those run after the response has been sent and only when
the endpoint succeeded, i.e. after the request's transaction committed. A failed
send is logged with the request id and never fails the request.

Without `SMTP_HOST`, each message becomes one file in `DATA_DIR/outbox/`, named so
that files sort by time, written under a temporary name and renamed into place so
a reader never sees half a message.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any

import aiosmtplib
import anyio
from fastapi import BackgroundTasks, Depends, Request

from app.config import Settings, get_settings

logger = logging.getLogger(__name__)

OUTBOX_DIRNAME = "outbox"


def outbox_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).data_dir / OUTBOX_DIRNAME


def _write_file(directory: Path, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = directory / f"{stamp}-{secrets.token_hex(4)}.eml"
    temporary = directory / f".{path.name}.tmp"
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path


async def write_to_outbox(message: EmailMessage, directory: Path) -> Path:
    """Write one message as an `.eml` file (in a worker thread: file I/O blocks)."""
    path: Path = await anyio.to_thread.run_sync(_write_file, directory, message.as_bytes())
    return path


async def send_smtp(message: EmailMessage, settings: Settings) -> None:
    """Send through the configured relay: implicit TLS, or STARTTLS that must succeed."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user or None,
        password=password,
        use_tls=settings.smtp_tls,
        # True requires STARTTLS (no silent fall-back to plain text); False never tries it.
        start_tls=settings.smtp_starttls and not settings.smtp_tls,
        timeout=settings.smtp_timeout,
    )


async def send_email(message: EmailMessage, settings: Settings | None = None) -> str:
    """Send one message; returns where it went. Raises on failure."""
    settings = settings or get_settings()
    if settings.smtp_host:
        await send_smtp(message, settings)
        return f"smtp://{settings.smtp_host}:{settings.smtp_port}"
    return str(await write_to_outbox(message, outbox_dir(settings)))


async def deliver(message: EmailMessage, *, request_id: str | None = None) -> bool:
    """Send, logging instead of raising: a background send has nobody to raise to."""
    try:
        destination = await send_email(message)
    except Exception:
        logger.exception(
            "e-mail %s (%r) to %s not sent (request %s)",
            message["Message-ID"],
            message["Subject"],
            message["To"],
            request_id or "-",
            extra={"request_id": request_id},
        )
        return False
    logger.info(
        "e-mail %s (%r) to %s sent to %s",
        message["Message-ID"],
        message["Subject"],
        message["To"],
        destination,
        extra={"request_id": request_id},
    )
    return True


class Mailer:
    """Collects the e-mails of one unit of work, to be sent once it has committed.

    `schedule` is told once, at the first message, to run `deliver_pending` later
    (in a request: a background task). Without it, the owner of the unit of work
    calls `deliver_pending()` after committing (the CLI does).
    """

    def __init__(
        self,
        *,
        request_id: str | None = None,
        schedule: Callable[[Callable[[], Any]], None] | None = None,
    ) -> None:
        self.request_id = request_id
        self.pending: list[EmailMessage] = []
        self._schedule = schedule

    def send(self, message: EmailMessage) -> None:
        if not self.pending and self._schedule is not None:
            self._schedule(self.deliver_pending)
        self.pending.append(message)

    async def deliver_pending(self) -> int:
        """Send what is queued, one by one; returns how many went out."""
        messages, self.pending = self.pending, []
        sent = 0
        for message in messages:
            sent += await deliver(message, request_id=self.request_id)
        return sent


async def get_mailer(request: Request, background_tasks: BackgroundTasks) -> Mailer:
    """The request's mailer: its messages go out after the response, if it succeeds."""
    # Set by the request-id middleware when it is installed; logs say "-" otherwise.
    request_id = getattr(request.state, "request_id", None)
    return Mailer(
        request_id=str(request_id) if request_id is not None else None,
        schedule=background_tasks.add_task,
    )


MailerDep = Annotated[Mailer, Depends(get_mailer)]
