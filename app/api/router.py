"""The application's routes: operations at the root, the versioned API under its prefix."""

from fastapi import FastAPI

from app.api import health
from app.api.responses import LIMIT_ERRORS
from app.api.v1.router import routers as v1_routers


def include_routes(app: FastAPI, api_prefix: str) -> None:
    """Add every route to `app`, each resource's router one level below the application."""
    app.include_router(health.router)
    for router in v1_routers:
        app.include_router(router, prefix=api_prefix, responses=LIMIT_ERRORS)
