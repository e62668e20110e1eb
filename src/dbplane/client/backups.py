"""``db.backups`` (issue 7): create, list, download, upload, restore, delete."""

from __future__ import annotations

from dbplane.client._http import AsyncHttp, SyncHttp

__all__ = ["AsyncBackups", "Backups"]


class Backups:
    def __init__(self, http: SyncHttp, ref: str) -> None:
        self._http = http
        self._ref = ref


class AsyncBackups:
    def __init__(self, http: AsyncHttp, ref: str) -> None:
        self._http = http
        self._ref = ref
