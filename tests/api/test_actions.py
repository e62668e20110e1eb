"""POST /v1/databases/{db}/action through the real app, on the real servers: the Scalingo
shapes ({"ok": 1, "result"} / {"ok": 0, "error"}), every action on every type that has it,
and the refusals (unknown action, bad params, protected databases) that change nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import MetaBackend
from tests.engines.test_actions_postgresql import start_preloaded_postgres
from tests.fixtures.servers import SqlDatabase, mysql_admin, pg_admin
from tests.fixtures.services import PG_HOST, PG_PORT, unique_name

SQL_ACTIONS = ["list-actions", "list-databases", "create-database", "delete-database",
               "reset-database"]
SYSTEM = {"sqlite": "main", "postgresql": "postgres", "mysql": "mysql"}


async def act(client: httpx.AsyncClient, db: str, name: str, params: Any = None,
              status: int = 200) -> Any:
    response = await client.post(f"/v1/databases/{db}/action",
                                 json={"action_name": name, "params": params})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    if status == 200:
        assert body.keys() == {"ok", "result"} and body["ok"] == 1
        return body["result"]
    assert body.keys() == {"ok", "error", "code"} and body["ok"] == 0, body
    return body


async def register(client: httpx.AsyncClient, resource_id: str, url: str) -> None:
    response = await client.post("/v1/databases", json={"resource_id": resource_id,
                                                        "url": url})
    assert response.status_code == 201, response.text


# -- logical databases on every SQL type ----------------------------------------------------


def _write_table(db: SqlDatabase, name: str) -> Callable[[], list[str]]:
    """Create a table with a row in the logical database ``name``; answer a function that
    lists its tables (through a sync driver, not through dbplane)."""
    if db.engine == "sqlite":
        path = Path(db.name + ".databases") / f"{name}.db"
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE kept (id INTEGER PRIMARY KEY)")
        con.execute("CREATE VIEW v AS SELECT * FROM kept")
        con.execute("INSERT INTO kept VALUES (1)")
        con.commit()
        con.close()

        def tables() -> list[str]:
            with sqlite3.connect(path) as c:
                return [r[0] for r in c.execute(
                    "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite%'")]
        return tables
    if db.engine == "postgresql":
        with pg_admin(name) as conn:
            conn.execute("CREATE SCHEMA other")
            conn.execute("CREATE TABLE public.kept (id int primary key)")
            conn.execute("CREATE TABLE other.kept (id int primary key)")
            conn.execute("INSERT INTO public.kept VALUES (1)")

        def pg_tables() -> list[str]:
            with pg_admin(name) as c:
                return [f"{r[0]}.{r[1]}" for r in c.execute(
                    "SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")]
        return pg_tables
    conn = mysql_admin(name)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE kept (id int primary key)")
        cur.execute("INSERT INTO kept VALUES (1)")
    conn.close()

    def my_tables() -> list[str]:
        c = mysql_admin(name)
        try:
            with c.cursor() as cur:
                cur.execute("SHOW TABLES")
                return [r[0] for r in cur.fetchall()]
        finally:
            c.close()
    return my_tables


def _drop_if_left(db: SqlDatabase, name: str) -> None:
    if db.engine == "postgresql":
        with pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    elif db.engine == "mysql":
        conn = mysql_admin()
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def logical_name(sql_url: SqlDatabase) -> Iterator[str]:
    name = unique_name("dbp-act").replace("_", "-")
    yield name
    _drop_if_left(sql_url, name)


async def test_logical_databases_round_trip(app_client: httpx.AsyncClient,
                                            sql_url: SqlDatabase, logical_name: str) -> None:
    await register(app_client, "t", sql_url.url)
    actions = await act(app_client, "t", "list-actions")
    names = [a["name"] for a in actions]
    assert names[:5] == SQL_ACTIONS
    assert {"name": "create-database", "description": "Create a new logical database",
            "params": {"database_name": "custom-db"}} in actions

    listed = {d["name"]: d["protected"] for d in await act(app_client, "t", "list-databases")}
    own = "main" if sql_url.engine == "sqlite" else sql_url.name
    assert listed[own] is True and listed[SYSTEM[sql_url.engine]] is True
    assert logical_name not in listed

    created = await act(app_client, "t", "create-database", {"database_name": logical_name})
    assert created == {"name": logical_name, "protected": False}
    listed = {d["name"]: d["protected"] for d in await act(app_client, "t", "list-databases")}
    assert listed[logical_name] is False
    again = await act(app_client, "t", "create-database", {"database_name": logical_name},
                      status=409)
    assert again["code"] == "DBP-X301" and logical_name in again["error"]

    tables = _write_table(sql_url, logical_name)
    assert tables()
    assert await act(app_client, "t", "reset-database",
                     {"database_name": logical_name}) is None
    assert tables() == []  # every table (every schema, on PostgreSQL) is gone
    present = {d["name"] for d in await act(app_client, "t", "list-databases")}
    assert logical_name in present  # the database itself stays

    assert await act(app_client, "t", "delete-database",
                     {"database_name": logical_name}) is None
    present = {d["name"] for d in await act(app_client, "t", "list-databases")}
    assert logical_name not in present
    for action in ("delete-database", "reset-database"):
        gone = await act(app_client, "t", action, {"database_name": logical_name},
                         status=404)
        assert gone["code"] == "DBP-X201" and logical_name in gone["error"]


async def test_protected_databases_cannot_be_deleted_or_reset(
        app_client: httpx.AsyncClient, sql_url: SqlDatabase) -> None:
    await register(app_client, "t", sql_url.url)
    own = "main" if sql_url.engine == "sqlite" else sql_url.name
    for name in {own, SYSTEM[sql_url.engine]}:
        for action in ("delete-database", "reset-database"):
            refused = await act(app_client, "t", action, {"database_name": name}, status=409)
            assert refused["code"] == "DBP-X302"
            assert f"{name!r} is protected" in refused["error"]
    listed = {d["name"] for d in await act(app_client, "t", "list-databases")}
    assert {own, SYSTEM[sql_url.engine]} <= listed


@pytest.mark.parametrize(("params", "status", "code", "message"), [
    (None, 422, "DBP-X103", "params: create-database takes an object"),
    ({}, 422, "DBP-X103", "params.database_name: Field required"),
    ({"database_name": 5}, 422, "DBP-X103", "params.database_name: Input should be a valid "
     "string"),
    ({"database_name": "a\"; DROP DATABASE x; --"}, 422, "DBP-X103",
     "is not a valid database name"),
    ({"database_name": "../etc"}, 422, "DBP-X103", "is not a valid database name"),
    ({"database_name": "x" * 64}, 422, "DBP-X103", "at most 63 characters"),
    ({"database_name": "ok", "extra": 1}, 422, "DBP-X103", "params.extra"),
    ("custom-db", 422, "DBP-X103", "takes an object"),
])
async def test_bad_params_name_the_problem_and_change_nothing(
        app_client: httpx.AsyncClient, sqlite_url: SqlDatabase, params: Any, status: int,
        code: str, message: str) -> None:
    await register(app_client, "t", sqlite_url.url)
    before = await act(app_client, "t", "list-databases")
    body = await act(app_client, "t", "create-database", params, status=status)
    assert body["code"] == code and message in body["error"], body
    assert await act(app_client, "t", "list-databases") == before


async def test_unknown_and_unsupported_actions(app_client: httpx.AsyncClient,
                                               sqlite_url: SqlDatabase) -> None:
    await register(app_client, "t", sqlite_url.url)
    unknown = await act(app_client, "t", "drop-everything", status=400)
    assert unknown == {"ok": 0, "code": "DBP-X101", "error": (
        "action_name: 'drop-everything' is not an action; this database has: "
        + ", ".join(SQL_ACTIONS))}
    unsupported = await act(app_client, "t", "pg-list-queries", status=400)
    assert unsupported["code"] == "DBP-X102"
    assert "'pg-list-queries' is not an action of sqlite databases" in unsupported["error"]
    no_params = await act(app_client, "t", "list-databases", {"x": 1}, status=422)
    assert no_params["error"] == ("params: list-databases takes no params (send null or "
                                  "leave them out)")


@pytest.mark.parametrize(("kwargs", "status", "code"), [
    ({"content": b"{"}, 400, "DBP-V101"),
    ({"json": ["list-actions"]}, 400, "DBP-V101"),
    ({"json": {}}, 422, "DBP-V100"),
    ({"json": {"action_name": 5}}, 422, "DBP-V100"),
    ({"json": {"action_name": "list-actions", "params": 5}}, 422, "DBP-V100"),
    ({"json": {"action_name": "list-actions", "other": 1}}, 422, "DBP-V100"),
])
async def test_malformed_bodies_answer_the_seed_error_shape(
        app_client: httpx.AsyncClient, kwargs: dict[str, Any], status: int,
        code: str) -> None:
    response = await app_client.post("/v1/databases/default/action", **kwargs)
    assert response.status_code == status
    body = response.json()
    assert body.keys() == {"ok", "error", "code"}
    assert body["ok"] == 0 and body["code"] == code


async def test_unknown_database_and_auth(app_client: httpx.AsyncClient) -> None:
    missing = await act(app_client, "nope", "list-actions", status=404)
    assert missing["code"] == "DBP-D101"
    anonymous = await app_client.post("/v1/databases/default/action",
                                      json={"action_name": "list-actions"},
                                      headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"


async def test_a_non_admin_session_is_refused(app_client: httpx.AsyncClient) -> None:
    await app_client.post("/v1/roles", json={"name": "viewer", "grants": [
        {"database": "*", "table": "*", "actions": ["read"]}]})
    user = await app_client.post("/v1/users", json={
        "name": "Kate", "email": "kate-actions@example.com", "password": "correct horse",
        "role": "viewer"})
    assert user.status_code == 201, user.text
    login = await app_client.post("/v1/auth/login", headers={"Authorization": ""}, json={
        "email": "kate-actions@example.com", "password": "correct horse"})
    response = await app_client.post(
        "/v1/databases/default/action", json={"action_name": "list-actions"},
        headers={"Authorization": f"Bearer {login.json()['token']}"})
    assert response.status_code == 403
    assert response.json()["code"] == "DBP-A201"


async def test_registered_databases_on_the_same_server_are_protected(
        app_client: httpx.AsyncClient, pg_url: SqlDatabase) -> None:
    await register(app_client, "t", pg_url.url)
    other = unique_name("dbp_act")
    await act(app_client, "t", "create-database", {"database_name": other})
    try:
        await register(app_client, "other",
                       f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{other}")
        listed = {d["name"]: d["protected"] for d in await act(app_client, "t",
                                                               "list-databases")}
        assert listed[other] is True
        refused = await act(app_client, "t", "delete-database", {"database_name": other},
                            status=409)
        assert refused["code"] == "DBP-X302"
        assert (await app_client.delete("/v1/databases/other")).status_code == 204
        # its pool is closed when it is unregistered: nothing else is connected to it now
        assert await act(app_client, "t", "delete-database",
                         {"database_name": other}) is None
    finally:
        _drop_if_left(pg_url, other)


async def test_delete_a_database_other_sessions_use(app_client: httpx.AsyncClient,
                                                    pg_url: SqlDatabase) -> None:
    await register(app_client, "t", pg_url.url)
    other = unique_name("dbp_act")
    await act(app_client, "t", "create-database", {"database_name": other})
    try:
        with pg_admin(other):
            busy = await act(app_client, "t", "delete-database", {"database_name": other},
                             status=409)
            assert busy["code"] == "DBP-X303"
            assert "force" in busy["error"]
            assert await act(app_client, "t", "delete-database",
                             {"database_name": other, "force": True}) is None
        listed = {d["name"] for d in await act(app_client, "t", "list-databases")}
        assert other not in listed
    finally:
        _drop_if_left(pg_url, other)


# -- PostgreSQL ---------------------------------------------------------------------------


class _Sleeper(threading.Thread):
    """``SELECT pg_sleep(30)`` on a connection of its own; keeps the error it ends with."""

    def __init__(self, database: str) -> None:
        super().__init__(daemon=True)
        self.conn = pg_admin(database)
        self.pid = self.conn.info.backend_pid
        self.error: BaseException | None = None
        self.started_at = time.monotonic()
        self.ended_at: float | None = None

    def run(self) -> None:
        try:
            self.conn.execute("SELECT pg_sleep(30) /* dbplane-sleeper */")
        except BaseException as exc:
            self.error = exc
        finally:
            self.ended_at = time.monotonic()
            self.conn.close()


async def _running(client: httpx.AsyncClient, pid: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for query in await act(client, "t", "pg-list-queries"):
            if query["pid"] == pid and query["state"] == "active":
                return dict(query)
        await asyncio.sleep(0.05)
    raise AssertionError(f"pid {pid} never showed as active")


async def test_pg_list_queries_then_cancel_and_terminate(app_client: httpx.AsyncClient,
                                                        pg_url: SqlDatabase) -> None:
    await register(app_client, "t", pg_url.url)
    sleeper = _Sleeper(pg_url.name)
    sleeper.start()
    seen = await _running(app_client, sleeper.pid)
    assert seen.keys() == {"query", "state", "username", "query_start", "pid",
                           "query_duration"}
    assert "pg_sleep(30)" in seen["query"] and seen["username"] == "postgres"
    assert seen["query_start"].endswith("Z")
    await asyncio.sleep(0.2)
    later = await _running(app_client, sleeper.pid)
    # nanoseconds: a query that has run for a fraction of a second, growing
    assert 0 < seen["query_duration"] < later["query_duration"] < 30 * 10**9
    assert later["query_duration"] - seen["query_duration"] >= 150_000_000

    assert await act(app_client, "t", "pg-cancel-query", {"pid": sleeper.pid}) is None
    sleeper.join(timeout=10)
    assert isinstance(sleeper.error, psycopg.errors.QueryCanceled), sleeper.error
    assert sleeper.ended_at is not None and sleeper.ended_at - sleeper.started_at < 10

    sleeper = _Sleeper(pg_url.name)
    sleeper.start()
    await _running(app_client, sleeper.pid)
    assert await act(app_client, "t", "pg-terminate-query", {"pid": sleeper.pid}) is None
    sleeper.join(timeout=10)
    assert isinstance(sleeper.error, psycopg.OperationalError), sleeper.error
    pids = [q["pid"] for q in await act(app_client, "t", "pg-list-queries")]
    assert sleeper.pid not in pids

    # a session of another database of the server is not this database's to signal
    with pg_admin() as elsewhere:
        gone = await act(app_client, "t", "pg-cancel-query",
                         {"pid": elsewhere.info.backend_pid}, status=404)
        assert gone["code"] == "DBP-X202"
    for bad, message in [({"pid": "12"}, "params.pid: Input should be a valid integer"),
                         ({"pid": 0}, "params.pid: Input should be greater than or equal"),
                         ({"pid": 2**40}, "params.pid: Input should be less than or equal"),
                         ({}, "params.pid: Field required")]:
        body = await act(app_client, "t", "pg-terminate-query", bad, status=422)
        assert body["error"].startswith(message), body


async def test_pg_extensions_and_stat_statements_without_preload(
        app_client: httpx.AsyncClient, pg_url: SqlDatabase) -> None:
    await register(app_client, "t", pg_url.url)
    assert {"name": "plpgsql", "version": "v1.0"} in await act(app_client, "t",
                                                               "list-extensions")
    for action in ("pg-stat-statements-enable", "pg-stat-statements-reset",
                   "pg-stat-statements-list"):
        body = await act(app_client, "t", action, status=409)
        assert body["code"] == "DBP-X304"
        assert "pg_stat_statements is not in the server's shared_preload_libraries" in \
            body["error"]
    names = [e["name"] for e in await act(app_client, "t", "list-extensions")]
    assert "pg_stat_statements" not in names  # the refused enable created nothing


# -- MySQL / MariaDB ----------------------------------------------------------------------


def _global_sql_mode() -> str:
    conn = mysql_admin()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@GLOBAL.sql_mode")
            row = cur.fetchone()
    finally:
        conn.close()
    assert row is not None
    return str(row[0])


async def test_sqlmode_get_and_set_round_trip(app_client: httpx.AsyncClient,
                                              mysql_url: SqlDatabase) -> None:
    await register(app_client, "t", mysql_url.url)
    names = [a["name"] for a in await act(app_client, "t", "list-actions")]
    assert names == [*SQL_ACTIONS, "get-sqlmode", "set-sqlmode"]
    original = await act(app_client, "t", "get-sqlmode")
    assert original == _global_sql_mode()
    # GLOBAL: other sessions of the shared server see it, so change a mode that changes
    # nothing they do, and put the original back
    wanted = ",".join([*[m for m in original.split(",") if m], "NO_DIR_IN_CREATE"])
    try:
        assert await act(app_client, "t", "set-sqlmode", " " + wanted.lower()) is None
        assert "NO_DIR_IN_CREATE" in (await act(app_client, "t", "get-sqlmode")).split(",")
        assert "NO_DIR_IN_CREATE" in _global_sql_mode().split(",")
        bad = await act(app_client, "t", "set-sqlmode", wanted + ",NO_SUCH_MODE", status=422)
        assert bad["code"] == "DBP-X103"
        assert bad["error"].startswith("params: 'NO_SUCH_MODE' is not a SQL mode this "
                                       "server accepts; it accepts: ")
        assert "STRICT_TRANS_TABLES" in bad["error"]
        wrong = await act(app_client, "t", "set-sqlmode", {"mode": wanted}, status=422)
        assert "one string of comma-separated modes" in wrong["error"]
        assert "NO_DIR_IN_CREATE" in _global_sql_mode().split(",")  # refused: unchanged
    finally:
        assert await act(app_client, "t", "set-sqlmode", original) is None
    assert _global_sql_mode() == original


# -- Redis ---------------------------------------------------------------------------------


async def test_redis_has_list_actions_only(app_client: httpx.AsyncClient,
                                           redis_url: str) -> None:
    await register(app_client, "r", redis_url)
    assert await act(app_client, "r", "list-actions") == [
        {"name": "list-actions", "description": "List the actions of this database's type",
         "params": None}]
    body = await act(app_client, "r", "list-databases", status=400)
    assert body == {"ok": 0, "code": "DBP-X102", "error": (
        "action_name: 'list-databases' is not an action of redis databases; they have: "
        "list-actions")}


@pytest.mark.parametrize("meta_backend", ["postgresql"], indirect=True)
async def test_the_metadata_store_is_protected(app_client: httpx.AsyncClient,
                                              pg_url: SqlDatabase,
                                              meta_backend: MetaBackend) -> None:
    await register(app_client, "t", pg_url.url)
    assert meta_backend.url is not None
    meta_name = meta_backend.url.rsplit("/", 1)[1]
    listed = {d["name"]: d["protected"] for d in await act(app_client, "t", "list-databases")}
    assert listed[meta_name] is True
    refused = await act(app_client, "t", "reset-database", {"database_name": meta_name},
                        status=409)
    assert refused["code"] == "DBP-X302"


@pytest.fixture(scope="module")
def preloaded_pg() -> Iterator[str]:
    yield from start_preloaded_postgres()


async def test_pg_stat_statements_on_a_server_that_preloads_it(
        app_client: httpx.AsyncClient, preloaded_pg: str) -> None:
    await register(app_client, "pre", preloaded_pg)
    assert await act(app_client, "pre", "pg-stat-statements-enable") is None
    assert await act(app_client, "pre", "pg-stat-statements-reset") is None
    with psycopg.connect(preloaded_pg, autocommit=True) as conn:
        conn.execute("SELECT %s::int + 1 AS dbplane_api_probe", [41])
    stats = await act(app_client, "pre", "pg-stat-statements-list")
    probe = [s for s in stats if "dbplane_api_probe" in s["query"]]
    assert len(probe) == 1 and probe[0]["calls"] == 1, stats
    assert probe[0].keys() == {"user_id", "query", "calls", "rows", "total_time",
                               "min_time", "max_time", "mean_time", "std_dev"}
    names = [e["name"] for e in await act(app_client, "pre", "list-extensions")]
    assert "pg_stat_statements" in names


# -- features ------------------------------------------------------------------------------


async def features(client: httpx.AsyncClient, db: str) -> dict[str, str]:
    response = await client.get(f"/v1/databases/{db}/features")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == {"features"}
    return {f["name"]: f["status"] for f in body["features"]}


async def test_features_are_honest_without_preload(app_client: httpx.AsyncClient,
                                                   pg_url: SqlDatabase) -> None:
    await register(app_client, "t", pg_url.url)
    assert "pg-stat-statements" not in await features(app_client, "t")
    refused = await app_client.post("/v1/databases/t/features",
                                    json={"feature": {"name": "pg-stat-statements"}})
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "DBP-X304"
    assert "shared_preload_libraries" in refused.json()["detail"]
    assert "pg_stat_statements" not in [e["name"] for e in await act(
        app_client, "t", "list-extensions")]
    # the extension created by hand cannot be queried: FAILED, not ACTIVATED
    with pg_admin(pg_url.name) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    try:
        assert (await features(app_client, "t"))["pg-stat-statements"] == "FAILED"
        gone = await app_client.delete("/v1/databases/t/features",
                                       params={"feature": "pg-stat-statements"})
        assert gone.status_code == 200, gone.text
        assert gone.json() == {"message": "Feature pg-stat-statements has been disabled"}
        assert "pg-stat-statements" not in await features(app_client, "t")
    finally:
        with pg_admin(pg_url.name) as conn:
            conn.execute("DROP EXTENSION IF EXISTS pg_stat_statements")


@pytest.mark.parametrize(("body", "field"), [
    ({"feature": {"name": "wal-archiving"}}, "feature"),
    ({"feature": {"name": 3}}, "feature.name"),
    ({"feature": {"name": "tls", "x": 1}}, "feature.x"),
    ({"name": "tls"}, "feature"),
])
async def test_features_that_cannot_change_are_refused(app_client: httpx.AsyncClient,
                                                       pg_url: SqlDatabase,
                                                       body: dict[str, Any],
                                                       field: str) -> None:
    await register(app_client, "t", pg_url.url)
    before = await features(app_client, "t")
    response = await app_client.post("/v1/databases/t/features", json=body)
    assert response.status_code in (400, 422), response.text
    assert field in response.text
    assert await features(app_client, "t") == before


async def test_features_of_redis_and_sqlite(app_client: httpx.AsyncClient,
                                            redis_url: str) -> None:
    await register(app_client, "r", redis_url)
    assert set(await features(app_client, "r")) <= {"redis-rdb", "redis-aof", "tls"}
    refused = await app_client.delete("/v1/databases/r/features",
                                      params={"feature": "redis-rdb"})
    assert refused.status_code == 400, refused.text
    assert refused.json()["detail"] == (
        "feature: 'redis-rdb' cannot be disabled on a redis database by dbplane; the "
        "features it can change there: none")
    assert await features(app_client, "default") == {}
    missing = await app_client.delete("/v1/databases/default/features")
    assert missing.status_code == 422 and "feature" in missing.text
    assert (await app_client.get("/v1/databases/nope/features")).status_code == 404


async def test_pg_stat_statements_feature_on_a_server_that_preloads_it(
        app_client: httpx.AsyncClient, preloaded_pg: str) -> None:
    await register(app_client, "pre", preloaded_pg)
    response = await app_client.post("/v1/databases/pre/features",
                                     json={"feature": {"name": "pg-stat-statements"}})
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "pg-stat-statements", "status": "ACTIVATED",
                               "message": "Feature pg-stat-statements has been enabled"}
    assert (await features(app_client, "pre"))["pg-stat-statements"] == "ACTIVATED"
    assert isinstance(await act(app_client, "pre", "pg-stat-statements-list"), list)
    gone = await app_client.delete("/v1/databases/pre/features",
                                   params={"feature": "pg-stat-statements"})
    assert gone.status_code == 200, gone.text
    assert "pg-stat-statements" not in await features(app_client, "pre")
