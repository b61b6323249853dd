"""The application's routes: operations at the root, the versioned API under its prefix."""

from fastapi import APIRouter

from app.api import health
from app.api.responses import LIMIT_ERRORS
from app.api.v1.router import api_router as v1_router


def build_router(api_prefix: str) -> APIRouter:
    router = APIRouter()
    router.include_router(health.router)
    router.include_router(v1_router, prefix=api_prefix, responses=LIMIT_ERRORS)
    return router
