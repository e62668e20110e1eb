"""The MySQL/MariaDB actions adapter: the SQL modes the server accepts, asked of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from dbplane.engines import parse_database_url
from dbplane.engines.actions import actions_for
from dbplane.engines.mysql.actions import MysqlActions
from dbplane.engines.mysql.engine import MysqlEngine
from dbplane.errors import (
    ActionServerUnavailable,
    InvalidActionParams,
    LogicalDatabaseExists,
    LogicalDatabaseNotFound,
)
from tests.fixtures.servers import SqlDatabase
from tests.fixtures.services import free_port


@pytest.fixture
async def adapter(mysql_url: SqlDatabase) -> AsyncIterator[MysqlActions]:
    engine = MysqlEngine(parse_database_url(mysql_url.url))
    await engine.connect()
    try:
        found = actions_for(engine)
        assert isinstance(found, MysqlActions)
        yield found
    finally:
        await engine.close()


async def test_accepted_sql_modes_come_from_the_server(adapter: MysqlActions) -> None:
    async with adapter.engine.sa_engine.connect() as conn:
        await conn.execute(text("SET SESSION sql_mode = 'ANSI_QUOTES'"))
        accepted = await adapter.accepted_sql_modes()
        # the session asked keeps its own mode
        mode = (await conn.execute(text("SELECT @@SESSION.sql_mode"))).scalar_one()
        assert mode == "ANSI_QUOTES"
    assert {"STRICT_TRANS_TABLES", "ONLY_FULL_GROUP_BY", "NO_ZERO_DATE", "ANSI",
            "TRADITIONAL", "NO_ENGINE_SUBSTITUTION"} <= accepted
    assert "NO_SUCH_MODE" not in accepted
    assert await adapter.accepted_sql_modes() is accepted  # asked once per engine


async def test_logical_database_errors(adapter: MysqlActions) -> None:
    with pytest.raises(LogicalDatabaseNotFound, match="dbp_no_such"):
        await adapter.delete_database("dbp_no_such")
    with pytest.raises(LogicalDatabaseNotFound, match="dbp_no_such"):
        await adapter.reset_database("dbp_no_such")
    own = adapter.own_database()
    assert own is not None
    with pytest.raises(LogicalDatabaseExists):
        await adapter.create_database(own)


async def test_a_server_that_does_not_answer() -> None:
    engine = MysqlEngine(parse_database_url(f"mysql://root@127.0.0.1:{free_port()}/x"),
                         timeout=1)
    try:
        with pytest.raises(ActionServerUnavailable, match="did not answer"):
            await MysqlActions(engine).list_databases()
    finally:
        await engine.close()


async def test_a_mode_the_server_refuses_is_a_params_error(adapter: MysqlActions) -> None:
    before = await adapter.get_sql_mode()
    with pytest.raises(InvalidActionParams, match="the server refused the SQL mode"):
        await adapter.set_sql_mode("NO_SUCH_MODE")
    assert await adapter.get_sql_mode() == before
