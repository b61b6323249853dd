"""Jobs in the console: list with status and progress, one job's errors, an export's file."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from app.dependencies import JobServiceDep
from app.models.job import JobStatus
from app.schemas.job import TaskQuery
from app.services.base import PageRequest
from app.web.admin.auth import CurrentAdmin, admin_router
from app.web.admin.params import PAGE_SIZE, OwnerQuery, PageQuery
from app.web.pages import render

router = admin_router()
TaskId = Annotated[str, Path(max_length=64)]


@router.get("/jobs", response_class=HTMLResponse)
async def list_jobs(
    request: Request,
    _: CurrentAdmin,
    jobs: JobServiceDep,
    status: Annotated[JobStatus | None, Query()] = None,
    owner_id: OwnerQuery = None,
    page: PageQuery = 1,
) -> HTMLResponse:
    """Jobs, newest first, by status and owner."""
    paging = PageRequest(page, PAGE_SIZE, exact_total=True)
    found = await jobs.search(TaskQuery(status=status), paging=paging, owner_id=owner_id)
    context = {"page": found, "status": status or "", "owner_id": owner_id, "nav": "jobs"}
    return render(request, "admin/jobs.html", context)


@router.get("/jobs/{task_id}", response_class=HTMLResponse)
async def read_job(
    request: Request, task_id: TaskId, admin: CurrentAdmin, jobs: JobServiceDep
) -> HTMLResponse:
    """One job: its status, progress, result and errors."""
    job = await jobs.get_visible(task_id, by=admin)
    return render(request, "admin/job.html", {"job": job, "nav": "jobs"})


@router.get("/jobs/{task_id}/download")
async def download_job_file(
    task_id: TaskId, admin: CurrentAdmin, jobs: JobServiceDep
) -> FileResponse:
    """The CSV file of a finished export."""
    path = await jobs.export_file(task_id, by=admin)
    return FileResponse(
        path,
        media_type="text/csv; charset=utf-8",
        filename=f"items-{task_id}.csv",
        headers={"Cache-Control": "no-store"},  # people's items: no copy kept on the way
    )
