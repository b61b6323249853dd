"""What `make mutation` mutates, and the focused tests each module's mutants run against.

The one list: the runner, the score table and the docs' list of equivalent mutants
all follow it. A module's `skip` names functions and methods (module or class level) left
unmutated because they hold no rule (thread priorities, pools, caches, statement
building, progress reports): their mutants would measure the plumbing, not the guards.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Target:
    module: str  # a path under app/
    tests: tuple[str, ...]
    skip: tuple[str, ...] = ()  # functions not mutated

    @property
    def name(self) -> str:
        return self.module.removesuffix(".py").replace("/", ".")


TARGETS = (
    Target(
        "app/core/security.py",
        tests=(
            "tests/test_token_attacks_api.py",
            "tests/test_auth_api.py",
            "tests/test_account_email_api.py",
            "tests/test_password_hashing.py",
            "tests/test_security.py",
        ),
        skip=("_lower_thread_priority", "_hash_executor", "run_hashing"),
    ),
    Target(
        "app/services/auth.py",
        tests=(
            "tests/test_auth_api.py",
            "tests/test_account_email_api.py",
            "tests/test_token_attacks_api.py",
            "tests/test_concurrency.py",
            "tests/test_web_account.py",  # the reset page checks its token first
        ),
    ),
    Target(
        "app/dependencies.py",
        tests=(
            "tests/test_users_api.py",
            "tests/test_token_attacks_api.py",
            "tests/test_auth_api.py",
            "tests/test_items_api.py",
            "tests/test_account_email_api.py",
            "tests/test_dependencies.py",
        ),
    ),
    Target(
        "app/services/job_run.py",
        tests=("tests/test_job_run.py", "tests/test_jobs_start.py"),
        skip=("_set_progress",),  # progress reports, not the checkpoint
    ),
    Target("app/core/cursor.py", tests=("tests/test_pagination.py", "tests/test_cursor.py")),
    Target(
        "app/services/pagination.py",
        tests=("tests/test_pagination.py", "tests/test_items_api.py", "tests/test_users_api.py"),
        # The cursor part only: not the filter conditions and statement building.
        skip=(
            "_unchanged",
            "equals",
            "at_least",
            "at_most",
            "escape_like",
            "contains",
            "__init__",
            "where",
            "page_statement",
        ),
    ),
    Target(
        "app/core/ratelimit.py",
        tests=(
            "tests/test_rate_limit.py",
            "tests/test_rate_limit_auth.py",
            "tests/test_rate_limit_redis.py",
        ),
        skip=("_MemoryStorage__schedule_expiry", "redis_pool", "redis_storage", "aclose"),
    ),
    Target(
        # Which rules a request falls under; the storage behind them is ratelimit.py's.
        "app/middleware/rate_limit.py",
        tests=(
            "tests/test_rate_limit.py",
            "tests/test_rate_limit_auth.py",
            "tests/test_client_address.py",
        ),
    ),
)
