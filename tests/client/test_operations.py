"""``client.operations`` against the live server: check, get, list, wait, cancel, and the
async twins."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dbplane import ApiClient, AsyncApiClient
from dbplane.client.operations import ENDED, Operation, as_operation, operation_error
from dbplane.errors import (
    DatabaseUnreachable,
    DbplaneError,
    OperationCanceled,
    OperationNotCancellable,
    OperationNotFound,
)


def test_check_waits_to_done_with_progress(client: ApiClient) -> None:
    op = client.operations.check("default", samples=3, interval_ms=50)
    assert isinstance(op, Operation) and op["type"] == "database.check"
    seen: list[float] = []
    done = op.wait(timeout=30, poll=0.05, on_progress=lambda o: seen.append(o["progress"]))
    assert done is op and op["status"] == "done" and op.ended
    assert op["result"]["reachable"] is True and op["result"]["samples"] == 3
    assert seen[-1] == 1.0 and seen == sorted(seen)
    again = client.operations.get(op.id)
    assert again == op
    assert op.refresh() is op


def test_list_filters(client: ApiClient) -> None:
    op = client.operations.check("default", wait=True)
    listed = client.operations.list(database="default", type="database.check", limit=5)
    assert op.id in [o.id for o in listed] and all(isinstance(o, Operation) for o in listed)
    assert all(o["type"] == "database.check" for o in listed)
    assert op.id not in [o.id for o in client.operations.list(status="running")]


def test_cancel_running_then_wait_raises_canceled(client: ApiClient) -> None:
    op = client.operations.check("default", samples=100, interval_ms=100)
    while op.refresh()["status"] == "pending":
        pass
    assert op.cancel() is op and op["cancel_requested"] is True
    with pytest.raises(OperationCanceled) as err:
        op.wait(timeout=30, poll=0.05)
    assert op["status"] == "canceled" and err.value.fields["operation_id"] == op.id
    with pytest.raises(OperationNotCancellable):
        client.operations.cancel(op.id)


def test_unknown_operation(client: ApiClient) -> None:
    with pytest.raises(OperationNotFound) as err:
        client.operations.get("nope")
    assert err.value.status_code == 404


def test_wait_raises_the_class_of_the_error_code(client: ApiClient) -> None:
    failed: dict[str, Any] = {"id": "x", "status": "error", "error": {
        "code": DatabaseUnreachable.code, "message": "the database stopped answering"}}
    with pytest.raises(DatabaseUnreachable, match="stopped answering"):
        as_operation(client._http, failed).wait()  # no server call: it ended
    future = operation_error({"id": "y", "status": "error",
                              "error": {"code": "DBP-Z999", "message": "newer"}})
    assert type(future) is DbplaneError and future.fields["code"] == "DBP-Z999"
    assert operation_error({"id": "z", "status": "done"}) is None
    assert {"done", "error", "canceled"} == ENDED


async def test_async_twins(aclient: AsyncApiClient) -> None:
    op = await aclient.operations.check("default", samples=2)
    progress: list[float] = []

    async def record(o: Any) -> None:
        progress.append(o["progress"])

    done = await op.wait(timeout=30, poll=0.05, on_progress=record)
    assert done["status"] == "done" and progress[-1] == 1.0
    assert (await aclient.operations.get(op.id))["result"] == done["result"]
    assert op.id in [o.id for o in await aclient.operations.list(type="database.check")]
    slow = await aclient.operations.check("default", samples=100, interval_ms=100)
    await slow.cancel()
    with pytest.raises(OperationCanceled):
        await slow.wait(timeout=30, poll=0.05)
    with pytest.raises(OperationNotFound):
        await aclient.operations.cancel("nope")


def test_wait_is_one_long_poll_answered_when_the_operation_ends(client: ApiClient) -> None:
    """Without a progress callback, ``wait()`` reads the operation once (the server holds
    the read until the end) instead of polling every ``poll`` seconds."""
    gets: list[str] = []
    http = client._http._client  # the httpx client under the API client
    http.event_hooks["request"].append(
        lambda request: gets.append(str(request.url)) if request.method == "GET" else None)
    op = client.operations.check("default", samples=8, interval_ms=100)
    started = time.monotonic()
    op.wait(timeout=30, poll=0.05)
    assert op["status"] == "done" and time.monotonic() - started >= 0.5
    assert len(gets) == 1 and "wait=" in gets[0], gets


def test_refresh_with_wait_is_a_long_poll(client: ApiClient) -> None:
    op = client.operations.check("default", samples=100, interval_ms=100)  # 10 s
    started = time.monotonic()
    assert op.refresh(wait=0.4) is op and op["status"] in ("pending", "running")
    assert time.monotonic() - started >= 0.4  # the server held the read
    op.cancel()
    with pytest.raises(OperationCanceled):
        op.wait(timeout=30)
    started = time.monotonic()
    assert op.refresh(wait=30)["status"] == "canceled"
    assert time.monotonic() - started < 5  # an ended operation is answered at once
