"""Named queries of the backups tables (issue 7). Each takes an open connection; rows come
back as records (``meta/records.py``). ``services/backups.py`` calls these and never builds
SQL itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dbplane.meta.records import BackupRecord, BackupSlotRecord, DatabaseRecord, columns
from dbplane.meta.tables import backup_slots, backups, databases

__all__ = [
    "claim_backup_slot",
    "delete_backup",
    "get_backup",
    "get_backup_slot",
    "insert_backup",
    "last_verified_backup",
    "list_backups",
    "list_scheduled_databases",
    "list_unfinished_backups",
    "periodic_backups_beyond",
    "release_backup_slot",
    "set_slot_backup",
    "take_over_backup_slot",
    "update_backup",
]

Values = dict[str, Any]
"""Columns to change, by name."""


async def insert_backup(conn: AsyncConnection, record: BackupRecord) -> None:
    await conn.execute(insert(backups).values(columns(record)))


async def get_backup(conn: AsyncConnection, database_id: str,
                     backup_id: str) -> BackupRecord | None:
    result = await conn.execute(select(backups).where(
        and_(backups.c.id == backup_id, backups.c.database_id == database_id)))
    row = result.mappings().first()
    return BackupRecord.of(row) if row is not None else None


async def last_verified_backup(conn: AsyncConnection,
                               database_id: str) -> BackupRecord | None:
    """The database's backup whose restore drill ended last, if any."""
    result = await conn.execute(select(backups).where(
        and_(backups.c.database_id == database_id, backups.c.verified_at.is_not(None)))
        .order_by(backups.c.verified_at.desc()).limit(1))
    row = result.mappings().first()
    return BackupRecord.of(row) if row is not None else None


async def list_backups(conn: AsyncConnection, database_id: str) -> list[BackupRecord]:
    """A database's backups, newest first."""
    result = await conn.execute(select(backups).where(backups.c.database_id == database_id)
                                .order_by(backups.c.created_at.desc(), backups.c.id.desc()))
    return [BackupRecord.of(r) for r in result.mappings()]


async def list_unfinished_backups(conn: AsyncConnection) -> list[BackupRecord]:
    """Backups still pending or running (to reconcile with their operations)."""
    result = await conn.execute(select(backups).where(
        backups.c.status.in_(("pending", "running"))))
    return [BackupRecord.of(r) for r in result.mappings()]


async def update_backup(conn: AsyncConnection, backup_id: str, values: Values, *,
                        only_if_status: tuple[str, ...] | None = None) -> bool:
    """Change a backup; with ``only_if_status`` only while its status is one of those.
    Whether a row changed."""
    query = update(backups).where(backups.c.id == backup_id)
    if only_if_status is not None:
        query = query.where(backups.c.status.in_(only_if_status))
    result = await conn.execute(query.values(**values))
    return bool(result.rowcount)


async def delete_backup(conn: AsyncConnection, backup_id: str) -> bool:
    result = await conn.execute(delete(backups).where(backups.c.id == backup_id))
    return bool(result.rowcount)


async def periodic_backups_beyond(conn: AsyncConnection, database_id: str, keep: int,
                                  status: str) -> list[BackupRecord]:
    """The periodic backups of a database in ``status`` past the newest ``keep`` ones."""
    result = await conn.execute(
        select(backups).where(and_(backups.c.database_id == database_id,
                                   backups.c.method == "periodic",
                                   backups.c.status == status))
        .order_by(backups.c.created_at.desc(), backups.c.id.desc()).offset(keep))
    return [BackupRecord.of(r) for r in result.mappings()]


async def list_scheduled_databases(conn: AsyncConnection) -> list[DatabaseRecord]:
    """Databases with periodic backups enabled."""
    result = await conn.execute(select(databases).where(
        databases.c.periodic_backups_enabled.is_(True)))
    return [DatabaseRecord.of(r) for r in result.mappings()]


async def claim_backup_slot(conn: AsyncConnection, database_id: str, slot: int,
                            now: int) -> bool:
    """Insert-or-skip the claim of one scheduled hour: True for the one caller (of every
    replica) that inserted it. Runs in its own transaction (a savepoint)."""
    try:
        async with conn.begin_nested():
            await conn.execute(insert(backup_slots).values(database_id=database_id,
                                                           slot=slot, claimed_at=now))
    except IntegrityError:
        return False
    return True


async def get_backup_slot(conn: AsyncConnection, database_id: str,
                          slot: int) -> BackupSlotRecord | None:
    row = (await conn.execute(select(backup_slots).where(and_(
        backup_slots.c.database_id == database_id, backup_slots.c.slot == slot)))).first()
    return None if row is None else BackupSlotRecord.of(row._mapping)


async def take_over_backup_slot(conn: AsyncConnection, database_id: str, slot: int,
                                now: int, stale_before: int) -> bool:
    """Re-claim a slot whose claimer never recorded its backup and whose claim is older
    than ``stale_before`` (that process died in between): True for the one caller that
    updated it (the condition is evaluated again under the row's lock)."""
    result = await conn.execute(update(backup_slots).where(and_(
        backup_slots.c.database_id == database_id, backup_slots.c.slot == slot,
        backup_slots.c.backup_id.is_(None), backup_slots.c.claimed_at < stale_before))
        .values(claimed_at=now))
    return result.rowcount == 1


async def set_slot_backup(conn: AsyncConnection, database_id: str, slot: int,
                          backup_id: str) -> None:
    await conn.execute(update(backup_slots).where(and_(
        backup_slots.c.database_id == database_id, backup_slots.c.slot == slot))
        .values(backup_id=backup_id))


async def release_backup_slot(conn: AsyncConnection, database_id: str, slot: int) -> None:
    """Give a claimed slot back (its backup could not start: a restore was running)."""
    await conn.execute(delete(backup_slots).where(and_(
        backup_slots.c.database_id == database_id, backup_slots.c.slot == slot)))
