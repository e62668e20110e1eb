"""The Tables API's writes: bulk creates as single statements, the row cap, what a write
answers, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import httpx

from tests.api import tables_schema as ts
from tests.conftest import AppHandle
from tests.fixtures.servers import SqlDatabase

T = "/v1/databases/shop/tables"


async def test_a_bulk_create_answers_every_row_in_order_as_reads_render_them(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    rows = [{"title": f"t{i}", "score": i, "author_id": 1 + i % 2,
             "published": i % 2 == 0} for i in range(250)]
    # a row that sets other columns is its own statement, in the same transaction
    rows.insert(100, {"title": "odd one", "author_id": 1})
    created = await app_client.post(f"{T}/articles", json={"data": rows})
    assert created.status_code == 201, created.text
    body = created.json()
    assert [r["title"] for r in body] == [r["title"] for r in rows]
    ids = [r["id"] for r in body]
    assert len(set(ids)) == len(ids)
    for answered in body[:5] + body[99:102]:
        read = await app_client.get(f"{T}/articles/{answered['id']}")
        assert read.json() == answered  # rendered exactly as a read renders it
    assert body[100]["score"] is None and body[0]["published"] is True


async def test_a_bulk_create_with_a_failing_row_writes_nothing(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    before = ts.count_rows(db, ts.articles)
    rows = [{"title": f"t{i}", "author_id": 1} for i in range(50)]
    rows.append({"title": "dangling", "author_id": 999})
    failed = await app_client.post(f"{T}/articles", json={"data": rows})
    assert failed.status_code == 409, failed.text
    assert ts.count_rows(db, ts.articles) == before


async def test_more_rows_than_the_cap_is_a_413_naming_the_limit(
        app_handle: AppHandle, db: SqlDatabase) -> None:
    ctx = app_handle.ctx
    ctx.settings = ctx.settings.model_copy(update={"tables_max_write_rows": 3})
    before = ts.count_rows(db, ts.authors)
    refused = await app_handle.client.post(f"{T}/authors", json={"data": [
        {"name": f"n{i}"} for i in range(4)]})
    assert refused.status_code == 413, refused.text
    problem = refused.json()
    assert problem["code"] == "DBP-Q120" and problem["limit"] == 3
    assert problem["parameter"] == "data" and "DBPLANE_TABLES_MAX_WRITE_ROWS" in \
        problem["detail"]
    assert ts.count_rows(db, ts.authors) == before
    ok = await app_handle.client.post(f"{T}/authors", json={"data": [
        {"name": f"n{i}"} for i in range(3)]})
    assert ok.status_code == 201


async def test_update_and_delete_by_key_answer_as_before(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    patched = await app_client.patch(f"{T}/articles/1", json={"data": {"body": None}})
    assert patched.status_code == 200 and patched.json()["body"] is None
    assert patched.json() == (await app_client.get(f"{T}/articles/1")).json()
    missing = await app_client.patch(f"{T}/articles/999", json={"data": {"score": 1}})
    assert missing.status_code == 404
    assert (await app_client.delete(f"{T}/articles/999")).status_code == 404


async def test_openapi_says_a_bulk_create_answers_an_array(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    doc = (await app_client.get("/v1/databases/shop/openapi.json")).json()
    created = doc["paths"][f"{T}/articles"]["post"]["responses"]["201"]
    schemas = created["content"]["application/json"]["schema"]["anyOf"]
    assert {"type": "array", "items": {"$ref": "#/components/schemas/articles"}} in schemas
    assert "413" in doc["paths"][f"{T}/articles"]["post"]["responses"]
    main = (await app_client.get("/openapi.json")).json()
    post = main["paths"]["/v1/databases/{db}/tables/{table}"]["post"]["responses"]["201"]
    kinds = {s["type"] for s in post["content"]["application/json"]["schema"]["anyOf"]}
    assert kinds == {"object", "array"}


async def test_writes_past_fastapi_answer_as_the_routes_do(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    reloaded = await app_client.post(f"{T}/reload")
    assert reloaded.status_code == 200 and reloaded.json()["tables"] > 0
    anonymous = await app_client.delete(f"{T}/articles/1",
                                        headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    deleted = await app_client.delete(f"{T}/articles/3")
    assert deleted.status_code == 204 and deleted.content == b""
    bad = await app_client.post(f"{T}/articles", content=b"{no")
    assert bad.status_code == 400 and bad.json()["code"] == "DBP-V101"
