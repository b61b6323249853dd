"""Static files of the pages, served from the package under a versioned path.

Every asset URL is `/static/<tag>/<file>`, where the tag is the application's
version and a digest of the static files: a changed file gets a new URL, so
responses can be cached for a year (`immutable`). A request for another tag is a
404, never an old name answered with new content.

Third-party files are vendored under `static/vendor/<name>-<version>/` with their
licence, as published on npm; `VENDORED` lists them (and `scripts/vendor_assets.py`
fetches them again). Nothing is loaded from a CDN.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from app.config import get_settings

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"
CACHE_FOREVER = b"public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Vendored:
    """A package's files copied from its npm tarball (`package/` stripped)."""

    npm_name: str
    version: str
    folder: str
    files: tuple[str, ...]  # paths inside the tarball -> copied flat into `folder`
    licence: str

    def url(self, name: str) -> str:
        return static_url(f"vendor/{self.folder}/{name}")


SWAGGER_UI = Vendored(
    "swagger-ui-dist",
    "5.36.0",
    "swagger-ui-5.36.0",
    (
        "swagger-ui-bundle.js",
        "swagger-ui-bundle.js.LICENSE.txt",
        "swagger-ui.css",
        "LICENSE",
        "NOTICE",
    ),
    "Apache-2.0",
)
REDOC = Vendored(
    "redoc",
    "2.5.4",
    "redoc-2.5.4",
    ("bundles/redoc.standalone.js", "bundles/redoc.standalone.js.LICENSE.txt", "LICENSE"),
    "MIT",
)
HTMX = Vendored("htmx.org", "2.0.11", "htmx-2.0.11", ("dist/htmx.min.js", "LICENSE"), "0BSD")
VENDORED = (SWAGGER_UI, REDOC, HTMX)


@lru_cache(maxsize=1)
def static_tag() -> str:
    """The application's version and a digest of every static file (read once, ~3 MB)."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return f"{get_settings().app_version}-{digest.hexdigest()[:12]}"


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}/{static_tag()}/{name}"


class StaticAssets:
    """`/static/<tag>/<file>`: the file, cached for good; any other tag is a 404."""

    def __init__(self) -> None:
        self.files = StaticFiles(directory=STATIC_DIR)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):  # mounted: the path still carries the mount's
            path = path[len(root) :]
        tag, _, rest = path.lstrip("/").partition("/")
        current = tag == static_tag()

        async def send_cached(message: Message) -> None:
            if current and message["type"] == "http.response.start" and message["status"] == 200:
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"cache-control", CACHE_FOREVER),
                ]
            await send(message)

        # Another tag: the empty path, which StaticFiles answers with a 404.
        inner = {**scope, "root_path": "", "path": "/" + (rest if current else "")}
        await self.files(inner, receive, send_cached)
