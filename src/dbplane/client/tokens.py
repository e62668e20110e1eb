"""``client.tokens``: admin API tokens, for programs rather than people (admin only).

A token's secret is answered once, by :meth:`Tokens.create`; lists show its prefix only.
"""

from __future__ import annotations

import builtins
from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp, as_list, as_object, path

__all__ = ["AsyncTokens", "Tokens"]


class Tokens:
    """``client.tokens``: create, list and revoke API tokens."""

    def __init__(self, http: SyncHttp) -> None:
        self._http = http

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every API token: id, name, prefix, source and created_on (never the secret)."""
        return as_list(self._http.request("GET", path("tokens")))

    def create(self, name: str) -> dict[str, Any]:
        """A new admin API token; its ``token`` is in this answer only: store it."""
        return as_object(self._http.request("POST", path("tokens"), json={"name": name}))

    def revoke(self, token_id: str) -> None:
        """Revoke a token by id: requests with it answer InvalidToken from now on.
        Raises TokenNotFound."""
        self._http.request("DELETE", path("tokens", token_id))


class AsyncTokens:
    """``client.tokens`` of the async client; see :class:`Tokens`."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Every API token (never the secret)."""
        return as_list(await self._http.request("GET", path("tokens")))

    async def create(self, name: str) -> dict[str, Any]:
        """A new admin API token; its ``token`` is in this answer only: store it."""
        return as_object(await self._http.request("POST", path("tokens"),
                                                  json={"name": name}))

    async def revoke(self, token_id: str) -> None:
        """Revoke a token by id; raises TokenNotFound."""
        await self._http.request("DELETE", path("tokens", token_id))
