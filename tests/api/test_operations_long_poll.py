"""``GET /v1/operations/{id}?wait=``: a long poll answered the moment the operation ends,
or as it is after ``wait`` seconds; bad values are refused naming ``wait``."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from dbplane.meta import operations_queries as oq
from dbplane.services import operations as ops
from dbplane.services.context import now_ms
from tests.api.test_operations import (  # noqa: F401 (the fixture)
    GATES,
    _gate,
    _start,
    _until,
    app_handle,
)
from tests.conftest import AppHandle

pytestmark = pytest.mark.parametrize("meta_backend", ["sqlite", "postgresql"], indirect=True)


async def _running(handle: AppHandle, name: str) -> tuple[str, str]:
    """A ``test.slow`` operation running behind a closed gate: (its gate, its id)."""
    gate = _gate(name)
    op = await _start(handle, "test.slow", {"gate": gate})
    await _until(handle.client, op.id, "running")
    return gate, op.id


async def test_a_long_poll_answers_the_moment_the_operation_ends(
        app_handle: AppHandle) -> None:  # noqa: F811
    client = app_handle.client
    gate, op_id = await _running(app_handle, "long-poll")
    poll = asyncio.ensure_future(client.get(f"/v1/operations/{op_id}", params={"wait": 30}))
    await asyncio.sleep(0.5)
    assert not poll.done()  # still running: the answer waits
    opened = time.monotonic()
    GATES.setdefault(gate, asyncio.Event()).set()
    answer = await asyncio.wait_for(poll, 10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "done" and answer.json()["result"] == {"gate": gate}
    # the gate is looked at every 20 ms; the end is told without a poll interval
    assert time.monotonic() - opened < 1.0


async def test_a_long_poll_answers_the_operation_as_it_is_after_wait(
        app_handle: AppHandle) -> None:  # noqa: F811
    client = app_handle.client
    gate, op_id = await _running(app_handle, "still-running")
    started = time.monotonic()
    answer = await client.get(f"/v1/operations/{op_id}", params={"wait": "0.4"})
    waited = time.monotonic() - started
    assert answer.status_code == 200 and answer.json()["status"] == "running"
    assert 0.4 <= waited < 5
    GATES.setdefault(gate, asyncio.Event()).set()
    ended = await client.get(f"/v1/operations/{op_id}", params={"wait": 30})
    assert ended.json()["status"] == "done"
    started = time.monotonic()
    again = await client.get(f"/v1/operations/{op_id}", params={"wait": 30})
    assert again.json()["status"] == "done" and time.monotonic() - started < 1.0


async def test_an_end_written_elsewhere_is_seen_by_reading_the_store(
        app_handle: AppHandle) -> None:  # noqa: F811
    """An operation another replica ends (here: its row ended in the store directly, no
    signal in this process) is answered at the next read of the store."""
    client = app_handle.client
    gate, op_id = await _running(app_handle, "elsewhere")
    poll = asyncio.ensure_future(client.get(f"/v1/operations/{op_id}", params={"wait": 30}))
    await asyncio.sleep(0.3)
    record = await ops.get_operation(app_handle.ctx, op_id)
    async with app_handle.ctx.meta.begin() as conn:
        assert await oq.end_operation(conn, op_id, record.owner or "", {
            "status": "error", "finished_at": now_ms(),
            "error": {"code": "DBP-O402", "message": "ended by another replica"}})
    ended = time.monotonic()
    answer = await asyncio.wait_for(poll, 10)
    assert answer.json()["status"] == "error"
    assert time.monotonic() - ended < 2.0
    GATES.setdefault(gate, asyncio.Event()).set()


@pytest.mark.parametrize("wait", ["0", "-1", "61", "soon", ""])
async def test_a_bad_wait_is_refused_naming_it(app_client: httpx.AsyncClient,
                                               wait: str) -> None:
    made = (await app_client.post("/v1/databases/default/check")).json()
    answer = await app_client.get(f"/v1/operations/{made['id']}", params={"wait": wait})
    assert answer.status_code == 422, answer.text
    assert "wait" in answer.text


async def test_the_consoles_operation_card_long_polls_too(
        app_handle: AppHandle) -> None:  # noqa: F811
    from tests.api.test_console import _browser, _sign_in
    from tests.conftest import ADMIN_TOKEN

    gate, op_id = await _running(app_handle, "console-card")
    url = f"/console/operations/{op_id}.json"
    async with _browser(app_handle) as browser:
        assert (await _sign_in(browser, token=ADMIN_TOKEN)).status_code == 303
        started = time.monotonic()
        held = await browser.get(url, params={"wait": "0.4"})
        assert held.status_code == 200 and held.json()["status"] == "running"
        assert time.monotonic() - started >= 0.4
        poll = asyncio.ensure_future(browser.get(url, params={"wait": 5}))
        await asyncio.sleep(0.3)
        assert not poll.done()
        opened = time.monotonic()
        GATES.setdefault(gate, asyncio.Event()).set()
        answer = await asyncio.wait_for(poll, 5)
        assert answer.json()["status"] == "done" and time.monotonic() - opened < 1.0
        too_long = await browser.get(url, params={"wait": 6})
        assert too_long.status_code == 422 and "wait" in too_long.text
