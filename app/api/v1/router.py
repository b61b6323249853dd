"""The version 1 API: one router per resource, in the order their paths are matched."""

from fastapi import APIRouter

from app.api.v1.endpoints import auth, item_jobs, items, tasks, users

# Included one by one into the application (see `app/api/router.py`): FastAPI matches
# a path through every level of nested routers, twice, so the tree is kept one level deep.
routers: tuple[APIRouter, ...] = (
    items.router,
    item_jobs.router,
    users.router,
    auth.router,
    tasks.router,
)

# The same routes as a single router, for mounting the API into another application.
api_router = APIRouter()
for _router in routers:
    api_router.include_router(_router)
