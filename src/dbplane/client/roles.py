"""``client.roles``: what users may do (admin only). A grant is
``{"database": id, resource_id or "*", "table": name or "*", "actions": [...]}`` with
actions among ``read``, ``create``, ``update`` and ``delete``. The ``admin`` role is built
in and cannot change."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp, as_list, as_object, path

__all__ = ["AsyncRoles", "Roles"]

Grants = Sequence[Mapping[str, Any]]


def _create_body(name: str, grants: Grants, description: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "grants": [dict(g) for g in grants]}
    if description is not None:
        body["description"] = description
    return body


def _update_body(description: str | None, grants: Grants | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if description is not None:
        body["description"] = description
    if grants is not None:
        body["grants"] = [dict(g) for g in grants]
    return body


class Roles:
    """``client.roles``: create, list, describe, change and remove roles."""

    def __init__(self, http: SyncHttp) -> None:
        self._http = http

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every role, ``admin`` included."""
        return as_list(self._http.request("GET", path("roles")))

    def get(self, name: str) -> dict[str, Any]:
        """One role by name; raises RoleNotFound."""
        return as_object(self._http.request("GET", path("roles", name)))

    def create(self, name: str, grants: Grants = (),
               description: str | None = None) -> dict[str, Any]:
        """Create a role with its grants. Raises RoleExists, or Invalid for a name that
        is not lower-case letters, digits, ``-`` and ``_``."""
        body = _create_body(name, grants, description)
        return as_object(self._http.request("POST", path("roles"), json=body))

    def update(self, name: str, *, description: str | None = None,
               grants: Grants | None = None) -> dict[str, Any]:
        """Replace the description and/or the whole list of grants."""
        body = _update_body(description, grants)
        return as_object(self._http.request("PUT", path("roles", name), json=body))

    def delete(self, name: str) -> None:
        """Remove a role; raises RoleInUse while users have it."""
        self._http.request("DELETE", path("roles", name))


class AsyncRoles:
    """``client.roles`` of the async client; see :class:`Roles`."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Every role, ``admin`` included."""
        return as_list(await self._http.request("GET", path("roles")))

    async def get(self, name: str) -> dict[str, Any]:
        """One role by name; raises RoleNotFound."""
        return as_object(await self._http.request("GET", path("roles", name)))

    async def create(self, name: str, grants: Grants = (),
                     description: str | None = None) -> dict[str, Any]:
        """Create a role; see :meth:`Roles.create`."""
        body = _create_body(name, grants, description)
        return as_object(await self._http.request("POST", path("roles"), json=body))

    async def update(self, name: str, *, description: str | None = None,
                     grants: Grants | None = None) -> dict[str, Any]:
        """Replace the description and/or the whole list of grants."""
        body = _update_body(description, grants)
        return as_object(await self._http.request("PUT", path("roles", name), json=body))

    async def delete(self, name: str) -> None:
        """Remove a role; raises RoleInUse while users have it."""
        await self._http.request("DELETE", path("roles", name))
