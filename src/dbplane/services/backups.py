"""Backups: manual and periodic backups, uploaded archives, restore, retention.

A backup or a restore is an operation (types ``backup`` and ``restore``, one conflict
group ``data``: on one database they never overlap). A backup row is created ``pending``
when its operation starts, becomes ``running``, then ``done`` with its archive, size and
SHA-256, or ``error`` (its temporary file removed: an archive exists only for ``done``).
A row whose operation ended without finishing it (the process was killed) is settled to
``error`` the next time it is read, or by the scheduler.

The scheduler (a periodic task, every 30 s in every process) starts the backup of
each scheduled UTC hour once: the (database, hour) claim is a primary key in the metadata
store, so of several replicas exactly one inserts it. Only the latest scheduled hour is
considered, so an hour missed while dbplane was down is caught up once at the next start;
an hour that passed before the database's settings last changed is not due. A claim left
without its backup for two minutes (the process that made it died before starting the
backup) is taken over by the next pass of any replica, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from dbplane.engines.backups import (
    Archive,
    ArchiveWriter,
    adapter_for,
    make_backup,
    verify_checksum,
)
from dbplane.errors import (
    ArchiveChecksumMismatch,
    ArchiveInvalid,
    BackupInUse,
    BackupNotFound,
    BackupNotReady,
    DatabaseNotFound,
    DbplaneError,
)
from dbplane.meta import backups_queries as bq
from dbplane.meta import queries as mq
from dbplane.meta.records import BackupRecord, DatabaseRecord
from dbplane.services import backup_drills as drills
from dbplane.services import tables as tables_svc
from dbplane.services.context import AppContext, now_ms
from dbplane.services.databases import resolve_database
from dbplane.services.operations import (
    OperationContext,
    OperationRecord,
    active_operations,
    get_operation,
    start_operation,
)

__all__ = [
    "BackupPublic",
    "archive_of",
    "create_backup",
    "delete_backup",
    "get_backup",
    "list_backups",
    "restore_backup",
    "run_backup",
    "run_restore",
    "settle_backups",
    "upload_backup",
]

log = logging.getLogger("dbplane.backups")

_UNFINISHED = ("pending", "running")
# a pending row whose operation never got recorded (the process died in between)
_ORPHAN_AFTER_MS = 60_000


class BackupError(BaseModel):
    code: str
    message: str


class BackupPublic(BaseModel):
    """A backup, as the Scalingo backup object, plus its checksum and operation."""

    id: str
    database_id: str
    name: str
    created_at: str = Field(description="RFC 3339, UTC")
    started_at: str | None
    finished_at: str | None
    status: Literal["pending", "running", "done", "error"]
    method: Literal["manual", "periodic", "upload"]
    type: str = Field(description="the database type the archive restores into")
    format: str = Field(description="sqlite, pg-custom, sql or rdb")
    size: int | None = Field(description="bytes of the archive; null until done")
    checksum: str | None = Field(description="sha256:<hex> of the archive; null until done")
    direct: bool = Field(False, description="as in Scalingo: false (dbplane keeps the "
                         "archive itself)")
    operation_id: str | None
    error: BackupError | None
    verified_at: str | None = Field(None, description="RFC 3339: when the last restore "
                                    "drill of this backup ended; null if never drilled")
    verification: dict[str, Any] | None = Field(
        None, description="the last restore drill: {status: passed|failed, differences: "
        "[{name, problem, expected, found}]}")


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _public(row: BackupRecord) -> BackupPublic:
    return BackupPublic(
        id=row.id, database_id=row.database_id, name=row.name,
        created_at=_iso(row.created_at) or "", started_at=_iso(row.started_at),
        finished_at=_iso(row.finished_at), status=row.status, method=row.method,
        type=row.type_name, format=row.format, size=row.size,
        checksum=row.checksum, operation_id=row.operation_id,
        error=BackupError.model_validate(row.error) if row.error else None,
        verified_at=_iso(row.verified_at), verification=row.verification)


def _archive_path(ctx: AppContext, row: BackupRecord) -> Path:
    assert row.archive is not None  # asked only of a backup with an archive
    path: Path = ctx.settings.backups_dir / row.database_id / row.archive
    return path


def _planned_path(ctx: AppContext, row: BackupRecord) -> Path:
    extension = adapter_for(row.type_name).extension
    path: Path = ctx.settings.backups_dir / row.database_id / f"{row.id}.{extension}"
    return path


def _error(exc: BaseException) -> dict[str, str]:
    if isinstance(exc, DbplaneError):
        return {"code": exc.code, "message": exc.detail}
    if isinstance(exc, asyncio.CancelledError):
        return {"code": "DBP-O401", "message": "the backup was stopped before it ended"}
    return {"code": DbplaneError.code, "message": f"internal error: {type(exc).__name__}"}


def _remove_files(ctx: AppContext, row: BackupRecord) -> None:
    planned = _planned_path(ctx, row)
    for path in (planned, planned.with_name(planned.name + ".tmp")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    if row.archive:
        with contextlib.suppress(FileNotFoundError):
            _archive_path(ctx, row).unlink()


# -- reading -------------------------------------------------------------------------


async def settle_backups(ctx: AppContext, rows: list[BackupRecord]
                         ) -> list[BackupRecord]:
    """Mark ``error`` the unfinished backups whose operation has ended (a killed process)
    and remove their temporary files; answers the rows as they are now."""
    out = []
    for row in rows:
        if row.status in _UNFINISHED:
            ended: dict[str, Any] | None = None
            if row.operation_id is not None:
                with contextlib.suppress(DbplaneError):
                    op = await get_operation(ctx, row.operation_id)
                    if op.status not in ("pending", "running"):
                        ended = op.error or {"code": DbplaneError.code, "message":
                                             "the operation ended without the backup"}
            elif now_ms() - row.created_at > _ORPHAN_AFTER_MS:
                ended = {"code": DbplaneError.code,
                         "message": "the backup never started (dbplane stopped)"}
            if ended is not None:
                # the files go first: whoever reads ``error`` (another request, the
                # periodic pass) finds none left behind
                await asyncio.to_thread(_remove_files, ctx, replace(row, archive=None))
                settled = replace(row, status="error", error=ended, finished_at=now_ms())
                async with ctx.meta.begin() as conn:
                    await bq.update_backup(conn, row.id, {
                        "status": settled.status, "error": settled.error,
                        "finished_at": settled.finished_at}, only_if_status=_UNFINISHED)
                row = settled
        out.append(row)
    return out


async def list_backups(ctx: AppContext, ref: str) -> list[BackupPublic]:
    """A database's backups, newest first."""
    db = await resolve_database(ctx, ref)
    async with ctx.meta.connect() as conn:
        rows = await bq.list_backups(conn, db.id)
    return [_public(r) for r in await settle_backups(ctx, rows)]


async def _backup_row(ctx: AppContext, db: DatabaseRecord, backup_id: str) -> BackupRecord:
    async with ctx.meta.connect() as conn:
        row = await bq.get_backup(conn, db.id, backup_id)
    if row is None:
        raise BackupNotFound(backup_id, db.resource_id)
    return (await settle_backups(ctx, [row]))[0]


async def get_backup(ctx: AppContext, ref: str, backup_id: str) -> BackupPublic:
    """One backup; BackupNotFound (404)."""
    db = await resolve_database(ctx, ref)
    return _public(await _backup_row(ctx, db, backup_id))


async def archive_of(ctx: AppContext, ref: str, backup_id: str) -> tuple[Path, str, str]:
    """The archive file of a done backup, the file name to offer and its checksum;
    BackupNotReady (409) for a backup that has none."""
    db = await resolve_database(ctx, ref)
    row = await _backup_row(ctx, db, backup_id)
    if row.status != "done" or not row.archive:
        raise BackupNotReady(f"the backup {backup_id!r} is {row.status}: it has no "
                             "archive", backup=backup_id, state=row.status)
    path = _archive_path(ctx, row)
    if not path.is_file():
        raise BackupNotReady(f"the archive of backup {backup_id!r} is missing from "
                             f"{ctx.settings.backups_dir}", backup=backup_id)
    assert row.checksum is not None  # recorded with the archive
    return path, f"{row.name}.{path.suffix.lstrip('.')}", row.checksum


# -- creating ------------------------------------------------------------------------


def _name(db: DatabaseRecord, stamp: int) -> str:
    when = datetime.fromtimestamp(stamp / 1000, tz=UTC).strftime("%Y%m%d%H%M%S")
    return f"{when}_{db.resource_id}"


async def create_backup(ctx: AppContext, ref: str, *, created_by: str | None,
                        method: Literal["manual", "periodic"] = "manual",
                        slot: int | None = None) -> OperationRecord:
    """Start a backup of the database; answers its operation (the backup's id is in
    ``params.backup_id``). OperationConflict (409) while a backup or restore runs on it;
    Unsupported for a type without backups."""
    db = await resolve_database(ctx, ref)
    adapter = adapter_for(db.type_name)
    stamp = now_ms()
    row = BackupRecord(
        id=secrets.token_hex(12), database_id=db.id, name=_name(db, stamp),
        method=method, status="pending", type_name=db.type_name,
        format=adapter.format, archive=None, size=None, checksum=None,
        operation_id=None, error=None, created_at=stamp, started_at=None,
        finished_at=None,
    )
    async with ctx.meta.begin() as conn:
        await bq.insert_backup(conn, row)
    params: dict[str, Any] = {"backup_id": row.id, "method": method}
    if slot is not None:
        params["slot"] = slot
    try:
        op = await start_operation(ctx, "backup", database_id=db.id, params=params,
                                   created_by=created_by)
    except BaseException:
        async with ctx.meta.begin() as conn:
            await bq.delete_backup(conn, row.id)
        raise
    async with ctx.meta.begin() as conn:
        await bq.update_backup(conn, row.id, {"operation_id": op.id})
    return op


async def run_backup(ctx: AppContext, op: OperationContext) -> dict[str, Any]:
    """The ``backup`` operation's handler."""
    backup_id = str(op.params["backup_id"])
    async with ctx.meta.connect() as conn:
        db = await mq.get_database_by_ref(conn, op.database_id or "")
        row = await bq.get_backup(conn, op.database_id or "", backup_id)
    if db is None:
        raise DatabaseNotFound(op.database_id or "")
    if row is None:
        raise BackupNotFound(backup_id)
    archive = await _take(ctx, op, db, row, share=0.95)
    from dbplane.services import pitr  # a base backup too when PITR is on

    await pitr.after_backup(ctx, db, op)
    if row.method == "periodic":
        async with op.step("retention"):
            removed = await _apply_retention(ctx, db.id)
            if removed:
                await op.log(f"retention: removed {removed} older periodic backup(s)")
        if db.restore_drills_enabled:
            drill = await drills.verify_backup(ctx, db.id, backup_id,
                                               created_by="scheduler")
            await op.log(f"restore drill started: operation {drill.id}")
    return {"backup_id": backup_id, "size": archive.size, "checksum": archive.checksum}


async def _take(ctx: AppContext, op: OperationContext, db: DatabaseRecord,
                row: BackupRecord, *, share: float) -> Archive:
    """Dump ``db`` into ``row``'s archive with its fingerprint and record it done; the
    backup is marked ``error`` (and its files removed) when anything fails. ``share`` is
    the part of the operation's progress the dump takes."""
    backup_id = row.id
    async with ctx.meta.begin() as conn:
        await bq.update_backup(conn, backup_id, {"status": "running",
                                                 "started_at": now_ms(),
                                                 "operation_id": op.id})
    final = _planned_path(ctx, row)

    async def progress(fraction: float, message: str | None) -> None:
        await op.progress(share * fraction, message)
        await op.checkpoint()

    try:
        made: list[Archive] = []

        async def dump() -> Path:
            made.append(await make_backup(engine, final, progress))
            return final

        async with op.step("dump"):
            engine = await ctx.connections.engine_for(db)
            fingerprint = await drills.take_fingerprint(engine, dump, op.log)
            archive = made[0]
            await op.log(f"{archive.format} archive of {archive.size} bytes, "
                         f"{archive.checksum}")
        async with op.step("record"), ctx.meta.begin() as conn:
            await bq.update_backup(conn, backup_id, {
                "status": "done", "archive": final.name, "size": archive.size,
                "checksum": archive.checksum, "finished_at": now_ms(),
                "fingerprint": fingerprint})
    except BaseException as exc:
        await asyncio.to_thread(_remove_files, ctx, replace(row, archive=None))
        with contextlib.suppress(Exception):
            async with ctx.meta.begin() as conn:
                await bq.update_backup(conn, backup_id, {
                    "status": "error", "error": _error(exc), "finished_at": now_ms()})
        raise
    return archive


async def backup_within(ctx: AppContext, op: OperationContext, db: DatabaseRecord, *,
                        share: float) -> dict[str, Any]:
    """A manual backup taken as a step of another operation ``op`` (an upgrade's first):
    listed with the database's backups, restorable and verifiable like any other."""
    stamp = now_ms()
    row = BackupRecord(
        id=secrets.token_hex(12), database_id=db.id, name=_name(db, stamp),
        method="manual", status="pending", type_name=db.type_name,
        format=adapter_for(db.type_name).format, archive=None, size=None, checksum=None,
        operation_id=op.id, error=None, created_at=stamp, started_at=None,
        finished_at=None,
    )
    async with ctx.meta.begin() as conn:
        await bq.insert_backup(conn, row)
    archive = await _take(ctx, op, db, row, share=share)
    return {"backup_id": row.id, "size": archive.size, "checksum": archive.checksum}


async def upload_backup(ctx: AppContext, ref: str, chunks: AsyncIterator[bytes], *,
                        checksum: str | None = None) -> BackupPublic:
    """Store an archive made elsewhere as a done backup (method ``upload``). It is checked
    first — its format for the database's type and, when ``checksum`` is given, its
    SHA-256 — and refused (ArchiveInvalid / ArchiveChecksumMismatch, 422) with nothing
    stored."""
    db = await resolve_database(ctx, ref)
    adapter = adapter_for(db.type_name)
    stamp = now_ms()
    row = BackupRecord(
        id=secrets.token_hex(12), database_id=db.id,
        name=_name(db, stamp) + "_upload", method="upload", status="done",
        type_name=db.type_name, format=adapter.format, archive=None,
        size=None, checksum=None, operation_id=None, error=None,
        created_at=stamp, started_at=stamp, finished_at=None,
    )
    final = _planned_path(ctx, row)
    async with ArchiveWriter(final) as writer:
        async for chunk in chunks:
            await asyncio.to_thread(writer.write, chunk)
        if writer.size == 0:
            raise ArchiveInvalid("the uploaded archive is empty", field="file")
        writer.close_file()
        await adapter.check(writer.temp)
        archive = await asyncio.to_thread(writer.commit, adapter.format)
        if checksum is not None and checksum.removeprefix("sha256:") != archive.sha256:
            writer.final.unlink(missing_ok=True)
            raise ArchiveChecksumMismatch(
                f"the uploaded archive's SHA-256 is {archive.sha256}, not the "
                f"{checksum.removeprefix('sha256:')} given: it was changed or cut on the "
                "way; nothing was stored", field="checksum", actual=archive.checksum)
    row = replace(row, archive=final.name, size=archive.size, checksum=archive.checksum,
                  finished_at=now_ms())
    try:
        async with ctx.meta.begin() as conn:
            await bq.insert_backup(conn, row)
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    return _public(row)


# -- restoring -----------------------------------------------------------------------


async def restore_backup(ctx: AppContext, ref: str, backup_id: str, *,
                         created_by: str | None) -> OperationRecord:
    """Start restoring a done backup into its database; answers the operation.
    BackupNotFound, BackupNotReady, OperationConflict (another backup or restore)."""
    db = await resolve_database(ctx, ref)
    row = await _backup_row(ctx, db, backup_id)
    if row.status != "done":
        raise BackupNotReady(f"the backup {backup_id!r} is {row.status}: only a done "
                             "backup can be restored", backup=backup_id,
                             state=row.status)
    return await start_operation(ctx, "restore", database_id=db.id,
                                 params={"backup_id": backup_id}, created_by=created_by)


def _retrieved(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()


async def run_restore(ctx: AppContext, op: OperationContext) -> dict[str, Any]:
    """The ``restore`` operation's handler."""
    backup_id = str(op.params["backup_id"])
    async with ctx.meta.connect() as conn:
        db = await mq.get_database_by_ref(conn, op.database_id or "")
        row = await bq.get_backup(conn, op.database_id or "", backup_id)
    if db is None:
        raise DatabaseNotFound(op.database_id or "")
    if row is None:
        raise BackupNotFound(backup_id)
    if row.status != "done" or not row.archive:
        raise BackupNotReady(f"the backup {backup_id!r} is {row.status}",
                             backup=backup_id)
    path = _archive_path(ctx, row)
    adapter = adapter_for(db.type_name)
    assert row.checksum is not None  # recorded with the archive
    checksum = row.checksum

    async def checks() -> None:
        async with op.step("verify"):
            await verify_checksum(path, checksum)
            await adapter.check(path, thorough=False)
            await op.log(f"{checksum} verified; {row.format} archive")
            await op.progress(0.1, "verified")

    async def progress(fraction: float, message: str | None) -> None:
        await op.progress(0.1 + 0.9 * fraction, message)

    # the checks run while the adapter prepares (it waits for them before it changes
    # anything); the verify step comes first
    checked = asyncio.ensure_future(checks())
    await asyncio.sleep(0)
    try:
        async with op.step("restore"):
            engine = await ctx.connections.engine_for(db)
            try:
                await adapter.restore(engine, path, progress, checked)
            finally:
                # pooled connections and cached schema describe the database before it
                await ctx.connections.drop(db.id)
                tables_svc.forget_database(ctx, db.id)
        await checked  # an adapter always waits for it: this never waits
    finally:
        # when the adapter failed first, its error is the one told; the checks are left
        # to end, not cancelled (they only read the archive, and a task cancelled while
        # it records its step could leave the store's transaction open)
        checked.add_done_callback(_retrieved)
        await asyncio.wait([checked])
    await op.log(f"restored backup {row.name}")
    return {"backup_id": backup_id, "database_id": db.id}


# -- deleting and retention ----------------------------------------------------------


async def delete_backup(ctx: AppContext, ref: str, backup_id: str) -> None:
    """Remove a backup: its archive and its row. BackupInUse (409) while it is being made
    or restored."""
    db = await resolve_database(ctx, ref)
    row = await _backup_row(ctx, db, backup_id)
    if row.status in _UNFINISHED:
        raise BackupInUse(f"the backup {backup_id!r} is {row.status}; delete it when it "
                          "has ended (or cancel its operation)", backup=backup_id,
                          operation_id=row.operation_id)
    for op in await active_operations(ctx, db.id):
        if op.type == "restore" and op.params.get("backup_id") == backup_id:
            raise BackupInUse(f"the backup {backup_id!r} is being restored by operation "
                              f"{op.id}", backup=backup_id, operation_id=op.id)
    async with ctx.meta.begin() as conn:
        await bq.delete_backup(conn, backup_id)
    await asyncio.to_thread(_remove_files, ctx, row)


async def _apply_retention(ctx: AppContext, database_id: str) -> int:
    keep = ctx.settings.backup_retention
    async with ctx.meta.connect() as conn:
        old = [*await bq.periodic_backups_beyond(conn, database_id, keep, "done"),
               *await bq.periodic_backups_beyond(conn, database_id, keep, "error")]
    for row in old:
        async with ctx.meta.begin() as conn:
            await bq.delete_backup(conn, row.id)
        await asyncio.to_thread(_remove_files, ctx, row)
    return len(old)
