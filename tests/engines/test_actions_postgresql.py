"""The PostgreSQL actions adapter on real servers: pg_stat_statements on a private server
started with the library preloaded (the shared one is not), and what it refuses."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from dbplane.engines import parse_database_url
from dbplane.engines.actions import actions_for
from dbplane.engines.postgresql.actions import PostgresqlActions
from dbplane.engines.postgresql.engine import PostgresqlEngine
from dbplane.errors import (
    ActionRefused,
    ActionServerUnavailable,
    BackendNotFound,
    LogicalDatabaseInUse,
    LogicalDatabaseNotFound,
    StatStatementsUnavailable,
)
from tests.fixtures.servers import PG_BIN, SqlDatabase
from tests.fixtures.services import free_port, unique_name


def start_preloaded_postgres() -> Iterator[str]:
    """The URL of a PostgreSQL server of our own with ``shared_preload_libraries =
    pg_stat_statements`` (trust auth, fsync off), stopped when the generator ends."""
    if shutil.which(str(PG_BIN / "initdb")) is None:
        pytest.skip(f"{PG_BIN / 'initdb'} is not installed")
    # not under pytest's tmp dir: that one is root's (0700) and PostgreSQL runs as postgres
    base = Path(tempfile.mkdtemp(prefix="dbp-pgss-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C"],
                   check=True, capture_output=True)
    subprocess.run([*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-t", "30",
                    "-l", str(base / "log"),
                    "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c shared_preload_libraries=pg_stat_statements", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m",
                        "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def preloaded_postgres() -> Iterator[str]:
    yield from start_preloaded_postgres()


async def _adapter(url: str) -> AsyncIterator[PostgresqlActions]:
    engine = PostgresqlEngine(parse_database_url(url))
    await engine.connect()
    try:
        adapter = actions_for(engine)
        assert isinstance(adapter, PostgresqlActions)
        yield adapter
    finally:
        await engine.close()


@pytest.fixture
async def preloaded(preloaded_postgres: str) -> AsyncIterator[PostgresqlActions]:
    async for adapter in _adapter(preloaded_postgres):
        yield adapter


@pytest.fixture
async def shared(pg_url: SqlDatabase) -> AsyncIterator[PostgresqlActions]:
    async for adapter in _adapter(pg_url.url):
        yield adapter


async def test_stat_statements_on_a_server_that_preloads_it(
        preloaded: PostgresqlActions, preloaded_postgres: str) -> None:
    with pytest.raises(StatStatementsUnavailable, match="run pg-stat-statements-enable first"):
        await preloaded.stat_statements_list()
    await preloaded.stat_statements_enable()
    await preloaded.stat_statements_enable()  # twice is fine
    assert {"name": "pg_stat_statements", "version": "v1.10"} in \
        await preloaded.list_extensions()
    await preloaded.stat_statements_reset()
    with psycopg.connect(preloaded_postgres, autocommit=True) as conn:
        for _ in range(3):
            conn.execute("SELECT count(*) FROM pg_class WHERE relname = %s", ["dbplane_x"])
    stats = await preloaded.stat_statements_list()
    mine = [s for s in stats if "dbplane_x" in s["query"] or "relname = $1" in s["query"]]
    assert mine, stats
    row = mine[0]
    assert row.keys() == {"user_id", "query", "calls", "rows", "total_time", "min_time",
                          "max_time", "mean_time", "std_dev"}
    assert row["calls"] == 3 and row["rows"] == 3
    assert isinstance(row["user_id"], int) and row["user_id"] > 0
    assert row["min_time"] <= row["mean_time"] <= row["max_time"] <= row["total_time"]
    await preloaded.stat_statements_reset()
    after = await preloaded.stat_statements_list()
    assert not [s for s in after if "relname = $1" in s["query"]]


async def test_stat_statements_without_preload_say_so(shared: PostgresqlActions) -> None:
    with pytest.raises(StatStatementsUnavailable) as info:
        await shared.stat_statements_enable()
    assert "not in the server's shared_preload_libraries" in info.value.detail
    assert "restart PostgreSQL" in info.value.detail


def _as_role_without_createdb(adapter: PostgresqlActions) -> PostgresqlActions:
    url = adapter.engine.url.url.set(username="dbp_actions_nocreatedb")
    return PostgresqlActions(PostgresqlEngine(parse_database_url(
        url.render_as_string(hide_password=False))))


@pytest.fixture
def role_without_createdb() -> Iterator[None]:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres",
                         autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS dbp_actions_nocreatedb")
        conn.execute("CREATE ROLE dbp_actions_nocreatedb LOGIN NOCREATEDB")
    yield
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres",
                         autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS dbp_actions_nocreatedb")


@pytest.mark.usefixtures("role_without_createdb")
async def test_refusals_are_dbplane_errors(shared: PostgresqlActions) -> None:
    with pytest.raises(LogicalDatabaseNotFound):
        await shared.reset_database("dbp_no_such_database")
    with pytest.raises(LogicalDatabaseNotFound):
        await shared.delete_database("dbp_no_such_database")
    with pytest.raises(BackendNotFound):
        await shared.signal_backend(2_000_000_000, terminate=True)
    # a name the quoting keeps whole: one database with an odd name, nothing else
    odd = 'dbp_odd"; DROP DATABASE postgres; --'
    await shared.create_database(odd)
    try:
        assert odd in await shared.list_databases()
        assert "postgres" in await shared.list_databases()
    finally:
        await shared.delete_database(odd)
    assert odd not in await shared.list_databases()
    with pytest.raises(LogicalDatabaseInUse):
        # the registered database cannot drop itself (the service protects it anyway)
        await shared.delete_database(shared.own_database() or "")
    weak = _as_role_without_createdb(shared)
    try:
        with pytest.raises(ActionRefused, match=r"refused the action: .*permission denied"):
            await weak.create_database("dbp_never")
    finally:
        await weak.engine.close()


async def test_a_server_that_does_not_answer() -> None:
    engine = PostgresqlEngine(parse_database_url(
        f"postgresql://postgres@127.0.0.1:{free_port()}/x"), timeout=1)
    try:
        with pytest.raises(ActionServerUnavailable, match="did not answer"):
            await PostgresqlActions(engine).list_queries()
    finally:
        await engine.close()


async def test_reset_gives_up_on_a_lock_and_changes_nothing(shared: PostgresqlActions) -> None:
    name = unique_name("dbp_act_lock")
    await shared.create_database(name)
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as holder:
            holder.execute("CREATE TABLE kept (id int)")
            holder.commit()
            holder.execute("LOCK TABLE kept IN ACCESS SHARE MODE")  # a transaction stays open
            shared.reset_lock_timeout_ms = 300
            with pytest.raises(LogicalDatabaseInUse, match=r"holds a lock .* 0\.3 s"):
                await shared.reset_database(name)
            holder.rollback()
            row = holder.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'kept'"
                                 ).fetchone()
            assert row == (1,)
    finally:
        await shared.delete_database(name, force=True)
