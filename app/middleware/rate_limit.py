"""Rate limiting of the API, as pure ASGI middleware (before routing, so before any database work).

Every request under the API prefix counts against its client address
(`RATE_LIMIT_REQUESTS` per `RATE_LIMIT_PERIOD`), and, when it carries a valid
access token, against its user as well (same numbers, own counter): neither many
accounts behind one address nor one account spread over many addresses get past
it. The user comes from the bearer token's signed `sub` claim, verified here
without a database hit (dependencies run too late to protect the database).

Login and password-reset requests also count against stricter limits per
address and per e-mail address named in the body, and password changes
(`PATCH /users/me` with `current_password`) against one per user; the body is read
here (it is small, and bounded by the body-size middleware outside) and replayed
to the app.

Responses carry `X-RateLimit-Limit`, `-Remaining` and `-Reset` (seconds until a
slot frees up) for the per-user limit when authenticated, the per-address one
otherwise, or the route's stricter one; a 429 describes the limit it hit and
adds `Retry-After`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from functools import lru_cache
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.core.network import ClientAddressResolver, parse_address
from app.core.ratelimit import RateLimiter, Rule, parse_limit, per_period
from app.core.security import decode_access_token
from app.exceptions import RateLimitError, UnauthorizedError, error_response

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@lru_cache(maxsize=4096)
def limit_subject(address: str) -> str:
    """The key of a client address; IPv6 clients are keyed by their /64, which one holder gets."""
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return address


def email_subject(email: str) -> str:
    """E-mail addresses are keyed by a digest, so Redis never holds them in clear."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def token_subject(token: str) -> str | None:
    """`sub` of a valid access token (verified once, see `decode_token`), else None."""
    try:
        return str(decode_access_token(token)["sub"])
    except UnauthorizedError:
        return None  # the route's own authentication answers 401


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            header: str = value.decode("latin-1")
            scheme, _, token = header.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then defers to the server."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def json_fields(body: bytes) -> dict[str, object]:
    """The fields of a JSON object body; none for anything else (the endpoint answers 422)."""
    try:
        loaded = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


async def email_in_body(scope: Scope, body: bytes) -> str | None:
    """The e-mail a login or reset request names (JSON `email`, form `username`), if any."""
    content_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, object] = {}
    try:
        if content_type == "application/x-www-form-urlencoded":
            fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        elif content_type in _FORM_TYPES:
            form = await Request(scope, replaying(body, _no_more_body)).form()
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            await form.close()
        else:
            fields = json_fields(body)
    except Exception:  # malformed bodies are the endpoint's to reject (422)
        return None
    email = fields.get("email") or fields.get("username")
    return email if isinstance(email, str) and 0 < len(email) <= 320 else None


def changes_password(body: bytes) -> bool:
    """Whether a `PATCH /users/me` body tries a current password (JSON `current_password`)."""
    return "current_password" in json_fields(body)


async def _no_more_body() -> Message:
    return {"type": "http.disconnect"}


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, settings: Settings) -> None:
        self.app = app
        self.limiter = limiter
        self.prefix = settings.api_prefix.rstrip("/")
        self.general = per_period(settings.rate_limit_requests, settings.rate_limit_period)
        self.client_address = ClientAddressResolver(settings.trusted_proxies)
        # path -> (rule name, per-address limit, per-e-mail limit)
        self.strict = {
            f"{self.prefix}/auth/login": (
                "login",
                parse_limit(settings.rate_limit_login),
                parse_limit(settings.rate_limit_login_email),
            ),
            f"{self.prefix}/auth/password-reset/request": (
                "password-reset",
                parse_limit(settings.rate_limit_password_reset),
                parse_limit(settings.rate_limit_password_reset_email),
            ),
        }
        # Whoever holds a user's token may try to guess their current password (to change
        # it and keep the account): those attempts are limited per user.
        self.me = f"{self.prefix}/users/me"
        self.password_change = parse_limit(settings.rate_limit_password_change)

    def _is_api(self, path: str) -> bool:
        return path.startswith(self.prefix) and (
            len(path) == len(self.prefix) or path[len(self.prefix)] == "/"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._is_api(scope["path"]):
            await self.app(scope, receive, send)
            return
        address = limit_subject(self.client_address(scope))
        rules = [Rule("client", self.general, address)]
        report = 0
        token = bearer_token(scope)
        user = token_subject(token) if token else None
        if user is not None:
            rules.append(Rule("user", self.general, user))
            report = 1
        strict = self.strict.get(scope["path"]) if scope["method"] == "POST" else None
        if strict is not None:
            name, per_address, per_email = strict
            rules.append(Rule(name, per_address, address))
            report = len(rules) - 1
            body = await read_body(receive)
            receive = replaying(body, receive)
            email = await email_in_body(scope, body)
            if email is not None:
                rules.append(Rule(f"{name}-email", per_email, email_subject(email)))
        elif user is not None and scope["method"] == "PATCH" and scope["path"] == self.me:
            body = await read_body(receive)
            receive = replaying(body, receive)
            if changes_password(body):
                rules.append(Rule("password-change", self.password_change, user))
                report = len(rules) - 1
        decision = await self.limiter.check(rules, report=report)
        if not decision.allowed:
            await self._reject(scope, receive, send, decision.headers(), decision.reset_after)
            return
        extra = decision.headers()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _reject(
        scope: Scope, receive: Receive, send: Send, headers: list[tuple[bytes, bytes]], retry: int
    ) -> None:
        error = RateLimitError(
            f"Too many requests; retry in {retry} s", details={"retry_after": retry}
        )
        response = error_response(
            error.status_code,
            error.error_code,
            error.message,
            error.details,
            headers={"Retry-After": str(retry)},
        )
        response.raw_headers.extend(headers)
        await response(scope, receive, send)
