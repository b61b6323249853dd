from __future__ import annotations

from typing import Any

from pydantic import Field

from app.models.job import JobStatus
from app.schemas.common import BaseSchema


class TaskAccepted(BaseSchema):
    """A job was queued; poll `GET /tasks/{task_id}` for its outcome."""

    task_id: str


class TaskStatus(BaseSchema):
    task_id: str
    status: JobStatus = Field(description="PENDING, STARTED, PROGRESS, SUCCESS or FAILURE")
    progress: int = Field(ge=0, le=100, description="Percentage done")
    result: dict[str, Any] | None = Field(
        description='Import: {"created", "errors": [{"row", "error"}]}; '
        'export: {"rows", "download_url"}'
    )
    error: str | None = Field(description="Why the job failed (status FAILURE)")
