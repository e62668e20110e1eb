"""The Tables API's writes: creates (and upserts), updates and deletes by key or by
filter.

Decides what a write may do (grants, the row cap, the conflict key of an upsert, whether
a bulk write names its rows) and which plan runs; the engine runs it in one transaction
and renders what was written (``engines.sql.tables.write`` / ``write_where``). Answers
``WriteAnswer``: the bytes to send, and what the API turns into headers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from dbplane.engines.sql.tables import write, write_where
from dbplane.engines.sql.writes import unique_keys
from dbplane.errors import (
    MalformedBody,
    MalformedParameter,
    ReadOnlyTable,
    RecordNotFound,
    TooManyRows,
)
from dbplane.query.keys import format_key
from dbplane.query.model import SchemaInfo, TableInfo
from dbplane.query.plan import (
    plan_delete,
    plan_delete_where,
    plan_filter,
    plan_insert,
    plan_update,
    plan_update_where,
    plan_upsert,
)
from dbplane.query.writes import WritePrefs, WriteRequest, parse_prefer, parse_write_params
from dbplane.services.auth import Principal
from dbplane.services.context import AppContext, now_ms
from dbplane.services.tables import (
    _key_parts,
    _params,
    _require,
    _target,
    _with_fresh_schema,
)

__all__ = ["WriteAnswer", "create_rows", "delete_row", "delete_rows", "update_row",
           "update_rows"]


@dataclass(frozen=True)
class WriteAnswer:
    """``body``: the written rows as JSON (None for ``Prefer: return=minimal`` or a
    delete). ``key``: the created record's key when one record was created (for
    ``Location``). ``affected``: how many rows a bulk update or delete touched."""

    body: bytes | None
    key: str | None = None
    affected: int | None = None


def _capped(ctx: AppContext, data: Any) -> Any:
    """``data`` within DBPLANE_TABLES_MAX_WRITE_ROWS rows, checked before any planning:
    a huge write would hold the database's write lock (SQLite's one lock) for minutes."""
    limit = ctx.settings.tables_max_write_rows
    if isinstance(data, list) and len(data) > limit:
        raise TooManyRows(f"data has {len(data)} rows; one write may carry at most {limit} "
                          "(DBPLANE_TABLES_MAX_WRITE_ROWS): send them in several requests",
                          parameter="data", limit=limit, rows=len(data))
    return data


def _data(body: bytes) -> Any:
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"the request body is not valid JSON: {exc.msg}") from exc
    if not isinstance(parsed, dict) or "data" not in parsed:
        raise MalformedBody('the request body must be {"data": {...}} (or {"data": [...]} '
                            "to create several records)")
    extra = sorted(set(parsed) - {"data"})
    if extra:
        raise MalformedParameter(f"the request body has fields besides data: {extra}",
                                 parameter=extra[0])
    return parsed["data"]


def _request(query: bytes, prefer: Sequence[str]) -> tuple[WriteRequest, WritePrefs]:
    return parse_write_params(_params(query)), parse_prefer(prefer)


def _no_filters(req: WriteRequest, what: str) -> None:
    if req.filters is not None or req.all_rows:
        parameter = "filters" if req.filters is not None else "all"
        raise MalformedParameter(f"{parameter}: {what} takes no filters (they are for a "
                                 "PATCH or DELETE of the collection)", parameter=parameter)


def _created_key(info: TableInfo, answer: bytes) -> str | None:
    record = orjson.loads(answer)
    if not isinstance(record, dict):
        return None
    values = [record.get(name) for name in info.primary_key]
    if any(v is None for v in values):
        return None
    return format_key([v if isinstance(v, str) else orjson.dumps(v).decode()
                       for v in values])


async def create_rows(ctx: AppContext, principal: Principal, db_ref: str | None,
                      table: str, body: bytes, query: bytes = b"",
                      prefer: Sequence[str] = ()) -> WriteAnswer:
    """Insert one record (``{"data": {...}}``) or several in one transaction
    (``{"data": [...]}``); answers the stored record(s). ``Prefer: resolution=`` with
    ``on_conflict=`` (default: the primary key) makes it an upsert."""
    req, prefs = _request(query, prefer)
    _no_filters(req, "a create")
    data = _capped(ctx, _data(body))
    if req.on_conflict is not None and prefs.resolution is None:
        raise MalformedParameter("on_conflict: an upsert also needs Prefer: "
                                 "resolution=merge-duplicates or ignore-duplicates",
                                 parameter="on_conflict")
    target = await _target(ctx, db_ref)

    async def run(schema: SchemaInfo, info: TableInfo) -> WriteAnswer:
        _require(principal, target, table, "create")
        if info.kind == "table" and not info.primary_key:
            raise ReadOnlyTable(f"the table {info.name!r} has no primary key: it can be "
                                "listed, not written through the API", table=info.name)
        new_uuid = lambda: str(uuid.uuid4())  # noqa: E731
        if prefs.resolution is None:
            plan = plan_insert(info, data, now_ms=now_ms(), new_uuid=new_uuid)
        else:
            if prefs.resolution == "merge-duplicates":
                _require(principal, target, table, "update")
            plan = plan_upsert(info, data, req.on_conflict or (), prefs.resolution,
                               now_ms=now_ms(), new_uuid=new_uuid)
            if frozenset(plan.conflict) not in await unique_keys(target.engine, info):
                raise MalformedParameter(
                    f"on_conflict: ({', '.join(plan.conflict)}) is not a unique key of "
                    f"{info.name!r} (its primary key, a unique constraint or a unique "
                    "index)", parameter="on_conflict")
        answer = await write(target.engine, plan)
        assert answer is not None
        listed = isinstance(data, list) or prefs.resolution == "ignore-duplicates"
        if listed and not answer.startswith(b"["):
            # {"data": [one]} answers a list of one; ignore-duplicates always a list (of
            # the rows it wrote, which may be none)
            answer = b"[" + answer + b"]"
        key = None if listed else _created_key(info, answer)
        if prefs.return_ == "minimal":
            return WriteAnswer(None, key=key)
        return WriteAnswer(answer, key=key)

    created: WriteAnswer = await _with_fresh_schema(ctx, target, principal, table, run)
    return created


async def update_row(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                     raw_key: str, body: bytes, query: bytes = b"",
                     prefer: Sequence[str] = ()) -> WriteAnswer:
    """Change the given columns of one record; answers the record."""
    req, prefs = _request(query, prefer)
    _no_filters(req, "an update by key")
    data = _data(body)
    target = await _target(ctx, db_ref)

    async def run(schema: SchemaInfo, info: TableInfo) -> WriteAnswer:
        _require(principal, target, table, "update")
        plan = plan_update(info, _key_parts(info, raw_key), data, now_ms=now_ms())
        answer = await write(target.engine, plan)
        if answer is None:
            raise RecordNotFound(table=table, key=raw_key)
        return WriteAnswer(None if prefs.return_ == "minimal" else answer)

    updated: WriteAnswer = await _with_fresh_schema(ctx, target, principal, table, run)
    return updated


async def delete_row(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                     raw_key: str, query: bytes = b"",
                     prefer: Sequence[str] = ()) -> WriteAnswer:
    """Delete one record by its key."""
    req, _ = _request(query, prefer)
    _no_filters(req, "a delete by key")
    target = await _target(ctx, db_ref)

    async def run(schema: SchemaInfo, info: TableInfo) -> None:
        _require(principal, target, table, "delete")
        await write(target.engine, plan_delete(info, _key_parts(info, raw_key)))

    await _with_fresh_schema(ctx, target, principal, table, run)
    return WriteAnswer(None)


def _bulk(req: WriteRequest, verb: str) -> None:
    if req.on_conflict is not None:
        raise MalformedParameter(f"on_conflict: a {verb} of the collection is no upsert",
                                 parameter="on_conflict")
    if req.filters is None and not req.all_rows:
        raise MalformedParameter(
            f"filters: a {verb} of the collection needs filters[column][$op]=value, or "
            "all=true to touch every row", parameter="filters")
    if req.filters is not None and req.all_rows:
        raise MalformedParameter("all: all=true and filters together: choose one",
                                 parameter="all")


async def update_rows(ctx: AppContext, principal: Principal, db_ref: str | None,
                      table: str, body: bytes, query: bytes,
                      prefer: Sequence[str] = ()) -> WriteAnswer:
    """Change the given columns of every row the filters keep (``all=true``: every row),
    in one transaction; answers the changed rows (``return=minimal``: their number)."""
    req, prefs = _request(query, prefer)
    _bulk(req, "PATCH")
    data = _data(body)
    target = await _target(ctx, db_ref)

    async def run(schema: SchemaInfo, info: TableInfo) -> WriteAnswer:
        _require(principal, target, table, "update")
        plan = plan_update_where(info, plan_filter(info, req.filters), data,
                                 now_ms=now_ms(), max_affected=prefs.max_affected)
        body, count = await write_where(target.engine, plan, prefs.return_ != "minimal")
        return WriteAnswer(body, affected=count)

    updated: WriteAnswer = await _with_fresh_schema(ctx, target, principal, table, run)
    return updated


async def delete_rows(ctx: AppContext, principal: Principal, db_ref: str | None,
                      table: str, query: bytes, prefer: Sequence[str] = ()) -> WriteAnswer:
    """Delete every row the filters keep (``all=true``: every row) in one transaction;
    answers their number, and with ``return=representation`` the deleted rows."""
    req, prefs = _request(query, prefer)
    _bulk(req, "DELETE")
    target = await _target(ctx, db_ref)

    async def run(schema: SchemaInfo, info: TableInfo) -> WriteAnswer:
        _require(principal, target, table, "delete")
        plan = plan_delete_where(info, plan_filter(info, req.filters),
                                 max_affected=prefs.max_affected)
        body, count = await write_where(target.engine, plan,
                                        prefs.return_ == "representation")
        return WriteAnswer(body, affected=count)

    deleted: WriteAnswer = await _with_fresh_schema(ctx, target, principal, table, run)
    return deleted
