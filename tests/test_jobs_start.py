"""A task that starts while its job disappears (deleted with its owner) does nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from app.models.job import Job
from app.models.user import User
from app.services.job_run import start_job
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("database_url")


async def test_a_job_deleted_while_its_task_starts_is_no_job(
    session_factory: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    owner = await make_user(session)
    job = Job(task_id="vanishing-task", kind="export", owner_id=owner.id)
    session.add(job)
    await session.flush()

    class OwnerDeletedMeanwhile(Session):
        """Deletes the owner (and, by cascade, the job) between the read and the write,
        as a concurrent `DELETE /users/{id}` would."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            event.listen(self, "before_flush", self._delete_owner)

        def _delete_owner(self, session: Session, *_: Any) -> None:
            session.execute(delete(User).where(User.id == owner.id))

    factory = async_sessionmaker(
        bind=session_factory.kw["bind"],
        sync_session_class=OwnerDeletedMeanwhile,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    )
    assert await start_job(factory, job.id, "vanishing-task") is None
