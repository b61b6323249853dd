"""`/docs` (Swagger UI) and `/redoc` (ReDoc), served with their files from the package.

The pages hold no inline script: `static/js/docs.js` starts either viewer from the
page's `data-` attributes. Swagger UI's *Authorize* uses the OAuth2 password flow
against the login endpoint (the schema's `tokenUrl`), and *Try it out* calls the API
on this origin. Neither viewer fetches fonts or anything else from another site.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.config import get_settings
from app.web.pages import CONTENT_SECURITY_POLICY, page_route, render

router = APIRouter(include_in_schema=False, route_class=page_route())


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the OpenAPI document."""
    return render(request, "docs/swagger.html", _context())


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the OpenAPI document."""
    # ReDoc styles itself with <style> elements (styled-components): they are allowed
    # by a nonce made for this response, which ReDoc sets on each (its `nonce` option);
    # its search index runs in a worker it makes from a blob. Scripts stay 'self' only,
    # no 'unsafe-inline' anywhere. (Its bundle also names its maker's logo on a CDN:
    # `img-src` blocks it, so no request leaves; the footer shows the text alone.)
    nonce = secrets.token_urlsafe(16)
    policy = CONTENT_SECURITY_POLICY.replace(
        "style-src 'self'", f"style-src 'self' 'nonce-{nonce}'"
    ).replace("default-src 'none'", "default-src 'none'; worker-src blob:")
    return render(
        request,
        "docs/redoc.html",
        {**_context(), "style_nonce": nonce},
        headers={"Content-Security-Policy": policy},
    )


def _context() -> dict[str, str]:
    settings = get_settings()
    return {"title": settings.app_name, "openapi_url": "/openapi.json"}
