"""Errors that were 500s or said the wrong thing: each is a 4xx (or a 503 with
Retry-After) naming what is wrong, and no part of a password is ever echoed."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.conftest import AppHandle
from tests.fixtures.servers import (
    PG_HOST,
    PG_PORT,
    REDIS_HOST,
    REDIS_PORT,
    SqlDatabase,
    require_server,
)

PG = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"


async def register(client: httpx.AsyncClient, rid: str, url: str) -> httpx.Response:
    return await client.post("/v1/databases", json={"resource_id": rid, "url": url})


async def test_a_control_character_in_a_url_is_a_422(app_client: httpx.AsyncClient,
                                                     tmp_path: Path) -> None:
    answer = await register(app_client, "nul", f"sqlite:///{tmp_path}/a\x00b.db")
    assert answer.status_code == 422, answer.text
    assert "control character" in answer.json()["detail"]


async def test_another_name_for_the_metadata_store_is_refused(app_handle: AppHandle,
                                                              tmp_path: Path) -> None:
    link = tmp_path / "innocent.db"
    os.link(app_handle.ctx.settings.meta_file, link)
    answer = await register(app_handle.client, "meta", f"sqlite:///{link}")
    assert answer.status_code == 422, answer.text
    assert "metadata store" in answer.json()["detail"]


@pytest.mark.parametrize("password", ["zq7@wxv:k9j", "zq7wv@xkj/9yq", "pzq@vqx?x=1"])
async def test_no_part_of_a_password_is_echoed(app_client: httpx.AsyncClient,
                                               password: str) -> None:
    answer = await register(app_client, "pw", f"postgresql://postgres:{password}@"
                            f"{PG_HOST}:{PG_PORT}/postgres")
    assert 400 <= answer.status_code < 500, answer.text
    for piece in password.replace("@", " ").replace(":", " ").replace("/", " ").split():
        if len(piece) > 2:
            assert piece not in answer.text, (piece, answer.text)


async def test_libpq_options_are_passed_on_and_unknown_ones_named(
        app_client: httpx.AsyncClient) -> None:
    require_server("postgresql", PG_HOST, PG_PORT)
    ok = await register(app_client, "libpq", PG + "?sslmode=disable&application_name=dbp"
                        "&connect_timeout=5&target_session_attrs=any")
    assert ok.status_code == 201, ok.text
    rows = await app_client.get("/v1/databases/libpq/tables")
    assert rows.status_code == 200, rows.text
    # the shared server has no TLS: sslmode=require is passed on, so the check fails
    tls = await register(app_client, "tls", PG + "?sslmode=require")
    assert tls.status_code == 422, tls.text
    unknown = await register(app_client, "bogus", PG + "?bogus=1&sslmode=disable")
    assert unknown.status_code == 422 and unknown.json()["options"] == ["bogus"]
    assert "bogus" in unknown.json()["detail"]


async def test_a_redis_password_the_server_does_not_check_fails_the_check(
        app_client: httpx.AsyncClient) -> None:
    require_server("redis", REDIS_HOST, REDIS_PORT)
    answer = await register(app_client, "rd", f"redis://:unneeded@{REDIS_HOST}:{REDIS_PORT}/0")
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "DBP-D303" and "unneeded" not in answer.text


async def test_a_limit_far_past_the_maximum_names_the_real_maximum(
        app_client: httpx.AsyncClient, tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    con.close()
    assert (await register(app_client, "l", f"sqlite:///{path}")).status_code == 201
    answer = await app_client.get("/v1/databases/l/tables/t",
                                  params={"limit": "9" * 30})
    assert answer.status_code == 400
    assert "maximum 1000" in answer.json()["detail"], answer.text
    assert "9223372036854775807" not in answer.text


async def test_status_is_always_the_http_status(app_client: httpx.AsyncClient) -> None:
    started = await app_client.post("/v1/databases/default/check")
    location = started.headers["location"]
    for _ in range(200):
        if (await app_client.get(location)).json()["status"] == "done":
            break
        await asyncio.sleep(0.05)
    answer = await app_client.post(f"{location}/cancel")
    assert answer.status_code == 409
    problem = answer.json()
    assert problem["status"] == 409 and problem["state"] == "done", problem


async def test_a_locked_sqlite_database_is_a_503_with_retry_after(
        app_client: httpx.AsyncClient, tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    assert (await register(app_client, "lk", f"sqlite:///{path}")).status_code == 201
    con.execute("PRAGMA locking_mode=EXCLUSIVE")
    con.execute("BEGIN EXCLUSIVE")
    try:
        answer = await app_client.get("/v1/databases/lk/tables/t")
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["code"] == "DBP-S201" and "locked" in answer.json()["detail"]
    finally:
        con.execute("ROLLBACK")
        con.close()


async def test_a_mariadb_value_over_max_allowed_packet_is_a_413_naming_it(
        app_client: httpx.AsyncClient, mysql_url: SqlDatabase) -> None:
    import sqlalchemy as sa

    sync = sa.create_engine(mysql_url.url.replace("mysql://", "mysql+pymysql://"))
    with sync.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS big"))
        conn.execute(sa.text("CREATE TABLE big (id INT PRIMARY KEY AUTO_INCREMENT, "
                             "v LONGTEXT)"))
        limit = conn.execute(sa.text("SELECT @@max_allowed_packet")).scalar_one()
    assert (await register(app_client, "big", mysql_url.url)).status_code == 201
    answer = await app_client.post("/v1/databases/big/tables/big",
                                   json={"data": {"v": "x" * (limit + 1024)}})
    assert answer.status_code == 413, answer.text[:300]
    assert answer.json()["limit"] == limit and str(limit) in answer.json()["detail"]
    with sync.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM big")).scalar_one() == 0
    fine = await app_client.post("/v1/databases/big/tables/big", json={"data": {"v": "ok"}})
    assert fine.status_code == 201
    sync.dispose()
