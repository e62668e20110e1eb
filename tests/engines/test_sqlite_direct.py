"""SQLite reads on the event loop, with the worker thread as the way out for slow ones."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest

from dbplane.engines import create_engine_for, parse_database_url
from dbplane.engines.sql.tables import introspect, read_rows, write
from dbplane.engines.sqlite.engine import SlowRead, SqliteEngine
from dbplane.query.model import ReadPlan, WritePlan


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[SqliteEngine]:
    path = tmp_path / "direct.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, i % 7) for i in range(1, 20001)])
    con.commit()
    con.close()
    eng = create_engine_for(parse_database_url(f"sqlite:///{path}"), timeout=5)
    assert isinstance(eng, SqliteEngine)
    await eng.connect()
    yield eng
    await eng.close()


async def test_a_read_past_its_budget_is_aborted_and_answered_from_the_thread(
    engine: SqliteEngine,
) -> None:
    with pytest.raises(SlowRead):
        engine.direct_read_budget = 1e-9
        engine.read_direct("SELECT count(*) FROM t AS a, t AS b WHERE a.id < 50", ())
    info = (await introspect(engine)).tables["t"]
    plan = ReadPlan(table=info, columns=info.columns, limit=3, count_exact=True)
    body, total = await read_rows(engine, plan)  # the same budget: via aiosqlite's thread
    assert total == 20000
    assert [r["id"] for r in orjson.loads(body)] == [1, 2, 3]


async def test_a_direct_read_sees_what_was_just_written(engine: SqliteEngine) -> None:
    info = (await introspect(engine)).tables["t"]
    plan = ReadPlan(table=info, columns=info.columns, limit=1, count_exact=True)
    _, before = await read_rows(engine, plan)
    await write(engine, WritePlan(table=info, action="insert",
                                  rows=({"id": 30000, "v": 1},), returning=info.columns))
    _, after = await read_rows(engine, plan)
    assert (before, after) == (20000, 20001)


async def test_the_direct_connection_cannot_write(engine: SqliteEngine) -> None:
    engine.read_direct("SELECT 1", ())
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        engine.read_direct("DELETE FROM t", ())


async def test_a_file_name_with_uri_characters_is_read_from_that_file(tmp_path: Path) -> None:
    decoy = tmp_path / "odd"
    sqlite3.connect(decoy).close()  # what "file:.../odd?x#y.db" would open unquoted
    path = tmp_path / "odd?x#y.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (v INTEGER)")
    con.execute("INSERT INTO t VALUES (42)")
    con.commit()
    con.close()
    # in a database URL such a name is percent-encoded, as in any URL
    eng = create_engine_for(parse_database_url(f"sqlite:///{quote(str(path))}"), timeout=5)
    assert isinstance(eng, SqliteEngine)
    assert eng.path == path
    try:
        assert eng.read_direct("SELECT v FROM t", ()) == (42,)
    finally:
        await eng.close()


async def test_writes_wait_in_order_for_another_process_lock_and_reads_go_on(
        engine: SqliteEngine) -> None:
    import asyncio
    import time

    info = (await introspect(engine)).tables["t"]
    other = sqlite3.connect(engine.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write lock

    async def insert(i: int) -> bytes | None:
        return await write(engine, WritePlan(table=info, action="insert",
                                             rows=({"id": 40000 + i, "v": i},),
                                             returning=info.columns))

    writes = [asyncio.create_task(insert(i)) for i in range(20)]
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    record = ReadPlan(table=info, columns=info.columns, limit=1)
    body, _ = await read_rows(engine, record)  # a read does not wait behind the writes
    assert time.perf_counter() - started < 0.05 and orjson.loads(body)[0]["id"] == 1
    assert not any(w.done() for w in writes)
    await asyncio.sleep(0.2)
    other.execute("COMMIT")
    other.close()
    answers = [orjson.loads(a or b"null") for a in await asyncio.gather(*writes)]
    assert [a["id"] for a in answers] == [40000 + i for i in range(20)]
    con = sqlite3.connect(engine.path)
    assert con.execute("SELECT count(*) FROM t WHERE id >= 40000").fetchone() == (20,)
    con.close()


async def test_writes_that_come_together_share_one_commit_and_fail_alone(
        engine: SqliteEngine) -> None:
    import asyncio

    from dbplane.errors import UniqueViolation

    info = (await introspect(engine)).tables["t"]
    await write(engine, WritePlan(table=info, action="insert", rows=({"id": 50000, "v": 0},),
                                  returning=info.columns))  # opens the write connection
    statements: list[str] = []
    assert engine._writer is not None
    engine._writer.set_trace_callback(statements.append)

    async def insert(key: int) -> bytes | None:
        return await write(engine, WritePlan(table=info, action="insert",
                                             rows=({"id": key, "v": 1},),
                                             returning=info.columns))

    # id 5 exists: that write fails, and only it
    keys = [60000 + i for i in range(40)]
    keys[20] = 5
    answers = await asyncio.gather(*(insert(k) for k in keys), return_exceptions=True)
    assert isinstance(answers[20], UniqueViolation)
    assert [orjson.loads(a)["id"] for i, a in enumerate(answers) if i != 20] == \
        [k for i, k in enumerate(keys) if i != 20]
    commits = [s for s in statements if s == "COMMIT"]
    assert 1 <= len(commits) < 10, statements  # 40 writes, a handful of syncs to disk
    con = sqlite3.connect(engine.path)
    assert con.execute("SELECT count(*) FROM t WHERE id >= 60000").fetchone() == (39,)
    assert con.execute("SELECT v FROM t WHERE id = 5").fetchone() == (5 % 7,)
    con.close()


async def test_a_failing_check_rolls_back_its_own_write_only(engine: SqliteEngine) -> None:
    import asyncio

    def refuse(rows: list[list[tuple[object, ...]]]) -> None:
        raise ValueError("refused")

    inserted = "INSERT INTO t (id, v) VALUES (?, ?) RETURNING id"
    runs = [engine.run_writes([(inserted, (70000 + i, i))], refuse if i == 1 else None)
            for i in range(3)]
    answers = await asyncio.gather(*runs, return_exceptions=True)
    assert answers[0] == [[(70000,)]] and answers[2] == [[(70002,)]]
    assert isinstance(answers[1], ValueError)
    con = sqlite3.connect(engine.path)
    assert con.execute("SELECT id FROM t WHERE id >= 70000 ORDER BY id").fetchall() == \
        [(70000,), (70002,)]
    con.close()


async def test_reads_go_on_while_a_commit_syncs_and_see_it_once_answered(
        engine: SqliteEngine) -> None:
    import asyncio
    import time

    from dbplane.engines.sqlite.engine import Committer

    info = (await introspect(engine)).tables["t"]
    await write(engine, WritePlan(table=info, action="insert", rows=({"id": 80000, "v": 0},),
                                  returning=info.columns))

    class SlowDisk(Committer):
        """A disk that takes 0.3 s to sync: the COMMIT's thread waits first."""

        def _commit(self, con: sqlite3.Connection) -> None:
            time.sleep(0.3)
            super()._commit(con)

    assert engine._committer is not None
    engine._committer.close()
    engine._committer = SlowDisk()
    pending = asyncio.create_task(write(engine, WritePlan(
        table=info, action="insert", rows=({"id": 80001, "v": 1},), returning=info.columns)))
    await asyncio.sleep(0.05)
    by_key = ReadPlan(table=info, columns=info.columns,
                      key=((info.column("id"), 80001),))  # type: ignore[arg-type]
    from dbplane.engines.sql.tables import read_record

    started = time.perf_counter()
    assert await read_record(engine, by_key) is None  # not committed yet, and no wait
    assert time.perf_counter() - started < 0.1 and not pending.done()
    assert orjson.loads(await pending or b"null")["id"] == 80001
    assert orjson.loads(await read_record(engine, by_key) or b"null")["id"] == 80001


def test_commits_run_on_the_loop_while_they_are_quick_and_on_the_thread_else() -> None:
    from dbplane.engines.sqlite.engine import Committer

    committer = Committer()
    assert not committer.inline  # until COMMITs are measured quick
    for _ in range(12):
        committer.note(Committer.INLINE_BELOW / 10)
    assert committer.inline
    committer.note(0.3)  # one slow sync sends the next ones to the thread
    assert not committer.inline


async def test_writes_committed_on_the_loop_are_read_back(engine: SqliteEngine) -> None:
    info = (await introspect(engine)).tables["t"]
    await write(engine, WritePlan(table=info, action="insert", rows=({"id": 90000, "v": 0},),
                                  returning=info.columns))
    assert engine._committer is not None
    engine._committer.recent = 0.0  # quick: inline
    for n in range(1, 4):
        made = await write(engine, WritePlan(table=info, action="insert",
                                             rows=({"id": 90000 + n, "v": n},),
                                             returning=info.columns))
        assert orjson.loads(made or b"null")["id"] == 90000 + n
    con = sqlite3.connect(engine.path)
    assert con.execute("SELECT count(*) FROM t WHERE id > 90000").fetchone() == (3,)
    con.close()
    assert engine._committer._thread is not None  # the first write's COMMIT used it
