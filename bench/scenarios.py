"""The endpoints measured, and the request lists wrk replays for each.

Each scenario builds its requests against one server (the service or the reference
app): both get the same paths, tokens and bodies, except for a cursor, which each
app hands out in its own format.
"""

from __future__ import annotations

import json
import random
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.dataset import BENCH_TITLE, PASSWORD, Fixtures
from bench.load import Request

API = "/api/v1"
PAGE_SIZE = 20
DEEP_ROWS = 10_000  # how deep the "deep page" starts (half the items on a small dataset)
TOKEN_USERS = 8


def http_json(url: str, body: dict[str, Any] | None = None, token: str = "") -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


@dataclass
class Context:
    """Tokens of a few demo users, items they own, and the seeded id ranges."""

    fixtures: Fixtures
    tokens: list[str] = field(default_factory=list)
    owned: list[tuple[str, int]] = field(default_factory=list)  # (token, item id of its user)
    rng: random.Random = field(default_factory=lambda: random.Random(6))

    @property
    def deep_rows(self) -> int:
        items = self.fixtures.last_item - self.fixtures.first_item + 1
        return min(DEEP_ROWS, items // 2 // PAGE_SIZE * PAGE_SIZE)

    @classmethod
    def log_in(cls, base_url: str, fixtures: Fixtures) -> Context:
        """Log a few demo users in through the service's own login endpoint."""
        context = cls(fixtures)
        for user_id in range(fixtures.first_user, fixtures.first_user + TOKEN_USERS):
            email = f"demo{user_id}@example.com"
            tokens = http_json(
                f"{base_url}{API}/auth/login", {"email": email, "password": PASSWORD}
            )
            token = tokens["access_token"]
            context.tokens.append(token)
            page = http_json(f"{base_url}{API}/items?owner_id={user_id}&page_size=8")
            context.owned += [(token, item["id"]) for item in page["items"]]
        return context


def _health(_ctx: Context, _url: str) -> list[Request]:
    return [Request("GET", "/health")]


def _me(ctx: Context, _url: str) -> list[Request]:
    return [Request("GET", f"{API}/users/me", token) for token in ctx.tokens]


def _item(ctx: Context, _url: str) -> list[Request]:
    fx = ctx.fixtures
    ids = [ctx.rng.randint(fx.first_item, fx.last_item) for _ in range(500)]
    return [Request("GET", f"{API}/items/{item_id}") for item_id in ids]


def _first_page(_ctx: Context, _url: str) -> list[Request]:
    return [Request("GET", f"{API}/items?page_size={PAGE_SIZE}")]


def _deep_offset(ctx: Context, _url: str) -> list[Request]:
    page = ctx.deep_rows // PAGE_SIZE + 1
    return [Request("GET", f"{API}/items?page={page}&page_size={PAGE_SIZE}")]


def _deep_cursor(ctx: Context, base_url: str) -> list[Request]:
    # The cursor after row `deep_rows`, as this app hands it out on the page before.
    page = ctx.deep_rows // PAGE_SIZE
    body = http_json(f"{base_url}{API}/items?page={page}&page_size={PAGE_SIZE}")
    cursor = urllib.parse.quote(body["next_cursor"], safe="")
    return [Request("GET", f"{API}/items?page_size={PAGE_SIZE}&cursor={cursor}")]


def _by_owner(ctx: Context, _url: str) -> list[Request]:
    fx = ctx.fixtures
    owners = [ctx.rng.randint(fx.first_user, fx.last_user) for _ in range(200)]
    return [
        Request("GET", f"{API}/items?owner_id={owner}&page_size={PAGE_SIZE}") for owner in owners
    ]


def _create(ctx: Context, _url: str) -> list[Request]:
    body = json.dumps(
        {"title": BENCH_TITLE, "description": "made by the benchmark", "price": "9.99"}
    )
    return [Request("POST", f"{API}/items", token, body) for token in ctx.tokens]


def _update(ctx: Context, _url: str) -> list[Request]:
    return [
        Request(
            "PATCH", f"{API}/items/{item_id}", token, json.dumps({"price": f"{n % 90 + 10}.50"})
        )
        for n, (token, item_id) in enumerate(ctx.owned)
    ]


def _login(ctx: Context, _url: str) -> list[Request]:
    fx = ctx.fixtures
    users = range(fx.first_user, min(fx.last_user, fx.first_user + 200) + 1)
    bodies = [json.dumps({"email": f"demo{u}@example.com", "password": PASSWORD}) for u in users]
    return [Request("POST", f"{API}/auth/login", "", body) for body in bodies]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    label: str
    build: Callable[[Context, str], list[Request]]


SCENARIOS = (
    Scenario("health", "GET /health", _health),
    Scenario("users_me", "GET /users/me", _me),
    Scenario("item", "GET /items/{id}", _item),
    Scenario("items_first", "GET /items first page", _first_page),
    Scenario("items_offset", "GET /items {deep} rows deep (page=)", _deep_offset),
    Scenario("items_cursor", "GET /items {deep} rows deep (cursor=)", _deep_cursor),
    Scenario("items_owner", "GET /items?owner_id=", _by_owner),
    Scenario("create_item", "POST /items", _create),
    Scenario("update_item", "PATCH /items/{id}", _update),
)
LOGIN = Scenario("login", "POST /auth/login", _login)
HEALTH, ITEM = (next(s for s in SCENARIOS if s.name == name) for name in ("health", "item"))
