"""``db.versions()``, ``db.upgrade()``, ``db.upgrade_rollback()`` and
``db.remove_previous_version()``: upgrades of a managed server to a newer build.

``upgrade`` and ``upgrade_rollback`` answer the operation (the server answers 202 with
its id), followed as an :class:`~dbplane.client.operations.Operation`; with
``wait=True`` they wait for it to end and raise the error it failed with
(``UpgradeFailed``, DBP-U401: the server serves as before).
"""

from __future__ import annotations

from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp, as_object, path
from dbplane.client.operations import AsyncOperation, Operation

__all__ = ["async_remove_previous", "async_start", "async_versions", "remove_previous",
           "start", "versions"]


def _body(version_id: str | None) -> dict[str, Any] | None:
    return None if version_id is None else {"version_id": version_id}


def _path(ref: str, rollback: bool) -> str:
    return path("databases", ref, "upgrade", *(["rollback"] if rollback else []))


def versions(http: SyncHttp, ref: str) -> dict[str, Any]:
    """``current``, the newer ``versions``, ``next_version_id``, ``previous``, ``reason``."""
    return as_object(http.request("GET", path("databases", ref, "versions")))


def start(http: SyncHttp, ref: str, version_id: str | None, rollback: bool, wait: bool,
          timeout: float | None) -> Operation:
    answer = as_object(http.request("POST", _path(ref, rollback),
                                    json=None if rollback else _body(version_id)))
    op = Operation(http, {"id": answer["operation_id"], "status": "pending"})
    if wait:
        return op.wait(timeout=timeout, poll=0.2)
    op.refresh()
    return op


def remove_previous(http: SyncHttp, ref: str) -> dict[str, Any]:
    return as_object(http.request("DELETE", path("databases", ref, "upgrade", "previous")))


async def async_versions(http: AsyncHttp, ref: str) -> dict[str, Any]:
    return as_object(await http.request("GET", path("databases", ref, "versions")))


async def async_start(http: AsyncHttp, ref: str, version_id: str | None, rollback: bool,
                      wait: bool, timeout: float | None  # noqa: ASYNC109
                      ) -> AsyncOperation:
    answer = as_object(await http.request("POST", _path(ref, rollback),
                                          json=None if rollback else _body(version_id)))
    op = AsyncOperation(http, {"id": answer["operation_id"], "status": "pending"})
    if wait:
        return await op.wait(timeout=timeout, poll=0.2)
    await op.refresh()
    return op


async def async_remove_previous(http: AsyncHttp, ref: str) -> dict[str, Any]:
    return as_object(await http.request("DELETE",
                                        path("databases", ref, "upgrade", "previous")))
