"""``MetaStore.write``: a transaction, once begun, ends even if its caller is cancelled
meanwhile; the cancel reaches the caller after it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from dbplane.meta import queries as q
from dbplane.meta.records import RoleRecord
from dbplane.meta.store import MetaStore


def _role(name: str) -> RoleRecord:
    return RoleRecord(name=name, description="", grants=(), created_on=1, updated_on=1)


@pytest.mark.parametrize("meta_backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_cancelled_callers_write_still_commits_before_the_cancel_is_raised(
        store: MetaStore) -> None:
    inside, release = asyncio.Event(), asyncio.Event()

    async def slow_write(conn: AsyncConnection) -> str:
        await q.insert_role(conn, _role("kept"))
        inside.set()
        await release.wait()  # the cancel lands here, inside the transaction
        return "written"

    caller = asyncio.create_task(store.write(slow_write))
    await inside.wait()
    caller.cancel()
    await asyncio.sleep(0.05)
    assert not caller.done()  # the caller waits for the transaction to end
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    async with store.connect() as conn:
        assert await q.get_role(conn, "kept") is not None
    # nothing is left locked: the next write goes through at once
    assert await asyncio.wait_for(store.write(
        lambda conn: q.insert_role(conn, _role("next"))), 5) is None


@pytest.mark.parametrize("meta_backend", ["sqlite", "postgresql"], indirect=True)
async def test_an_error_in_the_write_rolls_it_back_and_reaches_the_caller(
        store: MetaStore) -> None:
    async def failing(conn: AsyncConnection) -> None:
        await q.insert_role(conn, _role("gone"))
        raise LookupError("no")

    with pytest.raises(LookupError):
        await store.write(failing)
    async with store.connect() as conn:
        assert await q.get_role(conn, "gone") is None
    assert await store.write(lambda conn: q.get_role(conn, "gone")) is None
