"""``db.pitr_window()`` and ``db.pitr_restore(time)``: point-in-time restore of a managed
PostgreSQL with ``wal-archiving`` on.

``pitr_restore`` answers the operation (``{"operation_id"}`` from the server, followed as
an :class:`~dbplane.client.operations.Operation`); with ``wait=True`` it waits for it to
end and raises the error it failed with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp, as_object, path
from dbplane.client.operations import AsyncOperation, Operation

__all__ = ["async_pitr_restore", "async_pitr_window", "pitr_restore", "pitr_window"]

RestoreTime = str | datetime
"""RFC 3339 text, or an aware datetime."""


def _time(value: RestoreTime) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("restore_time: give a datetime with its time zone")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def pitr_window(http: SyncHttp, ref: str) -> dict[str, Any]:
    """The restorable window: ``earliest``, ``latest`` (RFC 3339), ``ranges``,
    ``base_backups``, ``archive``."""
    return as_object(http.request("GET", path("databases", ref, "pitr")))


def pitr_restore(http: SyncHttp, ref: str, restore_time: RestoreTime, wait: bool,
                 timeout: float | None) -> Operation:
    answer = as_object(http.request("POST", path("databases", ref, "pitr", "restore"),
                                    json={"restore_time": _time(restore_time)}))
    op = Operation(http, {"id": answer["operation_id"], "status": "pending"})
    if wait:
        return op.wait(timeout=timeout, poll=0.1)
    op.refresh()
    return op


async def async_pitr_window(http: AsyncHttp, ref: str) -> dict[str, Any]:
    return as_object(await http.request("GET", path("databases", ref, "pitr")))


async def async_pitr_restore(http: AsyncHttp, ref: str, restore_time: RestoreTime,
                             wait: bool, timeout: float | None  # noqa: ASYNC109
                             ) -> AsyncOperation:
    answer = as_object(await http.request(
        "POST", path("databases", ref, "pitr", "restore"),
        json={"restore_time": _time(restore_time)}))
    op = AsyncOperation(http, {"id": answer["operation_id"], "status": "pending"})
    if wait:
        return await op.wait(timeout=timeout, poll=0.1)
    await op.refresh()
    return op
