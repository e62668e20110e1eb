"""Named queries of the operations table (issue 7). Each takes an open connection; rows
come back as :class:`OperationRecord`. ``services/operations/`` calls these and never
builds SQL itself.

Claiming is safe with several dbplane processes on one store: candidates are read with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises writers anyway) and taken by a
conditional ``UPDATE ... WHERE status = 'pending'`` whose row count says who won.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, and_, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dbplane.meta.operation_records import OperationRecord
from dbplane.meta.tables import operations

__all__ = [
    "ACTIVE",
    "ENDED",
    "SlotTaken",
    "cancel_pending",
    "claim_next_operation",
    "end_operation",
    "get_active_in_slot",
    "get_operation",
    "has_pending",
    "heartbeat_operation",
    "insert_operation",
    "list_active_for_database",
    "list_operations",
    "list_running_owners",
    "mark_interrupted",
    "release_operation",
    "request_cancel",
]

Row = dict[str, Any]

ACTIVE = ("pending", "running")
ENDED = ("done", "error", "canceled")


class SlotTaken(Exception):
    """The conflict slot of a new operation is held by an active one (the transaction
    that raised it is spoilt: roll it back, then look the holder up)."""


async def insert_operation(conn: AsyncConnection, record: OperationRecord) -> None:
    """Insert a pending operation; SlotTaken when its conflict slot is held."""
    try:
        await conn.execute(insert(operations).values(**record.values()))
    except IntegrityError as exc:
        raise SlotTaken(record.conflict_slot) from exc


async def get_operation(conn: AsyncConnection, op_id: str) -> OperationRecord | None:
    result = await conn.execute(select(operations).where(operations.c.id == op_id))
    row = result.mappings().first()
    return OperationRecord.from_row(row) if row else None


async def get_active_in_slot(conn: AsyncConnection, slot: str) -> OperationRecord | None:
    result = await conn.execute(select(operations).where(operations.c.conflict_slot == slot))
    row = result.mappings().first()
    return OperationRecord.from_row(row) if row else None


async def list_operations(conn: AsyncConnection, *, database_id: str | None = None,
                          status: str | None = None, type_name: str | None = None,
                          limit: int = 100) -> list[OperationRecord]:
    """Newest first."""
    query = select(operations)
    if database_id is not None:
        query = query.where(operations.c.database_id == database_id)
    if status is not None:
        query = query.where(operations.c.status == status)
    if type_name is not None:
        query = query.where(operations.c.type == type_name)
    query = query.order_by(operations.c.created_at.desc(), operations.c.id.desc()).limit(limit)
    result = await conn.execute(query)
    return [OperationRecord.from_row(r) for r in result.mappings()]


async def list_active_for_database(conn: AsyncConnection,
                                   database_id: str) -> list[OperationRecord]:
    result = await conn.execute(
        select(operations)
        .where(operations.c.database_id == database_id, operations.c.status.in_(ACTIVE))
        .order_by(operations.c.created_at, operations.c.id))
    return [OperationRecord.from_row(r) for r in result.mappings()]


async def list_running_owners(conn: AsyncConnection) -> set[str | None]:
    """The owners of the running operations."""
    result = await conn.execute(select(operations.c.owner).distinct()
                                .where(operations.c.status == "running"))
    return set(result.scalars())


async def claim_next_operation(conn: AsyncConnection, *, types: Collection[str], owner: str,
                               now: int, first: Collection[str] = ()
                               ) -> OperationRecord | None:
    """Take the oldest pending operation of one of ``types`` for ``owner``, or None; one
    of the types in ``first`` (work a user waits for) before any other, whatever its age.

    One ``UPDATE ... WHERE id = (oldest pending) AND status = 'pending' RETURNING``: the
    subquery skips rows another process has locked on PostgreSQL, and the status test
    makes a lost race claim nothing. Commit the caller's transaction to publish it."""
    if not types:
        return None
    order: list[ColumnElement[Any]] = [operations.c.created_at, operations.c.id]
    if first:
        order.insert(0, case((operations.c.type.in_(list(first)), 0), else_=1))
    oldest = (select(operations.c.id)
              .where(operations.c.status == "pending", operations.c.type.in_(list(types)))
              .order_by(*order).limit(1))
    if conn.dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    result = await conn.execute(
        update(operations)
        .where(operations.c.id == oldest.scalar_subquery(),
               operations.c.status == "pending")
        .values(status="running", owner=owner, attempts=operations.c.attempts + 1,
                started_at=now, heartbeat_at=now)
        .returning(*operations.c))
    row = result.mappings().first()
    return OperationRecord.from_row(row) if row else None


async def has_pending(conn: AsyncConnection, types: Collection[str]) -> bool:
    """Whether a pending operation of one of ``types`` waits (a read, no lock)."""
    if not types:
        return False
    result = await conn.execute(
        select(operations.c.id)
        .where(operations.c.status == "pending", operations.c.type.in_(list(types)))
        .limit(1))
    return result.first() is not None


async def heartbeat_operation(conn: AsyncConnection, op_id: str, owner: str,
                              values: Row) -> bool | None:
    """Record that ``owner`` still runs the operation (plus any ``values``).

    Answers whether a cancel was requested, or None when ``owner`` no longer holds it."""
    result = await conn.execute(
        update(operations)
        .where(operations.c.id == op_id, operations.c.owner == owner,
               operations.c.status == "running")
        .values(**values))
    if result.rowcount != 1:
        return None
    flag = await conn.execute(select(operations.c.cancel_requested)
                              .where(operations.c.id == op_id))
    return bool(flag.scalar_one())


async def end_operation(conn: AsyncConnection, op_id: str, owner: str, values: Row) -> bool:
    """Set the final state of an operation ``owner`` runs; False if it no longer does."""
    result = await conn.execute(
        update(operations)
        .where(operations.c.id == op_id, operations.c.owner == owner,
               operations.c.status == "running")
        .values(conflict_slot=None, **values))
    return result.rowcount == 1


async def release_operation(conn: AsyncConnection, op_id: str, owner: str) -> bool:
    """Give back an operation ``owner`` claimed but did not start (it is stopping)."""
    result = await conn.execute(
        update(operations)
        .where(operations.c.id == op_id, operations.c.owner == owner,
               operations.c.status == "running")
        .values(status="pending", owner=None, attempts=operations.c.attempts - 1,
                started_at=None, heartbeat_at=None))
    return result.rowcount == 1


async def cancel_pending(conn: AsyncConnection, op_id: str, now: int, error: Row) -> bool:
    result = await conn.execute(
        update(operations)
        .where(operations.c.id == op_id, operations.c.status == "pending")
        .values(status="canceled", conflict_slot=None, finished_at=now, cancel_requested=True,
                error=error))
    return result.rowcount == 1


async def request_cancel(conn: AsyncConnection, op_id: str) -> bool:
    result = await conn.execute(
        update(operations)
        .where(operations.c.id == op_id, operations.c.status == "running")
        .values(cancel_requested=True))
    return result.rowcount == 1


async def mark_interrupted(conn: AsyncConnection, *, owners: Collection[str],
                           stale_before: int, now: int, error: Row) -> list[str]:
    """End as ``error`` the running operations of dead ``owners`` or whose heartbeat is
    older than ``stale_before``; answers their ids."""
    cond = operations.c.heartbeat_at < stale_before
    if owners:
        cond = or_(cond, operations.c.owner.in_(owners))
    where = and_(operations.c.status == "running", cond)
    ids = list((await conn.execute(select(operations.c.id).where(where))).scalars())
    ended: list[str] = []
    for op_id in ids:
        result = await conn.execute(
            update(operations).where(operations.c.id == op_id, where)
            .values(status="error", conflict_slot=None, finished_at=now, error=error))
        if result.rowcount == 1:
            ended.append(op_id)
    return ended
