"""Backup and restore on real SQLite, PostgreSQL and MariaDB databases: a round trip gives
back exactly the rows backed up, a backup taken while another connection writes is one
consistent snapshot, and a damaged archive is refused before anything changes."""

from __future__ import annotations

import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dbplane.engines import Engine, create_engine_for, parse_database_url
from dbplane.engines.backups import check_archive, make_backup, restore_archive
from dbplane.errors import ArchiveChecksumMismatch, ArchiveInvalid
from tests.fixtures.servers import SqlDatabase

ROWS = [(1, "ada"), (2, "grace"), (3, "édith ☃")]


def sync_url(db: SqlDatabase) -> str:
    if db.engine == "sqlite":
        return f"sqlite:///{db.name}"
    if db.engine == "postgresql":
        return db.url.replace("postgresql://", "postgresql+psycopg://")
    return db.url.replace("mysql://", "mysql+pymysql://") + "?charset=utf8mb4"


@pytest.fixture(scope="module")
def sync(sql_url: SqlDatabase) -> Iterator[sa.Engine]:
    engine = sa.create_engine(sync_url(sql_url))
    yield engine
    engine.dispose()


@pytest.fixture
async def engine(sql_url: SqlDatabase) -> AsyncIterator[Engine]:
    eng = create_engine_for(parse_database_url(sql_url.url), timeout=5)
    yield eng
    await eng.close()


def rows(sync: sa.Engine, table: str = "people") -> list[tuple[object, ...]]:
    with sync.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT id, name FROM {table} "
                                                       "ORDER BY id"))]


def execute(sync: sa.Engine, *statements: str) -> None:
    with sync.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


async def test_round_trip_restores_the_rows_backed_up(sync: sa.Engine, engine: Engine,
                                                      tmp_path: Path) -> None:
    execute(sync, "DROP TABLE IF EXISTS people",
            "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)")
    with sync.begin() as conn:
        conn.execute(sa.text("INSERT INTO people (id, name) VALUES (:i, :n)"),
                     [{"i": i, "n": n} for i, n in ROWS])
    archive = await make_backup(engine, tmp_path / "b.archive")
    assert archive.path.is_file() and archive.size == archive.path.stat().st_size
    assert not list(tmp_path.glob("*.tmp"))  # noqa: ASYNC240
    assert len(archive.sha256) == 64

    execute(sync, "UPDATE people SET name = 'changed' WHERE id = 1",
            "DELETE FROM people WHERE id = 2", "INSERT INTO people VALUES (4, 'new')")
    await engine.close()  # a pooled connection must not hold the file during the restore
    await restore_archive(engine, archive.path, archive.checksum)
    assert rows(sync) == ROWS

    # a changed (or truncated) archive is refused before anything is touched
    execute(sync, "DELETE FROM people WHERE id = 3")
    damaged = tmp_path / "damaged.archive"
    shutil.copy(archive.path, damaged)
    with damaged.open("r+b") as fh:
        fh.seek(archive.size // 2)
        byte = fh.read(1)
        fh.seek(archive.size // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ArchiveChecksumMismatch):
        await restore_archive(engine, damaged, archive.checksum)
    truncated = tmp_path / "truncated.archive"
    truncated.write_bytes(archive.path.read_bytes()[: archive.size // 3])
    with pytest.raises(ArchiveChecksumMismatch):
        await restore_archive(engine, truncated, archive.checksum)
    assert rows(sync) == ROWS[:2]


async def test_an_archive_of_another_format_is_refused(sync: sa.Engine, engine: Engine,
                                                       tmp_path: Path) -> None:
    junk = tmp_path / "junk.archive"
    junk.write_bytes(b"REDIS0010" + b"\x00" * 100)
    with pytest.raises(ArchiveInvalid):
        await check_archive(engine.type_name, junk)
    archive = await make_backup(engine, tmp_path / "good.archive")
    half = tmp_path / "half.archive"
    half.write_bytes(archive.path.read_bytes()[:200])
    with pytest.raises(ArchiveInvalid):
        await check_archive(engine.type_name, half)
    before = rows(sync)
    with pytest.raises(ArchiveInvalid):
        await restore_archive(engine, junk, None)
    assert rows(sync) == before


async def test_an_archive_cut_short_is_refused_by_the_upload_check(
        sync: sa.Engine, engine: Engine, tmp_path: Path) -> None:
    # what an upload gets: no recorded checksum, so the format check alone must notice a
    # file cut after its header (pg_restore --list reads only the table of contents)
    execute(sync, "DROP TABLE IF EXISTS filler",
            "CREATE TABLE filler (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)")
    with sync.begin() as conn:
        conn.execute(sa.text("INSERT INTO filler (id, name) VALUES (:i, :n)"),
                     [{"i": i, "n": f"row number {i}"} for i in range(3000)])
    archive = await make_backup(engine, tmp_path / "whole.archive")
    await check_archive(engine.type_name, archive.path)
    cut = tmp_path / "cut.archive"
    cut.write_bytes(archive.path.read_bytes()[: archive.size * 3 // 4])
    with pytest.raises(ArchiveInvalid):
        await check_archive(engine.type_name, cut)
    execute(sync, "DROP TABLE filler")


async def test_a_backup_taken_during_writes_is_consistent(sync: sa.Engine, engine: Engine,
                                                          tmp_path: Path) -> None:
    # transfers between accounts keep the total at 1000; a torn snapshot would not
    execute(sync, "DROP TABLE IF EXISTS accounts", "DROP TABLE IF EXISTS filler",
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)",
            "CREATE TABLE filler (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)")
    with sync.begin() as conn:
        conn.execute(sa.text("INSERT INTO accounts VALUES (:i, 100)"),
                     [{"i": i} for i in range(10)])
        conn.execute(sa.text("INSERT INTO filler VALUES (:i, :n)"),
                     [{"i": i, "n": f"row {i}"} for i in range(20000)])
    stop = threading.Event()
    transfers = [0]

    def writer() -> None:
        n = 0
        while not stop.is_set():
            a, b = n % 10, (n * 7 + 3) % 10
            with sync.begin() as conn:
                conn.execute(sa.text("UPDATE accounts SET balance = balance - 1 WHERE id = :a"),
                             {"a": a})
                conn.execute(sa.text("UPDATE accounts SET balance = balance + 1 WHERE id = :b"),
                             {"b": b})
                conn.execute(sa.text("INSERT INTO filler VALUES (:i, 'w')"),
                             {"i": 100000 + n})
            n += 1
            transfers[0] = n

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while transfers[0] < 5:
            await _sleep()
        archive = await make_backup(engine, tmp_path / "live.archive")
        while transfers[0] < 20:
            await _sleep()
    finally:
        stop.set()
        thread.join()
    await engine.close()
    await restore_archive(engine, archive.path, archive.checksum)
    with sync.connect() as conn:
        total = conn.execute(sa.text("SELECT SUM(balance), COUNT(*) FROM accounts")).one()
        written = conn.execute(sa.text("SELECT COUNT(*) FROM filler WHERE id >= 100000")
                               ).scalar_one()
    assert tuple(total) == (1000, 10)
    # the snapshot is a point in the writes: every transfer before it, none after
    assert written < transfers[0]


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.02)


async def test_mariadb_accepts_a_gzip_dump(mysql_url: SqlDatabase, tmp_path: Path) -> None:
    import gzip

    sync = sa.create_engine(sync_url(mysql_url))
    engine = create_engine_for(parse_database_url(mysql_url.url), timeout=5)
    try:
        execute(sync, "DROP TABLE IF EXISTS people",
                "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)",
                "INSERT INTO people VALUES (1, 'gz')")
        archive = await make_backup(engine, tmp_path / "plain.sql")
        zipped = tmp_path / "dump.sql.gz"
        zipped.write_bytes(gzip.compress(archive.path.read_bytes()))
        execute(sync, "DELETE FROM people")
        await restore_archive(engine, zipped, None)
        assert rows(sync) == [(1, "gz")]
        cut = tmp_path / "cut.sql.gz"
        cut.write_bytes(gzip.compress(archive.path.read_bytes()[:-200]))
        with pytest.raises(ArchiveInvalid):
            await check_archive("mysql", cut)
    finally:
        await engine.close()
        sync.dispose()
