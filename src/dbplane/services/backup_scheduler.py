"""Periodic backups: each scheduled hour of a database is claimed once across replicas
(a row per database and hour), and its backup started by the process that won it."""

from __future__ import annotations

import logging

from dbplane.errors import DbplaneError
from dbplane.meta import backups_queries as bq
from dbplane.services.backups import create_backup, settle_backups
from dbplane.services.context import AppContext, now_ms
from dbplane.services.operations import list_operations

__all__ = ["SCHEDULER_INTERVAL_SECONDS", "due_slot", "run_scheduler", "scheduler_pass"]

log = logging.getLogger("dbplane.backups")

SCHEDULER_INTERVAL_SECONDS = 30.0
# a slot claimed this long ago without its backup recorded: its claimer died in between
_STALE_CLAIM_MS = 120_000


def due_slot(now_ms_: int, hours: list[int], since_ms: int) -> int | None:
    """The latest scheduled hour (epoch hours, UTC) at or before ``now_ms_`` whose hour of
    the day is in ``hours``, if it is not before ``since_ms`` (when the schedule was last
    changed). Pure."""
    if not hours:
        return None
    current = now_ms_ // 3_600_000
    wanted = set(hours)
    for back in range(24):
        slot = current - back
        if slot % 24 in wanted:
            return slot if slot * 3_600_000 >= since_ms else None
    return None


async def run_scheduler(ctx: AppContext, now: int | None = None) -> list[str]:
    """One pass of the scheduler: start the due periodic backups this process wins the
    claim of, settle backups whose operation ended without them; the operations
    started."""
    stamp = now if now is not None else now_ms()
    started: list[str] = []
    async with ctx.meta.connect() as conn:
        scheduled = await bq.list_scheduled_databases(conn)
        unfinished = await bq.list_unfinished_backups(conn)
    for db in scheduled:
        slot = due_slot(stamp, list(db.periodic_backups_scheduled_at), db.updated_at)
        if slot is None:
            continue
        async with ctx.meta.begin() as conn:
            won = await bq.claim_backup_slot(conn, db.id, slot, stamp)
        if not won:
            won = await _take_over_stale_claim(ctx, db.id, slot, stamp)
        if not won:
            continue
        try:
            op = await create_backup(ctx, db.id, created_by="scheduler",
                                     method="periodic", slot=slot)
        except DbplaneError as exc:
            # a restore (or a manual backup) is running: the next pass tries again
            log.info("periodic backup of %s for hour %s not started: %s",
                     db.resource_id, slot, exc)
            async with ctx.meta.begin() as conn:
                await bq.release_backup_slot(conn, db.id, slot)
            continue
        async with ctx.meta.begin() as conn:
            await bq.set_slot_backup(conn, db.id, slot, str(op.params["backup_id"]))
        started.append(op.id)
    if unfinished:
        await settle_backups(ctx, unfinished)
    return started


async def _take_over_stale_claim(ctx: AppContext, database_id: str, slot: int,
                                 stamp: int) -> bool:
    """A claim without its backup, older than ``_STALE_CLAIM_MS``, was made by a process
    that died between claiming the hour and starting the backup: take it over (once,
    across replicas), unless a backup operation for that hour exists after all (the
    process died just before recording it: it is recorded now)."""
    async with ctx.meta.connect() as conn:
        claim = await bq.get_backup_slot(conn, database_id, slot)
    if (claim is None or claim.backup_id is not None
            or claim.claimed_at >= stamp - _STALE_CLAIM_MS):
        return False
    for op in await list_operations(ctx, database_id=database_id, type_name="backup"):
        if op.params.get("slot") == slot:
            async with ctx.meta.begin() as conn:
                await bq.set_slot_backup(conn, database_id, slot,
                                         str(op.params["backup_id"]))
            return False
    async with ctx.meta.begin() as conn:
        won = await bq.take_over_backup_slot(conn, database_id, slot, stamp,
                                             stamp - _STALE_CLAIM_MS)
    if won:
        log.warning("periodic backup of database %s for hour %s: its claim was left "
                    "without a backup (a process died); taken over", database_id, slot)
    return won


async def scheduler_pass(ctx: AppContext) -> None:
    """The scheduler as a periodic task (every ``SCHEDULER_INTERVAL_SECONDS``)."""
    await run_scheduler(ctx)
