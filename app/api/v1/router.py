"""The version 1 API: the `router` of every module in `app.api.v1.endpoints`.

Adding a module with a `router` there adds its routes; nothing here changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from fastapi import APIRouter

from app.api.v1 import endpoints

# Starlette tries routes in order: the hot paths' modules first (`GET /items/{id}`,
# `GET /users/me`), every other module after them by name.
FIRST = ("items", "users")


def _modules() -> list[ModuleType]:
    names = [info.name for info in pkgutil.iter_modules(endpoints.__path__)]
    ordered = [name for name in FIRST if name in names]
    ordered += sorted(name for name in names if name not in FIRST)
    return [importlib.import_module(f"{endpoints.__name__}.{name}") for name in ordered]


# Included one by one into the application (see `app/api/router.py`): FastAPI matches
# a path through every level of nested routers, twice, so the tree is kept one level deep.
routers: tuple[APIRouter, ...] = tuple(module.router for module in _modules())

# The same routes as a single router, for mounting the API into another application.
api_router = APIRouter()
for _router in routers:
    api_router.include_router(_router)
