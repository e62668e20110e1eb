"""``client.users``: the people who log in (admin only). A user is never answered with its
password or its hash."""

from __future__ import annotations

import builtins
from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp, as_list, as_object, path

__all__ = ["AsyncUsers", "Users"]


def _fields(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


class Users:
    """``client.users``: create, list, describe, change and delete users."""

    def __init__(self, http: SyncHttp) -> None:
        self._http = http

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every user."""
        return as_list(self._http.request("GET", path("users")))

    def get(self, user_id: str) -> dict[str, Any]:
        """One user by id; raises UserNotFound."""
        return as_object(self._http.request("GET", path("users", user_id)))

    def create(self, name: str, email: str, password: str, role: str) -> dict[str, Any]:
        """Create a user with an existing role (``admin`` or one from ``client.roles``).
        Raises RoleNotFound, UserExists, or Invalid (a short password, a bad email)."""
        body = _fields(name=name, email=email, password=password, role=role)
        return as_object(self._http.request("POST", path("users"), json=body))

    def update(self, user_id: str, *, name: str | None = None, email: str | None = None,
               password: str | None = None, role: str | None = None) -> dict[str, Any]:
        """Change the given fields and leave the others."""
        body = _fields(name=name, email=email, password=password, role=role)
        return as_object(self._http.request("PATCH", path("users", user_id), json=body))

    def delete(self, user_id: str) -> None:
        """Delete a user and end its sessions."""
        self._http.request("DELETE", path("users", user_id))


class AsyncUsers:
    """``client.users`` of the async client; see :class:`Users`."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Every user."""
        return as_list(await self._http.request("GET", path("users")))

    async def get(self, user_id: str) -> dict[str, Any]:
        """One user by id; raises UserNotFound."""
        return as_object(await self._http.request("GET", path("users", user_id)))

    async def create(self, name: str, email: str, password: str,
                     role: str) -> dict[str, Any]:
        """Create a user; see :meth:`Users.create`."""
        body = _fields(name=name, email=email, password=password, role=role)
        return as_object(await self._http.request("POST", path("users"), json=body))

    async def update(self, user_id: str, *, name: str | None = None,
                     email: str | None = None, password: str | None = None,
                     role: str | None = None) -> dict[str, Any]:
        """Change the given fields and leave the others."""
        body = _fields(name=name, email=email, password=password, role=role)
        return as_object(await self._http.request("PATCH", path("users", user_id),
                                                  json=body))

    async def delete(self, user_id: str) -> None:
        """Delete a user and end its sessions."""
        await self._http.request("DELETE", path("users", user_id))
