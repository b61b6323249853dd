"""The reference app: the same SQL for the same endpoints, with nothing else.

Starlette routing, an asyncpg pool, orjson and PyJWT; no ORM, no validation
framework, no middleware. It is the ceiling the service is measured against:
`uvicorn bench.reference:app`, configured by `BENCH_REF_DSN` and `SECRET_KEY`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import jwt
import orjson
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench import ITEM_COLUMNS

KEY = os.environ.get("SECRET_KEY", "reference-secret-key-that-is-long-enough")
USER_COLUMNS = (
    "id, email, full_name, bio, is_active, is_superuser, is_verified, token_version, "
    "created_at, updated_at"
)
HASHES = asyncio.Semaphore(int(os.environ.get("PASSWORD_HASH_CONCURRENCY", "2")))
HASHER = PasswordHasher()
POOL: dict[str, asyncpg.Pool] = {}


def dumps(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, default=str), status, media_type="application/json")


def error(status: int, code: str) -> Response:
    return dumps({"error": {"code": code, "message": code.lower(), "details": {}}}, status)


def item_json(row: asyncpg.Record) -> dict[str, Any]:
    item = dict(row)
    item["price"] = str(item["price"])
    return item


def sign(payload: bytes) -> str:
    mac = hmac.new(KEY.encode(), payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + mac).decode()


def unsign(cursor: str) -> tuple[datetime, int]:
    raw = base64.urlsafe_b64decode(cursor.encode())
    payload, mac = raw[:-16], raw[-16:]
    if not hmac.compare_digest(mac, hmac.new(KEY.encode(), payload, hashlib.sha256).digest()[:16]):
        raise ValueError("bad cursor")
    stamp, item_id = orjson.loads(payload)
    return datetime.fromisoformat(stamp), int(item_id)


async def user_from(request: Request, connection: asyncpg.Connection) -> asyncpg.Record | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        claims = jwt.decode(token, KEY, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None
    if claims.get("type") != "access":
        return None
    row = await connection.fetchrow(
        f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", int(claims["sub"])
    )
    if row is None or not row["is_active"] or claims.get("ver", 0) != row["token_version"]:
        return None
    return row


async def health(_request: Request) -> Response:
    return dumps({"status": "healthy"})


async def read_me(request: Request) -> Response:
    async with POOL["db"].acquire() as connection:
        user = await user_from(request, connection)
        if user is None:
            return error(401, "UNAUTHORIZED")
        rows = await connection.fetch(
            f"SELECT {ITEM_COLUMNS} FROM items WHERE owner_id = $1 "
            "ORDER BY created_at DESC, id DESC LIMIT 100",
            user["id"],
        )
    body = {k: v for k, v in dict(user).items() if k != "token_version"}
    body["items"] = [item_json(row) for row in rows]
    return dumps(body)


async def read_item(request: Request) -> Response:
    item_id = int(request.path_params["item_id"])
    async with POOL["db"].acquire() as connection:
        row = await connection.fetchrow(f"SELECT {ITEM_COLUMNS} FROM items WHERE id = $1", item_id)
    return dumps(item_json(row)) if row else error(404, "NOT_FOUND")


async def list_items(request: Request) -> Response:
    params = request.query_params
    size = int(params.get("page_size", "20"))
    page = int(params.get("page", "1"))
    where, args = [], []
    if "owner_id" in params:
        args.append(int(params["owner_id"]))
        where.append(f"owner_id = ${len(args)}")
    offset = (page - 1) * size
    if "cursor" in params:
        stamp, last_id = unsign(params["cursor"])
        args += [stamp, last_id]
        where.append(f"(created_at, id) < (${len(args) - 1}, ${len(args)})")
        offset = 0
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    query = (
        f"SELECT {ITEM_COLUMNS} FROM items {clause} ORDER BY created_at DESC, id DESC "
        f"LIMIT {size + 1} OFFSET {offset}"
    )
    async with POOL["db"].acquire() as connection:
        rows = await connection.fetch(query, *args)
    more, rows = len(rows) > size, rows[:size]
    last = rows[-1] if rows else None
    cursor = sign(orjson.dumps([last["created_at"], last["id"]])) if more and last else None
    items = [item_json(row) for row in rows]
    return dumps(
        {"items": items, "total": None, "page": page, "page_size": size, "next_cursor": cursor}
    )


async def create_item(request: Request) -> Response:
    data = orjson.loads(await request.body())
    now = datetime.now(UTC)
    async with POOL["db"].acquire() as connection:
        user = await user_from(request, connection)
        if user is None:
            return error(401, "UNAUTHORIZED")
        row = await connection.fetchrow(
            "INSERT INTO items (title, description, price, owner_id, created_at, updated_at) "
            f"VALUES ($1, $2, $3, $4, $5, $5) RETURNING {ITEM_COLUMNS}",
            data["title"].strip(),
            data.get("description"),
            Decimal(str(data["price"])),
            user["id"],
            now,
        )
    return dumps(item_json(row), 201)


async def update_item(request: Request) -> Response:
    data = orjson.loads(await request.body())
    item_id = int(request.path_params["item_id"])
    async with POOL["db"].acquire() as connection:
        user = await user_from(request, connection)
        if user is None:
            return error(401, "UNAUTHORIZED")
        row = await connection.fetchrow(
            f"UPDATE items SET price = $1, updated_at = $2 WHERE id = $3 AND owner_id = $4 "
            f"RETURNING {ITEM_COLUMNS}",
            Decimal(str(data["price"])),
            datetime.now(UTC),
            item_id,
            user["id"],
        )
    return dumps(item_json(row)) if row else error(404, "NOT_FOUND")


def _verify(hashed: str, password: str) -> bool:
    try:
        return HASHER.verify(hashed, password)
    except VerificationError:
        return False


def _token(sub: int, kind: str, minutes: int, **extra: Any) -> str:
    now = datetime.now(UTC)
    claims = {**extra, "sub": str(sub), "type": kind, "iat": now}
    claims |= {"exp": now + timedelta(minutes=minutes), "jti": secrets.token_urlsafe(16)}
    return jwt.encode(claims, KEY, algorithm="HS256")


async def login(request: Request) -> Response:
    data = orjson.loads(await request.body())
    async with POOL["db"].acquire() as connection:
        user = await connection.fetchrow(
            "SELECT id, hashed_password, is_active, token_version FROM users WHERE email = $1",
            data["email"].lower(),
        )
        if user is None:
            return error(401, "UNAUTHORIZED")
        async with HASHES:
            ok = await asyncio.to_thread(_verify, user["hashed_password"], data["password"])
        if not ok or not user["is_active"]:
            return error(401, "UNAUTHORIZED")
        family = secrets.token_hex(16)
        refresh = _token(user["id"], "refresh", 14 * 24 * 60, fam=family)
        now = datetime.now(UTC)
        await connection.execute(
            "INSERT INTO refresh_tokens (user_id, token_hash, family_id, expires_at, "
            "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
            user["id"],
            hashlib.sha256(refresh.encode()).hexdigest(),
            family,
            now + timedelta(days=14),
            now,
        )
    access = _token(user["id"], "access", 15, ver=user["token_version"])
    return dumps(
        {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": 900,
        }
    )


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    dsn = os.environ.get("BENCH_REF_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    POOL["db"] = await asyncpg.create_pool(dsn, min_size=10, max_size=30)
    yield
    await POOL.pop("db").close()


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/api/v1/users/me", read_me),
        Route("/api/v1/items", list_items),
        Route("/api/v1/items", create_item, methods=["POST"]),
        Route("/api/v1/items/{item_id:int}", read_item),
        Route("/api/v1/items/{item_id:int}", update_item, methods=["PATCH"]),
        Route("/api/v1/auth/login", login, methods=["POST"]),
    ],
    lifespan=lifespan,
)
