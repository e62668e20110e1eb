"""``db.migrations``, ``db.factory``, ``db.seeder`` and ``client.files`` (issue 6).
``ref`` None is the default database (the seed's ``/v1/database/...`` paths)."""

from __future__ import annotations

from dbplane.client._http import AsyncHttp, SyncHttp

__all__ = ["AsyncFactory", "AsyncFiles", "AsyncMigrations", "AsyncSeeder", "Factory",
           "Files", "Migrations", "Seeder"]


class _Bound:
    def __init__(self, http: SyncHttp, ref: str | None) -> None:
        self._http = http
        self._ref = ref


class _AsyncBound:
    def __init__(self, http: AsyncHttp, ref: str | None) -> None:
        self._http = http
        self._ref = ref


class Migrations(_Bound):
    pass


class Factory(_Bound):
    pass


class Seeder(_Bound):
    pass


class AsyncMigrations(_AsyncBound):
    pass


class AsyncFactory(_AsyncBound):
    pass


class AsyncSeeder(_AsyncBound):
    pass


class Files:
    def __init__(self, http: SyncHttp) -> None:
        self._http = http


class AsyncFiles:
    def __init__(self, http: AsyncHttp) -> None:
        self._http = http
