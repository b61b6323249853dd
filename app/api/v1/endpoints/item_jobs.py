"""Bulk import and export of items, run as background jobs (see `app.tasks`)."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.api.responses import AUTH_ERRORS, errors, link, links
from app.api.uploads import UPLOAD_OPENAPI, ImportUpload
from app.dependencies import CurrentUser, ItemAuthor, JobServiceDep
from app.models.job import Job
from app.schemas.job import TaskAccepted

router = APIRouter(prefix="/items", tags=["items"])

_TASK_ID = {"task_id": "$response.body#/task_id"}
_READ_TASK = link("read_task", "Follow the job", parameters=_TASK_ID)


@router.post(
    "/import",
    response_model=TaskAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=AUTH_ERRORS | errors(413, 422, 503) | links(202, ReadTask=_READ_TASK),
    openapi_extra=UPLOAD_OPENAPI,
)
async def import_items(user: ItemAuthor, upload: ImportUpload, jobs: JobServiceDep) -> Job:
    """Create items from a CSV or JSON Lines file, in the background; poll the task."""
    return await jobs.create_import(upload, owner=user)


@router.post(
    "/export",
    response_model=TaskAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    # The file is not there until the job is done: only the task is linked.
    responses=AUTH_ERRORS | errors(503) | links(202, ReadTask=_READ_TASK),
)
async def export_items(user: CurrentUser, jobs: JobServiceDep) -> Job:
    """Write your items to a CSV file in the background; download it from the task."""
    return await jobs.create_export(owner=user)
