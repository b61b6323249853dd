"""Password hashing and token encoding: pure functions, no database.

Tokens are JWTs with a `type` claim naming their purpose; a token is only ever
decoded for one purpose, so a refresh token is refused where an access token is
expected and the reverse. The algorithm list passed to PyJWT is exactly the
configured one, so `alg: none` and algorithm confusion are refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, TypeVar

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from app.config import get_settings
from app.exceptions import UnauthorizedError

logger = logging.getLogger(__name__)
T = TypeVar("T")


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"
    EMAIL_VERIFICATION = "email_verification"
    PASSWORD_RESET = "password_reset"


# -- passwords ---------------------------------------------------------------------


@lru_cache(maxsize=4)
def _password_hash(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHash:
    # Argon2id for new hashes; bcrypt kept to verify (and then upgrade) older hashes.
    argon2 = Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    return PasswordHash((argon2, BcryptHasher()))


def password_hasher() -> PasswordHash:
    s = get_settings()
    return _password_hash(
        s.password_hash_time_cost, s.password_hash_memory_cost, s.password_hash_parallelism
    )


def get_password_hash(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(password: str, hashed: str) -> bool:
    try:
        return password_hasher().verify(password, hashed)
    except Exception:  # an unknown or corrupt hash never verifies
        return False


def verify_and_update_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """Verify, and return a new Argon2id hash when the stored one is outdated."""
    try:
        return password_hasher().verify_and_update(password, hashed)
    except Exception:
        return False, None


def _lower_thread_priority(nice: int) -> None:
    """Make the calling thread (and the threads Argon2 starts from it) yield the CPU.

    Linux keeps a nice value per thread, and threads inherit it from their creator,
    so hashing threads at a higher nice value than the event loop's thread lose the
    CPU to it whenever the loop has work: requests keep flowing while logins hash,
    and hashing still takes every idle cycle.
    """
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    thread_id = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        os.setpriority(os.PRIO_PROCESS, thread_id, max(current, nice))
    except OSError:  # not permitted here: hashing still works, just not deprioritised
        logger.warning("could not lower the priority of a password hashing thread")


@lru_cache(maxsize=1)
def _hash_executor(workers: int, nice: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=workers,
        thread_name_prefix="password-hash",
        initializer=_lower_thread_priority,
        initargs=(nice,),
    )


async def run_hashing(func: Callable[..., T], *args: Any) -> T:
    """Run a hash or verification in a dedicated worker thread, a few at a time.

    Argon2 releases the GIL, so the event loop keeps serving. The pool's size
    (`PASSWORD_HASH_CONCURRENCY`) bounds memory (64 MiB per Argon2 hash by default)
    and CPU under a burst of logins; its threads run at a lower priority
    (`PASSWORD_HASH_NICE`) so the event loop wins the CPU when both want it. A pool
    of its own, because the nice value of a thread cannot be raised back.
    """
    settings = get_settings()
    executor = _hash_executor(settings.password_hash_concurrency, settings.password_hash_nice)
    return await asyncio.get_running_loop().run_in_executor(executor, func, *args)


async def hash_password_async(password: str) -> str:
    return await run_hashing(get_password_hash, password)


async def verify_and_update_password_async(password: str, hashed: str) -> tuple[bool, str | None]:
    return await run_hashing(verify_and_update_password, password, hashed)


@lru_cache(maxsize=4)
def dummy_password_hash(_params: tuple[int, int, int]) -> str:
    """A hash to verify against when the e-mail is unknown, so both cases cost the same."""
    return get_password_hash(secrets.token_urlsafe(16))


def current_dummy_hash() -> str:
    s = get_settings()
    return dummy_password_hash(
        (s.password_hash_time_cost, s.password_hash_memory_cost, s.password_hash_parallelism)
    )


async def current_dummy_hash_async() -> str:
    """The dummy hash; its first computation is a full hash, so off the event loop too."""
    return await run_hashing(current_dummy_hash)


# -- tokens ------------------------------------------------------------------------


def hash_token(token: str) -> str:
    """What the database keeps of an opaque token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def encode_token(
    subject: str | int,
    token_type: TokenType,
    expires_delta: timedelta,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    settings = get_settings()
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        **(extra_claims or {}),
        "sub": str(subject),
        "type": token_type.value,
        "iat": now,
        "exp": now + expires_delta,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, settings.signing_key, algorithm=settings.algorithm)


# Verifying a JWT (base64, JSON, HMAC) costs PyJWT 30-100 µs, about a tenth of an
# authenticated request. A token's signature and claims cannot change, so each is
# verified once per key and remembered; its expiry, the one claim that turns a valid
# token invalid with time, is checked on every use. Revocation (`ver`, refresh-token
# rotation) is checked against the database by the callers, as before.
VERIFIED_TOKEN_CACHE_SIZE = 4096
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "type"]


@lru_cache(maxsize=VERIFIED_TOKEN_CACHE_SIZE)
def _verified_claims(token: str, key: str, algorithm: str) -> dict[str, Any]:
    """The claims of a token whose signature checks out; raises (and caches nothing) if not."""
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=[algorithm],
        options={"require": _REQUIRED_CLAIMS, "verify_exp": False},
    )
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        raise jwt.InvalidTokenError("exp must be a finite number")
    return claims


def decode_token(token: str, token_type: TokenType) -> dict[str, Any]:
    """Verify signature, expiry and purpose; any failure is a 401."""
    settings = get_settings()
    try:
        claims = _verified_claims(token, settings.signing_key, settings.algorithm)
    except jwt.PyJWTError as exc:
        raise UnauthorizedError("Invalid token") from exc
    if claims["exp"] <= time.time():
        raise UnauthorizedError("Token has expired")
    if claims.get("type") != token_type.value or not isinstance(claims.get("sub"), str):
        raise UnauthorizedError("Invalid token")
    return dict(claims)  # a copy: the cached claims stay as verified


def create_access_token(
    subject: str | int,
    expires_delta: timedelta | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    delta = expires_delta or timedelta(minutes=get_settings().access_token_expire_minutes)
    return encode_token(subject, TokenType.ACCESS, delta, extra_claims)


def create_refresh_token(subject: str | int, *, family_id: str | None = None) -> str:
    """A refresh JWT; it is only honoured once its hash is stored (see AuthService)."""
    delta = timedelta(days=get_settings().refresh_token_expire_days)
    return encode_token(subject, TokenType.REFRESH, delta, {"fam": family_id or new_family_id()})


def new_family_id() -> str:
    return secrets.token_hex(16)


def decode_access_token(token: str) -> dict[str, Any]:
    return decode_token(token, TokenType.ACCESS)


def decode_refresh_token(token: str) -> dict[str, Any]:
    claims = decode_token(token, TokenType.REFRESH)
    if not isinstance(claims.get("fam"), str):
        raise UnauthorizedError("Invalid token")
    return claims


# -- one-purpose tokens for e-mail links ---------------------------------------------------


def password_digest(hashed_password: str) -> str:
    """A keyed digest of the stored password hash, carried by password-reset tokens.

    Any password change (a reset included) changes the hash, so every reset token
    issued before it stops matching: tokens are single-use and die with the password.
    Keyed with the signing key so the token reveals nothing about the hash.
    """
    key = get_settings().signing_key.encode()
    return hmac.new(key, hashed_password.encode(), hashlib.sha256).hexdigest()[:32]


def create_password_reset_token(subject: str | int, *, hashed_password: str) -> str:
    delta = timedelta(minutes=get_settings().password_reset_expire_minutes)
    claims = {"pwd": password_digest(hashed_password)}
    return encode_token(subject, TokenType.PASSWORD_RESET, delta, claims)


def password_reset_token_matches(claims: dict[str, Any], hashed_password: str) -> bool:
    digest = claims.get("pwd")
    return isinstance(digest, str) and hmac.compare_digest(digest, password_digest(hashed_password))


def create_email_verification_token(subject: str | int, *, email: str) -> str:
    """Bound to the address it was sent to: it cannot verify an address changed since."""
    delta = timedelta(hours=get_settings().email_token_expire_hours)
    return encode_token(subject, TokenType.EMAIL_VERIFICATION, delta, {"email": email})
