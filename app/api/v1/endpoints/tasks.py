"""Background jobs: your list, status and results. Someone else's task answers 404."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse

from app.api.params import CursorPagination
from app.api.responses import AUTH_ERRORS, errors
from app.dependencies import CurrentUser, JobServiceDep
from app.models.job import Job
from app.schemas.common import PaginatedResponse
from app.schemas.job import TaskQuery, TaskStatus, TaskSummary
from app.services.base import Page

router = APIRouter(prefix="/tasks", tags=["tasks"])

TaskId = Annotated[str, Path(description="The task id returned when the job was queued")]


@router.get("", response_model=PaginatedResponse[TaskSummary], responses=AUTH_ERRORS)
async def list_tasks(
    query: Annotated[TaskQuery, Query()],
    paging: CursorPagination,
    user: CurrentUser,
    jobs: JobServiceDep,
) -> Page[Any]:
    """The jobs you started, newest first; filter by status or kind, `cursor` for deep pages."""
    return await jobs.search_owned(query, by=user, paging=paging)


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
