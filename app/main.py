"""The application factory. `app = create_application()` does no I/O."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import metrics
from app.api.openapi import install_openapi, operation_id
from app.api.responses import COMMON_ERRORS
from app.api.router import include_routes
from app.config import Settings, get_settings
from app.core.gc_tuning import settle_after_startup
from app.core.metrics import process_exited
from app.db.session import dispose_engine
from app.exceptions import register_exception_handlers
from app.middleware import close_middleware, install_middleware
from app.web import include_pages

logger = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The server runs this in each worker once the application is built.
    settle_after_startup()
    yield
    await close_middleware(app)
    await dispose_engine()
    process_exited()


def create_application(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    docs = settings.show_docs
    app = FastAPI(
        title=settings.app_name,
        version=settings.app_version,
        description=settings.app_description,
        debug=settings.debug,
        lifespan=lifespan,
        # /docs and /redoc are pages of app.web, served with their files (no CDN).
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        redirect_slashes=False,
        responses=COMMON_ERRORS,
        generate_unique_id_function=operation_id,
    )
    register_exception_handlers(app)
    include_routes(app, settings.api_prefix)
    include_pages(app, settings)
    if settings.metrics_enabled:
        app.include_router(metrics.router)
    install_middleware(app, settings)
    install_openapi(app)
    return app


app = create_application()
