"""Users in the console: search, open, change roles and status, delete (after a confirmation).

Every change goes through `UserService`, as `PATCH /users/{id}` and `DELETE
/users/{id}` do: the same rules (no self-demotion, no self-disabling), the same
revocation of every session and token when an account is disabled.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from app.api.params import UserId
from app.dependencies import JobServiceDep, UserServiceDep
from app.schemas.job import TaskQuery
from app.schemas.user import UserAdminUpdate, UserQuery
from app.services.base import PageRequest
from app.web.admin.auth import ADMIN_PATH, AdminForm, CurrentAdmin, admin_router
from app.web.admin.params import PAGE_SIZE, PageQuery, SearchQuery
from app.web.pages import render

router = admin_router()
SHOWN_JOBS = 20

# What each button of a user's page changes.
ACTIONS: dict[str, UserAdminUpdate] = {
    "disable": UserAdminUpdate(is_active=False),
    "enable": UserAdminUpdate(is_active=True),
    "verify": UserAdminUpdate(is_verified=True),
    "grant-superuser": UserAdminUpdate(is_superuser=True),
    "remove-superuser": UserAdminUpdate(is_superuser=False),
}
Action = Literal["disable", "enable", "verify", "grant-superuser", "remove-superuser"]


@router.get("/users", response_class=HTMLResponse)
async def list_users(
    request: Request,
    _: CurrentAdmin,
    users: UserServiceDep,
    q: SearchQuery = "",
    page: PageQuery = 1,
) -> HTMLResponse:
    """Users whose e-mail address or name contains the search text."""
    query = UserQuery(q=q.strip() or None)
    found = await users.search(query, paging=PageRequest(page, PAGE_SIZE, exact_total=True))
    return render(request, "admin/users.html", {"page": found, "q": q, "nav": "users"})


@router.get("/users/{user_id:int}", response_class=HTMLResponse)
async def read_user(
    request: Request, user_id: UserId, _: CurrentAdmin, users: UserServiceDep, jobs: JobServiceDep
) -> HTMLResponse:
    """One user, with their newest items and jobs."""
    user = await users.get_by_id(user_id)
    context = {
        "user": user,
        "items": await users.recent_items(user, limit=SHOWN_JOBS),
        "jobs": await jobs.search(
            TaskQuery(), paging=PageRequest(page_size=SHOWN_JOBS), owner_id=user.id
        ),
        "done": request.query_params.get("done", ""),
        "nav": "users",
    }
    return render(request, "admin/user.html", context)


@router.post("/users/{user_id:int}/action")
async def change_user(
    user_id: UserId, admin: AdminForm, users: UserServiceDep, action: Annotated[Action, Form()]
) -> Response:
    """Disable, enable, verify, grant or remove the superuser role."""
    await users.update_as_admin(await users.get_by_id(user_id), ACTIONS[action], by=admin)
    return RedirectResponse(f"{ADMIN_PATH}/users/{user_id}?done={action}", status_code=303)


@router.get("/users/{user_id:int}/delete", response_class=HTMLResponse)
async def confirm_delete_user(
    request: Request, user_id: UserId, _: CurrentAdmin, users: UserServiceDep
) -> HTMLResponse:
    """The confirmation step before deleting a user."""
    user = await users.get_by_id(user_id)
    return render(
        request,
        "admin/confirm.html",
        {
            "heading": f"Delete {user.email}?",
            "body": "The account, its items, jobs and sessions are deleted for good.",
            "action": f"{ADMIN_PATH}/users/{user.id}/delete",
            "cancel": f"{ADMIN_PATH}/users/{user.id}",
            "button": "Delete the user",
            "nav": "users",
        },
    )


@router.post("/users/{user_id:int}/delete")
async def delete_user(user_id: UserId, _: AdminForm, users: UserServiceDep) -> Response:
    """Delete a user and everything they own."""
    await users.delete(await users.get_by_id(user_id))
    return RedirectResponse(f"{ADMIN_PATH}/users?deleted={user_id}", status_code=303)
