"""Schema as code through the real app, on SQLite, PostgreSQL and MariaDB: snapshot, diff
and apply with Directus' shapes, the Directus fixtures, stale hashes and malformed bodies
(each a 4xx in Directus' error shape, changing nothing)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine, make_url

from tests.conftest import AppHandle
from tests.fixtures.servers import SqlDatabase, pg_admin

# the exports of a real Directus 12.4.0 (tests/fixtures/directus/README.md)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "directus"
S = "/v1/databases/sch/schema"


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@contextmanager
def _sync(db: SqlDatabase) -> Iterator[Engine]:
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg",
              "mysql": "mysql+pymysql"}[db.engine]
    engine = sa.create_engine(make_url(db.url).set(drivername=driver))
    try:
        yield engine
    finally:
        engine.dispose()


def _wipe(db: SqlDatabase) -> None:
    with _sync(db) as engine, engine.begin() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)


def _tables(db: SqlDatabase) -> set[str]:
    with _sync(db) as engine:
        return set(sa.inspect(engine).get_table_names())


@pytest.fixture
async def db(app_handle: AppHandle, sql_url: SqlDatabase) -> AsyncIterator[SqlDatabase]:
    """The engine's database, emptied, registered as ``sch``."""
    _wipe(sql_url)
    response = await app_handle.client.post("/v1/databases", json={
        "resource_id": "sch", "url": sql_url.url})
    assert response.status_code == 201, response.text
    yield sql_url


def _directus_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == code, body
    assert body["errors"][0]["extensions"]["code"] == code
    assert body["errors"][0]["message"] == body["detail"]
    assert isinstance(body, dict)
    return body


async def _apply_snapshot(client: httpx.AsyncClient, snapshot: Any,
                          force: bool = True) -> httpx.Response:
    diff = await client.post(f"{S}/diff", json=snapshot,
                             params={"force": "true"} if force else None)
    if diff.status_code == 204:
        return diff
    assert diff.status_code == 200, diff.text
    return await client.post(f"{S}/apply", json=diff.json())


SIMPLE = {
    "version": 1, "vendor": None,
    "collections": [{"collection": "notes", "meta": {"icon": "note"},
                     "schema": {"name": "notes",
                                "indexes": [{"columns": ["title", "rank"], "unique": True}],
                                "checks": []}}],
    "fields": [
        {"collection": "notes", "field": "id", "type": "integer", "meta": None,
         "schema": {"is_primary_key": True, "has_auto_increment": True,
                    "is_nullable": False}},
        {"collection": "notes", "field": "title", "type": "string", "meta": {"note": "t"},
         "schema": {"max_length": 80, "is_nullable": False, "is_indexed": True}},
        {"collection": "notes", "field": "rank", "type": "integer", "meta": None,
         "schema": {"default_value": 3}},
    ],
    "relations": [],
}


def _simple(db: SqlDatabase) -> dict[str, Any]:
    snap: dict[str, Any] = copy.deepcopy(SIMPLE)
    snap["vendor"] = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql"}[
        db.engine]
    return snap


async def test_directus_snapshot_is_refused_without_force_where_the_vendor_differs_and_applies(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    snapshot = _fixture("snapshot_v2.json")
    plain = await app_client.post(f"{S}/diff", json=snapshot)
    if db.engine == "postgresql":
        assert plain.status_code == 200, plain.text
    else:
        body = _directus_error(plain, 400, "DBP-H102")
        assert "vendor" in body["detail"]
    forced = await app_client.post(f"{S}/diff", json={"data": snapshot},
                                    params={"force": "true"})
    assert forced.status_code == 200, forced.text
    answer = forced.json()
    assert len(answer["hash"]) == 40
    kinds = {(c["collection"], c["diff"][0]["kind"]) for c in answer["diff"]["collections"]}
    assert kinds == {("articles", "N"), ("authors", "N"), ("tags", "N")}
    assert {(f["collection"], f["field"]) for f in answer["diff"]["fields"]} >= {
        ("articles", "author"), ("authors", "email"), ("tags", "label")}
    (relation,) = answer["diff"]["relations"]
    assert relation["related_collection"] == "authors"

    applied = await app_client.post(f"{S}/apply", json=answer)
    assert applied.status_code == 204, applied.text
    assert applied.content == b""
    assert {"articles", "authors", "tags"} <= _tables(db)

    # the Tables API sees the new tables at once
    listed = await app_client.get("/v1/databases/sch/tables")
    assert {"articles", "authors", "tags"} <= {t["name"] for t in listed.json()}
    created = await app_client.post("/v1/databases/sch/tables/authors",
                                    json={"data": {"name": "Ada", "email": "a@x.io"}})
    assert created.status_code == 201, created.text

    snap = (await app_client.get(f"{S}/snapshot")).json()
    fields = {(f["collection"], f["field"]): f for f in snap["fields"]}
    assert fields[("articles", "title")]["schema"]["max_length"] == 500
    assert fields[("articles", "published")]["type"] == "boolean"
    assert fields[("articles", "published")]["schema"]["default_value"] is False
    assert fields[("authors", "email")]["schema"]["is_unique"] is True
    assert fields[("articles", "id")]["schema"]["has_auto_increment"] is True
    # Directus' meta came back, opaque
    fixture_meta = {(f["collection"], f["field"]): f["meta"] for f in snapshot["fields"]}
    assert fields[("articles", "author")]["meta"] == fixture_meta[("articles", "author")]
    (rel,) = snap["relations"]
    assert rel["schema"]["on_delete"] == "SET NULL"
    assert rel["schema"]["constraint_name"] == "articles_author_foreign"
    assert rel["meta"]["one_deselect_action"] == "nullify"
    if db.engine == "postgresql":
        # same vendor: the instance's own snapshot diffs to nothing
        again = await app_client.post(f"{S}/diff", json=snapshot)
        assert again.status_code == 204, again.text
        assert again.content == b""


async def test_directus_diff_applies_to_the_instance_it_came_from(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    if db.engine != "postgresql":
        pytest.skip("the fixture's diff is against a PostgreSQL schema")
    assert (await _apply_snapshot(app_client, _fixture("snapshot_v2.json"))).status_code \
        == 204
    directus_diff = _fixture("diff_v2_to_v1.json")["data"]
    snap = (await app_client.get(f"{S}/snapshot")).json()
    # the hash is dbplane's own: take it from a diff of the same change
    ours = await app_client.post(f"{S}/diff", json=snap)
    assert ours.status_code == 204
    changed = copy.deepcopy(snap)
    changed["collections"][0]["meta"]["icon"] = "other"
    hashed = (await app_client.post(f"{S}/diff", json=changed)).json()["hash"]
    response = await app_client.post(f"{S}/apply", json={
        "hash": hashed, "diff": directus_diff["diff"]})
    assert response.status_code == 204, response.text
    after = (await app_client.get(f"{S}/snapshot")).json()
    assert "tags" not in {c["collection"] for c in after["collections"]}
    fields = {(f["collection"], f["field"]): f for f in after["fields"]}
    assert ("articles", "slug") not in fields
    assert fields[("articles", "title")]["schema"]["max_length"] == 255
    assert fields[("articles", "rating")]["schema"]["numeric_precision"] == 5
    assert fields[("articles", "rating")]["schema"]["numeric_scale"] == 2


async def test_snapshot_shapes_exports_and_scopes(app_client: httpx.AsyncClient,
                                                   db: SqlDatabase) -> None:
    assert (await _apply_snapshot(app_client, _simple(db), force=False)).status_code == 204
    snap = (await app_client.get(f"{S}/snapshot")).json()
    assert snap["version"] == 1 and snap["dbplane"] and snap["vendor"] == _simple(db)[
        "vendor"]
    (notes,) = snap["collections"]
    assert notes["meta"] == {"icon": "note"}
    assert notes["schema"]["indexes"] == [{"columns": ["title", "rank"], "unique": True}]
    fields = {f["field"]: f for f in snap["fields"]}
    assert fields["title"]["schema"]["is_indexed"] is True
    assert fields["title"]["schema"]["is_nullable"] is False
    assert fields["rank"]["schema"]["default_value"] == 3
    assert set(fields["id"]["schema"]) >= {
        "data_type", "default_value", "max_length", "numeric_precision", "numeric_scale",
        "is_nullable", "is_unique", "is_primary_key", "is_generated",
        "generation_expression", "has_auto_increment", "foreign_key_table",
        "foreign_key_column"}

    as_yaml = await app_client.get(f"{S}/snapshot", params={"export": "yaml"})
    assert as_yaml.status_code == 200
    assert as_yaml.headers["content-type"].startswith("text/yaml")
    assert "attachment" in as_yaml.headers["content-disposition"]
    assert yaml.safe_load(as_yaml.text) == snap
    as_json = await app_client.get(f"{S}/snapshot", params={"export": "json"})
    assert "schema.json" in as_json.headers["content-disposition"]
    assert as_json.json() == snap

    excluded = (await app_client.get(f"{S}/snapshot",
                                     params={"excludeCollections": "notes"})).json()
    assert excluded["collections"] == [] and excluded["fields"] == []
    included = (await app_client.get(f"{S}/snapshot",
                                     params={"includeCollections": "notes"})).json()
    assert included == snap
    _directus_error(await app_client.get(f"{S}/snapshot", params={
        "includeCollections": "a", "excludeCollections": "b"}), 400, "DBP-H103")
    # repeated names are several; an empty one is no collection at all
    both = (await app_client.get(f"{S}/snapshot", params=[
        ("excludeCollections", "notes"), ("excludeCollections", "other")])).json()
    assert both["collections"] == []
    empty = _directus_error(await app_client.get(
        f"{S}/snapshot", params={"excludeCollections": ""}), 422, "DBP-V100")
    assert empty["field"] == "query.excludeCollections.0", empty

    # an identical snapshot, as a YAML file upload: nothing to do
    upload = await app_client.post(f"{S}/diff", files={
        "file": ("schema.yaml", as_yaml.content, "text/yaml")})
    assert upload.status_code == 204, upload.text


async def test_diff_as_sql_and_meta_only_changes(app_client: httpx.AsyncClient,
                                                  db: SqlDatabase) -> None:
    target = _simple(db)
    sql = await app_client.post(f"{S}/diff", json=target, params={"format": "sql"})
    assert sql.status_code == 200, sql.text
    assert "CREATE TABLE notes" in sql.text.replace('"', "").replace("`", "")
    assert "notes" not in _tables(db)  # rendering changed nothing
    assert (await _apply_snapshot(app_client, target)).status_code == 204

    target["collections"][0]["meta"] = {"icon": "book"}
    d = (await app_client.post(f"{S}/diff", json=target)).json()
    assert d["diff"]["collections"] == [{"collection": "notes", "diff": [
        {"kind": "E", "path": ["meta", "icon"], "lhs": "note", "rhs": "book"}]}]
    assert (await app_client.post(f"{S}/apply", json=d)).status_code == 204
    snap = (await app_client.get(f"{S}/snapshot")).json()
    assert snap["collections"][0]["meta"] == {"icon": "book"}


async def test_stale_hash_and_malformed_bodies_change_nothing(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    assert (await _apply_snapshot(app_client, _simple(db))).status_code == 204
    before = (await app_client.get(f"{S}/snapshot")).json()
    target = _simple(db)
    target["fields"].append({"collection": "notes", "field": "body", "type": "text",
                             "meta": None, "schema": {}})
    d = (await app_client.post(f"{S}/diff", json=target)).json()
    stale = {**d, "hash": "0" * 40}
    _directus_error(await app_client.post(f"{S}/apply", json=stale), 409, "DBP-H401")

    bad_bodies: list[tuple[dict[str, Any], int, str]] = [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}},
         400, "DBP-H101"),
        ({"content": b"a: [b", "headers": {"content-type": "text/yaml"}}, 400, "DBP-H101"),
        ({"content": b"hash=x", "headers": {"content-type": "text/plain"}}, 400,
         "DBP-H101"),
        ({"content": b"", "headers": {"content-type": "application/json"}}, 400,
         "DBP-H101"),
        ({"json": [1, 2]}, 400, "DBP-H101"),
        ({"json": {"diff": d["diff"]}}, 400, "DBP-H101"),
        ({"json": {"hash": d["hash"], "diff": {"fields": "x"}}}, 400, "DBP-H101"),
        ({"json": {"hash": d["hash"], "diff": {"fields": [{
            "collection": "notes", "field": "body", "diff": [{"kind": "X"}]}]}}}, 400,
         "DBP-H101"),
        ({"json": {"hash": d["hash"], "diff": {"collections": [{
            "collection": "nowhere", "diff": [{"kind": "D", "lhs": {}}]}]}}}, 422,
         "DBP-H105"),
        ({"json": {"hash": d["hash"], "diff": {"fields": [{
            "collection": "nowhere", "field": "x", "diff": [
                {"kind": "E", "path": ["schema", "max_length"], "lhs": 1, "rhs": 2}]}]}}},
         422, "DBP-H105"),
        ({"json": {"hash": d["hash"], "diff": {"fields": [{
            "collection": "notes", "field": "z", "diff": [{"kind": "N", "rhs": {
                "type": "geometry", "schema": {}}}]}]}}}, 422, "DBP-H104"),
    ]
    for kwargs, status, code in bad_bodies:
        response = await app_client.post(f"{S}/apply", **kwargs)
        _directus_error(response, status, code)
    for kwargs, status, code in bad_bodies[:5]:
        _directus_error(await app_client.post(f"{S}/diff", **kwargs), status, code)
    assert (await app_client.get(f"{S}/snapshot")).json() == before

    # the fresh hash applies; then the same diff is stale
    assert (await app_client.post(f"{S}/apply", json=d)).status_code == 204
    _directus_error(await app_client.post(f"{S}/apply", json=d), 409, "DBP-H401")


async def test_rows_survive_a_table_change(app_client: httpx.AsyncClient,
                                           db: SqlDatabase) -> None:
    target = _simple(db)
    assert (await _apply_snapshot(app_client, target)).status_code == 204
    for i in range(3):
        r = await app_client.post("/v1/databases/sch/tables/notes",
                                  json={"data": {"title": f"n{i}", "rank": i}})
        assert r.status_code == 201, r.text
    target["fields"][1]["schema"]["max_length"] = 120
    target["fields"].append({"collection": "notes", "field": "done", "type": "boolean",
                             "meta": None, "schema": {"default_value": False}})
    assert (await _apply_snapshot(app_client, target)).status_code == 204
    rows = (await app_client.get("/v1/databases/sch/tables/notes",
                                 params={"sort": "id"})).json()
    assert [r["title"] for r in rows] == ["n0", "n1", "n2"]
    assert [r["done"] for r in rows] == [False, False, False]
    snap = (await app_client.get(f"{S}/snapshot")).json()
    assert snap["collections"][0]["schema"]["indexes"] == [
        {"columns": ["title", "rank"], "unique": True}]
    title = next(f for f in snap["fields"] if f["field"] == "title")
    assert title["schema"]["max_length"] == 120 and title["schema"]["is_indexed"] is True
    # a change the rows do not allow is refused whole
    target["fields"][1]["schema"]["max_length"] = 120
    target["collections"][0]["schema"]["checks"] = [
        {"name": "notes_rank_small", "expression": "rank < 1"}]
    d = await app_client.post(f"{S}/diff", json=target)
    refused = await app_client.post(f"{S}/apply", json=d.json())
    body = _directus_error(refused, 409, "DBP-H402")
    assert "notes_rank_small" in body["detail"]
    assert (await app_client.get(f"{S}/snapshot")).json() == snap


async def test_default_database_routes(app_client: httpx.AsyncClient) -> None:
    snap = await app_client.get("/v1/schema/snapshot")
    assert snap.status_code == 200, snap.text
    assert snap.json()["vendor"] == "sqlite"
    missing = await app_client.get("/v1/databases/nope/schema/snapshot")
    _directus_error(missing, 404, "DBP-D101")


async def test_admin_only(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/v1/schema/snapshot",
                                    headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"]


async def test_redis_database_is_refused(app_client: httpx.AsyncClient,
                                         redis_url: str) -> None:
    created = await app_client.post("/v1/databases", json={"resource_id": "kv",
                                                           "url": redis_url})
    assert created.status_code == 201, created.text
    _directus_error(await app_client.get("/v1/databases/kv/schema/snapshot"), 400,
                    "DBP-V102")


async def test_every_directus_type_round_trips(app_client: httpx.AsyncClient,
                                               db: SqlDatabase) -> None:
    types = ["string", "text", "integer", "bigInteger", "float", "decimal", "boolean",
             "timestamp", "dateTime", "date", "time", "json", "uuid", "hash", "csv",
             "binary"]
    target = _simple(db)
    target["fields"] += [{"collection": "notes", "field": f"c_{t}", "type": t,
                          "meta": None, "schema": {}} for t in types]
    assert (await _apply_snapshot(app_client, target, force=False)).status_code == 204
    snap = (await app_client.get(f"{S}/snapshot")).json()
    got = {f["field"]: f["type"] for f in snap["fields"]}
    assert {t: got[f"c_{t}"] for t in types} == {t: t for t in types}
    assert (await app_client.post(f"{S}/diff", json=target)).status_code == 204
    assert (await app_client.post(f"{S}/diff", json=snap)).status_code == 204


async def test_a_database_gone_behind_dbplanes_back_is_503(app_client: httpx.AsyncClient,
                                                          pg_url: SqlDatabase) -> None:
    with pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{pg_url.name}_gone"')
    url = pg_url.url.rsplit("/", 1)[0] + f"/{pg_url.name}_gone"
    created = await app_client.post("/v1/databases", json={"resource_id": "gone",
                                                           "url": url})
    assert created.status_code == 201, created.text
    with pg_admin() as conn:
        conn.execute(f'DROP DATABASE "{pg_url.name}_gone" WITH (FORCE)')
    for _ in range(2):  # the pooled connection is lost, then the database is missing
        response = await app_client.get("/v1/databases/gone/schema/snapshot")
        _directus_error(response, 503, "DBP-S000")


async def test_alias_fields_and_folders_are_kept_as_metadata(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    target = _simple(db)
    target["collections"].append({"collection": "folder", "meta": {"icon": "folder"},
                                  "schema": None})
    target["fields"].append({"collection": "notes", "field": "links", "type": "alias",
                             "meta": {"special": ["o2m"], "interface": "list-o2m"},
                             "schema": None})
    assert (await _apply_snapshot(app_client, target)).status_code == 204
    assert "folder" not in _tables(db)
    snap = (await app_client.get(f"{S}/snapshot")).json()
    folder = next(c for c in snap["collections"] if c["collection"] == "folder")
    assert folder == {"collection": "folder", "meta": {"icon": "folder"}, "schema": None}
    links = next(f for f in snap["fields"] if f["field"] == "links")
    assert links["type"] == "alias" and links["schema"] is None
    assert links["meta"]["special"] == ["o2m"]
    assert (await app_client.post(f"{S}/diff", json=target)).status_code == 204
    # and they go when the snapshot no longer has them
    target["collections"].pop()
    target["fields"].pop()
    assert (await _apply_snapshot(app_client, target)).status_code == 204
    snap = (await app_client.get(f"{S}/snapshot")).json()
    assert [c["collection"] for c in snap["collections"]] == ["notes"]
    assert "links" not in {f["field"] for f in snap["fields"]}
