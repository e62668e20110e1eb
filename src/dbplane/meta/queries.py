"""Named queries of the metadata store. Each takes an open connection; rows come back as
records (``meta/records.py``), and an insert takes one.

Services call these and never build SQL themselves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dbplane.errors import DatabaseExists, RoleExists, UserExists
from dbplane.meta.records import (
    ApiTokenRecord,
    DatabaseRecord,
    PrincipalRecord,
    RoleRecord,
    SessionPrincipalRecord,
    SessionRecord,
    TokenPrincipalRecord,
    UserRecord,
    columns,
)
from dbplane.meta.tables import api_tokens, databases, roles, schema_meta, sessions, users

__all__ = [
    "api_token_hash_exists",
    "count_api_tokens",
    "count_users_with_role",
    "delete_api_token",
    "delete_database",
    "delete_expired_sessions",
    "delete_role",
    "delete_session_by_hash",
    "delete_user",
    "find_principal_by_token_hash",
    "get_database_by_ref",
    "get_role",
    "get_user",
    "get_user_by_email",
    "insert_api_token",
    "insert_database",
    "insert_role",
    "insert_session",
    "insert_user",
    "list_api_tokens",
    "list_databases",
    "list_roles",
    "list_users",
    "replace_schema_meta",
    "schema_meta_rows",
    "update_database",
    "update_role",
    "update_user",
]

Values = dict[str, Any]
"""Columns to change, by name."""


# -- databases ------------------------------------------------------------------------


async def list_databases(conn: AsyncConnection) -> list[DatabaseRecord]:
    result = await conn.execute(select(databases).order_by(databases.c.created_at,
                                                           databases.c.id))
    return [DatabaseRecord.of(r) for r in result.mappings()]


async def get_database_by_ref(conn: AsyncConnection, ref: str) -> DatabaseRecord | None:
    """The database whose id, or else whose resource_id, is ``ref``."""
    result = await conn.execute(
        select(databases).where(or_(databases.c.id == ref, databases.c.resource_id == ref))
    )
    rows = [DatabaseRecord.of(r) for r in result.mappings()]
    for row in rows:
        if row.id == ref:
            return row
    return rows[0] if rows else None


async def insert_database(conn: AsyncConnection, record: DatabaseRecord) -> None:
    try:
        await conn.execute(insert(databases).values(columns(record)))
    except IntegrityError as exc:  # a concurrent request registered the same resource_id
        raise DatabaseExists(record.resource_id) from exc


async def update_database(conn: AsyncConnection, db_id: str, values: Values) -> None:
    try:
        await conn.execute(update(databases).where(databases.c.id == db_id).values(**values))
    except IntegrityError as exc:
        raise DatabaseExists(values.get("resource_id", "")) from exc


async def delete_database(conn: AsyncConnection, db_id: str) -> None:
    await conn.execute(delete(databases).where(databases.c.id == db_id))


# -- roles ----------------------------------------------------------------------------


async def list_roles(conn: AsyncConnection) -> list[RoleRecord]:
    result = await conn.execute(select(roles).order_by(roles.c.name))
    return [RoleRecord.of(r) for r in result.mappings()]


async def get_role(conn: AsyncConnection, name: str) -> RoleRecord | None:
    result = await conn.execute(select(roles).where(roles.c.name == name))
    row = result.mappings().first()
    return RoleRecord.of(row) if row else None


async def insert_role(conn: AsyncConnection, record: RoleRecord) -> None:
    try:
        await conn.execute(insert(roles).values(columns(record)))
    except IntegrityError as exc:
        raise RoleExists(record.name) from exc


async def update_role(conn: AsyncConnection, name: str, values: Values) -> None:
    await conn.execute(update(roles).where(roles.c.name == name).values(**values))


async def delete_role(conn: AsyncConnection, name: str) -> None:
    await conn.execute(delete(roles).where(roles.c.name == name))


async def count_users_with_role(conn: AsyncConnection, name: str) -> int:
    result = await conn.execute(select(func.count()).select_from(users)
                                .where(users.c.role == name))
    return int(result.scalar_one())


# -- users ----------------------------------------------------------------------------


async def list_users(conn: AsyncConnection) -> list[UserRecord]:
    result = await conn.execute(select(users).order_by(users.c.created_on, users.c.id))
    return [UserRecord.of(r) for r in result.mappings()]


async def get_user(conn: AsyncConnection, user_id: str) -> UserRecord | None:
    result = await conn.execute(select(users).where(users.c.id == user_id))
    row = result.mappings().first()
    return UserRecord.of(row) if row else None


async def get_user_by_email(conn: AsyncConnection, email: str) -> UserRecord | None:
    result = await conn.execute(select(users).where(users.c.email == email))
    row = result.mappings().first()
    return UserRecord.of(row) if row else None


async def insert_user(conn: AsyncConnection, record: UserRecord) -> None:
    try:
        await conn.execute(insert(users).values(columns(record)))
    except IntegrityError as exc:  # the service checked the role in this transaction
        raise UserExists(record.email) from exc


async def update_user(conn: AsyncConnection, user_id: str, values: Values) -> None:
    try:
        await conn.execute(update(users).where(users.c.id == user_id).values(**values))
    except IntegrityError as exc:
        raise UserExists(values.get("email", "")) from exc


async def delete_user(conn: AsyncConnection, user_id: str) -> None:
    await conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
    await conn.execute(delete(users).where(users.c.id == user_id))


# -- sessions and tokens --------------------------------------------------------------


async def insert_session(conn: AsyncConnection, record: SessionRecord) -> None:
    await conn.execute(insert(sessions).values(columns(record)))


async def delete_session_by_hash(conn: AsyncConnection, token_hash: str) -> int:
    result = await conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))
    return int(result.rowcount or 0)


async def delete_expired_sessions(conn: AsyncConnection, now_ms: int) -> int:
    result = await conn.execute(delete(sessions).where(sessions.c.expires_on <= now_ms))
    return int(result.rowcount or 0)


async def find_principal_by_token_hash(conn: AsyncConnection,
                                       token_hash: str) -> PrincipalRecord | None:
    """What a bearer token stands for: an API token, or a user session with its user,
    role and grants; or None."""
    result = await conn.execute(
        select(api_tokens.c.id, api_tokens.c.name).where(api_tokens.c.token_hash == token_hash)
    )
    token = result.mappings().first()
    if token is not None:
        return TokenPrincipalRecord(token_id=token["id"], name=token["name"])
    result = await conn.execute(
        select(
            sessions.c.id.label("session_id"),
            sessions.c.expires_on,
            users.c.id.label("user_id"),
            users.c.role,
            roles.c.grants,
        )
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id)
                     .join(roles, roles.c.name == users.c.role))
        .where(sessions.c.token_hash == token_hash)
    )
    session = result.mappings().first()
    if session is None:
        return None
    return SessionPrincipalRecord.of(session)


async def insert_api_token(conn: AsyncConnection, record: ApiTokenRecord) -> None:
    await conn.execute(insert(api_tokens).values(columns(record)))


async def list_api_tokens(conn: AsyncConnection) -> list[ApiTokenRecord]:
    result = await conn.execute(
        select(api_tokens).order_by(api_tokens.c.created_on, api_tokens.c.id))
    return [ApiTokenRecord.of(r) for r in result.mappings()]


async def count_api_tokens(conn: AsyncConnection) -> int:
    result = await conn.execute(select(func.count()).select_from(api_tokens))
    return int(result.scalar_one())


async def api_token_hash_exists(conn: AsyncConnection, token_hash: str) -> bool:
    result = await conn.execute(select(api_tokens.c.id)
                                .where(api_tokens.c.token_hash == token_hash))
    return result.first() is not None


async def delete_api_token(conn: AsyncConnection, token_id: str) -> int:
    result = await conn.execute(delete(api_tokens).where(api_tokens.c.id == token_id))
    return int(result.rowcount or 0)


# -- the schema's Directus metadata (meta and alias fields), per database -----------------


async def schema_meta_rows(conn: AsyncConnection, database_id: str) -> list[dict[str, Any]]:
    result = await conn.execute(select(schema_meta)
                                .where(schema_meta.c.database_id == database_id))
    return [dict(r._mapping) for r in result]


async def replace_schema_meta(conn: AsyncConnection, database_id: str,
                              values: list[dict[str, Any]]) -> None:
    await conn.execute(delete(schema_meta).where(schema_meta.c.database_id == database_id))
    if values:
        await conn.execute(insert(schema_meta), values)
