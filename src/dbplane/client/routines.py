"""``db.migrations``, ``db.factory``, ``db.seeder`` and ``client.files`` (issue 6).
``ref`` None is the default database (the seed's ``/v1/database/...`` paths).

Every ``run`` answers the server's object: ``{"status": "200", "message": "Migrations
complete" | "Factory created" | "Seeder executed", ...}`` with what was done.
They wait for the server to finish, however long that takes (no client-side timeout).
With ``wait=True`` or ``wait=False`` a run goes as an operation instead (``?async=true``:
202 + Location): ``wait=True`` follows it (``on_progress(op)`` after each poll; a
factory reports its progress per batch) and answers its ``result``, the same object;
``wait=False`` answers the :class:`~dbplane.client.operations.Operation` at once.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp, as_list, as_object, path
from dbplane.client.operations import (
    AsyncOperation,
    Operation,
    as_async_operation,
    as_operation,
)

__all__ = ["AsyncFactory", "AsyncFiles", "AsyncMigrations", "AsyncSeeder", "Factory",
           "Files", "Migrations", "Seeder"]


def _url(ref: str | None, *tail: str) -> str:
    return path("databases", ref, *tail) if ref is not None else path("database", *tail)


def _run_body(pretend: bool, allow_changed: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if pretend:
        body["pretend"] = True
    if allow_changed:
        body["allow_changed"] = True
    return body


def _file_body(file_id: str, count: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"file_id": file_id}
    if count is not None:
        body["count"] = count
    return body


def _files_params(kind: str | None) -> list[tuple[str, str]] | None:
    return [("kind", kind)] if kind else None


_ASYNC = [("async", "true")]

OnProgress = Callable[[Operation], None]
AsyncOnProgress = Callable[[AsyncOperation], Awaitable[None] | None]


class _Bound:
    def __init__(self, http: SyncHttp, ref: str | None) -> None:
        self._http = http
        self._ref = ref

    def _post(self, tail: tuple[str, ...], body: dict[str, Any], wait: bool | None,
              timeout: float | None, on_progress: OnProgress | None) -> dict[str, Any]:
        url = _url(self._ref, *tail)
        if wait is None:
            return as_object(self._http.request("POST", url, json=body,
                                                request_timeout=None))
        op = as_operation(self._http, self._http.request("POST", url, json=body,
                                                         params=_ASYNC))
        if not wait:
            return op
        return as_object(op.wait(timeout=timeout, on_progress=on_progress).get("result"))


class _AsyncBound:
    def __init__(self, http: AsyncHttp, ref: str | None) -> None:
        self._http = http
        self._ref = ref

    async def _post(self, tail: tuple[str, ...], body: dict[str, Any], wait: bool | None,
                    timeout: float | None, on_progress: AsyncOnProgress | None  # noqa: ASYNC109 (the sync twin's)
                    ) -> dict[str, Any]:
        url = _url(self._ref, *tail)
        if wait is None:
            return as_object(await self._http.request("POST", url, json=body,
                                                      request_timeout=None))
        op = as_async_operation(self._http, await self._http.request(
            "POST", url, json=body, params=_ASYNC))
        if not wait:
            return op
        ended = await op.wait(timeout=timeout, on_progress=on_progress)
        return as_object(ended.get("result"))


class Migrations(_Bound):
    """The database's migrations, from the server's project directory."""

    def run(self, pretend: bool = False, allow_changed: bool = False, *,
            wait: bool | None = None, timeout: float | None = None,
            on_progress: OnProgress | None = None) -> dict[str, Any]:
        """Apply every pending migration; ``pretend`` answers the SQL that would run and
        changes nothing; ``allow_changed`` goes on although an applied file changed.
        ``wait``: as an operation (see the module)."""
        return self._post(("migrations", "run"), _run_body(pretend, allow_changed), wait,
                          timeout, on_progress)

    def rollback(self, steps: int | None = None, *, wait: bool | None = None,
                 timeout: float | None = None,
                 on_progress: OnProgress | None = None) -> dict[str, Any]:
        """Revert the last batch, or the last ``steps`` migrations."""
        body = {"steps": steps} if steps is not None else {}
        return self._post(("migrations", "rollback"), body, wait, timeout, on_progress)

    def list(self) -> builtins.list[dict[str, Any]]:
        """Applied and pending migrations (status, batch, applied_at, checksum,
        changed)."""
        answer = as_object(self._http.request("GET", _url(self._ref, "migrations")))
        return as_list(answer.get("migrations"))


class Factory(_Bound):
    def run(self, file_id: str, count: int | None = None, *, wait: bool | None = None,
            timeout: float | None = None,
            on_progress: OnProgress | None = None) -> dict[str, Any]:
        """Run the factory file ``file_id`` (or its path); ``count`` overrides its own.
        ``wait``: as an operation with progress per batch (see the module)."""
        return self._post(("factory", "run"), _file_body(file_id, count), wait, timeout,
                          on_progress)


class Seeder(_Bound):
    def run(self, file_id: str, *, wait: bool | None = None, timeout: float | None = None,
            on_progress: OnProgress | None = None) -> dict[str, Any]:
        """Run the seeder file ``file_id`` (or its path). ``wait``: as an operation."""
        return self._post(("seeder", "run"), _file_body(file_id), wait, timeout,
                          on_progress)


class AsyncMigrations(_AsyncBound):
    """The database's migrations; see :class:`Migrations`."""

    async def run(self, pretend: bool = False, allow_changed: bool = False, *,
                  wait: bool | None = None, timeout: float | None = None,  # noqa: ASYNC109 (the sync twin's)
                  on_progress: AsyncOnProgress | None = None) -> dict[str, Any]:
        return await self._post(("migrations", "run"), _run_body(pretend, allow_changed),
                                wait, timeout, on_progress)

    async def rollback(self, steps: int | None = None, *, wait: bool | None = None,
                       timeout: float | None = None,  # noqa: ASYNC109 (the sync twin's)
                       on_progress: AsyncOnProgress | None = None) -> dict[str, Any]:
        body = {"steps": steps} if steps is not None else {}
        return await self._post(("migrations", "rollback"), body, wait, timeout,
                                on_progress)

    async def list(self) -> builtins.list[dict[str, Any]]:
        answer = as_object(await self._http.request("GET", _url(self._ref, "migrations")))
        return as_list(answer.get("migrations"))


class AsyncFactory(_AsyncBound):
    async def run(self, file_id: str, count: int | None = None, *,
                  wait: bool | None = None, timeout: float | None = None,  # noqa: ASYNC109 (the sync twin's)
                  on_progress: AsyncOnProgress | None = None) -> dict[str, Any]:
        return await self._post(("factory", "run"), _file_body(file_id, count), wait,
                                timeout, on_progress)


class AsyncSeeder(_AsyncBound):
    async def run(self, file_id: str, *, wait: bool | None = None,
                  timeout: float | None = None,  # noqa: ASYNC109 (the sync twin's)
                  on_progress: AsyncOnProgress | None = None) -> dict[str, Any]:
        return await self._post(("seeder", "run"), _file_body(file_id), wait, timeout,
                                on_progress)


class Files:
    """The server's project directory: migrations, factories and seeders."""

    def __init__(self, http: SyncHttp) -> None:
        self._http = http

    def list(self, kind: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every file (of ``kind`` migration, factory or seeder): file_id, kind, path,
        checksum, and ``error`` for one that cannot be read."""
        answer = as_object(self._http.request("GET", path("files"),
                                              params=_files_params(kind)))
        return as_list(answer.get("files"))


class AsyncFiles:
    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def list(self, kind: str | None = None) -> builtins.list[dict[str, Any]]:
        answer = as_object(await self._http.request("GET", path("files"),
                                                    params=_files_params(kind)))
        return as_list(answer.get("files"))
