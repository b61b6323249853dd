"""The console's front page: how many users, items and jobs there are."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.dependencies import ItemServiceDep, JobServiceDep, UserServiceDep
from app.exceptions import NotFoundError
from app.web.admin.auth import CurrentAdmin, admin_router
from app.web.pages import render

router = admin_router()


@router.get("", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    _: CurrentAdmin,
    users: UserServiceDep,
    items: ItemServiceDep,
    jobs: JobServiceDep,
) -> HTMLResponse:
    """Counts of users, items and jobs by status, and links to the health and metrics."""
    counts = {
        "users": await users.count(),
        "items": await items.count(),
        "jobs": await jobs.count_by_status(),
    }
    return render(request, "admin/dashboard.html", {"counts": counts, "nav": "dashboard"})


# Included after every other console router (see `app/web/admin/__init__.py`).
fallback = admin_router()


@fallback.get("/{path:path}", response_class=HTMLResponse)
async def unknown_page(_: CurrentAdmin, path: str) -> HTMLResponse:
    """Any other address under /admin: a 404 page (after the sign-in, like every page)."""
    raise NotFoundError("There is no such page in the admin console")
