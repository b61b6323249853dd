"""Schemathesis against a real server: every check, every phase, on each back end.

The server is started as a user starts it, on a fresh migrated database; requests
are made as a superuser whose account the fuzzer may sabotage and the hooks restore
(tests/fuzz/hooks.py). The run is seeded (FUZZ_SEED to change it) and small enough
for every `make test`; `make fuzz` runs the same harness for minutes.
"""

from __future__ import annotations

import os

import pytest

from tests.fuzz.runner import Budget, default_seed, fuzz

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
