"""The garbage collector is settled once the application has started (`app/core/gc_tuning.py`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app import main
from app.core.gc_tuning import YOUNG_GENERATION_THRESHOLD, settle_after_startup


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_startup_objects_are_frozen_and_young_collections_are_rarer() -> None:
    survivor = {"kept": [1, 2, 3]}
    _, middle, old = gc.get_threshold()
    settle_after_startup()
    assert gc.get_freeze_count() > 0
    assert all(survivor is not tracked for tracked in gc.get_objects())  # frozen: not scanned
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, middle, old)


async def test_the_application_settles_the_collector_when_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(main, "settle_after_startup", lambda: calls.append("settled"))

    async def keep_engine() -> None:  # the other tests' engine outlives this application
        calls.append("shutdown")

    monkeypatch.setattr(main, "dispose_engine", keep_engine)
    app = main.create_application()
    async with app.router.lifespan_context(app):
        assert calls == ["settled"]
    assert calls == ["settled", "shutdown"]
