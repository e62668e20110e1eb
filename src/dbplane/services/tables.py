"""The Tables API: every table and view of a SQL database served as REST.

This module decides: which database and table, what the caller may do, which plan to run.
The planner (``dbplane.query``) checks the request against the live schema; the engine
(``dbplane.engines.tables``) compiles the plan and renders the JSON body in the database.
No row is built here: bodies pass through as bytes.

Permissions: a session whose role does not grant ``read`` on a table is answered as if
the table did not exist (404); one that may read but not write gets 403 on writes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from dbplane.engines.tables import introspect, read_record, read_rows, schema_version, write
from dbplane.errors import (
    MalformedBody,
    MalformedParameter,
    NotGranted,
    ReadOnlyTable,
    RecordNotFound,
    TableNotFound,
    UnknownColumn,
    UnknownRelation,
    Unsupported,
)
from dbplane.query.keys import split_key
from dbplane.query.model import ReadPlan, SchemaInfo, TableInfo, TableRequest
from dbplane.query.params import parse_table_params
from dbplane.query.plan import plan_delete, plan_insert, plan_read, plan_update, relations
from dbplane.services.auth import Principal
from dbplane.services.context import AppContext, now_ms
from dbplane.services.databases import DEFAULT_RESOURCE_ID, resolve_database

__all__ = [
    "RowsAnswer",
    "create_rows",
    "delete_row",
    "describe_tables",
    "forget_database",
    "get_row",
    "list_rows",
    "reload_schema",
    "table_openapi",
    "update_row",
]

# errors that may mean the cached schema is stale: re-read it once and plan again
_STALE_SCHEMA_ERRORS = (TableNotFound, UnknownColumn, UnknownRelation)


@dataclass(frozen=True)
class RowsAnswer:
    body: bytes
    content_range: str | None = None


@dataclass
class _Cached:
    schema: SchemaInfo
    read_at: float


class _SchemaCache:
    """The live schema of each database, read once and kept until a change is seen."""

    def __init__(self) -> None:
        self._schemas: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def get(self, db_id: str) -> SchemaInfo | None:
        cached = self._schemas.get(db_id)
        return cached.schema if cached else None

    def put(self, db_id: str, schema: SchemaInfo) -> None:
        self._schemas[db_id] = _Cached(schema, time.monotonic())

    def drop(self, db_id: str) -> None:
        self._schemas.pop(db_id, None)

    def lock(self, db_id: str) -> asyncio.Lock:
        return self._locks.setdefault(db_id, asyncio.Lock())


def _cache(ctx: AppContext) -> _SchemaCache:
    cache = ctx.extensions.get("tables.schema")
    if cache is None:
        cache = ctx.extensions["tables.schema"] = _SchemaCache()
    assert isinstance(cache, _SchemaCache)
    return cache


@dataclass(frozen=True)
class _Target:
    row: dict[str, Any]
    engine: Any
    refs: tuple[str, str]


async def _target(ctx: AppContext, db_ref: str | None) -> _Target:
    row = await resolve_database(ctx, db_ref or DEFAULT_RESOURCE_ID)
    engine = await ctx.connections.engine_for(row)
    if not engine.capabilities.sql:
        raise Unsupported(f"tables apply to SQL databases (sqlite, postgresql, mysql); "
                          f"{row['resource_id']!r} is a {row['type_name']} database",
                          database=row["resource_id"], type_name=row["type_name"])
    return _Target(row=row, engine=engine, refs=(row["id"], row["resource_id"]))


async def _schema(ctx: AppContext, target: _Target, *, refresh: bool = False) -> SchemaInfo:
    cache = _cache(ctx)
    db_id = target.row["id"]
    cached = cache.get(db_id)
    if cached is not None and not refresh:
        return cached
    async with cache.lock(db_id):
        again = cache.get(db_id)
        if again is not None and again is not cached:
            return again  # another request refreshed it meanwhile
        schema = await introspect(target.engine)
        cache.put(db_id, schema)
        return schema


async def _changed_behind_our_back(ctx: AppContext, target: _Target) -> bool:
    """Whether the schema changed since it was read (cheap where the engine allows)."""
    cached = _cache(ctx).get(target.row["id"])
    if cached is None:
        return True
    version = await schema_version(target.engine)
    return not version or version != cached.version


def _readable(principal: Principal, target: _Target, table: str) -> bool:
    return principal.allows("read", target.refs, table)


def _table(schema: SchemaInfo, principal: Principal, target: _Target, name: str) -> TableInfo:
    info = schema.tables.get(name)
    if info is None or not _readable(principal, target, name):
        raise TableNotFound(name, target.row["resource_id"])
    return info


async def _with_fresh_schema(ctx: AppContext, target: _Target, principal: Principal,
                             table: str, action: Any) -> Any:
    """Run ``action(schema, info)``; when it fails in a way a stale schema explains, and
    the schema did change, re-read it and run once more."""
    schema = await _schema(ctx, target)
    try:
        return await action(schema, _table(schema, principal, target, table))
    except _STALE_SCHEMA_ERRORS:
        if not await _changed_behind_our_back(ctx, target):
            raise
        schema = await _schema(ctx, target, refresh=True)
        return await action(schema, _table(schema, principal, target, table))


def _require(principal: Principal, target: _Target, table: str, action: str) -> None:
    if not principal.allows(action, target.refs, table):
        raise NotGranted(f"the role {principal.role!r} may not {action} rows of {table!r}",
                         action=action, table=table, database=target.row["resource_id"])


def _content_type(info: TableInfo) -> bytes:
    return orjson.dumps({
        "table": info.name,
        "kind": info.kind,
        "primary_key": list(info.primary_key),
        "columns": [_column_public(c) for c in info.columns],
    })


def _column_public(c: Any) -> dict[str, Any]:
    return {"name": c.name, "type": c.type_sql, "kind": c.kind, "nullable": c.nullable,
            "default": c.default, "primary_key": c.primary_key,
            "autoincrement": c.autoincrement}


def _plan_read(ctx: AppContext, request: TableRequest, info: TableInfo, schema: SchemaInfo,
               key: tuple[str, ...] | None = None) -> ReadPlan:
    s = ctx.settings
    return plan_read(request, info, schema, default_limit=s.tables_default_limit,
                     max_limit=s.tables_max_limit, include_limit=s.tables_include_limit,
                     key=key)


# -- reads ------------------------------------------------------------------------------


async def describe_tables(ctx: AppContext, principal: Principal,
                          db_ref: str | None) -> list[dict[str, Any]]:
    """Every table and view the caller may read, with columns, keys and relations."""
    target = await _target(ctx, db_ref)
    if await _changed_behind_our_back(ctx, target):
        schema = await _schema(ctx, target, refresh=True)
    else:
        schema = await _schema(ctx, target)
    out = []
    for name in sorted(schema.tables):
        if not _readable(principal, target, name):
            continue
        info = schema.tables[name]
        out.append({
            "name": info.name,
            "kind": info.kind,
            "primary_key": list(info.primary_key),
            "columns": [_column_public(c) for c in info.columns],
            "foreign_keys": [{"name": fk.name, "columns": list(fk.columns),
                              "referred_table": fk.referred_table,
                              "referred_columns": list(fk.referred_columns)}
                             for fk in info.foreign_keys],
            "relations": {rel_name: {"kind": inc.kind, "table": inc.table.name}
                          for rel_name, inc in relations(info, schema).items()
                          if _readable(principal, target, inc.table.name)},
        })
    return out


def _check_includes(principal: Principal, target: _Target, plan: ReadPlan) -> None:
    for inc in plan.includes:
        if not _readable(principal, target, inc.table.name):
            raise UnknownRelation(table=plan.table.name, include=inc.name, valid=[])


async def list_rows(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                    params: Sequence[tuple[str, str]]) -> RowsAnswer:
    """A page of rows as the JSON array the database rendered."""
    request: TableRequest = parse_table_params(params)
    target = await _target(ctx, db_ref)

    async def run(schema: SchemaInfo, info: TableInfo) -> RowsAnswer:
        plan = _plan_read(ctx, request, info, schema)
        _check_includes(principal, target, plan)
        body, total = await read_rows(target.engine, plan)
        content_range = None
        if plan.count_exact and total is not None:
            content_range = _content_range(plan, total)
        if request.include_content_type:
            body = b'{"data":' + body + b',"contentType":' + _content_type(info) + b"}"
        return RowsAnswer(body=body, content_range=content_range)

    answer: RowsAnswer = await _with_fresh_schema(ctx, target, principal, table, run)
    return answer


def _content_range(plan: ReadPlan, total: int) -> str:
    """``first-last/total``: the page's size follows from the total, offset and limit,
    so the body is never parsed to count its rows."""
    size = max(0, total - plan.offset)
    if plan.limit is not None:
        size = min(size, plan.limit)
    if size == 0:
        return f"*/{total}"
    return f"{plan.offset}-{plan.offset + size - 1}/{total}"


def _key_parts(info: TableInfo, raw_key: str) -> tuple[str, ...]:
    if not info.primary_key:
        raise ReadOnlyTable(f"the {info.kind} {info.name!r} has no primary key: its records "
                            "can be listed but not addressed one by one", table=info.name)
    return split_key(raw_key, len(info.primary_key))


async def get_row(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                  raw_key: str, params: Sequence[tuple[str, str]]) -> bytes:
    """One record by its primary key (composite keys: values joined by ``,``)."""
    request = parse_table_params(params)
    target = await _target(ctx, db_ref)

    async def run(schema: SchemaInfo, info: TableInfo) -> bytes:
        plan = _plan_read(ctx, request, info, schema, key=_key_parts(info, raw_key))
        _check_includes(principal, target, plan)
        body = await read_record(target.engine, plan)
        if body is None:
            raise RecordNotFound(table=table, key=raw_key)
        return body

    found: bytes = await _with_fresh_schema(ctx, target, principal, table, run)
    return found


# -- writes -----------------------------------------------------------------------------


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


async def create_rows(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                      body: bytes) -> bytes:
    """Insert one record (``{"data": {...}}``) or several in one transaction
    (``{"data": [...]}``); answers the stored record(s)."""
    data = _data(body)
    target = await _target(ctx, db_ref)

    async def run(schema: SchemaInfo, info: TableInfo) -> bytes:
        _require(principal, target, table, "create")
        if info.kind == "table" and not info.primary_key:
            raise ReadOnlyTable(f"the table {info.name!r} has no primary key: it can be "
                                "listed, not written through the API", table=info.name)
        plan = plan_insert(info, data, now_ms=now_ms(), new_uuid=lambda: str(uuid.uuid4()))
        answer = await write(target.engine, plan)
        assert answer is not None
        if isinstance(data, list) and not answer.startswith(b"["):
            answer = b"[" + answer + b"]"  # {"data": [one]} answers a list of one
        return answer

    created: bytes = await _with_fresh_schema(ctx, target, principal, table, run)
    return created


async def update_row(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                     raw_key: str, body: bytes) -> bytes:
    """Change the given columns of one record; answers the record."""
    data = _data(body)
    target = await _target(ctx, db_ref)

    async def run(schema: SchemaInfo, info: TableInfo) -> bytes:
        _require(principal, target, table, "update")
        plan = plan_update(info, _key_parts(info, raw_key), data, now_ms=now_ms())
        answer = await write(target.engine, plan)
        if answer is None:
            raise RecordNotFound(table=table, key=raw_key)
        return answer

    updated: bytes = await _with_fresh_schema(ctx, target, principal, table, run)
    return updated


async def delete_row(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                     raw_key: str) -> None:
    target = await _target(ctx, db_ref)

    async def run(schema: SchemaInfo, info: TableInfo) -> None:
        _require(principal, target, table, "delete")
        await write(target.engine, plan_delete(info, _key_parts(info, raw_key)))

    await _with_fresh_schema(ctx, target, principal, table, run)


async def reload_schema(ctx: AppContext, principal: Principal,
                        db_ref: str | None) -> int:
    """Read the schema again now; answers the number of tables and views."""
    target = await _target(ctx, db_ref)
    schema = await _schema(ctx, target, refresh=True)
    return sum(1 for name in schema.tables if _readable(principal, target, name))


def forget_database(ctx: AppContext, db_id: str) -> None:
    """Drop the cached schema of a database (after a schema change made through dbplane)."""
    _cache(ctx).drop(db_id)


# -- OpenAPI of one database's tables ----------------------------------------------------

_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "float": {"type": "number"},
    "decimal": {"type": "string", "pattern": r"^-?\d+(\.\d+)?$",
                "description": "exact decimal, as a string"},
    "text": {"type": "string"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "json": {},
    "binary": {"type": "string", "pattern": "^([0-9a-f]{2})*$",
               "description": "bytes as lower-case hex"},
    "uuid": {"type": "string", "format": "uuid"},
    "other": {"type": "string"},
}


def _column_schema(c: Any) -> dict[str, Any]:
    base = dict(_KIND_SCHEMAS.get(c.kind, {}))
    base["description"] = (base.get("description", "") + f" ({c.type_sql})").strip()
    if c.nullable and "type" in base:
        base["type"] = [base["type"], "null"]
    return base


def _row_schema(info: TableInfo) -> dict[str, Any]:
    return {"type": "object",
            "properties": {c.name: _column_schema(c) for c in info.columns}}


async def table_openapi(ctx: AppContext, principal: Principal, db_ref: str | None,
                        base_path: str) -> dict[str, Any]:
    """An OpenAPI 3.1 document of one database's tables, from its live schema."""
    target = await _target(ctx, db_ref)
    schema = await _schema(ctx, target, refresh=await _changed_behind_our_back(ctx, target))
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {}
    problem: dict[str, Any] = {"description": "problem details",
               "content": {"application/problem+json": {"schema": {"type": "object"}}}}
    errors: dict[str, Any] = {str(s): problem for s in (400, 401, 403, 404, 409)}
    for name in sorted(schema.tables):
        if not _readable(principal, target, name):
            continue
        info = schema.tables[name]
        ref = {"$ref": f"#/components/schemas/{_schema_name(name)}"}
        components[_schema_name(name)] = _row_schema(info)
        path = f"{base_path}/{_path_segment(name)}"
        list_params = [
            {"name": p, "in": "query", "required": False, "schema": {"type": "string"},
             "description": d} for p, d in (
                ("limit", "rows per page"), ("offset", "rows to skip"),
                ("sort", "column[:asc|:desc], comma separated"), ("fields", "a,b"),
                ("count", "exact: the total in Content-Range"),
                ("include", "relations to embed"),
                ("includeContentType", "true: answer {data, contentType}"))]
        ops: dict[str, Any] = {"get": {
            "summary": f"List rows of {name}", "parameters": list_params,
            "responses": {"200": {"description": "rows", "content": {"application/json": {
                "schema": {"type": "array", "items": ref}}}}, **errors}}}
        if info.kind == "table":
            ops["post"] = {
                "summary": f"Create rows in {name}",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "required": ["data"], "properties": {
                        "data": {"oneOf": [ref, {"type": "array", "items": ref}]}}}}}},
                "responses": {"201": {"description": "the stored record(s)",
                                      "content": {"application/json": {"schema": {
                                          "oneOf": [ref, {"type": "array", "items": ref}]}}}},
                              **errors}}
        paths[path] = ops
        if info.primary_key:
            key_doc = ("the primary key" if len(info.primary_key) == 1 else
                       "the primary key values (" + ", ".join(info.primary_key)
                       + r") joined by ',' (a ',' or '\' inside a value escaped with '\')")
            key_param = [{"name": "id", "in": "path", "required": True,
                          "schema": {"type": "string"}, "description": key_doc}]
            one: dict[str, Any] = {"get": {
                "summary": f"One record of {name}", "parameters": key_param,
                "responses": {"200": {"description": "the record", "content": {
                    "application/json": {"schema": ref}}}, **errors}}}
            if info.kind == "table":
                body = {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["data"], "properties": {"data": ref}}}}}
                for verb in ("put", "patch"):
                    one[verb] = {"summary": f"Update a record of {name}",
                                 "parameters": key_param, "requestBody": body,
                                 "responses": {"200": {"description": "the record",
                                                       "content": {"application/json": {
                                                           "schema": ref}}}, **errors}}
                one["delete"] = {"summary": f"Delete a record of {name}",
                                 "parameters": key_param,
                                 "responses": {"204": {"description": "deleted"}, **errors}}
            paths[path + "/{id}"] = one
    return {
        "openapi": "3.1.0",
        "info": {"title": f"dbplane tables of {target.row['resource_id']}",
                 "version": schema.version or "live"},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


def _schema_name(table: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in table) or "table"


def _path_segment(table: str) -> str:
    return quote(table, safe="")

