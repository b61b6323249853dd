"""The embedded broker: Celery messages kept as files in a folder, no service to run.

kombu's own `filesystem://` transport removes a message from disk the moment a worker
reads it, so a worker killed mid-task loses the task whatever `acks_late` says, and a
reader can pick up a file its writer has not finished. This transport keeps that
transport's idea (one file per message, named so that names sort by age) and changes
how messages move:

- publishing writes a hidden temporary file and renames it into `queue/` (atomic);
- a consumer claims a message by renaming it into its own `unacked/<id>/` folder (one
  rename wins, so two workers never get the same message), deletes it on
  acknowledgement and puts it back on rejection or at shutdown;
- a consumer holds a POSIX lock on `unacked/<id>.lock` while it lives. The kernel drops
  the lock when the process dies, however it dies, so any other consumer that can take
  the lock knows the owner is gone and moves its messages back to `queue/` (at start
  and every few seconds). With late acknowledgement this redelivers the task of a
  killed worker, as Redis does after its visibility timeout.

A message goes to the queue its routing key names, which is how Celery routes by
default; there are no binding tables to keep, and no fanout (so no remote control).
It serves one machine (POSIX locks over network filesystems are unreliable).
Transport options: `spool_dir` (required), `polling_interval`, `recovery_interval`
(seconds between sweeps for dead consumers).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import socket
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any, cast

from kombu.transport import virtual

logger = logging.getLogger(__name__)

QUEUE_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._@-]*\Z")
DEFAULT_RECOVERY_INTERVAL = 5.0


class QoS(virtual.QoS):
    """Late acknowledgement on files: ack deletes the claimed file, reject puts it back."""

    def ack(self, delivery_tag: str) -> None:
        super().ack(delivery_tag)
        cast(Channel, self.channel).release(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        super().reject(delivery_tag, requeue=requeue)  # requeue: _restore publishes a copy
        cast(Channel, self.channel).release(delivery_tag)


class Channel(virtual.Channel):
    QoS = QoS
    supports_fanout = False

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        options = connection.client.transport_options
        self.root = Path(options["spool_dir"])
        self.recovery_interval = float(options.get("recovery_interval", DEFAULT_RECOVERY_INTERVAL))
        self.queue_dir = self.root / "queue"
        self.unacked_root = self.root / "unacked"
        for folder in (self.queue_dir, self.unacked_root):
            folder.mkdir(parents=True, exist_ok=True)
        self._claimed: dict[str, Path] = {}
        self._inbox: Path | None = None
        self._lock_fd: int | None = None
        self._next_sweep = 0.0

    def _lookup(self, exchange: str, routing_key: str, default: str | None = None) -> list[str]:
        """The queue named by the routing key (Celery's default routing)."""
        queue = routing_key or default
        return [queue] if queue else []

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        if not QUEUE_NAME.match(queue):
            raise ValueError(f"invalid queue name: {queue!r}")
        name = f"{time.time_ns():020d}_{uuid.uuid4().hex}.{queue}.msg"
        temporary = self.queue_dir / f".{name}.tmp"
        temporary.write_bytes(json.dumps(message).encode())
        os.replace(temporary, self.queue_dir / name)

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        inbox = self._own_inbox()
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self.recovery_interval
            recover_abandoned(self.root, keep=inbox.name)
        for name in _messages(self.queue_dir, queue):
            claimed = inbox / name
            try:
                os.rename(self.queue_dir / name, claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                payload: dict[str, Any] = json.loads(claimed.read_bytes())
                tag = payload["properties"]["delivery_tag"]
            except (ValueError, KeyError, TypeError):
                logger.error("discarding unreadable message %s", name)
                claimed.unlink(missing_ok=True)
                continue
            self._claimed[tag] = claimed
            return payload
        raise Empty()

    def _size(self, queue: str) -> int:
        return len(_messages(self.queue_dir, queue))

    def _purge(self, queue: str) -> int:
        count = 0
        for name in _messages(self.queue_dir, queue):
            try:
                (self.queue_dir / name).unlink()
            except FileNotFoundError:
                continue
            count += 1
        return count

    def _restore(self, message: Any) -> None:
        super()._restore(message)
        self.release(message.delivery_tag)

    def release(self, delivery_tag: str) -> None:
        """Forget a claimed message (acknowledged, or already published again)."""
        claimed = self._claimed.pop(delivery_tag, None)
        if claimed is not None:
            claimed.unlink(missing_ok=True)

    def close(self) -> None:
        super().close()  # puts unacknowledged messages back (a clean shutdown)
        if self._inbox is not None and not self._claimed:
            try:
                self._inbox.rmdir()
                (self.unacked_root / f"{self._inbox.name}.lock").unlink(missing_ok=True)
            except OSError:
                logger.warning("could not remove %s", self._inbox, exc_info=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self._inbox = None

    def _own_inbox(self) -> Path:
        """This consumer's folder of claimed messages, locked for as long as it lives."""
        if self._inbox is None:
            ident = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            # Lock first, folder second: a sweep never sees a folder without a held lock.
            fd = os.open(self.unacked_root / f"{ident}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            inbox = self.unacked_root / ident
            inbox.mkdir()
            self._inbox, self._lock_fd = inbox, fd
        return self._inbox


class Transport(virtual.Transport):
    Channel = Channel
    implements = virtual.Transport.implements.extend(
        asynchronous=False, exchange_type=frozenset({"direct"})
    )
    default_port = 0
    driver_type = "spool"
    driver_name = "spool"

    def driver_version(self) -> str:
        return "1"


def _messages(folder: Path, queue: str) -> list[str]:
    """Ready messages of `queue`, oldest first."""
    suffix = f"{queue}.msg"
    return sorted(
        name
        for name in os.listdir(folder)
        if not name.startswith(".") and name.partition(".")[2] == suffix
    )


def recover_abandoned(root: Path, *, keep: str = "") -> int:
    """Move the claimed messages of dead consumers back to the queue; returns how many.

    A consumer is dead when its lock can be taken. Folders of this process are skipped:
    POSIX locks belong to a process, so it could always take its own.
    """
    unacked_root, queue_dir = root / "unacked", root / "queue"
    own_prefix = f"{socket.gethostname()}-{os.getpid()}-"
    moved = 0
    for inbox in sorted(unacked_root.iterdir()):
        if not inbox.is_dir() or inbox.name == keep or inbox.name.startswith(own_prefix):
            continue
        moved += _recover_inbox(inbox, queue_dir)
    if moved:
        logger.warning("redelivering %d message(s) of a worker that stopped abruptly", moved)
    return moved


def _recover_inbox(inbox: Path, queue_dir: Path) -> int:
    lock_path = inbox.parent / f"{inbox.name}.lock"
    try:
        fd: int | None = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        fd = None  # the owner died before cleaning up its lock file
    try:
        if fd is not None:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return 0  # alive
        moved = 0
        try:
            for message in sorted(inbox.iterdir()):
                os.rename(message, queue_dir / message.name)
                moved += 1
            inbox.rmdir()
        except FileNotFoundError:
            return moved  # another consumer recovered it at the same time
        lock_path.unlink(missing_ok=True)
        return moved
    finally:
        if fd is not None:
            os.close(fd)
