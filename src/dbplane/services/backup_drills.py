"""Verified restore drills: restore a backup into a scratch place, compare its fingerprint.

A drill (operation ``backup.verify``) never touches the live database: the type's
``fingerprint`` part gives a scratch copy (a temporary SQLite file, a scratch database on
the same server, a private redis-server), the archive is restored there with the type's
own restore, its fingerprint is compared with the one recorded when the backup was taken,
and the scratch copy is removed whatever happened (failure and cancellation included).
The result is recorded on the backup: ``verified_at`` and ``verification`` ``{status:
passed|failed, differences: [...]}``. A backup with no recorded fingerprint (uploaded, or
taken while the database changed) passes when it restores cleanly; what it holds is kept
in ``verification.found``.

When a backup is taken, :func:`take_fingerprint` records what the archive holds: read in
the very snapshot the dump reads when the type can (PostgreSQL: ``pg_dump --snapshot``
with a snapshot exported by the fingerprint's transaction), or from the archive itself
(SQLite; Redis: the RDB loaded into a private redis-server), else the live database's
fingerprint right before and right after the dump, kept only when both agree (MariaDB:
a write in between would make every drill fail, so that backup gets none and says so in
its operation's log).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dbplane.engines.backups import adapter_for, checked_already, verify_checksum
from dbplane.engines.base import Engine
from dbplane.engines.fingerprint import Fingerprint, compare
from dbplane.engines.parts import has_part, part
from dbplane.engines.registry import types_with
from dbplane.errors import BackupNotFound, BackupNotReady, DatabaseNotFound, Unsupported
from dbplane.meta import backups_queries as bq
from dbplane.meta import queries as mq
from dbplane.meta.records import BackupRecord, DatabaseRecord
from dbplane.services.context import AppContext, now_ms
from dbplane.services.databases import resolve_database
from dbplane.services.operations import OperationContext, OperationRecord, start_operation

__all__ = ["OPERATION_TYPE", "run_verify", "take_fingerprint", "verify_backup"]

OPERATION_TYPE = "backup.verify"


def _fingerprints(engine: Engine | str) -> Any:
    from dbplane.engines.registry import engine_class

    cls = engine_class(engine) if isinstance(engine, str) else engine
    if not has_part(cls, "fingerprint"):
        raise Unsupported(f"restore drills are not available for {cls.type_name} "
                          "databases; they exist for "
                          + ", ".join(sorted(types_with("fingerprint"))),
                          type_name=cls.type_name)
    return part(cls, "fingerprint")


async def take_fingerprint(engine: Engine, dump: Callable[[], Awaitable[Path]],
                           log: Callable[[str], Awaitable[None]]) -> Fingerprint | None:
    """Run ``dump`` (which answers the archive's path) and answer the fingerprint of what
    the archive holds, or None when it cannot be told (see the module docstring)."""
    if not has_part(engine, "fingerprint"):
        await dump()
        return None
    fp = part(engine, "fingerprint")
    if hasattr(fp, "around_dump"):
        exact: Fingerprint | None = await fp.around_dump(engine, dump)
        return exact
    if hasattr(fp, "archive_fingerprint"):
        path = await dump()
        found: Fingerprint = await fp.archive_fingerprint(engine, path)
        return found
    before: Fingerprint = await fp.fingerprint(engine)
    await dump()
    after: Fingerprint = await fp.fingerprint(engine)
    if before != after:
        names = [d["name"] for d in compare(before, after)]
        await log("the database changed while it was dumped (" + ", ".join(names[:10])
                  + "): no fingerprint recorded; a drill of this backup checks only "
                  "that it restores")
        return None
    return after


async def verify_backup(ctx: AppContext, ref: str, backup_id: str, *,
                        created_by: str | None) -> OperationRecord:
    """Start a restore drill of a done backup; answers its operation. BackupNotFound
    (404), BackupNotReady (409) for a backup that is not done, Unsupported (400) for a
    type without drills."""
    db = await resolve_database(ctx, ref)
    _fingerprints(db.type_name)
    async with ctx.meta.connect() as conn:
        row = await bq.get_backup(conn, db.id, backup_id)
    if row is None:
        raise BackupNotFound(backup_id, db.resource_id)
    if row.status != "done" or not row.archive:
        raise BackupNotReady(f"the backup {backup_id!r} is {row.status}: only a done "
                             "backup can be verified", backup=backup_id, state=row.status)
    return await start_operation(ctx, OPERATION_TYPE, database_id=db.id,
                                 params={"backup_id": backup_id}, created_by=created_by)


async def _load(ctx: AppContext, op: OperationContext) -> tuple[DatabaseRecord,
                                                                 BackupRecord]:
    backup_id = str(op.params["backup_id"])
    async with ctx.meta.connect() as conn:
        db = await mq.get_database_by_ref(conn, op.database_id or "")
        row = await bq.get_backup(conn, op.database_id or "", backup_id)
    if db is None:
        raise DatabaseNotFound(op.database_id or "")
    if row is None:
        raise BackupNotFound(backup_id)
    if row.status != "done" or not row.archive or row.checksum is None:
        raise BackupNotReady(f"the backup {backup_id!r} is {row.status}",
                             backup=backup_id)
    return db, row


async def run_verify(ctx: AppContext, op: OperationContext) -> dict[str, Any]:
    """The ``backup.verify`` operation's handler."""
    db, row = await _load(ctx, op)
    assert row.archive is not None and row.checksum is not None
    path: Path = ctx.settings.backups_dir / row.database_id / row.archive
    adapter = adapter_for(db.type_name)
    async with op.step("check"):
        await verify_checksum(path, row.checksum)
        await adapter.check(path, thorough=False)
    live = await ctx.connections.engine_for(db)
    fp = _fingerprints(live)

    async def progress(fraction: float, message: str | None) -> None:
        await op.progress(0.1 + 0.7 * fraction, message)
        await op.checkpoint()

    async with fp.scratch(live) as copy:
        try:
            async with op.step("restore"):
                await op.log(f"restoring into the scratch copy {copy.url.redacted()} "
                             "(the live database is not touched)")
                await adapter.restore(copy, path, progress, checked_already())
            await op.checkpoint()  # a cancel during the restore ends the drill here
            async with op.step("fingerprint"):
                found: Fingerprint = await fp.fingerprint(copy)
            await op.checkpoint()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(copy.close())
    async with op.step("compare"):
        if row.fingerprint is None:
            verification: dict[str, Any] = {
                "status": "passed", "differences": [], "found": found,
                "note": "no fingerprint was recorded with this backup (uploaded, or the "
                        "database changed while it was dumped): it restored cleanly"}
        else:
            differences = compare(row.fingerprint, found)
            verification = {"status": "failed" if differences else "passed",
                            "differences": differences}
        for d in verification["differences"]:
            await op.log(f"{d['name']}: {d['problem']}")
    stamp = now_ms()
    async with op.step("record"), ctx.meta.begin() as conn:
        await bq.update_backup(conn, row.id, {"verified_at": stamp,
                                              "verification": verification})
    return {"backup_id": row.id, "status": verification["status"],
            "differences": verification["differences"]}
