"""Untrusted archives: a restored SQL archive gets no more than the database user's own
rights on the server (no file of the dbplane host, no client command), an upload past
``DBPLANE_MAX_UPLOAD_BYTES`` is a 413 counted while it streams, and an archive that expands
past its bound is refused with nothing restored."""

from __future__ import annotations

import gzip
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from dbplane.api.app import create_app
from dbplane.engines import Engine, create_engine_for, parse_database_url
from dbplane.engines.backups import check_archive, restore_archive
from dbplane.errors import ArchiveTooLarge, BackupToolFailed
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.fixtures.servers import SqlDatabase

HEAD = "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n"
TAIL = "\n-- Dump completed on 2026-01-01  0:00:00\n"


@pytest.fixture
def sync(mysql_url: SqlDatabase) -> Iterator[sa.Engine]:
    engine = sa.create_engine(mysql_url.url.replace("mysql://", "mysql+pymysql://"))
    yield engine
    engine.dispose()


@pytest.fixture
async def engine(mysql_url: SqlDatabase) -> AsyncIterator[Engine]:
    eng = create_engine_for(parse_database_url(mysql_url.url), timeout=5)
    yield eng
    await eng.close()


def archive(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"{secrets.token_hex(4)}.sql"
    path.write_text(HEAD + body + TAIL)
    return path


async def test_a_sql_archive_cannot_read_a_file_of_the_dbplane_host(
        sync: sa.Engine, engine: Engine, tmp_path: Path) -> None:
    secret = tmp_path / "secret.key"
    secret.write_text("the-key-that-decrypts-every-url\n")
    path = archive(tmp_path, "DROP TABLE IF EXISTS loot;\nCREATE TABLE loot (v TEXT);\n"
                   f"LOAD DATA LOCAL INFILE '{secret}' INTO TABLE loot;\n")
    with pytest.raises(BackupToolFailed):
        await restore_archive(engine, path, None)
    with sync.connect() as conn:
        assert conn.execute(sa.text("SELECT v FROM loot")).all() == []


@pytest.mark.parametrize("command", [
    "system touch {mark}", "\\! touch {mark}", "tee {mark}", "pager cat > {mark}",
    "source {other}"])
async def test_a_sql_archive_cannot_run_the_clients_own_commands(
        sync: sa.Engine, engine: Engine, tmp_path: Path, command: str) -> None:
    mark = tmp_path / "mark"
    other = archive(tmp_path, "CREATE TABLE sourced (v INT);\n")
    path = archive(tmp_path, command.format(mark=mark, other=other) + "\nSELECT 1;\n")
    with pytest.raises(BackupToolFailed):
        await restore_archive(engine, path, None)
    assert not mark.exists()
    with sync.connect() as conn:
        assert conn.execute(sa.text("SHOW TABLES LIKE 'sourced'")).all() == []


async def test_a_gzip_archive_expanding_past_its_bound_is_refused(
        sync: sa.Engine, engine: Engine, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.sql.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        fh.write(HEAD.encode() + b"CREATE TABLE bombed (v INT);\n")
        zeros = b"-- " + b"0" * ((1 << 20) - 4) + b"\n"
        for _ in range(80):  # 80 MiB of comment out of about 80 KiB
            fh.write(zeros)
        fh.write(TAIL.encode())
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(ArchiveTooLarge):
        await check_archive("mysql", bomb)
    with pytest.raises(ArchiveTooLarge):
        await restore_archive(engine, bomb, None)
    with sync.connect() as conn:
        assert conn.execute(sa.text("SHOW TABLES LIKE 'bombed'")).all() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.sql.gz"]  # noqa: ASYNC240


async def test_an_upload_past_the_limit_is_a_413_counted_while_it_streams(
        tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "data", max_upload_bytes=100_000))
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        boundary = b"--b0undary\r\n"
        yield (boundary + b'Content-Disposition: form-data; name="file"; filename="a.db"'
               b"\r\nContent-Type: application/octet-stream\r\n\r\n")
        for _ in range(1000):  # 64 MB if it were all read
            sent += 65536
            yield b"\0" * 65536

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dbplane.test",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                                     ) as client:
            answer = await client.post(
                "/v1/databases/default/backups/upload", content=body(),
                headers={"Content-Type": "multipart/form-data; boundary=b0undary"})
            assert answer.status_code == 413, answer.text
            problem = answer.json()
            assert problem["code"] == "DBP-V413" and problem["limit"] == 100_000
            assert sent < 1_000_000
            told = await client.post(
                "/v1/databases/default/backups/upload", files={"file": b"x" * 200_000})
            assert told.status_code == 413 and told.json()["code"] == "DBP-V413"
            listed = await client.get("/v1/databases/default/backups")
            assert listed.json()["database_backups"] == []
    assert not list((tmp_path / "data").rglob("*.tmp"))
