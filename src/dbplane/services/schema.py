"""Schema as code: a database's schema as a snapshot, the diff to another one, and its apply.

This module decides: which database (SQL only), whether a snapshot may be compared (same
vendor and version unless forced), whether a diff still fits the schema (its hash), and
keeps Directus' ``meta`` of collections, fields and relations in the metadata store so it
comes back in the next snapshot. The snapshot model and the differ are ``dbplane.schema``;
reading and changing the database is ``dbplane.engines.sql.schema``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dbplane import __version__
from dbplane.engines import has_part, types_with
from dbplane.engines.sql.engine import SqlEngine
from dbplane.engines.sql.schema import LiveSchema, apply_plan, read_schema, render_sql
from dbplane.errors import (
    SchemaParameterInvalid,
    SnapshotMismatch,
    StaleSchemaHash,
    Unsupported,
)
from dbplane.meta import queries as mq
from dbplane.meta.records import DatabaseRecord
from dbplane.schema import (
    FORMAT_VERSION,
    complete,
    diff,
    is_empty,
    normalize,
    parse_apply_body,
    patch,
    plan,
    schema_hash,
    table_specs,
)
from dbplane.schema.plan import Change
from dbplane.schema.types import STORED_AS, column_type
from dbplane.services.context import AppContext, now_ms
from dbplane.services.databases import DEFAULT_RESOURCE_ID, resolve_database
from dbplane.services.tables import forget_database

__all__ = ["DiffAnswer", "apply", "current_snapshot", "diff_snapshot", "snapshot"]


@dataclass(frozen=True)
class _Target:
    row: DatabaseRecord
    engine: SqlEngine

    @property
    def vendor(self) -> str:
        return self.engine.snapshot_vendor


@dataclass(frozen=True)
class DiffAnswer:
    """``hash`` and ``diff`` (Directus' shape), or ``sql`` when asked for it."""

    hash: str
    diff: dict[str, Any]
    sql: str | None = None


async def _target(ctx: AppContext, db_ref: str | None) -> _Target:
    row = await resolve_database(ctx, db_ref or DEFAULT_RESOURCE_ID)
    engine = await ctx.connections.engine_for(row)
    if not has_part(engine, "schema") or not isinstance(engine, SqlEngine):
        raise Unsupported(f"schema snapshots apply to SQL databases ("
                          f"{', '.join(types_with('schema'))}); {row.resource_id!r} is "
                          f"a {row.type_name} database",
                          database=row.resource_id, type_name=row.type_name)
    return _Target(row=row, engine=engine)


def _lock(ctx: AppContext, db_id: str) -> asyncio.Lock:
    locks: dict[str, asyncio.Lock] = ctx.extensions.setdefault("schema.locks", {})
    return locks.setdefault(db_id, asyncio.Lock())


# -- metadata -----------------------------------------------------------------------------


async def _meta_rows(ctx: AppContext, db_id: str) -> list[dict[str, Any]]:
    async with ctx.meta.connect() as conn:
        return await mq.schema_meta_rows(conn, db_id)


def _merge(target: _Target, live: LiveSchema, rows: list[dict[str, Any]]) -> dict[str, Any]:
    meta = {(r["kind"], r["collection"], r["field"]): r for r in rows}

    def with_meta(obj: dict[str, Any], key: tuple[str, str, str]) -> dict[str, Any]:
        row = meta.get(key)
        return {**obj, "meta": row["meta"] if row else None}

    collections = [with_meta(c, ("collection", c["collection"], ""))
                   for c in live.collections]
    names = {c["collection"] for c in collections}
    for r in rows:
        if r["kind"] == "collection" and r["alias"] is not None and \
                r["collection"] not in names:
            collections.append({**r["alias"], "collection": r["collection"],
                                "meta": r["meta"], "schema": None})
            names.add(r["collection"])
    fields = [_stored_type(with_meta(f, ("field", f["collection"], f["field"])),
                           meta.get(("field", f["collection"], f["field"])))
              for f in live.fields]
    columns = {(f["collection"], f["field"]) for f in fields}
    for r in rows:
        if r["kind"] == "field" and r["alias"] is not None and r["collection"] in names \
                and "column_type" not in r["alias"] \
                and (r["collection"], r["field"]) not in columns:
            fields.append({**r["alias"], "collection": r["collection"], "field": r["field"],
                           "meta": r["meta"], "schema": None})
    relations = [with_meta(x, ("relation", x["collection"], x["field"]))
                 for x in live.relations]
    related = {(x["collection"], x["field"]) for x in relations}
    for r in rows:
        if r["kind"] == "relation" and r["alias"] is not None and r["collection"] in names \
                and (r["collection"], r["field"]) not in related:
            relations.append({**r["alias"], "collection": r["collection"],
                              "field": r["field"], "meta": r["meta"], "schema": None})
    return normalize({"version": FORMAT_VERSION, "dbplane": __version__,
                      "vendor": target.vendor, "collections": collections,
                      "fields": fields, "relations": relations})


def _stored_type(field: dict[str, Any], row: dict[str, Any] | None) -> dict[str, Any]:
    """A field of a Directus type stored as another (``hash`` is a string column, ``csv``
    a text one) reads back as the type it was applied with, while its column still is
    of that kind."""
    stored = (row or {}).get("alias") or {}
    name = stored.get("column_type")
    if not isinstance(name, str) or name == field["type"] or field["schema"] is None:
        return field
    was, now = column_type(name, field["schema"]), column_type(field["type"],
                                                                field["schema"])
    if was is None or now is None or was.kind != now.kind:
        return field
    return {**field, "type": name}


def _rows_of(snapshot: dict[str, Any]) -> Iterable[tuple[str, str, str, Any, Any]]:
    """(kind, collection, field, meta, alias) of what the store keeps of a snapshot."""
    for c in snapshot["collections"]:
        alias = None if c["schema"] is not None else {
            k: v for k, v in c.items() if k not in ("meta", "schema")}
        if c["meta"] is not None or alias is not None:
            yield "collection", c["collection"], "", c["meta"], alias
    for f in snapshot["fields"]:
        alias = {"column_type": f["type"]} if f["type"] in STORED_AS else None
        if f["schema"] is None:
            alias = {k: v for k, v in f.items() if k not in ("meta", "schema")}
        if f["meta"] is not None or alias is not None:
            yield "field", f["collection"], f["field"], f["meta"], alias
    for r in snapshot["relations"]:
        alias = None if r["schema"] is not None else {
            k: v for k, v in r.items() if k not in ("meta", "schema")}
        if r["meta"] is not None or alias is not None:
            yield "relation", r["collection"], r["field"], r["meta"], alias


async def _store_meta(ctx: AppContext, db_id: str, snapshot: dict[str, Any]) -> None:
    now = now_ms()
    values = [{"database_id": db_id, "kind": kind, "collection": collection,
               "field": field, "meta": meta, "alias": alias, "updated_at": now}
              for kind, collection, field, meta, alias in _rows_of(snapshot)]
    async with ctx.meta.begin() as conn:
        await mq.replace_schema_meta(conn, db_id, values)


async def _current(ctx: AppContext, target: _Target) -> tuple[dict[str, Any], LiveSchema]:
    live = await read_schema(target.engine)
    rows = await _meta_rows(ctx, target.row.id)
    return _merge(target, live, rows), live


# -- the three endpoints -------------------------------------------------------------------


def _names(values: list[str] | None) -> set[str] | None:
    if not values:
        return None
    return {n.strip() for v in values for n in v.split(",") if n.strip()}


async def current_snapshot(ctx: AppContext, db_ref: str | None) -> dict[str, Any]:
    target = await _target(ctx, db_ref)
    return (await _current(ctx, target))[0]


async def snapshot(ctx: AppContext, db_ref: str | None, *,
                   include: list[str] | None = None,
                   exclude: list[str] | None = None) -> dict[str, Any]:
    """The schema of the database with its metadata, scoped by collection names."""
    inc, exc = _names(include), _names(exclude)
    if inc is not None and exc is not None:
        raise SchemaParameterInvalid("give includeCollections or excludeCollections, not "
                                     "both", parameter="includeCollections")
    snap = await current_snapshot(ctx, db_ref)
    if inc is None and exc is None:
        return snap

    def keep(name: str) -> bool:
        return (name in inc) if inc is not None else (name not in (exc or set()))

    for key in ("collections", "fields", "relations"):
        snap[key] = [o for o in snap[key] if keep(o["collection"])]
    return snap


def _check_compatible(target: _Target, incoming: dict[str, Any]) -> None:
    if incoming.get("version") != FORMAT_VERSION:
        raise SnapshotMismatch(
            f"the snapshot is of format version {incoming.get('version')!r}, dbplane "
            f"reads {FORMAT_VERSION}; pass force=true to diff it anyway", field="version",
            value=incoming.get("version"))
    vendor = incoming.get("vendor")
    if vendor != target.vendor:
        raise SnapshotMismatch(
            f"the snapshot is of vendor {vendor!r} and the database is {target.vendor!r}; "
            "pass force=true to diff it anyway", field="vendor", value=vendor,
            expected=target.vendor)
    version = incoming.get("dbplane")
    if version is not None and version != __version__:
        raise SnapshotMismatch(
            f"the snapshot was taken by dbplane {version}, this is {__version__}; pass "
            "force=true to diff it anyway", field="dbplane", value=version,
            expected=__version__)


async def diff_snapshot(ctx: AppContext, db_ref: str | None, document: Any, *,
                        force: bool = False, sql: bool = False) -> DiffAnswer | None:
    """What turns the database's schema into the snapshot (None: nothing); with ``sql``,
    also the SQL the apply would run."""
    target = await _target(ctx, db_ref)
    incoming = normalize(document)
    if not force:
        _check_compatible(target, incoming)
    table_specs(incoming)  # tables, columns and relations that hold together
    current, live = await _current(ctx, target)
    changes = diff(current, complete(incoming, current))
    if is_empty(changes):
        return None
    steps = plan(current, patch(current, changes))  # a plan that can be run, or 422
    text = await render_sql(target.engine, steps, live) if sql else None
    return DiffAnswer(hash=schema_hash(current), diff=changes, sql=text)


async def apply(ctx: AppContext, db_ref: str | None, document: Any) -> list[Change]:
    """Apply ``{hash, diff}`` when the hash is the current schema's; answers the changes
    made. Refused (nothing changed): a stale hash (409), a diff that does not fit (422)."""
    target = await _target(ctx, db_ref)
    expected, changes = parse_apply_body(document)
    db_id = target.row.id
    async with _lock(ctx, db_id):
        current, live = await _current(ctx, target)
        if schema_hash(current) != expected:
            raise StaleSchemaHash("the schema changed since this diff was computed (its hash "
                                  "is not the current one): diff again, then apply",
                                  hash=expected)
        wanted = patch(current, changes)
        steps = plan(current, wanted)
        try:
            await apply_plan(target.engine, steps, live)
        except StaleSchemaHash as exc:  # another replica's apply, seen under the lock
            exc.fields.setdefault("hash", expected)
            raise
        finally:
            if steps:
                forget_database(ctx, db_id)
        await _store_meta(ctx, db_id, wanted)
    return steps
