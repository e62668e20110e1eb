"""Databases: register, create, describe, update and unregister the databases dbplane serves.

The public object has every attribute of the Scalingo seed, with values read live:
``status`` from a health check, ``readable_version`` from the server itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbplane.engines import (
    Engine,
    Health,
    create_engine_for,
    embedded_class,
    engine_class,
    parse_database_url,
    redact_url,
)
from dbplane.engines.registry import types_with
from dbplane.errors import (
    DatabaseExists,
    DatabaseNotFound,
    DeploymentConflict,
    InvalidDatabaseUrl,
    InvalidField,
    NotManaged,
    ProtectedDatabase,
)
from dbplane.meta import backups_queries as bq
from dbplane.meta import managed_queries as mgq
from dbplane.meta import queries as q
from dbplane.meta.records import DatabaseMode, DatabaseRecord
from dbplane.services import managed, managed_config, managed_features
from dbplane.services.auth import Principal
from dbplane.services.context import AppContext, now_ms
from dbplane.services.database_models import (
    DEFAULT_RESOURCE_ID,
    DatabaseCreate,
    DatabasePublic,
    DatabaseUpdate,
    FeaturePublic,
    InstancePublic,
    LastVerifiedBackup,
    ManagedPublic,
)
from dbplane.services.operations import OperationRecord, active_operations, start_operation
from dbplane.services.versions import next_of, survey

__all__ = [
    "DEFAULT_RESOURCE_ID",
    "DatabaseCreate",
    "DatabasePublic",
    "DatabaseUpdate",
    "FeaturePublic",
    "InstancePublic",
    "create_database",
    "delete_database",
    "ensure_default_database",
    "get_database",
    "list_databases",
    "provision_database",
    "resolve_database",
    "update_database",
]

from dbplane.services.database_models import (
    hours as _hours,
)


def _stable_id(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:24]


def type_id_of(type_name: str) -> str:
    """The database type's stable id (Scalingo's ``type_id``)."""
    return _stable_id("type", type_name)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


async def _describe(ctx: AppContext, row: DatabaseRecord) -> DatabasePublic:
    view = await managed.managed_view(ctx, row) if row.mode == "managed" else None
    engine = await ctx.connections.engine_for(row)
    timeout = ctx.settings.health_timeout_seconds
    if view is not None and view.state != "running":
        health = Health("unreachable", view.detail)  # no round trip to a server not up
    else:
        health = await engine.health()
        if view is not None and not health.ok:
            # a server restarted by another replica leaves this process's pool with
            # dead connections: try once on a new pool before calling it unreachable
            await ctx.connections.drop(row.id)
            engine = await ctx.connections.engine_for(row)
            health = await engine.health()
    version: str | None = None
    features: list[dict[str, str]] = []
    if health.ok:
        try:
            version, features = await asyncio.wait_for(
                asyncio.gather(engine.version(), engine.features()), timeout)
        except Exception:  # a server that answered ping but not this: report what we have
            version, features = None, []
    url = ctx.secrets.decrypt(row.url_secret)
    return DatabasePublic(
        id=row.id,
        resource_id=row.resource_id,
        app_name=row.app_name,
        created_at=_iso(row.created_at),
        # dbplane does not encrypt data files; a server's own encryption is not visible
        encryption_at_rest=False,
        plan=row.plan,
        status=await _busy_status(ctx, row.id) or (
            view.state if view is not None and view.state != "running" else
            "running" if health.ok else "unreachable"),
        status_detail=health.detail,
        type_id=type_id_of(row.type_name),
        type_name=row.type_name,
        **await _version_ids(view, row.type_name, version),
        readable_version=version,
        instances=[
            InstancePublic(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL,
                                  f"dbplane:{row.id}:{inst.hostname}:{inst.port}")),
                hostname=inst.hostname, port=inst.port,
                status=(view.state if view is not None and view.state != "running"
                        else "running" if health.ok else "unreachable"), type="db-node")
            for inst in engine.instances()
        ],
        features=[FeaturePublic.model_validate(f) for f in (
            managed_features.stored(view.record.features, features) if view is not None
            else features)],
        periodic_backups_enabled=row.periodic_backups_enabled,
        periodic_backups_scheduled_at=list(row.periodic_backups_scheduled_at),
        restore_drills_enabled=row.restore_drills_enabled,
        last_verified_backup=await _last_verified(ctx, row.id),
        mode=row.mode,
        url=redact_url(url),
        **_managed_fields(view),
    )


async def _last_verified(ctx: AppContext, db_id: str) -> LastVerifiedBackup | None:
    async with ctx.meta.connect() as conn:
        row = await bq.last_verified_backup(conn, db_id)
    if row is None or row.verified_at is None:
        return None
    return LastVerifiedBackup(
        id=row.id, verified_at=datetime.fromtimestamp(row.verified_at / 1000, tz=UTC)
        .isoformat(timespec="milliseconds"),
        status=(row.verification or {}).get("status", "failed"))


def _managed_fields(view: managed.ManagedView | None) -> dict[str, Any]:
    if view is None:
        return {}
    rec = view.record
    return {
        "managed": ManagedPublic(data_directory=rec.directory, port=rec.port, pid=rec.pid,
                                 auto_restart=rec.auto_restart, restarts=rec.restarts),
        "config": view.config,
        "pending_restart_reason": rec.pending,
        "service_deployment_status": "OUT_OF_DATE" if rec.pending else "UP_TO_DATE",
    }


_BUSY_STATUSES = {"backup": "backing-up", "restore": "restoring",
                  "managed.pitr_restore": "restoring", "managed.upgrade": "upgrading",
                  "managed.upgrade_rollback": "upgrading"}


async def _version_ids(view: managed.ManagedView | None, type_name: str,
                       version: str | None) -> dict[str, str | None]:
    """A managed server's build and the next one; else an id of the reported version."""
    if view is not None:
        current, newer = await survey(view.server, view.plan)
        if current is not None:
            following = next_of(current, newer)
            return {"version_id": current.id,
                    "next_version_id": following.id if following else None}
    return {"version_id": _stable_id("version", type_name, version) if version else None,
            "next_version_id": None}


async def _busy_status(ctx: AppContext, db_id: str) -> str | None:
    """``backing-up`` or ``restoring`` while a backup or restore operation is pending or
    running."""
    for op in await active_operations(ctx, db_id):
        if op.type in _BUSY_STATUSES:
            return _BUSY_STATUSES[op.type]
    return None


async def resolve_database(ctx: AppContext, ref: str) -> DatabaseRecord:
    """The metadata record of the database whose id or resource_id is ``ref``."""
    async def lookup() -> DatabaseRecord | None:
        async with ctx.meta.connect() as conn:
            return await q.get_database_by_ref(conn, ref)

    row = await ctx.database_rows.load(ref, lookup)
    if row is None:
        raise DatabaseNotFound(ref)
    return row


async def list_databases(ctx: AppContext, principal: Principal) -> list[DatabasePublic]:
    """Every database the caller may see, each checked live (concurrently)."""
    async with ctx.meta.connect() as conn:
        rows = await q.list_databases(conn)
    rows = [r for r in rows if principal.sees_database(r.id, r.resource_id)]
    return list(await asyncio.gather(*(_describe(ctx, r) for r in rows)))


async def get_database(ctx: AppContext, principal: Principal, ref: str) -> DatabasePublic:
    row = await resolve_database(ctx, ref)
    if not principal.sees_database(row.id, row.resource_id):
        raise DatabaseNotFound(ref)
    return await _describe(ctx, row)


def _forbidden_paths(ctx: AppContext) -> set[Path]:
    s = ctx.settings
    return {p.resolve() for p in (s.meta_file, s.key_file)}


def _same_file(path: Path, forbidden: set[Path]) -> bool:
    """Whether ``path`` is one of the ``forbidden`` files (or their journals) by identity:
    another name for it (a hard link) is the same file."""
    if not path.exists():
        return False
    names = [f.with_name(f.name + suffix) for f in forbidden
             for suffix in ("", "-wal", "-shm", "-journal")]
    return any(n.exists() and os.path.samefile(path, n) for n in names)


async def _checked_url(ctx: AppContext, raw: str, type_name: str | None) -> tuple[str, Engine]:
    """Parse the URL, refuse what must not be served, and check the connection."""
    url = parse_database_url(raw)
    if type_name is not None and type_name != url.type_name:
        raise InvalidField(f"type_name is {type_name!r} but the url is a {url.type_name} "
                           "URL", field="type_name", value=type_name)
    local = engine_class(url.type_name).local_file(url)
    if local is not None:
        path = local.resolve()
        forbidden = _forbidden_paths(ctx)
        if path in forbidden or any(str(path).startswith(str(f) + "-") for f in forbidden) \
                or _same_file(path, forbidden):
            raise InvalidDatabaseUrl("that file is dbplane's own metadata store; it is never "
                                     "served", url=redact_url(raw))
    engine = create_engine_for(url, timeout=ctx.settings.health_timeout_seconds)
    try:
        await engine.connect()
    finally:
        await engine.close()
    return url.type_name, engine


async def create_database(ctx: AppContext, body: DatabaseCreate) -> DatabasePublic:
    """Register an external database (its connection checked first) or create an embedded
    SQLite one. Raises DatabaseExists, InvalidField, InvalidDatabaseUrl or a
    ConnectionCheckFailed that names what is wrong."""
    async with ctx.meta.connect() as conn:
        if await q.get_database_by_ref(conn, body.resource_id) is not None:
            raise DatabaseExists(body.resource_id)
    if body.mode == "managed":
        raise InvalidField("a managed database is provisioned by an operation: use "
                           "provision_database", field="mode", value="managed")
    if body.mode == "embedded" and body.url is not None:
        raise InvalidField("an embedded database takes no url", field="url", value=None)
    if body.mode == "external" and body.url is None:
        raise InvalidField("an external database needs its url", field="url", value=None)
    if body.url is None:
        embedded = embedded_class()
        if body.type_name not in (None, embedded.type_name):
            raise InvalidField(f"a {body.type_name} database needs a url: dbplane registers "
                               f"external servers by URL; only {embedded.label} databases "
                               "are created embedded", field="url", value=None)
        url = _embedded_url(ctx, body.resource_id)
        _set_aside(embedded.local_file(parse_database_url(url)))
        return await _insert(ctx, body, type_name=embedded.type_name, mode="embedded",
                             url=url)
    type_name, _ = await _checked_url(ctx, body.url, body.type_name)
    return await _insert(ctx, body, type_name=type_name, mode="external", url=body.url)


async def provision_database(ctx: AppContext, body: DatabaseCreate,
                             created_by: str | None) -> OperationRecord:
    """Provision a managed database: its record now (status ``creating``), its server by
    the ``managed.provision`` operation answered. Raises DatabaseExists, InvalidField
    (a url or no type), Unsupported (a type dbplane does not run) or ManagedDirUnusable
    (a directory the server's user cannot reach), each before anything is created."""
    if body.url is not None:
        raise InvalidField("a managed database's url is dbplane's to choose; omit it",
                           field="url", value=None)
    if body.type_name is None:
        raise InvalidField("a managed database needs its type_name (one of "
                           + ", ".join(types_with("managed")) + ")",
                           field="type_name", value=None)
    managed.check_can_manage(ctx, body.type_name)
    async with ctx.meta.connect() as conn:
        if await q.get_database_by_ref(conn, body.resource_id) is not None:
            raise DatabaseExists(body.resource_id)
    db_id = secrets.token_hex(12)
    record, url = managed.new_server(ctx, db_id, body.type_name, body.resource_id)
    stamp = now_ms()
    row = DatabaseRecord(
        id=db_id, resource_id=body.resource_id, app_name=body.app_name or body.resource_id,
        type_name=body.type_name, mode="managed", plan="managed",
        url_secret=ctx.secrets.encrypt(url), protected=False,
        periodic_backups_enabled=body.periodic_backups_enabled,
        restore_drills_enabled=body.restore_drills_enabled,
        periodic_backups_scheduled_at=tuple(_hours(body.periodic_backups_scheduled_at) or ()),
        created_at=stamp, updated_at=stamp)
    async with ctx.meta.begin() as conn:
        await q.insert_database(conn, row)
        await mgq.insert_managed_server(conn, record)
    ctx.database_rows.clear()
    return await start_operation(ctx, "managed.provision", database_id=db_id,
                                 params={"resource_id": body.resource_id},
                                 created_by=created_by)


def _set_aside(path: Path | None) -> None:
    """A new embedded database starts empty: the file of an unregistered one with the
    same resource_id (unregistering never deletes data) is renamed
    ``<name>.unregistered-<ms>`` with its journals, never served again."""
    if path is None or not path.exists():
        return
    stamp = now_ms()
    for suffix in ("", "-wal", "-shm", "-journal"):
        old = path.with_name(path.name + suffix)
        if old.exists():
            old.rename(path.with_name(f"{path.name}.unregistered-{stamp}{suffix}"))


def _embedded_url(ctx: AppContext, resource_id: str) -> str:
    return embedded_class().embedded_url(ctx.settings.embedded_dir, resource_id)


async def _insert(ctx: AppContext, body: DatabaseCreate, *, type_name: str,
                  mode: DatabaseMode, url: str, protected: bool = False) -> DatabasePublic:
    if mode == "embedded":
        engine = create_engine_for(parse_database_url(url),
                                   timeout=ctx.settings.health_timeout_seconds, create=True)
        try:
            await engine.connect()
        finally:
            await engine.close()
    stamp = now_ms()
    row = DatabaseRecord(
        id=secrets.token_hex(12),
        resource_id=body.resource_id,
        app_name=body.app_name or body.resource_id,
        type_name=type_name,
        mode=mode,
        plan=mode,
        url_secret=ctx.secrets.encrypt(url),
        protected=protected,
        periodic_backups_enabled=body.periodic_backups_enabled,
        restore_drills_enabled=body.restore_drills_enabled,
        # the validator made it a sorted list (or None); this only narrows its type
        periodic_backups_scheduled_at=tuple(_hours(body.periodic_backups_scheduled_at) or ()),
        created_at=stamp,
        updated_at=stamp,
    )
    async with ctx.meta.begin() as conn:
        await q.insert_database(conn, row)
    return await _describe(ctx, row)


async def update_database(ctx: AppContext, ref: str, body: DatabaseUpdate) -> DatabasePublic:
    """Change settings; a new url is checked before it is saved."""
    row = await resolve_database(ctx, ref)
    values: dict[str, Any] = body.model_dump(exclude_unset=True, exclude_none=True)
    config = values.pop("config", None)
    auto_restart = values.pop("auto_restart", None)
    if (config is not None or auto_restart is not None) and row.mode != "managed":
        raise NotManaged(f"the database {row.resource_id!r} is {row.mode}: dbplane does "
                         "not run its server, so it has no config to set",
                         database=row.resource_id)
    if "periodic_backups_scheduled_at" in body.model_fields_set and not values.get(
            "periodic_backups_scheduled_at"):
        values["periodic_backups_scheduled_at"] = []  # null or [] clears the schedule
    if "url" in values:
        if row.mode == "embedded":
            raise InvalidField("an embedded database's file is managed by dbplane; its url "
                               "cannot change", field="url", value=None)
        if row.mode == "managed":
            raise InvalidField("a managed database's url is dbplane's own; it cannot "
                               "change", field="url", value=None)
        await _checked_url(ctx, values["url"], row.type_name)
        values["url_secret"] = ctx.secrets.encrypt(values.pop("url"))
    if config:
        await managed_config.set_config(ctx, row, {k: str(v) for k, v in config.items()})
    if auto_restart is not None:
        async with ctx.meta.begin() as conn:
            await mgq.update_managed_server(conn, row.id, {"auto_restart": auto_restart})
    if not values:
        return await _describe(ctx, row)
    values["updated_at"] = now_ms()
    async with ctx.meta.begin() as conn:
        await q.update_database(conn, row.id, values)
        updated = await q.get_database_by_ref(conn, row.id)
    ctx.database_rows.clear()
    assert updated is not None
    return await _describe(ctx, updated)


async def delete_database(ctx: AppContext, ref: str, *, purge: bool = False) -> str | None:
    """Unregister a database. An external server is left as it is and an embedded file
    stays on disk; a managed server is stopped and its files removed only with ``purge``.
    Answers the data directory kept (a managed database without ``purge``), else None."""
    row = await resolve_database(ctx, ref)
    if row.protected:
        raise ProtectedDatabase(f"the database {row.resource_id!r} is the one dbplane "
                                "serves by default; it cannot be removed",
                                database=row.resource_id)
    kept = None
    if row.mode == "managed":
        for op in await active_operations(ctx, row.id):
            if op.type in ("managed.provision", "deployment"):
                raise DeploymentConflict(
                    f"operation {op.id} ({op.type}) is {op.status} on {row.resource_id!r}; "
                    "delete it once that ends", database=row.resource_id,
                    operation_id=op.id)
        async with ctx.meta.begin() as conn:  # the supervisor must not restart it
            await mgq.update_managed_server(conn, row.id, {"desired": "stopped"})
        kept = await managed.delete_server(ctx, row, purge=purge)
    async with ctx.meta.begin() as conn:
        await q.delete_database(conn, row.id)
    ctx.database_rows.clear()
    await ctx.connections.drop(row.id)
    return kept


async def ensure_default_database(ctx: AppContext) -> None:
    """Create the ``default`` database on first start: an embedded SQLite file, or the
    database at ``DBPLANE_DEFAULT_URL`` when that is set (for replicas)."""
    async with ctx.meta.connect() as conn:
        if await q.get_database_by_ref(conn, DEFAULT_RESOURCE_ID) is not None:
            return
    body = DatabaseCreate(resource_id=DEFAULT_RESOURCE_ID, app_name=socket.gethostname())
    default_url = ctx.settings.default_url
    try:
        if default_url is None:
            await _insert(ctx, body, type_name=embedded_class().type_name, mode="embedded",
                          url=_embedded_url(ctx, DEFAULT_RESOURCE_ID), protected=True)
        else:
            raw = default_url.get_secret_value()
            type_name, _ = await _checked_url(ctx, raw, None)
            await _insert(ctx, body, type_name=type_name, mode="external", url=raw,
                          protected=True)
    except DatabaseExists:  # another replica created it first
        return
