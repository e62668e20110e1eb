"""Who is calling: admin API tokens, user sessions, roles and their grants.

Tokens and session tokens are high-entropy random strings, stored as their SHA-256: a fast
hash is right for random secrets and runs on every request. Passwords are hashed with
argon2, which is slow on purpose and runs only at login, in a worker thread.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from anyio import to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field

from dbplane.errors import (
    AdminRequired,
    InvalidCredentials,
    InvalidToken,
    MissingToken,
    NotAUserSession,
)
from dbplane.meta import queries as q
from dbplane.meta.records import (
    ApiTokenRecord,
    RoleRecord,
    SessionRecord,
    TokenPrincipalRecord,
    UserRecord,
)
from dbplane.services.context import AppContext, now_ms

__all__ = [
    "ACTIONS",
    "ADMIN_ROLE",
    "Grant",
    "LoginResult",
    "Principal",
    "authenticate",
    "ensure_admin_token",
    "ensure_builtin_roles",
    "hash_password",
    "hash_token",
    "login",
    "logout",
    "new_token",
]

ACTIONS = ("read", "create", "update", "delete")
Action = Literal["read", "create", "update", "delete"]
ADMIN_ROLE = "admin"

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both answers take the same time.
    Made at the first login, not at import: argon2 takes 64 MiB to hash."""
    return _hasher.hash(secrets.token_urlsafe(16))


class Grant(BaseModel):
    """What a role may do on which tables: ``*`` stands for any database or table."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    database: str = Field("*", min_length=1, max_length=63,
                          description="a database id or resource_id, or *")
    table: str = Field("*", min_length=1, max_length=255, description="a table name, or *")
    actions: list[Action] = Field(min_length=1)


@dataclass(frozen=True)
class Principal:
    """The caller of a request."""

    kind: Literal["token", "session"]
    role: str
    grants: tuple[Grant, ...] = ()
    user_id: str | None = None
    token_hash: str = ""

    @property
    def is_admin(self) -> bool:
        return self.kind == "token" or self.role == ADMIN_ROLE

    def require_admin(self) -> None:
        if not self.is_admin:
            raise AdminRequired(f"only an admin may do this; this session's role is "
                                f"{self.role!r}", role=self.role)

    def allows(self, action: str, database_refs: tuple[str, ...], table: str) -> bool:
        """Whether a grant lets this caller do ``action`` on ``table`` of a database known
        by any of ``database_refs`` (its id and resource_id)."""
        if self.is_admin:
            return True
        return any(
            action in g.actions
            and (g.database == "*" or g.database in database_refs)
            and (g.table == "*" or g.table == table)
            for g in self.grants
        )

    def sees_database(self, *database_refs: str) -> bool:
        """Whether any grant names this database (or any database)."""
        if self.is_admin:
            return True
        return any(g.database == "*" or g.database in database_refs for g in self.grants)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise MissingToken()
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return token


async def authenticate(ctx: AppContext, authorization: str | None) -> Principal:
    """The caller behind an ``Authorization`` header; MissingToken or InvalidToken else.
    Cached for ``DBPLANE_CACHE_SECONDS``; concurrent misses share one lookup."""
    token_hash = hash_token(_bearer(authorization))

    async def lookup() -> tuple[Principal, int | None] | None:
        async with ctx.meta.connect() as conn:
            found = await q.find_principal_by_token_hash(conn, token_hash)
        if found is None:
            return None
        if isinstance(found, TokenPrincipalRecord):
            return Principal(kind="token", role=ADMIN_ROLE, token_hash=token_hash), None
        principal = Principal(
            kind="session",
            role=found.role,
            user_id=found.user_id,
            grants=tuple(Grant.model_validate(g) for g in found.grants),
            token_hash=token_hash,
        )
        return principal, int(found.expires_on)

    entry = await ctx.principals.load(token_hash, lookup)
    if entry is None:
        raise InvalidToken()
    principal, expires_on = entry
    if expires_on is not None and expires_on <= now_ms():
        raise InvalidToken("the session has expired: log in again")
    return principal  # type: ignore[no-any-return]


class LoginResult(BaseModel):
    token: str = Field(description="the session token: send it as 'Authorization: Bearer'")
    expires_on: int = Field(description="epoch milliseconds")
    expires_at: str = Field(description="RFC 3339")
    user: dict[str, Any]


async def login(ctx: AppContext, email: str, password: str) -> tuple[str, int, UserRecord]:
    """Check the password and open a session: (token, expires_on ms, user record)."""
    async with ctx.meta.connect() as conn:
        user = await q.get_user_by_email(conn, email.strip().lower())
    stored = user.password_hash if user else await to_thread.run_sync(_dummy_hash)

    def verify() -> bool:
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    if not await to_thread.run_sync(verify) or user is None:
        raise InvalidCredentials()
    token = new_token("dbs")
    stamp = now_ms()
    expires = stamp + ctx.settings.session_ttl_seconds * 1000
    async with ctx.meta.begin() as conn:
        await q.delete_expired_sessions(conn, stamp)
        await q.insert_session(conn, SessionRecord(
            id=str(uuid.uuid4()), token_hash=hash_token(token), user_id=user.id,
            created_on=stamp, expires_on=expires))
    return token, expires, user


async def logout(ctx: AppContext, principal: Principal) -> None:
    """End the caller's session (an API token is not a session: revoke it instead)."""
    if principal.kind != "session":
        raise NotAUserSession("this bearer token is an API token, not a session; revoke it "
                              "with DELETE /v1/tokens/{id}")
    async with ctx.meta.begin() as conn:
        await q.delete_session_by_hash(conn, principal.token_hash)
    ctx.principals.clear()


async def ensure_builtin_roles(ctx: AppContext) -> None:
    """The ``admin`` role exists in the store so every user's role is a real row."""
    async with ctx.meta.connect() as conn:
        if await q.get_role(conn, ADMIN_ROLE) is not None:
            return
    stamp = now_ms()
    try:
        async with ctx.meta.begin() as conn:
            await q.insert_role(conn, RoleRecord(
                name=ADMIN_ROLE, description="may do everything",
                grants=({"database": "*", "table": "*", "actions": list(ACTIONS)},),
                created_on=stamp, updated_on=stamp))
    except Exception:
        async with ctx.meta.connect() as conn:
            if await q.get_role(conn, ADMIN_ROLE) is None:
                raise


async def ensure_admin_token(ctx: AppContext) -> str | None:
    """Make sure an admin can get in. Returns a newly generated token to print once, or
    None: when ``DBPLANE_ADMIN_TOKEN`` is set (its hash is stored, and a previous one from
    the environment is replaced) or when tokens exist already."""
    configured = ctx.settings.admin_token
    stamp = now_ms()
    if configured is not None:
        token = configured.get_secret_value()
        token_hash = hash_token(token)
        try:
            async with ctx.meta.begin() as conn:
                if await q.api_token_hash_exists(conn, token_hash):
                    return None
                for row in await q.list_api_tokens(conn):
                    if row.source == "env":
                        await q.delete_api_token(conn, row.id)
                await q.insert_api_token(conn, ApiTokenRecord(
                    id=str(uuid.uuid4()), name="DBPLANE_ADMIN_TOKEN",
                    token_hash=token_hash, prefix=token[:8], source="env",
                    created_on=stamp))
        except Exception:
            # replicas starting together with the same token: another one stored it
            async with ctx.meta.connect() as conn:
                if not await q.api_token_hash_exists(conn, token_hash):
                    raise
        return None
    async with ctx.meta.begin() as conn:
        if await q.count_api_tokens(conn) > 0:
            return None
        token = new_token("dbp")
        await q.insert_api_token(conn, ApiTokenRecord(
            id=str(uuid.uuid4()), name="generated at first start",
            token_hash=hash_token(token), prefix=token[:8], source="generated",
            created_on=stamp))
        return token
