"""/v1/databases through the real ASGI app, against real servers.

Registering checks the connection first and names what is wrong; unregistering never
touches the data; passwords are stored encrypted and never answered.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from tests.fixtures.servers import (
    PrivatePostgres,
    SqlDatabase,
    mysql_admin,
    pg_admin,
    server_version,
    start_redis,
    stop_process,
)
from tests.fixtures.services import (
    MY_HOST,
    MY_PORT,
    PG_HOST,
    PG_PORT,
    REDIS_PORT,
    free_port,
    require_server,
    unique_name,
)

PASSWORD = "S3cret-pw-XYZ"
HOURS_FIELD = "periodic_backups_scheduled_at"

# every attribute of the Scalingo database object
SCALINGO_ATTRIBUTES = {
    "id", "resource_id", "app_name", "created_at", "encryption_at_rest", "plan", "status",
    "type_id", "type_name", "version_id", "readable_version", "instances", "features",
    "periodic_backups_enabled", "periodic_backups_scheduled_at",
}
INSTANCE_ATTRIBUTES = {"id", "hostname", "port", "status", "type"}


# -- helpers ---------------------------------------------------------------------------


async def count(client: httpx.AsyncClient) -> int:
    r = await client.get("/v1/databases")
    assert r.status_code == 200, r.text
    return len(r.json()["databases"])


async def register(client: httpx.AsyncClient, body: dict[str, Any],
                   *, wrapped: bool = True) -> dict[str, Any]:
    r = await client.post("/v1/databases", json={"database": body} if wrapped else body)
    assert r.status_code == 201, r.text
    database: dict[str, Any] = r.json()["database"]
    return database


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"] == f"urn:dbplane:error:{code}"
    assert body["title"]
    assert body["detail"]
    return body


def assert_scalingo_shape(db: dict[str, Any]) -> None:
    assert db.keys() >= SCALINGO_ATTRIBUTES
    assert isinstance(db["id"], str) and db["id"]
    assert isinstance(db["app_name"], str) and db["app_name"]
    created = datetime.fromisoformat(db["created_at"])
    assert re.search(r"\.\d{3}", db["created_at"])  # milliseconds
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)
    assert db["encryption_at_rest"] is False
    assert isinstance(db["plan"], str) and db["plan"]
    assert db["status"] in ("running", "unreachable")
    assert isinstance(db["type_id"], str) and db["type_id"]
    assert isinstance(db["features"], list)
    for feature in db["features"]:
        assert feature.keys() == {"name", "status"}
    assert isinstance(db["periodic_backups_enabled"], bool)
    assert isinstance(db["periodic_backups_scheduled_at"], list)
    assert db["instances"]
    for inst in db["instances"]:
        assert inst.keys() == INSTANCE_ATTRIBUTES
        assert inst["status"] == db["status"]
        assert inst["type"] == "db-node"


# -- the external databases ----------------------------------------------------------


@dataclass
class External:
    """A database on a shared server, seeded and checked through a sync driver."""

    type_name: str
    url: str
    version: Callable[[], str]
    seed: Callable[[str], None]
    still_there: Callable[[str], bool]


def _pg_external(db: SqlDatabase) -> External:
    def seed(table: str) -> None:
        with pg_admin(db.name) as conn:
            conn.execute(f'CREATE TABLE "{table}" (id int, note text)')
            conn.execute(f"INSERT INTO \"{table}\" VALUES (1, 'kept')")

    def still_there(table: str) -> bool:
        with pg_admin(db.name) as conn:
            return conn.execute(f'SELECT note FROM "{table}"').fetchall() == [("kept",)]

    return External("postgresql", db.url, lambda: server_version(db), seed, still_there)


def _mysql_external(db: SqlDatabase) -> External:
    def run(sql: str) -> list[tuple[Any, ...]]:
        conn = mysql_admin(db.name)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()

    def seed(table: str) -> None:
        run(f"CREATE TABLE `{table}` (id int, note text)")
        run(f"INSERT INTO `{table}` VALUES (1, 'kept')")

    def still_there(table: str) -> bool:
        return run(f"SELECT note FROM `{table}`") == [("kept",)]

    return External("mysql", db.url, lambda: server_version(db), seed, still_there)


def _redis_external(url: str) -> External:
    def client() -> redis.Redis:
        return redis.Redis.from_url(url)

    def version() -> str:
        with client() as c:
            return str(c.info("server")["redis_version"])

    def seed(key: str) -> None:
        with client() as c:
            c.set(key, "kept", ex=600)

    def still_there(key: str) -> bool:
        with client() as c:
            return bool(c.get(key) == b"kept")

    return External("redis", url, version, seed, still_there)


@pytest.fixture(params=["postgresql", "mysql", "redis"])
def external(request: pytest.FixtureRequest) -> External:
    """The local PostgreSQL, MariaDB or Redis (a fresh database per module for SQL)."""
    if request.param == "postgresql":
        return _pg_external(request.getfixturevalue("pg_url"))
    if request.param == "mysql":
        return _mysql_external(request.getfixturevalue("mysql_url"))
    return _redis_external(request.getfixturevalue("redis_url"))


# -- the default database -------------------------------------------------------------


async def test_list_has_the_default_database_with_every_attribute(
        app_client: httpx.AsyncClient) -> None:
    r = await app_client.get("/v1/databases")
    assert r.status_code == 200
    (db,) = r.json()["databases"]
    assert_scalingo_shape(db)
    assert db["resource_id"] == "default"
    assert db["status"] == "running"
    assert db["type_name"] == "sqlite"
    assert db["mode"] == "embedded"
    # aiosqlite runs on the stdlib sqlite3: the version is the library's own
    assert db["readable_version"] == sqlite3.sqlite_version
    assert db["version_id"]
    assert db["instances"][0]["port"] is None
    assert db["periodic_backups_enabled"] is False
    assert db["periodic_backups_scheduled_at"] == []


async def test_get_the_default_database_by_id_and_resource_id(
        app_client: httpx.AsyncClient) -> None:
    (listed,) = (await app_client.get("/v1/databases")).json()["databases"]
    by_ref = (await app_client.get("/v1/databases/default")).json()["database"]
    by_id = (await app_client.get(f"/v1/databases/{listed['id']}")).json()["database"]
    assert by_ref == by_id == listed


async def test_the_default_database_cannot_be_deleted(app_client: httpx.AsyncClient) -> None:
    body = assert_problem(await app_client.delete("/v1/databases/default"), 409, "DBP-D402")
    assert "default" in body["detail"]
    assert (await app_client.get("/v1/databases/default")).status_code == 200


# -- registering external databases ------------------------------------------------------


@pytest.mark.parametrize("wrapped", [True, False], ids=["wrapped", "flat"])
async def test_register_an_external_database(
        app_client: httpx.AsyncClient, external: External, wrapped: bool) -> None:
    db = await register(app_client, {"resource_id": "ext", "url": external.url,
                                     "app_name": "shop"}, wrapped=wrapped)
    assert_scalingo_shape(db)
    assert db["resource_id"] == "ext"
    assert db["app_name"] == "shop"
    assert db["status"] == "running"
    assert db["status_detail"] is None
    assert db["type_name"] == external.type_name
    assert db["mode"] == "external"
    assert db["readable_version"] == external.version()
    assert db["version_id"]
    assert db["instances"][0]["hostname"] == "127.0.0.1"
    assert db["instances"][0]["port"] == {"postgresql": PG_PORT, "mysql": MY_PORT,
                                          "redis": REDIS_PORT}[external.type_name]
    assert db["url"] == external.url  # no password: nothing to hide

    by_id = (await app_client.get(f"/v1/databases/{db['id']}")).json()["database"]
    by_ref = (await app_client.get("/v1/databases/ext")).json()["database"]
    assert by_id == by_ref
    assert by_id["id"] == db["id"]
    assert by_id["readable_version"] == db["readable_version"]
    assert await count(app_client) == 2


@pytest.mark.parametrize(("fixture", "type_name", "alias"), [
    ("pg_url", "postgres", "postgres://"),
    ("mysql_url", "mariadb", "mariadb://"),
])
async def test_register_with_aliases(app_client: httpx.AsyncClient,
                                     request: pytest.FixtureRequest, fixture: str,
                                     type_name: str, alias: str) -> None:
    database: SqlDatabase = request.getfixturevalue(fixture)
    url = alias + database.url.split("://", 1)[1]
    db = await register(app_client, {"resource_id": "aliased", "type_name": type_name,
                                     "url": url})
    assert db["type_name"] == database.engine
    assert db["status"] == "running"
    assert db["readable_version"] == server_version(database)


async def test_unregister_keeps_the_data(app_client: httpx.AsyncClient,
                                         external: External) -> None:
    name = unique_name("kept")
    external.seed(name)
    db = await register(app_client, {"resource_id": "ext", "url": external.url})

    r = await app_client.delete(f"/v1/databases/{db['id']}")
    assert r.status_code == 204
    assert r.content == b""
    for ref in (db["id"], "ext"):
        body = assert_problem(await app_client.get(f"/v1/databases/{ref}"), 404, "DBP-D101")
        assert ref in body["detail"]
    assert await count(app_client) == 1
    assert external.still_there(name)
    # and it can be registered again under the same name
    await register(app_client, {"resource_id": "ext", "url": external.url})


async def test_unknown_database_is_404_everywhere(app_client: httpx.AsyncClient) -> None:
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        body = {"app_name": "x"} if method in ("PATCH", "PUT") else None
        r = await app_client.request(method, "/v1/databases/nope", json=body)
        assert "'nope'" in assert_problem(r, 404, "DBP-D101")["detail"]


# -- updates ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_update_backup_hours_and_settings(app_client: httpx.AsyncClient,
                                                method: str) -> None:
    async def update(body: dict[str, Any]) -> dict[str, Any]:
        r = await app_client.request(method, "/v1/databases/default", json=body)
        assert r.status_code == 200, r.text
        db: dict[str, Any] = r.json()["database"]
        return db

    assert (await update({HOURS_FIELD: 3}))[HOURS_FIELD] == [3]
    assert (await update({"database": {HOURS_FIELD: [23, 0, 5, 5]}}))[HOURS_FIELD] == [0, 5, 23]
    db = await update({"periodic_backups_enabled": True, "app_name": "renamed"})
    assert db["periodic_backups_enabled"] is True
    assert db["app_name"] == "renamed"
    assert db[HOURS_FIELD] == [0, 5, 23]  # untouched by an update that leaves it out
    again = (await app_client.get("/v1/databases/default")).json()["database"]
    assert (again[HOURS_FIELD], again["periodic_backups_enabled"], again["app_name"]) == (
        [0, 5, 23], True, "renamed")


BAD_HOURS = [24, -1, "3", True, [1, 99]]


@pytest.mark.parametrize("wrapped", [False, True], ids=["flat", "wrapped"])
@pytest.mark.parametrize("hours", BAD_HOURS, ids=repr)
async def test_update_refuses_what_is_not_an_hour(app_client: httpx.AsyncClient,
                                                  hours: Any, wrapped: bool) -> None:
    body = {HOURS_FIELD: hours}
    r = await app_client.patch("/v1/databases/default",
                               json={"database": body} if wrapped else body)
    problem = assert_problem(r, 422, "DBP-V100")
    assert HOURS_FIELD in problem["field"]
    assert HOURS_FIELD in problem["detail"]
    assert problem["value"] == hours
    db = (await app_client.get("/v1/databases/default")).json()["database"]
    assert db[HOURS_FIELD] == []


@pytest.mark.parametrize("hours", ["3", True], ids=repr)
async def test_a_wrongly_typed_hour_names_the_field_itself(app_client: httpx.AsyncClient,
                                                           hours: Any) -> None:
    r = await app_client.patch("/v1/databases/default", json={HOURS_FIELD: hours})
    problem = assert_problem(r, 422, "DBP-V100")
    assert problem["field"] == HOURS_FIELD


def _failing_url(case: str, request: pytest.FixtureRequest) -> str:
    """A URL that fails its connection check for the reason ``case``."""
    if case == "pg-wrong-password":
        private: PrivatePostgres = request.getfixturevalue("private_postgres")
        return private.url(password=PASSWORD)
    if case == "pg-unknown-database":
        require_server("postgresql", PG_HOST, PG_PORT)
        return f"postgresql://postgres:{PASSWORD}@{PG_HOST}:{PG_PORT}/no_such_db_here"
    if case == "mysql-wrong-password":
        require_server("mysql", MY_HOST, MY_PORT)
        return f"mysql://root:{PASSWORD}@{MY_HOST}:{MY_PORT}/test"
    if case == "mysql-unknown-database":
        require_server("mysql", MY_HOST, MY_PORT)
        return f"mysql://root@{MY_HOST}:{MY_PORT}/no_such_db_here"
    if case == "closed-port":
        return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/test"
    if case == "unknown-host":
        return f"mysql://root:{PASSWORD}@nonexistent-host.invalid:3306/test"
    raise AssertionError(case)


@pytest.mark.parametrize(("case", "code", "names"), [
    ("pg-wrong-password", "DBP-D303", "postgres"),
    ("pg-unknown-database", "DBP-D304", "no_such_db_here"),
    ("mysql-wrong-password", "DBP-D303", "root"),
    ("mysql-unknown-database", "DBP-D304", "no_such_db_here"),
    ("closed-port", "DBP-D302", "127.0.0.1"),
    ("unknown-host", "DBP-D301", "nonexistent-host.invalid"),
])
async def test_a_failed_connection_check_registers_nothing(
        app_client: httpx.AsyncClient, request: pytest.FixtureRequest,
        case: str, code: str, names: str) -> None:
    url = _failing_url(case, request)
    before = await count(app_client)
    r = await app_client.post("/v1/databases", json={"database": {"resource_id": "bad",
                                                                  "url": url}})
    body = assert_problem(r, 422, code)
    assert names in body["detail"]
    assert body["field"] == "url"
    assert PASSWORD not in r.text
    if code == "DBP-D302":
        assert str(body["port"]) in body["detail"]
    assert await count(app_client) == before
    assert_problem(await app_client.get("/v1/databases/bad"), 404, "DBP-D101")


# -- secrets ---------------------------------------------------------------------------


async def test_passwords_are_never_answered(app_client: httpx.AsyncClient,
                                            private_postgres: PrivatePostgres) -> None:
    secret = private_postgres.password
    r = await app_client.post("/v1/databases", json={"resource_id": "pg",
                                                     "url": private_postgres.url()})
    assert r.status_code == 201, r.text
    assert r.json()["database"]["status"] == "running"
    responses = [r, await app_client.get("/v1/databases/pg"),
                 await app_client.get("/v1/databases"),
                 await app_client.patch("/v1/databases/pg", json={"app_name": "x"})]
    for response in responses:
        assert response.status_code in (200, 201)
        assert secret not in response.text
    url = responses[1].json()["database"]["url"]
    assert url.startswith("postgresql://postgres:")
    assert url.endswith(f"@127.0.0.1:{private_postgres.port}/postgres")


async def test_a_password_in_the_query_string_is_never_answered(
        app_client: httpx.AsyncClient, private_postgres: PrivatePostgres) -> None:
    secret = private_postgres.password
    url = (f"postgresql://{private_postgres.user}@{private_postgres.host}:"
           f"{private_postgres.port}/postgres?password={secret}")
    r = await app_client.post("/v1/databases", json={"resource_id": "pgq", "url": url})
    assert r.status_code == 201, r.text
    assert secret not in r.text
    assert secret not in (await app_client.get("/v1/databases/pgq")).text
    assert "password=***" in r.json()["database"]["url"]


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/v1/databases", {"resource_id": "x", "colour": "red"}, "colour"),
    ("POST", "/v1/databases", {"database": {"resource_id": "x", "id": "abc"}}, "database.id"),
    ("PATCH", "/v1/databases/default", {"plan": "gold"}, "plan"),
    ("PUT", "/v1/databases/default", {"database": {"status": "stopped"}}, "database.status"),
    ("POST", "/v1/databases", {"resource_id": "Bad Name!"}, "resource_id"),
    ("POST", "/v1/databases", {"type_name": "sqlite"}, "resource_id"),
    ("POST", "/v1/databases", {"resource_id": "x", "type_name": "oracle"}, "type_name"),
])
async def test_unknown_fields_are_refused_by_name(app_client: httpx.AsyncClient, method: str,
                                                  path: str, body: dict[str, Any],
                                                  field: str) -> None:
    r = await app_client.request(method, path, json=body)
    problem = assert_problem(r, 422, "DBP-V100")
    assert problem["field"] == field
    assert field in problem["detail"]
    assert await count(app_client) == 1


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\"text\"", b""])
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_body_that_is_not_a_json_object_is_400(app_client: httpx.AsyncClient,
                                                       content: bytes, method: str) -> None:
    path = "/v1/databases" if method == "POST" else "/v1/databases/default"
    r = await app_client.request(method, path, content=content,
                                 headers={"content-type": "application/json"})
    assert_problem(r, 400, "DBP-V101")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/databases"), ("POST", "/v1/databases"), ("GET", "/v1/databases/default"),
     ("PATCH", "/v1/databases/default"), ("DELETE", "/v1/databases/default")],
)
async def test_a_token_is_needed(app_client: httpx.AsyncClient, method: str,
                                 path: str) -> None:
    kwargs: dict[str, Any] = {"json": {"resource_id": "x"}} if method in ("POST",
                                                                         "PATCH") else {}
    # httpx merges the client's headers into every request: take the token off by hand
    request = app_client.build_request(method, path, **kwargs)
    del request.headers["authorization"]
    r = await app_client.send(request)
    assert_problem(r, 401, "DBP-A101")
    r = await app_client.request(method, path, **kwargs,
                                 headers={"Authorization": "Bearer dbp_wrong-token"})
    assert_problem(r, 401, "DBP-A102")
    assert await count(app_client) == 1


# -- a registered database that goes away -------------------------------------------------


async def test_an_unreachable_database_is_reported_not_a_500(
        app_client: httpx.AsyncClient) -> None:
    proc, port = start_redis()
    try:
        db = await register(app_client, {"resource_id": "cache",
                                         "url": f"redis://127.0.0.1:{port}/0"})
        assert db["status"] == "running"
    finally:
        stop_process(proc)

    r = await app_client.get("/v1/databases/cache")
    assert r.status_code == 200, r.text
    gone = r.json()["database"]
    assert_scalingo_shape(gone)
    assert gone["status"] == "unreachable"
    # the first check may meet the pooled connection the server closed; the next one
    # finds nothing listening and says where
    assert gone["status_detail"]
    again = (await app_client.get("/v1/databases/cache")).json()["database"]
    assert again["status"] == "unreachable"
    assert f"127.0.0.1:{port}" in again["status_detail"]
    assert gone["readable_version"] is None
    assert gone["version_id"] is None
    assert gone["features"] == []
    assert gone["instances"][0]["status"] == "unreachable"
    assert gone["id"] == db["id"]

    r = await app_client.get("/v1/databases")
    assert r.status_code == 200, r.text
    status = {d["resource_id"]: d["status"] for d in r.json()["databases"]}
    assert status == {"default": "running", "cache": "unreachable"}

    r = await app_client.patch("/v1/databases/cache", json={HOURS_FIELD: 4})
    assert r.status_code == 200, r.text
    assert r.json()["database"][HOURS_FIELD] == [4]
    assert (await app_client.delete("/v1/databases/cache")).status_code == 204


async def test_null_hours_clear_the_schedule(app_client: httpx.AsyncClient) -> None:
    set_ = await app_client.patch("/v1/databases/default", json={HOURS_FIELD: [1, 2]})
    assert set_.json()["database"][HOURS_FIELD] == [1, 2]
    cleared = await app_client.patch("/v1/databases/default", json={HOURS_FIELD: None})
    assert cleared.status_code == 200
    assert cleared.json()["database"][HOURS_FIELD] == []
