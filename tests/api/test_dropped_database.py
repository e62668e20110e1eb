"""A database dropped on its server behind dbplane's back: the Tables API answers a 503
problem that names it, never a 500. (SQLite has no server: a file removed behind its back
is not this case.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.fixtures.servers import SqlDatabase, _mysql_database, _pg_database, mysql_admin, pg_admin


def _run_sql(db: SqlDatabase, sql: str, *, on_server: bool = False) -> None:
    if db.engine == "postgresql":
        with pg_admin("postgres" if on_server else db.name) as conn:
            conn.execute(sql)
        return
    conn = mysql_admin(None if on_server else db.name)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


_DATABASES: dict[str, Callable[[], Iterator[SqlDatabase]]] = {
    "postgresql": _pg_database, "mysql": _mysql_database}
_DROP = {"postgresql": 'DROP DATABASE "{}" WITH (FORCE)', "mysql": "DROP DATABASE `{}`"}


@pytest.mark.parametrize("engine", sorted(_DATABASES))
async def test_tables_of_a_database_dropped_behind_dbplanes_back(
        app_client: httpx.AsyncClient, engine: str) -> None:
    fresh = _DATABASES[engine]()
    db = next(fresh)
    try:
        _run_sql(db, "CREATE TABLE items (id integer PRIMARY KEY)")
        created = await app_client.post("/v1/databases", json={
            "resource_id": "gone", "url": db.url})
        assert created.status_code == 201, created.text
        assert (await app_client.get("/v1/databases/gone/tables")).status_code == 200
        assert (await app_client.get("/v1/databases/gone/tables/items")).status_code == 200
        _run_sql(db, _DROP[engine].format(db.name), on_server=True)
        for path in ("/v1/databases/gone/tables", "/v1/databases/gone/tables/items"):
            response = await app_client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert response.json()["code"] == "DBP-S202"
            assert db.name in response.text, response.text
    finally:
        fresh.close()
