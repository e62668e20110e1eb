"""``db.schema``: snapshot, diff and apply (issue 5). ``ref`` None is the default
database."""

from __future__ import annotations

from dbplane.client._http import AsyncHttp, SyncHttp

__all__ = ["AsyncSchema", "Schema"]


class Schema:
    def __init__(self, http: SyncHttp, ref: str | None) -> None:
        self._http = http
        self._ref = ref


class AsyncSchema:
    def __init__(self, http: AsyncHttp, ref: str | None) -> None:
        self._http = http
        self._ref = ref
