"""The operations table's queries on both metadata stores: claims taken exactly once by
competing processes, conflict slots, heartbeats, and recovery of dead owners."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dbplane.meta import operations_queries as oq
from dbplane.meta.operation_records import OperationRecord
from dbplane.meta.store import MetaStore
from dbplane.services import operations as ops
from dbplane.services.context import AppContext, now_ms
from tests.conftest import MetaBackend, make_settings

pytestmark = pytest.mark.parametrize("meta_backend", ["sqlite", "postgresql"], indirect=True)


def _row(**values: Any) -> OperationRecord:
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()), "type": "t", "database_id": "db", "status": "pending",
        "conflict_slot": None, "params": {}, "result": None, "error": None, "steps": [],
        "log": [], "progress": 0.0, "message": None, "created_by": None, "owner": None,
        "attempts": 0, "cancel_requested": False, "created_at": now_ms(),
        "started_at": None, "finished_at": None, "heartbeat_at": None}
    return OperationRecord(**(row | values))


@pytest.fixture
async def ctx(tmp_path: Path, meta_backend: MetaBackend) -> AsyncIterator[AppContext]:
    context = await AppContext.open(make_settings(tmp_path / "data", meta_backend))
    try:
        yield context
    finally:
        await context.close()


async def test_close_cancels_what_requests_left_running(tmp_path: Path,
                                                        meta_backend: MetaBackend) -> None:
    context = await AppContext.open(make_settings(tmp_path / "data", meta_backend))
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = context.spawn(forever())
    await started.wait()
    assert task in context.background
    await context.close()
    assert task.cancelled() and not context.background


async def _insert(store: MetaStore, *rows: OperationRecord) -> None:
    async with store.begin() as conn:
        for row in rows:
            await oq.insert_operation(conn, row)


async def _get(store: MetaStore, op_id: str) -> OperationRecord:
    async with store.connect() as conn:
        row = await oq.get_operation(conn, op_id)
    assert row is not None
    return row


async def test_competing_stores_claim_each_operation_once(
        ctx: AppContext, meta_backend: MetaBackend, tmp_path: Path) -> None:
    rows = [_row(created_at=now_ms() + i) for i in range(40)]
    await _insert(ctx.meta, *rows)
    # three engines on the same store stand for three processes, four claimers each
    stores = [ctx.meta] + [await MetaStore.open(meta_backend.url, tmp_path / "data" /
                                                "meta.db") for _ in range(2)]
    claimed: dict[str, list[str]] = {}

    async def claimer(store: MetaStore, owner: str) -> None:
        while True:
            try:
                async with store.begin() as conn:
                    row = await oq.claim_next_operation(conn, types=["t"], owner=owner,
                                                        now=now_ms())
            except Exception as exc:  # a busy SQLite store: try again, as workers do
                if "locked" not in str(exc):
                    raise
                await asyncio.sleep(0.01)
                continue
            if row is None:
                return
            claimed.setdefault(row.id, []).append(owner)

    try:
        await asyncio.gather(*(claimer(s, f"p{n}:w{w}") for n, s in enumerate(stores)
                               for w in range(4)))
    finally:
        for store in stores[1:]:
            await store.close()
    assert sorted(claimed) == sorted(r.id for r in rows)
    assert all(len(owners) == 1 for owners in claimed.values()), claimed
    for row in rows:
        stored = await _get(ctx.meta, row.id)
        assert stored.status == "running" and stored.attempts == 1
        assert stored.owner == claimed[row.id][0]


async def test_claims_only_known_types_oldest_first(ctx: AppContext) -> None:
    old, new, other = (_row(created_at=1), _row(created_at=2),
                       _row(created_at=0, type="unknown"))
    await _insert(ctx.meta, new, old, other)
    async with ctx.meta.begin() as conn:
        first = await oq.claim_next_operation(conn, types=["t"], owner="me", now=5)
        second = await oq.claim_next_operation(conn, types=["t"], owner="me", now=5)
        none = await oq.claim_next_operation(conn, types=["t"], owner="me", now=5)
    assert first is not None and first.id == old.id and first.started_at == 5
    assert second is not None and second.id == new.id
    assert none is None
    assert (await _get(ctx.meta, other.id)).status == "pending"


async def test_conflict_slot_refuses_a_second_active_one(ctx: AppContext) -> None:
    first = _row(conflict_slot="db:backup")
    await _insert(ctx.meta, first)
    with pytest.raises(oq.SlotTaken):
        await _insert(ctx.meta, _row(conflict_slot="db:backup"))
    async with ctx.meta.connect() as conn:
        holder = await oq.get_active_in_slot(conn, "db:backup")
    assert holder is not None and holder.id == first.id
    async with ctx.meta.begin() as conn:
        assert await oq.claim_next_operation(conn, types=["t"], owner="me", now=1)
        assert not await oq.end_operation(conn, first.id, "someone else",
                                          {"status": "done"})
        assert await oq.end_operation(conn, first.id, "me", {"status": "done"})
    await _insert(ctx.meta, _row(conflict_slot="db:backup"))  # free again


async def test_heartbeat_answers_cancel_and_lost_ownership(ctx: AppContext) -> None:
    row = _row()
    await _insert(ctx.meta, row)
    async with ctx.meta.begin() as conn:
        await oq.claim_next_operation(conn, types=["t"], owner="me", now=1)
        assert await oq.heartbeat_operation(conn, row.id, "me", {"progress": 0.5}) is False
        assert await oq.request_cancel(conn, row.id)
        assert await oq.heartbeat_operation(conn, row.id, "me", {"heartbeat_at": 2})
        assert await oq.heartbeat_operation(conn, row.id, "thief", {"heartbeat_at": 3}) is None
    stored = await _get(ctx.meta, row.id)
    assert stored.progress == 0.5 and stored.heartbeat_at == 2


async def test_recovery_ends_operations_of_dead_owners_only(ctx: AppContext) -> None:
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()
    host = socket.gethostname()
    now = now_ms()
    rows = {
        "dead pid": _row(status="running", owner=f"{host}:{dead.pid}:x", heartbeat_at=now,
                         conflict_slot="db:g"),
        "stale replica": _row(status="running", owner="elsewhere:1:x",
                              heartbeat_at=now - 3_600_000),
        "live replica": _row(status="running", owner="elsewhere:2:x", heartbeat_at=now),
        "pending": _row(),
    }
    await _insert(ctx.meta, *rows.values())
    ended = await ops.recover_interrupted(ctx, f"{host}:0:me")
    assert sorted(ended) == sorted([rows["dead pid"].id, rows["stale replica"].id])
    for name in ("dead pid", "stale replica"):
        stored = await _get(ctx.meta, rows[name].id)
        assert stored.status == "error" and stored.finished_at is not None
        assert stored.error is not None and stored.error["code"] == "DBP-O402"
        assert "process running it stopped" in stored.error["message"]
        assert stored.conflict_slot is None
    assert (await _get(ctx.meta, rows["live replica"].id)).status == "running"
    assert (await _get(ctx.meta, rows["pending"].id)).status == "pending"


async def test_recovery_judges_heartbeats_by_the_stale_setting(ctx: AppContext) -> None:
    now = now_ms()
    quiet = _row(status="running", owner="elsewhere:3:x", heartbeat_at=now - 10_000)
    await _insert(ctx.meta, quiet)
    assert await ops.recover_interrupted(ctx, "me") == []  # 10 s < 30 s by default
    ctx.settings.operation_stale_seconds = 5.0
    assert await ops.recover_interrupted(ctx, "me") == [quiet.id]
    assert (await _get(ctx.meta, quiet.id)).status == "error"
