"""The engines against real servers: they connect, report the server's own version and
health, and turn every connection failure into the dbplane error that names its cause,
without ever showing the password."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis

from dbplane.engines import Engine, create_engine_for, parse_database_url
from dbplane.errors import (
    ConnectionCheckFailed,
    DatabaseAuthFailed,
    DatabaseHostUnknown,
    DatabaseMissing,
    DatabaseUnreachable,
)
from tests.fixtures.servers import PrivatePostgres, PrivateRedis, SqlDatabase, server_version
from tests.fixtures.services import (
    MY_HOST,
    MY_PORT,
    PG_HOST,
    PG_PORT,
    REDIS_HOST,
    REDIS_PORT,
    free_port,
    require_server,
)

PASSWORD = "S3cret-pw-XYZ"
UNKNOWN_HOST = "nonexistent-host.invalid"


@pytest.fixture
async def open_engine() -> AsyncIterator[Callable[[str], Engine]]:
    """Make engines for URLs; every one made is closed after the test."""
    engines: list[Engine] = []

    def make(raw: str) -> Engine:
        engine = create_engine_for(parse_database_url(raw), timeout=3)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.close()


async def connect_error(raw: str) -> ConnectionCheckFailed:
    """The error ``connect`` raises for ``raw``, checked to never show the password."""
    engine = create_engine_for(parse_database_url(raw), timeout=3)
    try:
        with pytest.raises(ConnectionCheckFailed) as info:
            await engine.connect()
    finally:
        await engine.close()
    err = info.value
    assert PASSWORD not in str(err)
    assert PASSWORD not in repr(err.to_dict())
    assert err.fields["field"] == "url"
    return err


# -- working connections ---------------------------------------------------------------


async def test_sql_engine_connects_and_reports_the_server(
        sql_url: SqlDatabase, open_engine: Callable[[str], Engine]) -> None:
    engine = open_engine(sql_url.url)
    assert engine.type_name == sql_url.engine
    await engine.connect()
    assert await engine.version() == server_version(sql_url)
    health = await engine.health()
    assert health.status == "running"
    assert health.ok
    assert health.detail is None
    assert await engine.features() == []
    (instance,) = engine.instances()
    assert instance.type == "db-node"
    if sql_url.engine == "sqlite":
        assert instance.port is None
    else:
        assert (instance.hostname, instance.port) == (
            "127.0.0.1", PG_PORT if sql_url.engine == "postgresql" else MY_PORT)


async def test_sql_engine_can_close_and_reconnect(
        sql_url: SqlDatabase, open_engine: Callable[[str], Engine]) -> None:
    engine = open_engine(sql_url.url)
    await engine.connect()
    await engine.close()
    await engine.close()  # closing twice is harmless
    assert (await engine.health()).ok
    assert await engine.version() == server_version(sql_url)


async def test_redis_engine_connects_and_reports_the_server(
        redis_url: str, open_engine: Callable[[str], Engine]) -> None:
    engine = open_engine(redis_url)
    await engine.connect()
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        expected = client.info("server")["redis_version"]
    finally:
        client.close()
    assert await engine.version() == expected
    assert (await engine.health()).status == "running"
    assert engine.instances()[0].port == REDIS_PORT
    assert isinstance(await engine.features(), list)


async def test_private_servers_with_the_right_password(
        private_postgres: PrivatePostgres, private_redis: PrivateRedis,
        open_engine: Callable[[str], Engine]) -> None:
    pg = open_engine(private_postgres.url())
    await pg.connect()
    assert (await pg.version()).startswith("15.")
    rd = open_engine(private_redis.url())
    await rd.connect()
    assert (await rd.health()).ok
    # the private Redis runs with --save "" and --appendonly no: no persistence feature
    assert await rd.features() == []


# -- failures, each naming what is at fault ------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgresql", "mysql", "redis"])
async def test_unknown_host(scheme: str) -> None:
    err = await connect_error(f"{scheme}://user:{PASSWORD}@{UNKNOWN_HOST}/db")
    assert type(err) is DatabaseHostUnknown
    assert UNKNOWN_HOST in err.detail
    assert err.fields["host"] == UNKNOWN_HOST
    assert err.to_dict()["code"] == "DBP-D301"


@pytest.mark.parametrize("scheme", ["postgresql", "mysql", "redis"])
async def test_closed_port(scheme: str) -> None:
    port = free_port()  # bound then released: nothing listens there
    err = await connect_error(f"{scheme}://user:{PASSWORD}@127.0.0.1:{port}/db")
    assert type(err) is DatabaseUnreachable
    assert f"127.0.0.1:{port}" in err.detail
    assert err.fields["port"] == port
    assert err.to_dict()["code"] == "DBP-D302"


async def test_wrong_password_postgresql(private_postgres: PrivatePostgres) -> None:
    err = await connect_error(private_postgres.url(password=PASSWORD))
    assert type(err) is DatabaseAuthFailed
    assert "'postgres'" in err.detail
    assert err.fields["user"] == "postgres"
    assert err.to_dict()["code"] == "DBP-D303"


async def test_wrong_password_mariadb() -> None:
    require_server("mysql", MY_HOST, MY_PORT)
    err = await connect_error(f"mysql://root:{PASSWORD}@{MY_HOST}:{MY_PORT}/test")
    assert type(err) is DatabaseAuthFailed
    assert "'root'" in err.detail
    assert err.fields["user"] == "root"


async def test_wrong_password_redis(private_redis: PrivateRedis) -> None:
    err = await connect_error(private_redis.url(password=PASSWORD))
    assert type(err) is DatabaseAuthFailed
    assert "'default'" in err.detail
    assert err.fields["user"] == "default"


async def test_no_password_on_a_redis_that_needs_one(private_redis: PrivateRedis) -> None:
    err = await connect_error(f"redis://{private_redis.host}:{private_redis.port}/0")
    assert type(err) is DatabaseAuthFailed


async def test_unknown_user_postgresql() -> None:
    require_server("postgresql", PG_HOST, PG_PORT)
    err = await connect_error(f"postgresql://nobody_here:{PASSWORD}@{PG_HOST}:{PG_PORT}/test")
    assert type(err) is DatabaseAuthFailed
    assert "'nobody_here'" in err.detail
    assert err.fields["user"] == "nobody_here"


async def test_unknown_user_private_postgresql(private_postgres: PrivatePostgres) -> None:
    # with password auth, PostgreSQL answers an unknown user as a wrong password on purpose
    err = await connect_error(private_postgres.url(user="nobody_here", password=PASSWORD))
    assert type(err) is DatabaseAuthFailed
    assert err.fields["user"] == "nobody_here"


async def test_missing_database_postgresql() -> None:
    require_server("postgresql", PG_HOST, PG_PORT)
    err = await connect_error(
        f"postgresql://postgres:{PASSWORD}@{PG_HOST}:{PG_PORT}/no_such_db_here")
    assert type(err) is DatabaseMissing
    assert "'no_such_db_here'" in err.detail
    assert err.fields["database_name"] == "no_such_db_here"
    assert err.to_dict()["code"] == "DBP-D304"


async def test_missing_database_mariadb() -> None:
    require_server("mysql", MY_HOST, MY_PORT)
    err = await connect_error(f"mysql://root@{MY_HOST}:{MY_PORT}/no_such_db_here")
    assert type(err) is DatabaseMissing
    assert "'no_such_db_here'" in err.detail
    assert err.fields["database_name"] == "no_such_db_here"


async def test_missing_database_redis(private_redis: PrivateRedis) -> None:
    # 16 databases by default: number 99 does not exist
    err = await connect_error(private_redis.url(db=99))
    assert type(err) is DatabaseMissing
    assert "'99'" in err.detail
    assert err.fields["database_name"] == "99"
    assert PASSWORD not in err.detail


async def test_missing_database_redis_shared(redis_url: str) -> None:
    err = await connect_error(redis_url.rsplit("/", 1)[0] + "/99")
    assert type(err) is DatabaseMissing


async def test_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    err = await connect_error(f"sqlite:///{path}")
    assert type(err) is DatabaseMissing
    assert str(path) in err.detail
    assert err.fields["path"] == str(path)
    assert not path.exists()  # checking must not create it


async def test_sqlite_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the pages of a SQLite database\n" * 10)
    err = await connect_error(f"sqlite:///{path}")
    assert type(err) is ConnectionCheckFailed
    assert str(path) in err.detail
    assert err.to_dict()["code"] == "DBP-D300"
    assert path.read_text().startswith("these are not")  # left untouched


async def test_sqlite_directory_is_not_a_file(tmp_path: Path) -> None:
    err = await connect_error(f"sqlite:///{tmp_path}")
    assert isinstance(err, ConnectionCheckFailed)
    assert str(tmp_path) in err.detail


async def test_sqlite_create_makes_the_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "new.db"
    engine = create_engine_for(parse_database_url(f"sqlite:///{path}"), timeout=3,
                               create=True)
    try:
        await engine.connect()
        assert (await engine.health()).ok
    finally:
        await engine.close()
    assert path.read_bytes().startswith(b"SQLite format 3\x00")


# -- health never raises -----------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgresql", "mysql", "redis"])
async def test_health_of_a_closed_port_is_unreachable(
        scheme: str, open_engine: Callable[[str], Engine]) -> None:
    port = free_port()
    engine = open_engine(f"{scheme}://user:{PASSWORD}@127.0.0.1:{port}/db")
    health = await engine.health()
    assert health.status == "unreachable"
    assert not health.ok
    assert health.detail is not None
    assert str(port) in health.detail
    assert PASSWORD not in health.detail


async def test_health_of_a_deleted_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    engine = create_engine_for(parse_database_url(f"sqlite:///{path}"), timeout=3,
                               create=True)
    try:
        await engine.connect()
        await engine.close()
        path.unlink()
        health = await engine.health()
    finally:
        await engine.close()
    assert health.status == "unreachable"
    assert health.detail
