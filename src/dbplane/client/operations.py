"""``client.operations`` (issue 7): long work, its progress, waiting and cancelling."""

from __future__ import annotations

from dbplane.client._http import AsyncHttp, SyncHttp

__all__ = ["AsyncOperations", "Operations"]


class Operations:
    def __init__(self, http: SyncHttp) -> None:
        self._http = http


class AsyncOperations:
    def __init__(self, http: AsyncHttp) -> None:
        self._http = http
