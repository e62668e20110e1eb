"""Redis backup (an RDB snapshot through ``redis-cli --rdb``) and restore (the keys written
back) on a private password-protected server, in a database number no other test uses."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from dbplane.engines import Engine, create_engine_for, parse_database_url
from dbplane.engines.backups import check_archive, make_backup, restore_archive
from dbplane.errors import ArchiveChecksumMismatch, ArchiveInvalid
from tests.fixtures.servers import PrivateRedis

DB = 11


@pytest.fixture
def sync(private_redis: PrivateRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(private_redis.url(db=DB))
    # no 5 s wait for more replicas before a snapshot is streamed (redis-cli --rdb is one)
    client.config_set("repl-diskless-sync-delay", "0")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
async def engine(private_redis: PrivateRedis) -> AsyncIterator[Engine]:
    eng = create_engine_for(parse_database_url(private_redis.url(db=DB)), timeout=5)
    yield eng
    await eng.close()


def content(client: redis.Redis) -> dict[bytes, object]:
    out: dict[bytes, object] = {}
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == b"string":
            out[key] = client.get(key)
        elif kind == b"hash":
            out[key] = client.hgetall(key)
        elif kind == b"list":
            out[key] = client.lrange(key, 0, -1)
        elif kind == b"set":
            out[key] = client.smembers(key)
        elif kind == b"zset":
            out[key] = client.zrange(key, 0, -1, withscores=True)
    return out


async def test_round_trip_writes_the_keys_back(sync: redis.Redis, engine: Engine,
                                               tmp_path: Path,
                                               private_redis: PrivateRedis) -> None:
    other = redis.Redis.from_url(private_redis.url(db=12))
    other.set("elsewhere", "untouched")
    sync.set("greeting", "héllo")
    sync.set("bin", bytes(range(256)))
    sync.hset("user:1", mapping={"name": "ada", "age": "36"})
    sync.rpush("queue", "a", "b", "c")
    sync.sadd("tags", "x", "y")
    sync.zadd("scores", {"ada": 3.5, "grace": 1})
    sync.set("session", "s", ex=1000)
    for i in range(1200):  # more than one batch
        sync.set(f"k:{i}", i)
    before = content(sync)

    archive = await make_backup(engine, tmp_path / "r.rdb")
    assert archive.path.read_bytes()[:5] == b"REDIS"

    sync.set("greeting", "changed")
    sync.delete("user:1", "k:7")
    sync.set("added", "later")
    other.set("elsewhere", "changed on db 12")
    await restore_archive(engine, archive.path, archive.checksum)
    assert content(sync) == before
    assert 0 < (sync.ttl("session") or 0) <= 1000
    assert sync.ttl("greeting") == -1
    # only the URL's database number is written back
    assert other.get("elsewhere") == b"changed on db 12"
    other.delete("elsewhere")
    other.close()


async def test_a_damaged_rdb_is_refused_with_nothing_changed(
        sync: redis.Redis, engine: Engine, tmp_path: Path) -> None:
    sync.set("a", "1")
    archive = await make_backup(engine, tmp_path / "r.rdb")
    sync.set("a", "2")
    damaged = tmp_path / "d.rdb"
    shutil.copy(archive.path, damaged)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(ArchiveChecksumMismatch):
        await restore_archive(engine, damaged, archive.checksum)
    # without a recorded checksum (an upload), the format check refuses it
    with pytest.raises(ArchiveInvalid):
        await restore_archive(engine, damaged, None)
    junk = tmp_path / "j.rdb"
    junk.write_bytes(b"PGDMP not redis")
    with pytest.raises(ArchiveInvalid):
        await check_archive("redis", junk)
    assert sync.get("a") == b"2"
