"""The Tables API: every table and view of a SQL database served as REST.

This module decides: which database and table, what the caller may do, which plan to run.
The planner (``dbplane.query``) checks the request against the live schema; the engine
(``dbplane.engines.sql.tables``) compiles the plan and renders the JSON body in the database.
No row is built here: bodies pass through as bytes.

Permissions: a session whose role does not grant ``read`` on a table is answered as if
the table did not exist (404); one that may read but not write gets 403 on writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from dbplane.engines import has_part, types_with
from dbplane.engines.sql.aggregate import aggregate_statement
from dbplane.engines.sql.counts import CountStatements, count_statements, estimated_count
from dbplane.engines.sql.reflect import INTERNAL_TABLE_PREFIXES
from dbplane.engines.sql.tables import (
    PreparedRead,
    introspect,
    list_answer,
    prepare_read,
    record_answer,
    run_read,
    schema_version,
)
from dbplane.errors import (
    DatabaseNotFound,
    DbplaneError,
    NotGranted,
    ReadOnlyTable,
    RecordNotFound,
    SchemaChanged,
    TableNotFound,
    UnknownColumn,
    UnknownRelation,
    Unsupported,
)
from dbplane.meta.records import DatabaseRecord
from dbplane.query.aggregate import is_aggregate, parse_aggregate_params, plan_aggregate
from dbplane.query.keys import split_key
from dbplane.query.keyset import encode_cursor
from dbplane.query.model import OrderBy, ReadPlan, SchemaInfo, TableInfo, TableRequest
from dbplane.query.params import parse_table_params
from dbplane.query.plan import (
    plan_key,
    plan_read,
    relations,
)
from dbplane.services.auth import Principal
from dbplane.services.context import AppContext
from dbplane.services.databases import DEFAULT_RESOURCE_ID, resolve_database

__all__ = [
    "ReadableTables",
    "RowsAnswer",
    "describe_tables",
    "forget_database",
    "get_row",
    "list_rows",
    "readable_tables",
    "reload_schema",
]

log = logging.getLogger("dbplane.tables")

# errors that may mean the cached schema is stale: re-read it once and plan again
# (SchemaChanged: the database itself said a table or column is gone)
_STALE_SCHEMA_ERRORS = (TableNotFound, UnknownColumn, UnknownRelation, SchemaChanged)


@dataclass(frozen=True)
class RowsAnswer:
    body: bytes
    page: tuple[int, int | None, int] | None = None
    """A counted list's (offset, limit, total), which the API answers as Content-Range."""
    next_after: str | None = None
    """Keyset pages: the cursor of the next page (None: this is the last), for the
    API's ``Link: <…after=…>; rel="next"``."""


@dataclass
class _Cached:
    schema: SchemaInfo
    read_at: float
    checked_at: float
    """When the database's schema version was last compared with this one's."""
    checking: bool = False


class _SchemaCache:
    """The live schema of each database, read once and kept until a change is seen."""

    def __init__(self) -> None:
        self._schemas: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def get(self, db_id: str) -> SchemaInfo | None:
        cached = self._schemas.get(db_id)
        return cached.schema if cached else None

    def due(self, db_id: str, every: float) -> _Cached | None:
        """The entry whose version is to be checked again now (marked as being
        checked), if any: one last checked ``every`` seconds ago or more."""
        cached = self._schemas.get(db_id)
        if cached is None or cached.checking or time.monotonic() < cached.checked_at + every:
            return None
        cached.checking = True
        return cached

    def put(self, db_id: str, schema: SchemaInfo) -> None:
        now = time.monotonic()
        self._schemas[db_id] = _Cached(schema, now, now)

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
    row: DatabaseRecord
    engine: Any
    refs: tuple[str, str]


async def _target(ctx: AppContext, db_ref: str | None,
                  principal: Principal | None = None) -> _Target:
    """The database of ``db_ref``; one ``principal`` has no grant on is answered exactly
    as an unknown one (its existence is not told)."""
    row = await resolve_database(ctx, db_ref or DEFAULT_RESOURCE_ID)
    if principal is not None:
        _visible(principal, row.id, row.resource_id, db_ref)
    engine = await ctx.connections.engine_for(row)
    if not has_part(engine, "tables"):
        raise Unsupported(f"tables apply to SQL databases ({', '.join(types_with('tables'))}); "
                          f"{row.resource_id!r} is a {row.type_name} database",
                          database=row.resource_id, type_name=row.type_name)
    return _Target(row=row, engine=engine, refs=(row.id, row.resource_id))


async def _schema(ctx: AppContext, target: _Target, *, refresh: bool = False) -> SchemaInfo:
    cache = _cache(ctx)
    db_id = target.row.id
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


def _check_soon(ctx: AppContext, target: _Target) -> None:
    """Every ``DBPLANE_CACHE_SECONDS`` a request has a database's schema version checked
    in the background (no request waits for it): a change made behind dbplane's back, or
    through another replica, is seen within that time even by requests that name only
    what the kept schema has."""
    cached = _cache(ctx).due(target.row.id, ctx.settings.cache_seconds)
    if cached is not None:
        ctx.spawn(_check_version(ctx, target, cached))


async def _check_version(ctx: AppContext, target: _Target, cached: _Cached) -> None:
    try:
        if await _changed_behind_our_back(ctx, target) and \
                _cache(ctx).get(target.row.id) is cached.schema:
            await _schema(ctx, target, refresh=True)
    except Exception as exc:  # the next due request checks again
        log.warning("could not check the schema of %s: %s", target.row.resource_id, exc)
    finally:
        cached.checked_at = time.monotonic()
        cached.checking = False


async def _changed_behind_our_back(ctx: AppContext, target: _Target) -> bool:
    """Whether the schema changed since it was read (cheap where the engine allows)."""
    cached = _cache(ctx).get(target.row.id)
    if cached is None:
        return True
    version = await schema_version(target.engine)
    return not version or version != cached.version


def _visible(principal: Principal, db_id: str, resource_id: str,
             db_ref: str | None) -> None:
    if db_ref is not None and not principal.sees_database(db_id, resource_id):
        raise DatabaseNotFound(db_ref)


def _readable(principal: Principal, target: _Target, table: str) -> bool:
    # dbplane's own bookkeeping (the migrations ledger) is not user data: hidden from
    # every session, admins included, so never read nor written through the Tables API
    return not table.startswith(INTERNAL_TABLE_PREFIXES) and principal.allows(
        "read", target.refs, table)


def _table(schema: SchemaInfo, principal: Principal, target: _Target, name: str) -> TableInfo:
    info = schema.tables.get(name)
    if info is None or not _readable(principal, target, name):
        raise TableNotFound(name, target.row.resource_id)
    return info


async def _with_fresh_schema(ctx: AppContext, target: _Target, principal: Principal,
                             table: str, action: Any) -> Any:
    """Run ``action(schema, info)``; when it fails in a way a stale schema explains, and
    the schema did change, re-read it and run once more."""
    row = target.row  # a database the caller has no grant on is not told to exist
    _visible(principal, row.id, row.resource_id,
             None if row.resource_id == DEFAULT_RESOURCE_ID else row.resource_id)
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
                         action=action, table=table, database=target.row.resource_id)


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
    """Every table and view the caller may read, with columns, keys and relations (a
    foreign key to a table it may not read is left out: its name is never shown)."""
    target = await _target(ctx, db_ref, principal)
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
                             for fk in info.foreign_keys
                             if _readable(principal, target, fk.referred_table)],
            "relations": {rel_name: {"kind": inc.kind, "table": inc.table.name}
                          for rel_name, inc in relations(info, schema).items()
                          if _readable(principal, target, inc.table.name)},
        })
    return out


def _check_includes(principal: Principal, target: _Target, plan: ReadPlan) -> None:
    for inc in plan.includes:
        if not _readable(principal, target, inc.table.name):
            raise UnknownRelation(table=plan.table.name, include=inc.name, valid=[])


# -- prepared reads: what a query string comes to, kept ----------------------------------
#
# A GET of rows or of a record is most of the traffic, and most of it repeats the same
# query string (a page, a filter, a get by id with none). Parsing it, checking it against
# the schema, planning, finding the compiled statement and converting the values cost
# more than a small SQLite read, so the outcome is kept per (database reference, table,
# query string): a repeated request checks the caller's grants and runs the statement.
# An entry is used only for the very schema object and engine it was prepared with: a
# refreshed schema (a change seen or made, a reload) or a new engine (a changed URL)
# makes every older entry a miss.


@dataclass(slots=True)
class _Prepared:
    schema: SchemaInfo
    engine: Any
    table: TableInfo
    read: PreparedRead
    includes: tuple[tuple[str, str], ...]
    """(relation name, table name) of every include: the caller must be able to read it."""
    count: tuple[int, int | None] | None
    """Counted lists: (offset, limit), for the page the API answers as Content-Range."""
    content_type: bytes | None
    """includeContentType: the table's metadata, rendered once."""
    estimate: tuple[str, CountStatements] | None = None
    """``count=planned|estimated``: the mode and the statements that count."""
    keyset: tuple[OrderBy, ...] | None = None
    """Keyset pages (``after=``): the page's sort, for the next page's cursor."""
    limit: int | None = None
    read_offset: int = 0
    total: tuple[str, int] = ("", 0)
    """Counted lists on PostgreSQL: the last (snapshot, total) counted ('' before any:
    no statement's snapshot is ''). Replaced whole, so a reader gets a matching pair."""


class _PreparedCache:
    """Prepared reads, least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, _Prepared] = OrderedDict()

    def get(self, key: Hashable, ctx: AppContext, target: _Target) -> _Prepared | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.engine is not target.engine or entry.schema is not _cache(ctx).get(
                target.row.id):
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: _Prepared) -> None:
        self._entries[key] = entry
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries


PREPARED_READS = 4096
"""Prepared reads kept per process (each holds a statement's text and its values)."""


def _prepared(ctx: AppContext) -> _PreparedCache:
    cache = ctx.extensions.get("tables.prepared")
    if cache is None:
        cache = ctx.extensions["tables.prepared"] = _PreparedCache(PREPARED_READS)
    assert isinstance(cache, _PreparedCache)
    return cache


def _params(query: bytes) -> list[tuple[str, str]]:
    # as Starlette reads a query string (latin-1 bytes, %-escapes as UTF-8, blanks kept)
    return parse_qsl(query.decode("latin-1"), keep_blank_values=True)


def _granted(principal: Principal, target: _Target, entry: _Prepared) -> None:
    """The grants a prepared read needs, checked for this caller (as planning checks
    them: an unreadable table is not found, an unreadable include an unknown one)."""
    if principal.is_admin:
        return
    if not _readable(principal, target, entry.table.name):
        raise TableNotFound(entry.table.name, target.row.resource_id)
    for name, table in entry.includes:
        if not _readable(principal, target, table):
            raise UnknownRelation(table=entry.table.name, include=name, valid=[])


def _prepare(ctx: AppContext, target: _Target, principal: Principal, schema: SchemaInfo,
             info: TableInfo, plan: ReadPlan, include_content_type: bool,
             keyset: bool = False, estimate: str | None = None) -> _Prepared:
    _check_includes(principal, target, plan)
    return _Prepared(
        schema=schema, engine=target.engine, table=info,
        read=prepare_read(target.engine, plan),
        includes=tuple((inc.name, inc.table.name) for inc in plan.includes),
        count=(plan.offset, plan.limit) if plan.count_exact else None,
        content_type=_content_type(info) if include_content_type else None,
        keyset=plan.order if keyset else None, limit=plan.limit, read_offset=plan.offset,
        estimate=None if estimate is None else (estimate,
                                                count_statements(target.engine, plan)))


async def _kept_read(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                     query: bytes, raw_key: str | None) -> tuple[_Target, _Prepared]:
    """The database and the prepared read of a query string: kept, or planned now (and
    kept). A malformed query string is a 400 before an unknown database is a 404."""
    cache_key = ("rows" if raw_key is None else "record", db_ref, table, query)
    cache = _prepared(ctx)
    request = None if cache_key in cache else parse_table_params(_params(query))
    target = await _target(ctx, db_ref, principal)
    _check_soon(ctx, target)
    entry = cache.get(cache_key, ctx, target)
    if entry is not None:
        _granted(principal, target, entry)
        return target, entry
    parsed = request or parse_table_params(_params(query))

    async def prepare(schema: SchemaInfo, info: TableInfo) -> _Prepared:
        key = None if raw_key is None else _key_parts(info, raw_key)
        try:
            plan = _plan_read(ctx, parsed, info, schema, key=key)
        except UnknownRelation as exc:
            # name only the relations to tables the caller may read
            shown = {n for n, inc in relations(info, schema).items()
                     if _readable(principal, target, inc.table.name)}
            raise UnknownRelation(
                table=info.name, include=str(exc.fields.get("include")),
                valid=[n for n in exc.fields.get("valid", []) if n in shown]) from None
        return _prepare(ctx, target, principal, schema, info, plan,
                        parsed.include_content_type and raw_key is None,
                        parsed.after is not None and raw_key is None,
                        parsed.count_estimate if raw_key is None else None)

    entry = await _with_fresh_schema(ctx, target, principal, table, prepare)
    cache.put(cache_key, entry)
    return target, entry


async def _run_kept(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                    query: bytes, raw_key: str | None,
                    ) -> tuple[_Prepared, tuple[Any, ...] | None, tuple[str, int]]:
    """Run the read of a query string: its kept read, the row, and the (snapshot, total)
    a counted list on PostgreSQL was run with. When the database says the statement
    names a table or column it does not have, and the schema did change behind
    dbplane's back, the schema is read again and the request planned and run once
    more."""
    for attempt in (1, 2):
        target, entry = await _kept_read(ctx, principal, db_ref, table, query, raw_key)
        read = entry.read
        known = entry.total  # taken before the statement runs: a matching pair
        if raw_key is not None:
            args = read.arguments(plan_key(entry.table, _key_parts(entry.table, raw_key)))
        elif read.snapshot_counts:
            args = read.list_arguments(known[0])
        else:
            args = read.args
        try:
            return entry, await run_read(target.engine, read.sql, args), known
        except SchemaChanged as exc:
            exc.fields["table"] = table
            if attempt == 2 or not await _changed_behind_our_back(ctx, target):
                raise
            await _schema(ctx, target, refresh=True)  # every kept read of it is a miss now
    raise AssertionError("unreachable")


async def list_rows(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                    query: bytes) -> RowsAnswer:
    """A page of rows as the JSON array the database rendered; ``query``: the raw query
    string. With ``aggregate[...]``, ``groupBy`` or ``distinct`` in it, the groups
    (``query.aggregate``)."""
    if b"aggregate" in query or b"groupBy" in query or b"distinct" in query:
        params = _params(query)
        if is_aggregate(params):
            return await _aggregate(ctx, principal, db_ref, table, params)
    entry, row, known = await _run_kept(ctx, principal, db_ref, table, query, None)
    body, total, snapshot = list_answer(entry.read, row, known[1])
    if snapshot is not None and total is not None:
        entry.total = (snapshot, total)
    page = None
    if entry.count is not None and total is not None:
        page = (entry.count[0], entry.count[1], total)
    elif entry.estimate is not None:
        mode, counts = entry.estimate
        target = await _target(ctx, db_ref)
        estimated = await estimated_count(target.engine, counts, mode,
                                          ctx.settings.tables_max_limit)
        page = (entry.read_offset, entry.limit, estimated)
    next_after = None
    if entry.keyset is not None:
        rows = orjson.loads(body)
        if rows and entry.limit is not None and len(rows) >= entry.limit:
            next_after = encode_cursor(entry.keyset, rows[-1])
    if entry.content_type is not None:
        body = b'{"data":' + body + b',"contentType":' + entry.content_type + b"}"
    return RowsAnswer(body=body, page=page, next_after=next_after)


async def _aggregate(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                     params: list[tuple[str, str]]) -> RowsAnswer:
    """Aggregates, groups or distinct rows: planned and compiled on every request (not
    kept as plain lists are: they are rarer, and heavier to run than to plan)."""
    request = parse_aggregate_params(params)
    target = await _target(ctx, db_ref)
    s = ctx.settings

    async def run(schema: SchemaInfo, info: TableInfo) -> RowsAnswer:
        plan = plan_aggregate(request, info, default_limit=s.tables_default_limit,
                              max_limit=s.tables_max_limit)
        sql, args = aggregate_statement(target.engine, plan)
        row = await run_read(target.engine, sql, args)
        if row is None or row[0] is None:
            raise DbplaneError("the database answered no row for the groups")
        body = row[0]
        return RowsAnswer(body=body if isinstance(body, bytes) else str(body).encode())

    answer: RowsAnswer = await _with_fresh_schema(ctx, target, principal, table, run)
    return answer


def _key_parts(info: TableInfo, raw_key: str) -> tuple[str, ...]:
    if not info.primary_key:
        raise ReadOnlyTable(f"the {info.kind} {info.name!r} has no primary key: its records "
                            "can be listed but not addressed one by one", table=info.name)
    return split_key(raw_key, len(info.primary_key))


async def get_row(ctx: AppContext, principal: Principal, db_ref: str | None, table: str,
                  raw_key: str, query: bytes) -> bytes:
    """One record by its primary key (composite keys: values joined by ``,``);
    ``query``: the raw query string."""
    _, row, _ = await _run_kept(ctx, principal, db_ref, table, query, raw_key)
    body = record_answer(row)
    if body is None:
        raise RecordNotFound(table=table, key=raw_key)
    return body


async def reload_schema(ctx: AppContext, principal: Principal,
                        db_ref: str | None) -> int:
    """Read the schema again now; answers the number of tables and views."""
    target = await _target(ctx, db_ref, principal)
    schema = await _schema(ctx, target, refresh=True)
    return sum(1 for name in schema.tables if _readable(principal, target, name))


def forget_database(ctx: AppContext, db_id: str) -> None:
    """Drop the cached schema of a database (after a schema change made through dbplane)."""
    _cache(ctx).drop(db_id)


# -- what the OpenAPI document of one database's tables describes ------------------------


@dataclass(frozen=True)
class ReadableTables:
    """The tables of one database a caller may read, from its live schema."""

    resource_id: str
    version: str
    tables: list[TableInfo]


async def readable_tables(ctx: AppContext, principal: Principal,
                          db_ref: str | None) -> ReadableTables:
    """The live schema's tables and views ``principal`` may read, sorted by name."""
    target = await _target(ctx, db_ref, principal)
    schema = await _schema(ctx, target, refresh=await _changed_behind_our_back(ctx, target))
    return ReadableTables(
        resource_id=target.row.resource_id, version=schema.version,
        tables=[schema.tables[name] for name in sorted(schema.tables)
                if _readable(principal, target, name)])
