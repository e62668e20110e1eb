"""Operations (issue 7) through the in-process API: lifecycle, listing, cancel, conflicts."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import event

from dbplane.api.app import create_app
from dbplane.errors import DbplaneError, OperationConflict, Unsupported
from dbplane.meta import operations_queries as oq
from dbplane.services import operations as ops
from dbplane.services.context import AppContext, now_ms
from tests.conftest import AppHandle, MetaBackend, make_settings

pytestmark = pytest.mark.parametrize("meta_backend", ["sqlite", "postgresql"], indirect=True)

# handler types registered in this module's apps only (their workers run them; a real
# `dbplane serve` does not know them)
GATES: dict[str, asyncio.Event] = {}
CLEANED: list[str] = []


async def _slow(ctx: AppContext, op: ops.OperationContext) -> dict[str, Any]:
    gate = GATES.setdefault(op.params["gate"], asyncio.Event())
    try:
        async with op.step("wait for the gate"):
            while not gate.is_set():
                await op.checkpoint()
                await asyncio.sleep(0.02)
        async with op.step("finish"):
            await op.progress(0.5, "half way")
            await op.log("gate opened")
        return {"gate": op.params["gate"]}
    finally:
        CLEANED.append(op.id)


async def _deaf(ctx: AppContext, op: ops.OperationContext) -> None:
    """Never looks at checkpoint(): only task cancellation stops it."""
    try:
        await asyncio.sleep(3600)
    finally:
        CLEANED.append(op.id)


async def _fails(ctx: AppContext, op: ops.OperationContext) -> None:
    async with op.step("try"):
        if op.params.get("kind") == "dbplane":
            raise Unsupported("this cannot be done here", field="x")
        raise RuntimeError("boom")


def _register_test_types(ctx: AppContext) -> None:
    registry = ops.registry_of(ctx)
    registry.register("test.slow", _slow, conflict_group="test")
    registry.register("test.deaf", _deaf)
    registry.register("test.stubborn", _slow, conflict_group="test", cancellable=False)
    registry.register("test.fails", _fails)


@pytest.fixture
async def app_handle(app_handle: AppHandle) -> AsyncIterator[AppHandle]:
    """The in-process app, its process also knowing this module's test types."""
    _register_test_types(app_handle.ctx)
    yield app_handle


def _gate(name: str) -> str:
    """A gate of this test alone (the module runs once per metadata store)."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def _start(handle: AppHandle, type_name: str, params: dict[str, Any],
                 database_id: str | None = "db1") -> ops.OperationRecord:
    return await ops.start_operation(handle.ctx, type_name, database_id=database_id,
                                     params=params, created_by="test")


async def _until(client: httpx.AsyncClient, op_id: str, *statuses: str,
                 within: float = 10.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        op: dict[str, Any] = (await client.get(f"/v1/operations/{op_id}")).json()
        if op["status"] in statuses:
            return op
        assert asyncio.get_running_loop().time() < deadline, op
        await asyncio.sleep(0.05)


async def test_check_runs_to_done_with_steps_result_and_location(
        app_client: httpx.AsyncClient) -> None:
    answer = await app_client.post("/v1/databases/default/check",
                                   json={"samples": 4})
    assert answer.status_code == 202, answer.text
    op = answer.json()
    assert answer.headers["location"] == f"/v1/operations/{op['id']}"
    assert op["status"] == "pending" and op["type"] == "database.check"
    assert op["params"] == {"samples": 4, "interval_ms": 0}
    done = await _until(app_client, op["id"], "done", "error")
    assert done["status"] == "done", done
    assert [s["name"] for s in done["steps"]] == ["connect", "version", "latency"]
    assert all(s["status"] == "done" and s["duration_ms"] >= 0 for s in done["steps"])
    assert done["progress"] == 1.0
    assert done["result"]["reachable"] is True and done["result"]["samples"] == 4
    assert done["result"]["version"]
    assert done["result"]["latency_ms"]["min"] <= done["result"]["latency_ms"]["max"]
    assert done["started_at"] and done["finished_at"] and done["error"] is None
    assert done["attempts"] == 1 and done["owner"]
    assert done["created_by"].startswith("token:")


async def test_check_refuses_bad_params_and_unknown_database(
        app_client: httpx.AsyncClient) -> None:
    bad = await app_client.post("/v1/databases/default/check", json={"samples": 0})
    assert bad.status_code == 422 and "samples" in bad.text
    extra = await app_client.post("/v1/databases/default/check", json={"sample": 3})
    assert extra.status_code == 422 and "sample" in extra.text
    missing = await app_client.post("/v1/databases/nope/check")
    assert missing.status_code == 404
    listed = (await app_client.get("/v1/operations")).json()["operations"]
    assert listed == []


async def test_list_filters_by_database_status_and_type(app_handle: AppHandle) -> None:
    client = app_handle.client
    first = (await client.post("/v1/databases/default/check")).json()
    await _until(client, first["id"], "done")
    gate = _gate("list")
    slow = await _start(app_handle, "test.slow", {"gate": gate}, database_id="other")
    await _until(client, slow.id, "running")
    default_id = first["database_id"]
    by_db = (await client.get("/v1/operations", params={"database": "default"})).json()
    assert [o["id"] for o in by_db["operations"]] == [first["id"]]
    by_id = (await client.get("/v1/operations", params={"database": default_id})).json()
    assert [o["id"] for o in by_id["operations"]] == [first["id"]]
    running = (await client.get("/v1/operations", params={"status": "running"})).json()
    assert [o["id"] for o in running["operations"]] == [slow.id]
    typed = (await client.get("/v1/operations", params={"type": "database.check"})).json()
    assert [o["id"] for o in typed["operations"]] == [first["id"]]
    both = (await client.get("/v1/operations", params={"limit": 1})).json()
    assert [o["id"] for o in both["operations"]] == [slow.id]  # newest first
    bad = await client.get("/v1/operations", params={"status": "sleeping"})
    assert bad.status_code == 422 and "status" in bad.text
    GATES.setdefault(gate, asyncio.Event()).set()
    assert (await _until(client, slow.id, "done"))["result"] == {"gate": gate}


async def test_unknown_operation_is_404(app_client: httpx.AsyncClient) -> None:
    for answer in (await app_client.get("/v1/operations/nope"),
                   await app_client.post("/v1/operations/nope/cancel")):
        assert answer.status_code == 404
        assert answer.json()["code"] == "DBP-O101" and "nope" in answer.json()["detail"]


async def test_conflict_group_is_409_naming_the_running_one(app_handle: AppHandle) -> None:
    gate = _gate("conflict")
    first = await _start(app_handle, "test.slow", {"gate": gate})
    await _until(app_handle.client, first.id, "running")
    with pytest.raises(OperationConflict) as err:
        await _start(app_handle, "test.stubborn", {"gate": gate})
    assert first.id in err.value.detail and "test.slow" in err.value.detail
    assert err.value.status == 409
    # another database, or a type of no group, is not in conflict
    other = await _start(app_handle, "test.slow", {"gate": gate}, database_id="db2")
    GATES.setdefault(gate, asyncio.Event()).set()
    for op in (first, other):
        assert (await _until(app_handle.client, op.id, "done"))["status"] == "done"
    # once it has ended, the group is free again
    again = await _start(app_handle, "test.slow", {"gate": gate})
    assert (await _until(app_handle.client, again.id, "done"))["status"] == "done"


async def test_cancel_pending_ends_it_at_once(app_handle: AppHandle) -> None:
    gate = _gate("pending")
    blocker = await _start(app_handle, "test.slow", {"gate": gate}, database_id="a")
    await _until(app_handle.client, blocker.id, "running")
    # the in-process app has 4 workers, one kept for backups and restores: keep the
    # other three busy so the next one stays pending
    busy = [await _start(app_handle, "test.slow", {"gate": gate}, database_id=f"b{i}")
            for i in range(2)]
    for op in busy:
        await _until(app_handle.client, op.id, "running")
    queued = await _start(app_handle, "test.slow", {"gate": gate}, database_id="c")
    answer = await app_handle.client.post(f"/v1/operations/{queued.id}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "canceled"
    assert answer.json()["error"]["code"] == "DBP-O401"
    assert answer.json()["started_at"] is None
    again = await app_handle.client.post(f"/v1/operations/{queued.id}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "DBP-O302"
    GATES.setdefault(gate, asyncio.Event()).set()
    for op in [blocker, *busy]:
        await _until(app_handle.client, op.id, "done")
    assert queued.id not in CLEANED  # it never ran
    final = (await app_handle.client.get(f"/v1/operations/{queued.id}")).json()
    assert final["status"] == "canceled" and final["attempts"] == 0


async def test_cancel_running_stops_at_a_checkpoint_and_cleans_up(
        app_handle: AppHandle) -> None:
    op = await _start(app_handle, "test.slow", {"gate": _gate("never")})
    await _until(app_handle.client, op.id, "running")
    answer = await app_handle.client.post(f"/v1/operations/{op.id}/cancel")
    assert answer.status_code == 202
    assert answer.headers["location"] == f"/v1/operations/{op.id}"
    assert answer.json()["cancel_requested"] is True
    ended = await _until(app_handle.client, op.id, "canceled", "done", "error")
    assert ended["status"] == "canceled" and ended["error"]["code"] == "DBP-O401"
    assert ended["steps"][0]["status"] == "canceled"
    assert op.id in CLEANED


async def test_cancel_running_handler_waiting_on_io(app_handle: AppHandle) -> None:
    app_handle.ctx.settings.operation_cancel_grace_seconds = 0.2
    op = await _start(app_handle, "test.deaf", {})
    await _until(app_handle.client, op.id, "running")
    await app_handle.client.post(f"/v1/operations/{op.id}/cancel")
    ended = await _until(app_handle.client, op.id, "canceled", "done", "error")
    assert ended["status"] == "canceled" and op.id in CLEANED


async def test_not_cancellable_running_is_409(app_handle: AppHandle) -> None:
    gate = _gate("stubborn")
    op = await _start(app_handle, "test.stubborn", {"gate": gate})
    await _until(app_handle.client, op.id, "running")
    answer = await app_handle.client.post(f"/v1/operations/{op.id}/cancel")
    assert answer.status_code == 409 and answer.json()["code"] == "DBP-O302"
    assert op.id in answer.json()["detail"]
    GATES.setdefault(gate, asyncio.Event()).set()
    assert (await _until(app_handle.client, op.id, "done"))["status"] == "done"


async def test_failures_record_their_error(app_handle: AppHandle) -> None:
    mine = await _start(app_handle, "test.fails", {"kind": "dbplane"})
    bug = await _start(app_handle, "test.fails", {"kind": "bug"})
    ended = await _until(app_handle.client, mine.id, "error", "done")
    assert ended["error"] == {"code": Unsupported.code, "message": "this cannot be done here"}
    assert ended["steps"][0]["status"] == "error"
    crashed = await _until(app_handle.client, bug.id, "error", "done")
    assert crashed["error"]["code"] == DbplaneError.code
    assert "RuntimeError: boom" in crashed["error"]["message"]


async def test_operations_are_admin_only(app_handle: AppHandle) -> None:
    client = app_handle.client
    anonymous = await client.get("/v1/operations", headers={"Authorization": ""})
    assert anonymous.status_code == 401


async def test_clean_stop_ends_running_ones_and_keeps_pending_ones(
        tmp_path: Path, meta_backend: MetaBackend) -> None:
    settings = make_settings(tmp_path / "data", meta_backend).model_copy(
        update={"operation_workers": 1, "operation_stop_grace_seconds": 0.2})
    gate = _gate("stop")
    app = create_app(settings)
    async with LifespanManager(app):
        ctx: AppContext = app.state.ctx
        _register_test_types(ctx)
        running = await ops.start_operation(ctx, "test.slow", database_id="a",
                                            params={"gate": gate}, created_by=None)
        for _ in range(200):
            if (await ops.get_operation(ctx, running.id)).status == "running":
                break
            await asyncio.sleep(0.02)
        pending = await ops.start_operation(ctx, "test.slow", database_id="b",
                                            params={"gate": gate}, created_by=None)
    GATES.setdefault(gate, asyncio.Event()).set()
    app = create_app(settings)
    async with LifespanManager(app):
        ctx = app.state.ctx
        _register_test_types(ctx)
        stopped = await ops.get_operation(ctx, running.id)
        assert stopped.status == "error" and stopped.error is not None
        assert stopped.error["code"] == "DBP-O402"
        assert running.id in CLEANED  # its cleanup ran
        # the pending one waited for the next start, and runs now, once
        ran = await ops.wait_operation(ctx, pending.id, within=10)
        assert ran.status == "done" and ran.attempts == 1


async def test_periodic_tasks_run_in_the_worker_loop(app_handle: AppHandle) -> None:
    ticks: list[AppContext] = []

    async def tick(ctx: AppContext) -> None:
        ticks.append(ctx)
        if len(ticks) == 2:
            raise RuntimeError("a failing run is logged, the next one still comes")

    ops.registry_of(app_handle.ctx).register_periodic("test.tick", tick, 0.05)
    await ops.stop(app_handle.ctx)
    await ops.start(app_handle.ctx)
    for _ in range(100):
        if len(ticks) >= 3:
            break
        await asyncio.sleep(0.02)
    assert len(ticks) >= 3 and ticks[0] is app_handle.ctx


async def test_list_refuses_unknown_parameters(app_client: httpx.AsyncClient) -> None:
    answer = await app_client.get("/v1/operations", params={"databse": "default"})
    assert answer.status_code == 400 and answer.json()["parameter"] == "databse"


async def test_one_idle_worker_per_process_polls_the_store(
        tmp_path: Path, meta_backend: MetaBackend) -> None:
    """With nothing to do, four workers look for work queued by other processes once per
    poll interval between them (one polls, the others wait to be woken), not once each."""
    settings = make_settings(tmp_path / "data", meta_backend).model_copy(
        update={"operation_workers": 4, "operation_poll_seconds": 0.1})
    polls = 0

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal polls
        if "dbp_operations" in statement and "LIMIT" in statement.upper() \
                and "UPDATE" not in statement.upper():
            polls += 1

    app = create_app(settings)
    async with LifespanManager(app):
        ctx: AppContext = app.state.ctx
        event.listen(ctx.meta.engine.sync_engine, "before_cursor_execute", count)
        await asyncio.sleep(1.0)
        event.remove(ctx.meta.engine.sync_engine, "before_cursor_execute", count)
        # about 10 polls in a second at 0.1 s; four pollers would make about 40
        assert 3 <= polls <= 20, polls
        # and a local start still wakes a worker at once
        started = await ops.start_operation(ctx, "database.check", database_id="default",
                                            params={"samples": 1}, created_by=None)
        ended = await ops.wait_operation(ctx, started.id, within=10)
        assert ended.status == "done", ended


async def test_an_unregistered_type_is_refused_and_never_claimed(
        app_handle: AppHandle) -> None:
    with pytest.raises(DbplaneError) as refused:
        await _start(app_handle, "test.nope", {})
    assert refused.value.code == DbplaneError.code and refused.value.status == 500
    assert refused.value.detail == "no operation type 'test.nope' is registered"
    assert (await app_handle.client.get("/v1/operations")).json()["operations"] == []
    # one queued by a process that knows the type is left to such a process
    queued = ops.OperationRecord(
        id=str(uuid.uuid4()), type="test.nope", database_id="db1", status="pending",
        conflict_slot=None, params={}, result=None, error=None, steps=[], log=[],
        progress=0.0, message=None, created_by="elsewhere", owner=None, attempts=0,
        cancel_requested=False, created_at=now_ms(), started_at=None, finished_at=None,
        heartbeat_at=None)
    async with app_handle.ctx.meta.begin() as conn:
        await oq.insert_operation(conn, queued)
    await asyncio.sleep(app_handle.ctx.settings.operation_poll_seconds * 2)
    left = await ops.get_operation(app_handle.ctx, queued.id)
    assert left.status == "pending" and left.attempts == 0 and left.owner is None
    # a process whose start-up registered nothing refuses even the built-in types
    bare = await AppContext.open(app_handle.ctx.settings)
    try:
        assert ops.registry_of(bare).type_names() == []
        with pytest.raises(DbplaneError) as err:
            await ops.start_operation(bare, "database.check", database_id="default",
                                      params={}, created_by=None)
        assert err.value.detail == "no operation type 'database.check' is registered"
    finally:
        await bare.close()


async def test_start_up_objects_are_frozen_out_of_the_cyclic_gc(
        app_handle: AppHandle) -> None:
    """What start-up built is never scanned by full collections again (they paused the
    event loop for ~55 ms under load)."""
    assert gc.get_freeze_count() > 10_000
