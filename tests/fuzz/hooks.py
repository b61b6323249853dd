"""Schemathesis hooks for the fuzz runs (loaded through SCHEMATHESIS_HOOKS).

Requests are sent as a superuser, so the admin routes are exercised too. The fuzzer
is free to sabotage that account: log it out everywhere, change its password or
e-mail, demote, disable or delete it. So the token comes from a provider that first
restores the account with the same command an operator would use
(`create-superuser`: creates, or promotes, re-activates and resets the password of,
the account), then logs in over HTTP. Schemathesis calls it again whenever a
request answers 401 or 403, and replays the request with the new token.

Reads FUZZ_LOGIN_URL, FUZZ_EMAIL, FUZZ_PASSWORD, and the server's own settings
(DATABASE_URL, ...) from the environment.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import schemathesis

from app import management

LOGIN_URL = os.environ["FUZZ_LOGIN_URL"]
EMAIL = os.environ["FUZZ_EMAIL"]
PASSWORD = os.environ["FUZZ_PASSWORD"]


def restore_account_and_login() -> str:
    asyncio.run(management.create_superuser(EMAIL, PASSWORD))
    response = httpx.post(LOGIN_URL, json={"email": EMAIL, "password": PASSWORD}, timeout=30)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


@schemathesis.auth(retry_on=[401, 403])
class SuperuserToken:
    def get(self, case: Any, context: Any) -> str:
        return restore_account_and_login()

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
