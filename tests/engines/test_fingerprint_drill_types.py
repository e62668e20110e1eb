"""The fingerprints of SQLite, MariaDB and Redis (restore drills): the same whatever order
rows or keys were written in, different as soon as one value differs (NULL and the
string 'NULL' included), and each type's scratch copy removed on exit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import redis

from dbplane.engines import create_engine_for, parse_database_url
from dbplane.engines.fingerprint import compare
from dbplane.engines.parts import part
from tests.fixtures.servers import PrivateRedis, SqlDatabase, mysql_admin


async def test_sqlite_fingerprint_and_scratch(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB, r REAL)")
    con.execute("INSERT INTO t VALUES (1, 'a', x'00', 1.5), (2, NULL, NULL, NULL)")
    con.commit()
    engine = create_engine_for(parse_database_url(f"sqlite:///{path}"), timeout=3)
    fp = part(engine, "fingerprint")
    first = await fp.fingerprint(engine)
    assert first["t"]["rows"] == 2
    con.execute("DELETE FROM t")
    con.execute("INSERT INTO t VALUES (2, NULL, NULL, NULL), (1, 'a', x'00', 1.5)")
    con.commit()
    assert await fp.fingerprint(engine) == first
    con.execute("UPDATE t SET v = 'NULL' WHERE id = 2")
    con.commit()
    assert [d["name"] for d in compare(first, await fp.fingerprint(engine))] == ["t"]
    con.close()
    async with fp.scratch(engine) as copy:
        scratch = copy.url.file_path
        assert scratch.exists() and scratch != path
    assert not scratch.exists() and not scratch.parent.exists()


async def test_mysql_fingerprint_and_scratch(mysql_url: SqlDatabase) -> None:
    conn = mysql_admin(mysql_url.name)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE fp (id int PRIMARY KEY, v varchar(10), "
                        "b varbinary(4), d double)")
            cur.execute("INSERT INTO fp VALUES (1, 'a', 0x00ff, 1.5), (2, NULL, NULL, NULL)")
        conn.commit()
        engine = create_engine_for(parse_database_url(mysql_url.url), timeout=3)
        fp = part(engine, "fingerprint")
        try:
            first = await fp.fingerprint(engine)
            assert first["fp"]["rows"] == 2
            with conn.cursor() as cur:
                cur.execute("DELETE FROM fp")
                cur.execute("INSERT INTO fp VALUES (2, NULL, NULL, NULL), "
                            "(1, 'a', 0x00ff, 1.5)")
            conn.commit()
            assert await fp.fingerprint(engine) == first
            with conn.cursor() as cur:
                cur.execute("UPDATE fp SET v = 'NULL' WHERE id = 2")
            conn.commit()
            assert [d["name"] for d in compare(first, await fp.fingerprint(engine))] == ["fp"]
            async with fp.scratch(engine) as copy:
                name = copy.url.database
                assert name is not None and name.startswith("dbplane_drill_")
                assert await fp.fingerprint(copy) == {}
        finally:
            await engine.close()
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE %s", (name,))
            assert cur.fetchall() == ()
    finally:
        conn.close()


async def test_redis_fingerprint_and_scratch(private_redis: PrivateRedis) -> None:
    client = redis.Redis.from_url(private_redis.url(db=14))
    client.flushdb()
    try:
        client.set("s", "v")
        client.rpush("l", "1", "2", "3")
        client.sadd("set", *[str(i) for i in range(3000)])
        client.hset("h", mapping={"a": "1", "b": "2"})
        client.zadd("z", {"m": 1.0})
        engine = create_engine_for(parse_database_url(private_redis.url(db=14)), timeout=3)
        fp = part(engine, "fingerprint")
        first = await fp.fingerprint(engine)
        assert first["db14"]["keys"] == 5
        # the same content written in another order: the same digest
        client.delete("set", "h")
        client.hset("h", mapping={"b": "2", "a": "1"})
        client.sadd("set", *[str(i) for i in reversed(range(3000))])
        assert await fp.fingerprint(engine) == first
        # a list's order is content
        client.delete("l")
        client.rpush("l", "3", "2", "1")
        assert compare(first, await fp.fingerprint(engine))[0]["name"] == "db14"
        async with fp.scratch(engine) as copy:
            port = copy.url.port
            assert port != private_redis.port
            assert await fp.fingerprint(copy) == {"db14": {"keys": 0, "digest": "0"}}
        try:
            redis.Redis(port=port, socket_connect_timeout=1).ping()
            raise AssertionError("the scratch redis-server still answers")
        except redis.ConnectionError:
            pass
        await engine.close()
    finally:
        client.flushdb()
        client.close()


