"""All models, imported here so that `Base.metadata` knows every table."""

from app.models.admin_session import AdminSession
from app.models.item import Item
from app.models.job import Job
from app.models.refresh_token import RefreshToken
from app.models.user import User

__all__ = ["AdminSession", "Item", "Job", "RefreshToken", "User"]
