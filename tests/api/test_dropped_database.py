"""A database dropped on its server behind dbplane's back: the Tables API answers a 4xx or
503 problem that says so, never a 500."""

from __future__ import annotations

import httpx

from tests.fixtures.servers import _pg_database, pg_admin


async def test_tables_of_a_database_dropped_behind_dbplanes_back(
        app_client: httpx.AsyncClient) -> None:
    fresh = _pg_database()
    db = next(fresh)
    try:
        with pg_admin(db.name) as conn:
            conn.execute("CREATE TABLE items (id integer PRIMARY KEY)")
        created = await app_client.post("/v1/databases", json={
            "resource_id": "gone", "url": db.url})
        assert created.status_code == 201, created.text
        assert (await app_client.get("/v1/databases/gone/tables")).status_code == 200
        with pg_admin() as conn:
            conn.execute(f'DROP DATABASE "{db.name}" WITH (FORCE)')
        for path in ("/v1/databases/gone/tables", "/v1/databases/gone/tables/items"):
            response = await app_client.get(path)
            assert response.status_code in (404, 409, 503), (path, response.text)
            assert db.name in response.text or "does not" in response.text, response.text
    finally:
        fresh.close()
