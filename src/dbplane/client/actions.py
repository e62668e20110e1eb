"""``db.action(name, params)`` (issue 7): the Scalingo database actions."""

from __future__ import annotations

from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp

__all__ = ["action", "async_action"]


def action(http: SyncHttp, ref: str, name: str,
           params: dict[str, Any] | None = None) -> Any:
    raise NotImplementedError


async def async_action(http: AsyncHttp, ref: str, name: str,
                       params: dict[str, Any] | None = None) -> Any:
    raise NotImplementedError
