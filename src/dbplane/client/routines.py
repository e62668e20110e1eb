"""``db.migrations``, ``db.factory``, ``db.seeder`` and ``client.files`` (issue 6).
``ref`` None is the default database (the seed's ``/v1/database/...`` paths).

Every ``run`` answers the server's object: ``{"status": "200", "message": "Migrations
complete" | "Factory created" | "Seeder executed", ...}`` with what was done.
They wait for the server to finish, however long that takes (no client-side timeout).
"""

from __future__ import annotations

import builtins
from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp, as_list, as_object, path

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


class _Bound:
    def __init__(self, http: SyncHttp, ref: str | None) -> None:
        self._http = http
        self._ref = ref


class _AsyncBound:
    def __init__(self, http: AsyncHttp, ref: str | None) -> None:
        self._http = http
        self._ref = ref


class Migrations(_Bound):
    """The database's migrations, from the server's project directory."""

    def run(self, pretend: bool = False, allow_changed: bool = False) -> dict[str, Any]:
        """Apply every pending migration; ``pretend`` answers the SQL that would run and
        changes nothing; ``allow_changed`` goes on although an applied file changed."""
        return as_object(self._http.request("POST", _url(self._ref, "migrations", "run"),
                                            json=_run_body(pretend, allow_changed),
                                            request_timeout=None))

    def rollback(self, steps: int | None = None) -> dict[str, Any]:
        """Revert the last batch, or the last ``steps`` migrations."""
        body = {"steps": steps} if steps is not None else {}
        return as_object(self._http.request(
            "POST", _url(self._ref, "migrations", "rollback"), json=body,
            request_timeout=None))

    def list(self) -> builtins.list[dict[str, Any]]:
        """Applied and pending migrations (status, batch, applied_at, checksum,
        changed)."""
        answer = as_object(self._http.request("GET", _url(self._ref, "migrations")))
        return as_list(answer.get("migrations"))


class Factory(_Bound):
    def run(self, file_id: str, count: int | None = None) -> dict[str, Any]:
        """Run the factory file ``file_id`` (or its path); ``count`` overrides its own."""
        return as_object(self._http.request("POST", _url(self._ref, "factory", "run"),
                                            json=_file_body(file_id, count),
                                            request_timeout=None))


class Seeder(_Bound):
    def run(self, file_id: str) -> dict[str, Any]:
        """Run the seeder file ``file_id`` (or its path)."""
        return as_object(self._http.request("POST", _url(self._ref, "seeder", "run"),
                                            json=_file_body(file_id),
                                            request_timeout=None))


class AsyncMigrations(_AsyncBound):
    """The database's migrations; see :class:`Migrations`."""

    async def run(self, pretend: bool = False, allow_changed: bool = False
                  ) -> dict[str, Any]:
        return as_object(await self._http.request(
            "POST", _url(self._ref, "migrations", "run"),
            json=_run_body(pretend, allow_changed),
            request_timeout=None))

    async def rollback(self, steps: int | None = None) -> dict[str, Any]:
        body = {"steps": steps} if steps is not None else {}
        return as_object(await self._http.request(
            "POST", _url(self._ref, "migrations", "rollback"), json=body,
            request_timeout=None))

    async def list(self) -> builtins.list[dict[str, Any]]:
        answer = as_object(await self._http.request("GET", _url(self._ref, "migrations")))
        return as_list(answer.get("migrations"))


class AsyncFactory(_AsyncBound):
    async def run(self, file_id: str, count: int | None = None) -> dict[str, Any]:
        return as_object(await self._http.request(
            "POST", _url(self._ref, "factory", "run"), json=_file_body(file_id, count),
            request_timeout=None))


class AsyncSeeder(_AsyncBound):
    async def run(self, file_id: str) -> dict[str, Any]:
        return as_object(await self._http.request(
            "POST", _url(self._ref, "seeder", "run"), json=_file_body(file_id),
            request_timeout=None))


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
