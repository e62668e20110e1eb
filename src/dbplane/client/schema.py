"""``db.schema``: snapshot, diff and apply (issue 5). ``ref`` None is the default
database.

    snap = client.databases.get("shop").schema.snapshot()
    diff = other.schema.diff(snap)          # None: nothing differs
    if diff is not None:
        other.schema.apply(diff)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from dbplane.client._http import AsyncHttp, SyncHttp, as_object, path

__all__ = ["AsyncSchema", "Schema"]


def _base(ref: str | None) -> tuple[str, ...]:
    return ("schema",) if ref is None else ("databases", ref, "schema")


def _snapshot_params(include: list[str] | None, exclude: list[str] | None,
                     export: str | None) -> list[tuple[str, str]]:
    params = [("includeCollections", ",".join(include))] if include else []
    if exclude:
        params.append(("excludeCollections", ",".join(exclude)))
    if export:
        params.append(("export", export))
    return params


def _diff_params(force: bool, format: str | None) -> list[tuple[str, str]]:
    params = [("force", "true")] if force else []
    if format:
        params.append(("format", format))
    return params


def _text(response: httpx.Response) -> str | None:
    """An answer that is text, not JSON (YAML export, SQL); None for a 204."""
    return None if response.status_code == 204 else response.text


class Schema:
    """The schema of one database as code."""

    def __init__(self, http: SyncHttp, ref: str | None) -> None:
        self._http = http
        self._ref = ref

    def _url(self, action: str) -> str:
        return path(*_base(self._ref), action)

    def snapshot(self, export: str | None = None, include: list[str] | None = None,
                 exclude: list[str] | None = None) -> Any:
        """The snapshot (a dict); with ``export="yaml"`` its YAML text. ``include`` /
        ``exclude`` scope it to some collections."""
        params = _snapshot_params(include, exclude, export)
        if export == "yaml":
            return _text(self._http.send("GET", self._url("snapshot"), params=params))
        return as_object(self._http.request("GET", self._url("snapshot"), params=params))

    def diff(self, snapshot: Mapping[str, Any], force: bool = False,
             format: str | None = None) -> Any:
        """``{hash, diff}`` turning the database into ``snapshot``; None when nothing
        differs; with ``format="sql"`` the SQL the apply would run. ``force`` diffs a
        snapshot of another vendor or version."""
        params = _diff_params(force, format)
        if format == "sql":
            return _text(self._http.send("POST", self._url("diff"), params=params,
                                         json=snapshot))
        answer = self._http.request("POST", self._url("diff"), json=snapshot, params=params)
        return None if answer is None else as_object(answer)

    def apply(self, diff: Mapping[str, Any]) -> None:
        """Apply ``{hash, diff}``; StaleSchemaHash when the schema changed since."""
        self._http.request("POST", self._url("apply"), json=diff)


class AsyncSchema:
    """The schema of one database as code (asyncio)."""

    def __init__(self, http: AsyncHttp, ref: str | None) -> None:
        self._http = http
        self._ref = ref

    def _url(self, action: str) -> str:
        return path(*_base(self._ref), action)

    async def snapshot(self, export: str | None = None, include: list[str] | None = None,
                       exclude: list[str] | None = None) -> Any:
        params = _snapshot_params(include, exclude, export)
        if export == "yaml":
            return _text(await self._http.send("GET", self._url("snapshot"), params=params))
        return as_object(await self._http.request("GET", self._url("snapshot"),
                                                  params=params))

    async def diff(self, snapshot: Mapping[str, Any], force: bool = False,
                   format: str | None = None) -> Any:
        params = _diff_params(force, format)
        if format == "sql":
            return _text(await self._http.send("POST", self._url("diff"), params=params,
                                               json=snapshot))
        answer = await self._http.request("POST", self._url("diff"), json=snapshot,
                                          params=params)
        return None if answer is None else as_object(answer)

    async def apply(self, diff: Mapping[str, Any]) -> None:
        await self._http.request("POST", self._url("apply"), json=diff)
