from fastapi import APIRouter

from app.api.v1.endpoints import auth, item_jobs, items, tasks, users

api_router = APIRouter()
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(items.router)
api_router.include_router(item_jobs.router)
api_router.include_router(tasks.router)
