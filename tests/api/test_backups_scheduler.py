"""The periodic backups scheduler: one backup per scheduled hour however many replicas race
for it, the latest missed hour caught up once, and retention of the newest N."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from dbplane.services.backup_scheduler import due_slot, run_scheduler
from dbplane.services.context import AppContext
from dbplane.services.operation_types import register_operation_types
from dbplane.services.operations import registry_of, wait_operation
from tests.conftest import AppHandle

HOUR = 3_600_000


def test_due_slot_is_the_latest_scheduled_hour_since_the_change() -> None:
    day = 20_000 * 24  # an epoch hour at 00:00 UTC
    now = (day + 14) * HOUR + 5 * 60_000  # 14:05
    assert due_slot(now, [3, 14], since_ms=0) == day + 14
    assert due_slot(now, [3], since_ms=0) == day + 3
    assert due_slot(now, [20], since_ms=0) == day - 24 + 20
    # an hour that passed before the schedule was set is not due
    assert due_slot(now, [3], since_ms=(day + 4) * HOUR) is None
    assert due_slot(now, [], since_ms=0) is None


async def _periodic(ctx: AppContext, db_id: str) -> list[dict[str, Any]]:
    from dbplane.services.backups import list_backups

    return [b.model_dump() for b in await list_backups(ctx, db_id)
            if b.method == "periodic"]


@pytest.mark.parametrize("meta_backend", ["sqlite", "postgresql"], indirect=True)
async def test_each_slot_runs_once_across_replicas_and_retention_keeps_n(
        app_handle: AppHandle) -> None:
    client, ctx = app_handle.client, app_handle.ctx
    created = await client.post("/v1/databases", json={"resource_id": "sched"})
    path = ctx.settings.embedded_dir / "sched.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    con.commit()
    con.close()
    db_id = created.json()["database"]["id"]
    answer = await client.patch("/v1/databases/sched", json={"database": {
        "periodic_backups_enabled": True, "periodic_backups_scheduled_at": list(range(24))}})
    assert answer.json()["database"]["periodic_backups_scheduled_at"] == list(range(24))

    replica = await _replica(ctx)  # a second process on the same store
    try:
        base = ((await _updated_at(ctx, db_id)) // HOUR + 2) * HOUR + 60_000
        started = await asyncio.gather(run_scheduler(ctx, base), run_scheduler(replica, base),
                                       run_scheduler(replica, base), run_scheduler(ctx, base))
        ops = [op for batch in started for op in batch]
        assert len(ops) == 1
        await wait_operation(ctx, ops[0], within=30)
        # the same hour again, later in it: nothing new
        assert await run_scheduler(replica, base + 30 * 60_000) == []
        assert len(await _periodic(ctx, db_id)) == 1

        # dbplane down for a day and a half: only the latest hour is caught up, once
        later = base + 36 * HOUR
        caught = await run_scheduler(ctx, later) + await run_scheduler(replica, later)
        assert len(caught) == 1
        await wait_operation(ctx, caught[0], within=30)

        ctx.settings.backup_retention = 2
        for n in range(1, 3):
            for op_id in await run_scheduler(replica, later + n * HOUR):
                await wait_operation(ctx, op_id, within=30)
        kept = await _periodic(ctx, db_id)
        assert len(kept) == 2 and all(b["status"] == "done" for b in kept)
        files = sorted(p.name for p in ctx.settings.backups_dir.rglob("*.sqlite3"))
        assert files == sorted(f"{b['id']}.sqlite3" for b in kept)
    finally:
        await replica.close()


async def _replica(ctx: AppContext) -> AppContext:
    """Another process's context on the same store, its operation types registered as
    its start-up does."""
    replica = await AppContext.open(ctx.settings)
    register_operation_types(registry_of(replica))
    return replica


async def _updated_at(ctx: AppContext, db_id: str) -> int:
    from dbplane.meta import queries as q

    async with ctx.meta.connect() as conn:
        row = await q.get_database_by_ref(conn, db_id)
    assert row is not None
    return int(row.updated_at)


@pytest.mark.parametrize("meta_backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_claim_left_by_a_dead_process_is_taken_over_once(
        app_handle: AppHandle) -> None:
    from dbplane.meta import backups_queries as bq

    client, ctx = app_handle.client, app_handle.ctx
    created = await client.post("/v1/databases", json={"resource_id": "orphan"})
    db_id = created.json()["database"]["id"]
    await client.patch("/v1/databases/orphan", json={"database": {
        "periodic_backups_enabled": True, "periodic_backups_scheduled_at": list(range(24))}})
    base = ((await _updated_at(ctx, db_id)) // HOUR + 2) * HOUR + 60_000
    slot = base // HOUR
    # a process claimed the hour and died before it started the backup
    async with ctx.meta.begin() as conn:
        assert await bq.claim_backup_slot(conn, db_id, slot, base)
    # while the claim is recent, its claimer may still be starting the backup
    assert await run_scheduler(ctx, base + 60_000) == []
    replica = await _replica(ctx)
    try:
        later = base + 5 * 60_000
        started = await asyncio.gather(run_scheduler(ctx, later), run_scheduler(replica, later))
        ops = [op for batch in started for op in batch]
        assert len(ops) == 1
        await wait_operation(ctx, ops[0], within=30)
        assert [b["status"] for b in await _periodic(ctx, db_id)] == ["done"]
        assert await run_scheduler(replica, later + 10 * 60_000) == []
    finally:
        await replica.close()
    async with ctx.meta.connect() as conn:
        claim = await bq.get_backup_slot(conn, db_id, slot)
    assert claim is not None and claim.backup_id is not None
