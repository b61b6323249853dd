"""Background job status and results. Someone else's task answers 404, as if unknown."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from app.api.responses import AUTH_ERRORS, errors
from app.dependencies import CurrentUser, JobServiceDep
from app.models.job import Job
from app.schemas.job import TaskStatus

router = APIRouter(prefix="/tasks", tags=["tasks"])

TaskId = Annotated[str, Path(description="The task id returned when the job was queued")]


@router.get("/{task_id}", response_model=TaskStatus, responses=AUTH_ERRORS | errors(404))
async def read_task(task_id: TaskId, user: CurrentUser, jobs: JobServiceDep) -> Job:
    """Status, progress (percent), result and error of a job you started."""
    return await jobs.get_visible(task_id, by=user)


@router.get(
    "/{task_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The export as CSV"}}
    | AUTH_ERRORS
    | errors(404, 409),
)
async def download_task_file(
    task_id: TaskId, user: CurrentUser, jobs: JobServiceDep
) -> FileResponse:
    """Download the CSV file of a finished export."""
    path: FilePath = await jobs.export_file(task_id, by=user)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"items-{task_id}.csv")
