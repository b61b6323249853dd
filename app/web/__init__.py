"""Pages for people: the API documentation, the pages e-mail links open, the admin console.

Server-rendered (Jinja2), served by the application itself with their static files:
nothing to build, nothing loaded from another site. See `pages.py` for the headers
every page carries.
"""

from __future__ import annotations

from fastapi import FastAPI

from app.config import Settings
from app.web import account, admin, docs
from app.web.assets import STATIC_PREFIX, StaticAssets


def include_pages(app: FastAPI, settings: Settings) -> None:
    """Mount the static files and the routers the settings switch on."""
    app.mount(STATIC_PREFIX, StaticAssets(), name="static")
    if settings.show_docs:
        app.include_router(docs.router)
    app.include_router(account.build_router(settings))
    if settings.admin_enabled:
        for router in admin.routers:
            app.include_router(router)
