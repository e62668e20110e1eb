"""Integrity: dbplane's bookkeeping tables are not user data, a re-created embedded
database starts empty, and dbplane's files are its user's only."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import httpx

from tests.conftest import AppHandle


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_migrations_ledger_is_hidden_and_never_writable(
        app_client: httpx.AsyncClient, tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE dbplane_migrations (id INTEGER PRIMARY KEY, name TEXT);
        INSERT INTO dbplane_migrations VALUES (1, '0001_init');
        CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
    """)
    con.close()
    assert (await app_client.post("/v1/databases", json={
        "resource_id": "app", "url": f"sqlite:///{path}"})).status_code == 201
    listed = await app_client.get("/v1/databases/app/tables")
    assert [t["name"] for t in listed.json()] == ["notes"]
    openapi = await app_client.get("/v1/databases/app/openapi.json")
    assert "dbplane_migrations" not in openapi.text
    base = "/v1/databases/app/tables/dbplane_migrations"
    assert (await app_client.get(base)).status_code == 404
    assert (await app_client.get(f"{base}/1")).status_code == 404
    assert (await app_client.patch(f"{base}/1", json={"data": {"name": "x"}})
            ).status_code == 404
    assert (await app_client.delete(f"{base}/1")).status_code == 404
    assert (await app_client.post(base, json={"data": {"name": "x"}})).status_code == 404
    snapshot = await app_client.get("/v1/databases/app/schema/snapshot")
    assert "dbplane_migrations" not in snapshot.text
    con = sqlite3.connect(path)
    assert con.execute("SELECT id, name FROM dbplane_migrations").fetchall() == [
        (1, "0001_init")]
    con.close()


async def test_a_recreated_embedded_database_starts_empty(app_handle: AppHandle) -> None:
    client = app_handle.client
    assert (await client.post("/v1/databases", json={"resource_id": "shop"})
            ).status_code == 201
    embedded = app_handle.ctx.settings.embedded_dir
    con = sqlite3.connect(embedded / "shop.db")
    con.execute("CREATE TABLE secrets (id INTEGER PRIMARY KEY, v TEXT)")
    con.execute("INSERT INTO secrets VALUES (1, 'old')")
    con.commit()
    con.close()
    assert (await client.delete("/v1/databases/shop")).status_code == 204
    assert (await client.post("/v1/databases", json={"resource_id": "shop"})
            ).status_code == 201
    assert (await client.get("/v1/databases/shop/tables")).json() == []
    kept = [p.name for p in embedded.iterdir() if ".unregistered-" in p.name]
    assert any(n.endswith(".db") or ".db.unregistered-" in n for n in kept), kept


async def test_data_files_and_archives_are_private(app_handle: AppHandle) -> None:
    client = app_handle.client
    settings = app_handle.ctx.settings
    assert (await client.post("/v1/databases", json={"resource_id": "priv"})
            ).status_code == 201
    started = await client.post("/v1/databases/priv/backups")
    assert started.status_code == 202
    for _ in range(200):
        op = (await client.get(started.headers["location"])).json()
        if op["status"] not in ("pending", "running"):
            break
        import asyncio

        await asyncio.sleep(0.05)
    assert op["status"] == "done", op
    for directory in (settings.data_dir, settings.embedded_dir, settings.backups_dir):
        assert _mode(directory) == 0o700, directory
    files = [settings.meta_file, settings.key_file, settings.embedded_dir / "priv.db",
             *settings.backups_dir.rglob("*")]
    for path in files:
        if path.is_file():
            assert _mode(path) == 0o600, path
