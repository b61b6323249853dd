"""Rate limits of the pages' forms, on the API's limiter and settings.

The pages live outside the API prefix, so the rate-limit middleware does not see
them; their form posts call the same `RateLimiter` (memory or Redis) with the same
rules: the general per-address limit on every post, and the login limits (per
address and per e-mail address tried) on the console's sign-in. With
`RATE_LIMIT_ENABLED=false` there is no limiter and nothing is counted.
"""

from __future__ import annotations

from functools import lru_cache

from fastapi import Request

from app.config import get_settings
from app.core.network import ClientAddressResolver
from app.core.ratelimit import RateLimiter, Rule, parse_limit, per_period
from app.exceptions import RateLimitError
from app.middleware.rate_limit import email_subject, limit_subject


@lru_cache(maxsize=8)
def _resolver(trusted: tuple[str, ...]) -> ClientAddressResolver:
    return ClientAddressResolver(trusted)


def client_subject(request: Request) -> str:
    """The client address the API's limiter would key this request by."""
    settings = get_settings()
    return limit_subject(_resolver(tuple(settings.trusted_proxies))(request.scope))


async def enforce(request: Request, *, login_email: str | None = None) -> None:
    """Count this form post; a 429 error when a limit is used up."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return
    settings = get_settings()
    address = client_subject(request)
    rules = [
        Rule(
            "client", per_period(settings.rate_limit_requests, settings.rate_limit_period), address
        )
    ]
    if login_email is not None:
        rules.append(Rule("login", parse_limit(settings.rate_limit_login), address))
        rules.append(
            Rule(
                "login-email",
                parse_limit(settings.rate_limit_login_email),
                email_subject(login_email),
            )
        )
    decision = await limiter.check(rules, report=len(rules) - 1)
    if not decision.allowed:
        raise RateLimitError(
            f"Too many attempts; try again in {decision.reset_after} s",
            headers={"Retry-After": str(decision.reset_after)},
        )
