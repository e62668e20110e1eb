"""``client.operations`` (issue 7): long work, its progress, waiting and cancelling.

Every call that starts long work answers ``202 Accepted`` with the operation; the client
turns it into an :class:`Operation` (a ``dict`` of the API's object, bound to the client)
that can be refreshed, waited for and cancelled::

    op = client.operations.get("0b6d…")
    op.wait(timeout=600, on_progress=lambda o: print(o["progress"], o["message"]))
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from dbplane.client._http import (
    AsyncHttp,
    Params,
    SyncHttp,
    as_list,
    as_object,
    path,
)
from dbplane.errors import DbplaneError, OperationCanceled, error_class_for_code

__all__ = [
    "ENDED",
    "AsyncOperation",
    "AsyncOperations",
    "Operation",
    "Operations",
    "as_async_operation",
    "as_operation",
    "operation_error",
]

ENDED = frozenset({"done", "error", "canceled"})
"""The statuses an operation ends in."""


def operation_error(operation: Mapping[str, Any]) -> DbplaneError | None:
    """The error an ended operation failed with (the class of its ``error.code``, with
    ``operation_id`` among its fields), or None when it is done or still going."""
    status = operation.get("status")
    if status not in ("error", "canceled"):
        return None
    error = operation.get("error") or {}
    code = str(error.get("code") or (OperationCanceled.code if status == "canceled"
                                     else DbplaneError.code))
    cls = error_class_for_code(code)
    message = str(error.get("message") or f"operation {operation.get('id')} ended {status}")
    err = cls.from_problem({"detail": message, "code": code,
                            "operation_id": operation.get("id")})
    if cls.code != code:
        err.fields["code"] = code
    return err


def _params(database: str | None, status: str | None, type_name: str | None,
            limit: int | None) -> Params:
    pairs = {"database": database, "status": status, "type": type_name,
             "limit": None if limit is None else str(limit)}
    return [(k, v) for k, v in pairs.items() if v is not None]


def _check_body(samples: int | None, interval_ms: int | None) -> dict[str, Any]:
    fields = {"samples": samples, "interval_ms": interval_ms}
    return {k: v for k, v in fields.items() if v is not None}


class Operation(dict[str, Any]):
    """One operation as the API describes it (``op["status"]``, ``op["progress"]``…),
    bound to the client that fetched it."""

    __slots__ = ("_http",)

    def __init__(self, http: SyncHttp, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._http = http

    @property
    def id(self) -> str:
        return str(self["id"])

    @property
    def ended(self) -> bool:
        """Whether it is done, failed or canceled."""
        return self.get("status") in ENDED

    def refresh(self, wait: float | None = None) -> Operation:
        """Read it again from the server (in place); answers itself. With ``wait``
        (seconds, at most 60) a long poll: the server answers the moment it ends, or
        after ``wait`` seconds as it is then."""
        answer = as_object(self._http.request("GET", path("operations", self.id),
                                              **_long_poll_read(wait)))
        self.clear()
        self.update(answer)
        return self

    def cancel(self) -> Operation:
        """Cancel it: a pending one ends at once, a running one stops at its next
        checkpoint (``wait()`` to see it end). Answers itself, refreshed."""
        answer = as_object(self._http.request("POST", path("operations", self.id, "cancel")))
        self.clear()
        self.update(answer)
        return self

    def wait(self, timeout: float | None = None, poll: float = 0.5,
             on_progress: Callable[[Operation], None] | None = None) -> Operation:
        """Wait until it ends and answer it; ``on_progress(op)`` every ``poll`` seconds.

        Each read is a long poll (``?wait=``): the server answers the moment the operation
        ends, so nothing is lost between polls. Raises the error it failed with (the class
        of its ``error.code``; OperationCanceled when canceled), or TimeoutError after
        ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        first = True
        while True:
            if not self.ended:
                self.refresh(_long_poll(deadline, poll if on_progress else None, first))
                first = False
            if on_progress is not None:
                on_progress(self)
            if _finished(self, deadline, timeout):
                return self


class AsyncOperation(dict[str, Any]):
    """One operation, bound to the async client that fetched it; see :class:`Operation`."""

    __slots__ = ("_http",)

    def __init__(self, http: AsyncHttp, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._http = http

    @property
    def id(self) -> str:
        return str(self["id"])

    @property
    def ended(self) -> bool:
        return self.get("status") in ENDED

    async def refresh(self, wait: float | None = None) -> AsyncOperation:
        """See :meth:`Operation.refresh`."""
        answer = as_object(await self._http.request("GET", path("operations", self.id),
                                                    **_long_poll_read(wait)))
        self.clear()
        self.update(answer)
        return self

    async def cancel(self) -> AsyncOperation:
        answer = as_object(await self._http.request("POST",
                                                    path("operations", self.id, "cancel")))
        self.clear()
        self.update(answer)
        return self

    async def wait(self, timeout: float | None = None,  # noqa: ASYNC109 (the sync twin's)
                   poll: float = 0.5,
                   on_progress: Callable[[AsyncOperation], Awaitable[None] | None]
                   | None = None) -> AsyncOperation:
        """Wait until it ends; see :meth:`Operation.wait` (``on_progress`` may be async)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        first = True
        while True:
            if not self.ended:
                await self.refresh(_long_poll(deadline, poll if on_progress else None,
                                              first))
                first = False
            if on_progress is not None:
                maybe = on_progress(self)
                if maybe is not None:
                    await maybe
            if _finished(self, deadline, timeout):
                return self


_LONGEST_POLL = 30.0  # seconds the server holds one read (it allows 60)
_SLACK = 30.0  # the read's own timeout beyond the wait


def _long_poll(deadline: float | None, every: float | None, first: bool) -> float | None:
    """How long the next read may wait on the server: not at all (None) for the first
    read when progress is followed, else until the next progress report (``every``),
    the deadline or ``_LONGEST_POLL``, whichever comes first."""
    if first and every is not None:
        return None
    wait = _LONGEST_POLL if every is None else max(every, 0.01)
    if deadline is not None:
        wait = min(wait, deadline - time.monotonic())
    return max(wait, 0.01)


def _long_poll_read(wait: float | None) -> dict[str, Any]:
    """The query and the timeout of a read that may wait ``wait`` seconds."""
    if wait is None:
        return {}
    return {"params": [("wait", f"{wait:.3f}")], "request_timeout": wait + _SLACK}


def _finished(op: Mapping[str, Any], deadline: float | None, timeout: float | None) -> bool:
    """Whether ``op`` has ended (raising the error it failed with); TimeoutError past
    the deadline."""
    if op.get("status") in ENDED:
        err = operation_error(op)
        if err is not None:
            raise err
        return True
    if deadline is not None and time.monotonic() >= deadline:
        raise TimeoutError(f"operation {op.get('id')} is still {op.get('status')} "
                           f"after {timeout} s")
    return False


def as_operation(http: SyncHttp, answer: Any) -> Operation:
    """The :class:`Operation` of a ``202 Accepted`` answer (or of any operation object)."""
    return Operation(http, as_object(answer))


def as_async_operation(http: AsyncHttp, answer: Any) -> AsyncOperation:
    """The :class:`AsyncOperation` of a ``202 Accepted`` answer."""
    return AsyncOperation(http, as_object(answer))


class Operations:
    """``client.operations``: every long task (backups, restores, checks…)."""

    def __init__(self, http: SyncHttp) -> None:
        self._http = http

    def get(self, operation_id: str) -> Operation:
        """One operation by id (OperationNotFound when there is none)."""
        return as_operation(self._http, self._http.request("GET",
                                                           path("operations", operation_id)))

    def list(self, database: str | None = None, status: str | None = None,
             type: str | None = None, limit: int | None = None,
             ) -> builtins.list[Operation]:
        """Operations, newest first: of a database (id or resource_id), in a status
        (pending, running, done, error, canceled), of a type."""
        answer = as_object(self._http.request("GET", path("operations"),
                                              params=_params(database, status, type, limit)))
        return [Operation(self._http, op) for op in as_list(answer.get("operations"))]

    def cancel(self, operation_id: str) -> Operation:
        """Cancel an operation; answers it (``canceled`` at once when it was pending)."""
        return as_operation(self._http, self._http.request(
            "POST", path("operations", operation_id, "cancel")))

    def check(self, database: str, samples: int | None = None,
              interval_ms: int | None = None, wait: bool = False) -> Operation:
        """Start a ``database.check`` (health, version and latency of ``samples`` round
        trips); with ``wait=True`` answer it ended."""
        op = as_operation(self._http, self._http.request(
            "POST", path("databases", database, "check"),
            json=_check_body(samples, interval_ms)))
        return op.wait() if wait else op


class AsyncOperations:
    """``client.operations`` of the async client; see :class:`Operations`."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def get(self, operation_id: str) -> AsyncOperation:
        return as_async_operation(self._http, await self._http.request(
            "GET", path("operations", operation_id)))

    async def list(self, database: str | None = None, status: str | None = None,
                   type: str | None = None, limit: int | None = None,
                   ) -> builtins.list[AsyncOperation]:
        answer = as_object(await self._http.request(
            "GET", path("operations"), params=_params(database, status, type, limit)))
        return [AsyncOperation(self._http, op) for op in as_list(answer.get("operations"))]

    async def cancel(self, operation_id: str) -> AsyncOperation:
        return as_async_operation(self._http, await self._http.request(
            "POST", path("operations", operation_id, "cancel")))

    async def check(self, database: str, samples: int | None = None,
                    interval_ms: int | None = None, wait: bool = False) -> AsyncOperation:
        op = as_async_operation(self._http, await self._http.request(
            "POST", path("databases", database, "check"),
            json=_check_body(samples, interval_ms)))
        return await op.wait() if wait else op
