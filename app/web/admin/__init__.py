"""The admin console at `/admin`: server-rendered pages for superusers.

Jinja2 templates and a little htmx (live search), no front-end build; every page
and action calls the same services as the API. One router per part.
"""

from __future__ import annotations

from fastapi import APIRouter

from app.web.admin import auth, dashboard, items, jobs, users

routers: tuple[APIRouter, ...] = (
    auth.router,
    dashboard.router,
    users.router,
    items.router,
    jobs.router,
    dashboard.fallback,  # last: it answers every other path
)
