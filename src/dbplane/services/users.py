"""Users and roles: an admin creates them; a role's grants say what its users may do.

A user is rendered in the SonicJS seed's shape (``id`` a UUID, ``created_on`` and
``updated_on`` in epoch milliseconds) and never with its password hash.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from anyio import to_thread
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dbplane.errors import BuiltinRole, RoleInUse, RoleNotFound, UserNotFound
from dbplane.meta import queries as q
from dbplane.meta.records import RoleRecord, UserRecord
from dbplane.services.auth import ADMIN_ROLE, Grant, hash_password
from dbplane.services.context import AppContext, now_ms

__all__ = [
    "RoleCreate",
    "RolePublic",
    "RoleUpdate",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
    "create_role",
    "create_user",
    "delete_role",
    "delete_user",
    "get_role",
    "get_user",
    "list_roles",
    "list_users",
    "update_role",
    "update_user",
    "user_public",
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=255)
    email: str = Field(max_length=320, examples=["kate@example.com"])
    password: str = Field(min_length=8, max_length=1024, repr=False)
    role: str = Field(min_length=1, max_length=63, description="admin, or a role created "
                      "with POST /v1/roles")

    _check_email = field_validator("email")(_email)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(None, min_length=1, max_length=255)
    email: str | None = Field(None, max_length=320)
    password: str | None = Field(None, min_length=8, max_length=1024, repr=False)
    role: str | None = Field(None, min_length=1, max_length=63)

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        return None if value is None else _email(value)


class UserPublic(BaseModel):
    """A user as in the SonicJS seed."""

    id: str
    name: str
    email: str
    role: str
    created_on: int
    updated_on: int


def user_public(row: UserRecord) -> UserPublic:
    return UserPublic(id=row.id, name=row.name, email=row.email, role=row.role,
                      created_on=row.created_on, updated_on=row.updated_on)


RoleName = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$", examples=["reader"])


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = RoleName
    description: str = Field("", max_length=255)
    grants: list[Grant] = Field(default_factory=list)


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    description: str | None = Field(None, max_length=255)
    grants: list[Grant] | None = None


class RolePublic(BaseModel):
    name: str
    description: str
    grants: list[Grant]
    created_on: int
    updated_on: int


def _role_public(row: RoleRecord) -> RolePublic:
    return RolePublic(name=row.name, description=row.description,
                      grants=[Grant.model_validate(g) for g in row.grants],
                      created_on=row.created_on, updated_on=row.updated_on)


# -- users ----------------------------------------------------------------------------


async def create_user(ctx: AppContext, body: UserCreate) -> UserPublic:
    """Create a user; RoleNotFound when its role does not exist, UserExists on its email."""
    password_hash = await to_thread.run_sync(hash_password, body.password)
    stamp = now_ms()
    row = UserRecord(id=str(uuid.uuid4()), name=body.name, email=body.email,
                     password_hash=password_hash, role=body.role, created_on=stamp,
                     updated_on=stamp)
    async with ctx.meta.begin() as conn:
        if await q.get_role(conn, body.role) is None:
            raise RoleNotFound(body.role)
        await q.insert_user(conn, row)
    return user_public(row)


async def list_users(ctx: AppContext) -> list[UserPublic]:
    async with ctx.meta.connect() as conn:
        return [user_public(r) for r in await q.list_users(conn)]


async def get_user(ctx: AppContext, user_id: str) -> UserPublic:
    async with ctx.meta.connect() as conn:
        row = await q.get_user(conn, user_id)
    if row is None:
        raise UserNotFound(user_id)
    return user_public(row)


async def update_user(ctx: AppContext, user_id: str, body: UserUpdate) -> UserPublic:
    values: dict[str, Any] = body.model_dump(exclude_unset=True, exclude_none=True)
    if "password" in values:
        values["password_hash"] = await to_thread.run_sync(hash_password,
                                                           values.pop("password"))
    async with ctx.meta.begin() as conn:
        if await q.get_user(conn, user_id) is None:
            raise UserNotFound(user_id)
        if "role" in values and await q.get_role(conn, values["role"]) is None:
            raise RoleNotFound(values["role"])
        if values:
            values["updated_on"] = now_ms()
            await q.update_user(conn, user_id, values)
        row = await q.get_user(conn, user_id)
    ctx.principals.clear()
    assert row is not None
    return user_public(row)


async def delete_user(ctx: AppContext, user_id: str) -> None:
    """Delete a user and end its sessions."""
    async with ctx.meta.begin() as conn:
        if await q.get_user(conn, user_id) is None:
            raise UserNotFound(user_id)
        await q.delete_user(conn, user_id)
    ctx.principals.clear()


# -- roles ----------------------------------------------------------------------------


def _refuse_admin(name: str) -> None:
    if name == ADMIN_ROLE:
        raise BuiltinRole(field="name", value=name)


async def create_role(ctx: AppContext, body: RoleCreate) -> RolePublic:
    _refuse_admin(body.name)
    stamp = now_ms()
    row = RoleRecord(name=body.name, description=body.description,
                     grants=tuple(g.model_dump() for g in body.grants), created_on=stamp,
                     updated_on=stamp)
    async with ctx.meta.begin() as conn:
        await q.insert_role(conn, row)
    return _role_public(row)


async def list_roles(ctx: AppContext) -> list[RolePublic]:
    async with ctx.meta.connect() as conn:
        return [_role_public(r) for r in await q.list_roles(conn)]


async def get_role(ctx: AppContext, name: str) -> RolePublic:
    async with ctx.meta.connect() as conn:
        row = await q.get_role(conn, name)
    if row is None:
        raise RoleNotFound(name)
    return _role_public(row)


async def update_role(ctx: AppContext, name: str, body: RoleUpdate) -> RolePublic:
    _refuse_admin(name)
    values: dict[str, Any] = body.model_dump(exclude_unset=True, exclude_none=True)
    if body.grants is not None:
        values["grants"] = [g.model_dump() for g in body.grants]
    async with ctx.meta.begin() as conn:
        if await q.get_role(conn, name) is None:
            raise RoleNotFound(name)
        if values:
            values["updated_on"] = now_ms()
            await q.update_role(conn, name, values)
        row = await q.get_role(conn, name)
    ctx.principals.clear()
    assert row is not None
    return _role_public(row)


async def delete_role(ctx: AppContext, name: str) -> None:
    _refuse_admin(name)
    async with ctx.meta.begin() as conn:
        if await q.get_role(conn, name) is None:
            raise RoleNotFound(name)
        users = await q.count_users_with_role(conn, name)
        if users:
            raise RoleInUse(f"the role {name!r} is given to {users} user(s); give them "
                            "another role first", field="name", value=name)
        await q.delete_role(conn, name)
