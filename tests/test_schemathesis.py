"""Schemathesis against a real server: every check, every phase, on each back end.

The server is started as a user starts it, on a fresh migrated database; requests
are made as a superuser whose account the fuzzer may sabotage and the hooks restore
(tests/fuzz/hooks.py). The run is seeded (FUZZ_SEED to change it) and small enough
for every `make test`; `make fuzz` runs the same harness for minutes.
"""

from __future__ import annotations

import os
import tomllib

import pytest

from app.main import create_application
from tests.fuzz.runner import CONFIG, Budget, cursor_exemptions, default_seed, fuzz

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = [pytest.param(None, id="sqlite")]
if POSTGRES_URL:
    BACKENDS.append(pytest.param(POSTGRES_URL, id="postgresql"))
SEED = 20260101


@pytest.mark.slow
@pytest.mark.parametrize("postgres_url", BACKENDS)
def test_schemathesis_finds_nothing(postgres_url: str | None) -> None:
    seed = default_seed() or SEED
    result = fuzz(postgres_url, Budget(max_examples=20, seed=seed))
    assert result.ok, f"Schemathesis run with seed {seed} failed:\n{result.report()}"


def test_every_operation_that_takes_a_cursor_may_refuse_a_forged_one() -> None:
    document = create_application().openapi()
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8") + cursor_exemptions(document))
    (exempt,) = config["operations"]
    takes_cursor = {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "cursor" in {parameter["name"] for parameter in operation.get("parameters", ())}
    }
    assert set(exempt["include-name"]) == takes_cursor
    assert {"GET /api/v1/items", "GET /api/v1/users", "GET /api/v1/tasks"} <= takes_cursor
    assert "422" in exempt["checks"]["positive_data_acceptance"]["expected-statuses"]
