from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime

JobKind = Literal["import", "export"]
JobStatus = Literal["PENDING", "STARTED", "PROGRESS", "SUCCESS", "FAILURE"]
FINISHED: tuple[JobStatus, ...] = ("SUCCESS", "FAILURE")


class Job(Base):
    """A background job: who queued which Celery task, its files, and where it stands.

    The row is written (and committed) before the task is queued, so ownership is
    known for every task id a client ever sees. It is also the job's checkpoint: an
    import records `rows_done` in the same transaction as each batch of items, so a
    task that runs again after a crash resumes where the last commit left it instead
    of inserting rows twice. File names are relative to the job folder.
    """

    __tablename__ = "jobs"
    # A caller's jobs, newest first (GET /tasks); also serves lookups by owner.
    __table_args__ = (Index("ix_jobs_owner_id_created_at_id", "owner_id", "created_at", "id"),)

    task_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="PENDING", server_default="PENDING")
    progress: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    source_file: Mapped[str | None] = mapped_column(String(255), default=None)
    source_format: Mapped[str | None] = mapped_column(String(8), default=None)
    result_file: Mapped[str | None] = mapped_column(String(255), default=None)
    total_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rows_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED
