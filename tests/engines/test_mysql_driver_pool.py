"""MariaDB's Tables API statements run on an asyncmy pool of the engine's own
(``engines/mysql/pool.py``): every column kind comes back as SQLAlchemy's pool gave it,
concurrent writes each get their own rows, a request cancelled mid-statement leaves no
half-read answer for the next one, a refused statement keeps its connection and rolls its
transaction back, a connection the server dropped is never handed out again, and the
pools close with the engine."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from dbplane.engines import create_engine_for, parse_database_url
from dbplane.engines.mysql.engine import MysqlEngine
from dbplane.engines.sql.reconnect import connection_lost
from dbplane.engines.sql.tables import introspect, read_record, write
from dbplane.errors import RecordNotFound, UniqueViolation, ValueTooLarge
from dbplane.query.model import ReadPlan, TableInfo, WritePlan
from tests.fixtures.servers import SqlDatabase, mysql_admin

DDL = [
    "CREATE TABLE kinds (id INT AUTO_INCREMENT PRIMARY KEY, i INT, big BIGINT, t TEXT, "
    "v VARCHAR(20) UNIQUE, r DOUBLE, f FLOAT, b BOOLEAN, d DATE, dt DATETIME(6), "
    "ts TIMESTAMP(6) NULL, amount DECIMAL(10,2), j JSON, bin VARBINARY(64), u UUID, "
    "tm TIME(6), e ENUM('a', 'b'), note VARCHAR(50) NOT NULL DEFAULT 'hello', "
    "created DATETIME DEFAULT CURRENT_TIMESTAMP)",
]

ROW: dict[str, Any] = {
    "i": -7, "big": 2**60 + 1, "t": "naïve 'quoted' \\ text", "r": 0.1, "f": 1.5,
    "b": True, "d": dt.date(2024, 2, 29), "dt": dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
    "ts": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "amount": Decimal("12.34"),
    "j": {"k": [1, "two", None]}, "bin": b"\x00\xffbytes", "u":
    "123e4567-e89b-12d3-a456-426614174000", "tm": dt.time(13, 14, 15, 500), "e": "b",
}


@pytest.fixture(scope="module")
async def engine(mysql_url: SqlDatabase) -> AsyncIterator[MysqlEngine]:
    admin = mysql_admin(mysql_url.name)
    try:
        with admin.cursor() as cur:
            for statement in DDL:
                cur.execute(statement)
    finally:
        admin.close()
    eng = create_engine_for(parse_database_url(mysql_url.url), timeout=5)
    assert isinstance(eng, MysqlEngine)
    await eng.connect()
    yield eng
    await eng.close()


@pytest.fixture(scope="module")
async def kinds(engine: MysqlEngine) -> TableInfo:
    return (await introspect(engine)).tables["kinds"]


def _insert(info: TableInfo, *rows: dict[str, Any]) -> WritePlan:
    return WritePlan(table=info, action="insert", rows=rows, returning=info.columns)


async def _over_sqlalchemy(engine: MysqlEngine, info: TableInfo, key: int) -> bytes | None:
    """The record as the Tables API read it before the driver pool: on SQLAlchemy's."""
    from dbplane.engines.sql.tables import prepare_read

    prepared = prepare_read(engine, ReadPlan(table=info, columns=info.columns,
                                             key=((info.column("id"), key),)))
    async with engine.sa_engine.connect() as conn:
        row = (await conn.exec_driver_sql(prepared.sql, prepared.args)).first()
    assert row is not None and row[0] is not None
    return row[0].encode() if isinstance(row[0], str) else bytes(row[0])


async def test_every_kind_reads_back_as_over_sqlalchemy(engine: MysqlEngine,
                                                        kinds: TableInfo) -> None:
    written = orjson.loads(await write(engine, _insert(kinds, ROW)) or b"null")
    key = written["id"]
    direct = await read_record(engine, ReadPlan(table=kinds, columns=kinds.columns,
                                                key=((kinds.column("id"), key),)))
    assert direct is not None
    assert orjson.loads(direct) == written == orjson.loads(
        await _over_sqlalchemy(engine, kinds, key) or b"null")
    assert written["big"] == str(2**60 + 1) and written["t"] == ROW["t"]
    assert written["b"] is True and written["amount"] == "12.34"
    assert written["dt"] == "2024-01-02T03:04:05.123456"
    assert written["ts"] == "2024-01-02T03:04:05+00:00" and written["j"] == ROW["j"]
    assert written["bin"] == ROW["bin"].hex() and written["note"] == "hello"
    assert written["tm"] == "13:14:15.000500" and written["e"] == "b"
    # an update (no UPDATE ... RETURNING: the update and the read in one transaction)
    changed = await write(engine, WritePlan(table=kinds, action="update",
                                            rows=({"t": "ünïcode ✓", "b": False},),
                                            key=((kinds.column("id"), key),),
                                            returning=kinds.columns))
    assert orjson.loads(changed or b"null") == {**written, "t": "ünïcode ✓", "b": False}
    assert orjson.loads(await _over_sqlalchemy(engine, kinds, key) or b"null") == \
        orjson.loads(changed or b"null")


async def test_concurrent_writes_and_reads_each_get_their_own_rows(
        engine: MysqlEngine, kinds: TableInfo) -> None:
    async def one(i: int) -> None:
        row = {"i": i, "t": f"row {i}", "j": {"i": i}}
        made = orjson.loads(await write(engine, _insert(kinds, row)) or b"null")
        assert (made["i"], made["t"], made["j"]) == (i, f"row {i}", {"i": i})
        key = ((kinds.column("id"), made["id"]),)
        changed = await write(engine, WritePlan(table=kinds, action="update",
                                                rows=({"i": -i},), key=key,
                                                returning=kinds.columns))
        assert orjson.loads(changed or b"null")["i"] == -i
        read = await read_record(engine, ReadPlan(table=kinds, columns=kinds.columns,
                                                  key=key))
        assert orjson.loads(read or b"null") == orjson.loads(changed or b"null")

    await asyncio.gather(*(one(i) for i in range(200)))


async def test_a_cancelled_statement_leaves_nothing_for_the_next(
        engine: MysqlEngine, kinds: TableInfo) -> None:
    slow = asyncio.create_task(engine.run_writes([("SELECT SLEEP(0.3), 'late'", ())]))
    await asyncio.sleep(0.05)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    # its answer would have been the next statement's rows on a reused connection
    for _ in range(30):
        assert await engine.direct_read("SELECT 'mine'", ()) == ("mine",)


async def test_a_refused_statement_rolls_back_and_keeps_the_pool_working(
        engine: MysqlEngine, kinds: TableInfo) -> None:
    await write(engine, _insert(kinds, {"v": "unique-1"}))
    with pytest.raises(UniqueViolation):
        await write(engine, _insert(kinds, {"v": "unique-2"}, {"v": "unique-1"}))
    found = await engine.direct_read("SELECT count(*) FROM kinds WHERE v = 'unique-2'", ())
    assert found == (0,)
    made = orjson.loads(await write(engine, _insert(kinds, {"v": "unique-3"})) or b"null")
    # an update refused in its transaction: nothing changed, the next one works
    key = ((kinds.column("id"), made["id"]),)
    with pytest.raises(UniqueViolation):
        await write(engine, WritePlan(table=kinds, action="update",
                                      rows=({"v": "unique-1"},), key=key,
                                      returning=kinds.columns))
    assert await engine.direct_read("SELECT v FROM kinds WHERE id = %s",
                                    (made["id"],)) == ("unique-3",)
    with pytest.raises(RecordNotFound):
        await write(engine, WritePlan(table=kinds, action="update", rows=({"i": 1},),
                                      key=((kinds.column("id"), 10**9),),
                                      returning=kinds.columns))


async def test_a_connection_the_server_dropped_is_not_reused(engine: MysqlEngine) -> None:
    conn_id = (await engine.direct_read("SELECT CONNECTION_ID()", ()) or (0,))[0]
    admin = mysql_admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f"KILL {int(conn_id)}")
    finally:
        admin.close()
    seen = set()
    for _ in range(5):
        try:
            row = await engine.direct_read("SELECT CONNECTION_ID()", ())
        except Exception as exc:
            assert connection_lost(engine, exc), exc
            continue
        seen.add((row or (0,))[0])
    assert seen and conn_id not in seen


async def test_a_statement_over_max_allowed_packet_is_refused_before_it_is_sent(
        engine: MysqlEngine, kinds: TableInfo) -> None:
    await engine.direct_read("SELECT 1", ())
    limit = engine._driver_pool.max_packet
    assert limit
    with pytest.raises(ValueTooLarge) as info:
        await write(engine, _insert(kinds, {"t": "x" * (limit + 10)}))
    assert info.value.fields["limit"] == limit


async def test_the_pools_close_with_the_engine(mysql_url: SqlDatabase) -> None:
    # Other tests' engines on this database may still be closing: follow this engine's
    # own connections by their ids, not a count.
    def connections() -> set[int]:
        admin = mysql_admin()
        try:
            with admin.cursor() as cur:
                cur.execute("SELECT id FROM information_schema.processlist "
                            "WHERE db = %s", (mysql_url.name,))
                return {int(row[0]) for row in cur.fetchall()}
        finally:
            admin.close()

    before = connections()
    eng = create_engine_for(parse_database_url(mysql_url.url), timeout=5)
    assert isinstance(eng, MysqlEngine)
    await eng.run_writes([("SELECT 1", ())])
    await eng.run_writes([("SELECT 1", ()), ("SELECT 2", ())])  # the transactions' pool
    opened = connections() - before
    assert len(opened) == 2
    await eng.close()
    assert not opened & connections()


class _CommandCounter:
    """A loopback TCP relay in front of MariaDB that reads the client's side as MySQL
    packets (3-byte length, sequence number) and keeps each command the client sent
    (sequence 0 starts one)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.commands: list[bytes] = []
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)

        async def client_side() -> None:
            try:
                while True:
                    head = await reader.readexactly(4)
                    body = await reader.readexactly(int.from_bytes(head[:3], "little"))
                    if head[3] == 0:
                        self.commands.append(body)
                    up_writer.write(head + body)
                    await up_writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                up_writer.close()

        async def server_side() -> None:
            try:
                while data := await up_reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            writer.close()

        await asyncio.gather(client_side(), server_side())

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def test_several_statements_go_as_one_command_with_their_commit(
        mysql_url: SqlDatabase, kinds: TableInfo, engine: MysqlEngine) -> None:
    url = parse_database_url(mysql_url.url)
    counter = _CommandCounter(url.port or 3306)
    port = await counter.start()
    relayed = create_engine_for(parse_database_url(
        mysql_url.url.replace(f":{url.port}/", f":{port}/")), timeout=5)
    assert isinstance(relayed, MysqlEngine)
    try:
        made = orjson.loads(await write(relayed, _insert(kinds, {"i": 1})) or b"null")
        plan = WritePlan(table=kinds, action="update", rows=({"i": 2},),
                         key=((kinds.column("id"), made["id"]),), returning=kinds.columns)
        await write(relayed, plan)  # opens the transactions' pool
        counter.commands.clear()
        for _ in range(3):
            changed = await write(relayed, plan)
        # each update is one COM_QUERY (0x03) holding the transaction's start, the UPDATE,
        # the read of the row and the COMMIT; and the connection is kept for the next one
        # (no connection set-up in between)
        assert len(counter.commands) == 3, counter.commands
        for sent in counter.commands:
            assert sent.startswith(b"\x03START TRANSACTION;\nUPDATE ")
            assert b";\nSELECT " in sent and sent.endswith(b";\nCOMMIT")
        assert orjson.loads(changed or b"null")["i"] == 2
        # committed: the engine's other connections see it
        assert await engine.direct_read("SELECT i FROM kinds WHERE id = %s",
                                        (made["id"],)) == (2,)
    finally:
        await relayed.close()
        await counter.close()


async def test_a_batch_stops_at_a_refused_statement_and_changes_nothing(
        engine: MysqlEngine, kinds: TableInfo) -> None:
    made = orjson.loads(await write(engine, _insert(kinds, {"i": 5})) or b"null")
    for _ in range(3):  # the same connections again and again: nothing left unread
        with pytest.raises(Exception, match="no_such_column"):
            await engine.run_writes([
                ("UPDATE kinds SET i = 6 WHERE id = %s", (made["id"],)),
                ("SELECT no_such_column FROM kinds", ()),
                ("UPDATE kinds SET i = 7 WHERE id = %s", (made["id"],))])
        assert await engine.direct_read("SELECT i FROM kinds WHERE id = %s",
                                        (made["id"],)) == (5,)
        rows = await engine.run_writes([("SELECT 'a'", ()), ("SELECT 'b'", ())])
        assert rows == [[("a",)], [("b",)]]

    def refuse(_: list[list[tuple[Any, ...]]]) -> None:
        raise ValueTooLarge("refused by the check", limit=0, size=1)

    with pytest.raises(ValueTooLarge):
        await engine.run_writes([("UPDATE kinds SET i = 8 WHERE id = %s", (made["id"],))],
                                refuse)
    assert await engine.direct_read("SELECT i FROM kinds WHERE id = %s",
                                    (made["id"],)) == (5,)


@pytest.mark.parametrize("text", [
    "x'; DELETE FROM kinds; --",
    "x\\'; DELETE FROM kinds; -- ",
    "x\\\\'; DELETE FROM kinds; #",
    "x\"; DELETE FROM kinds; --",
    "%s; DELETE FROM kinds; %%",
])
async def test_values_in_a_batch_stay_values(engine: MysqlEngine, kinds: TableInfo,
                                             text: str) -> None:
    # the batch's statements are joined as text: a value must never end its statement
    made = orjson.loads(await write(engine, _insert(kinds, {"t": "before"})) or b"null")
    count = await engine.direct_read("SELECT count(*) FROM kinds", ())
    changed = await write(engine, WritePlan(table=kinds, action="update",
                                            rows=({"t": text},),
                                            key=((kinds.column("id"), made["id"]),),
                                            returning=kinds.columns))
    assert orjson.loads(changed or b"null")["t"] == text
    assert await engine.direct_read("SELECT count(*) FROM kinds", ()) == count
    assert await engine.direct_read("SELECT t FROM kinds WHERE id = %s",
                                    (made["id"],)) == (text,)


async def test_a_batch_over_max_allowed_packet_together_is_refused_before_it_is_sent(
        engine: MysqlEngine, kinds: TableInfo) -> None:
    # each statement fits, the packet holding both would not
    await engine.direct_read("SELECT 1", ())
    limit = engine._driver_pool.max_packet
    assert limit
    made = orjson.loads(await write(engine, _insert(kinds, {"t": "small"})) or b"null")
    half = "y" * (limit // 2 + 10)
    with pytest.raises(ValueTooLarge):
        await engine.run_writes([("UPDATE kinds SET t = %s WHERE id = %s", (half, made["id"])),
                                 ("SELECT %s", (half,))])
    assert await engine.direct_read("SELECT t FROM kinds WHERE id = %s",
                                    (made["id"],)) == ("small",)
