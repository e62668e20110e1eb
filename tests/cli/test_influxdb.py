"""An InfluxDB database through ``dbplane databases create`` and ``dbplane action``, and
the Python client, against the live server and a private ``influxd``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dbplane import ApiClient
from dbplane.errors import InvalidActionParams, RetentionPolicyNotFound
from tests.cli.conftest import Cli
from tests.fixtures.servers import PrivateInfluxdb
from tests.fixtures.services import unique_name


@pytest.fixture
def influx_db(client: ApiClient, private_influxdb: PrivateInfluxdb) -> Iterator[str]:
    name = unique_name("cli")
    private_influxdb.query(f'CREATE DATABASE "{name}"')
    db = client.databases.create(unique_name("influx"), url=private_influxdb.url(name))
    try:
        yield str(db["resource_id"])
    finally:
        client.databases.delete(db)
        private_influxdb.query(f'DROP DATABASE "{name}"')


def test_retention_policies_through_the_cli(cli: Cli, influx_db: str) -> None:
    assert cli.ok("action", influx_db, "add-retention-policy", "-p", "name=30-days",
                  "-p", "duration=30d", "-p", "default=true").stdout == "ok\n"
    # a bare 0 is read as JSON: the infinite duration as a number is taken too
    assert cli.ok("action", influx_db, "add-retention-policy", "-p", "name=forever",
                  "-p", "duration=0").stdout == "ok\n"
    table = cli.ok("action", influx_db, "list-retention-policies").stdout
    assert "NAME" in table and "DURATION" in table and "30d" in table
    assert cli.json("action", influx_db, "list-retention-policies") == [
        {"name": "autogen", "duration": "0", "default": False},
        {"name": "30-days", "duration": "30d", "default": True},
        {"name": "forever", "duration": "0", "default": False}]
    bad = cli.fails("action", influx_db, "add-retention-policy", "-p", "name=x",
                    "-p", "duration=30x")
    assert "params.duration: '30x'" in bad.stderr and "DBP-X103" in bad.stderr
    assert cli.ok("action", influx_db, "del-retention-policy",
                  "-p", "name=forever").stdout == "ok\n"


def test_retention_policies_through_the_client(client: ApiClient, influx_db: str) -> None:
    db = client.databases.get(influx_db)
    assert db["type_name"] == "influxdb"
    assert db.action("list-retention-policies") == [
        {"name": "autogen", "duration": "0", "default": True}]
    with pytest.raises(RetentionPolicyNotFound) as missing:
        db.action("del-retention-policy", {"name": "nope"})
    assert "'nope'" in str(missing.value)
    with pytest.raises(InvalidActionParams):
        db.action("add-retention-policy", {"name": "p", "duration": "12x"})
