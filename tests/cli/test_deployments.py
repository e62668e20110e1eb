"""``dbplane databases create --managed``, ``redeploy --wait``, ``deployments``,
``restart|stop|start`` and ``databases remove --purge`` on a real managed Redis."""

from __future__ import annotations

import re
from pathlib import Path

from dbplane import ApiClient
from tests.cli.conftest import Cli
from tests.fixtures.services import unique_name
from tests.managed.conftest import need_tools


def test_a_managed_database_from_create_to_purge(cli: Cli, client: ApiClient) -> None:
    need_tools()
    rid = unique_name("cache")
    out = cli.ok("databases", "create", rid, "--type", "redis", "--managed").stdout
    assert re.search(r"status\s+running", out) and re.search(r"mode\s+managed", out)
    directory = Path(client.databases.get(rid)["managed"]["data_directory"])

    result = cli.ok("redeploy", rid, "--wait")
    assert re.search(r"state\s+DEPLOYED", result.stdout)
    for step in ("STOP", "WRITE_CONFIGURATION", "START", "HEALTH_CHECK"):
        assert re.search(rf"{step}\s+SUCCESS\s+\d+\.\d+ s", result.stderr), result.stderr

    assert cli.json("restart", rid, "--wait")["state"] == "RESTARTED"
    assert cli.json("stop", rid, "--wait")["state"] == "STOPPED"
    assert client.databases.get(rid)["status"] == "stopped"
    assert cli.json("start", rid, "--wait")["state"] == "DEPLOYED"
    assert client.databases.get(rid)["status"] == "running"
    history = cli.json("deployments", rid)
    assert [d["state"] for d in history] == ["DEPLOYED", "STOPPED", "RESTARTED", "DEPLOYED"]
    out = cli.ok("deployments", rid).stdout
    assert "RESTART" in out and "STOP" in out

    refused = cli("databases", "remove", rid, "--purge", input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.stderr
    assert directory.is_dir()
    cli.ok("databases", "remove", rid, "--purge", "--yes")
    assert not directory.exists()


def test_config_set_and_show_mark_the_pending_values(cli: Cli, client: ApiClient) -> None:
    need_tools()
    rid = unique_name("conf")
    client.databases.create(rid, type_name="redis", mode="managed")
    out = cli.ok("config", "set", rid, "maxmemory=1048576", "databases=20").stdout
    assert re.search(r"maxmemory\s+1048576", out)
    assert re.search(r"databases\s+16\s+16 -> 20 \(after a redeploy\)", out), out
    assert "OUT_OF_DATE" in out
    shown = cli.json("config", "show", rid)
    assert shown["pending_restart_reason"] == {"databases": {"old_value": "16",
                                                             "new_value": "20"}}
    cli.fails("config", "set", rid, "no-such-thing=1")
    assert cli.json("redeploy", rid, "--wait")["state"] == "DEPLOYED"
    assert cli.json("config", "show", rid)["config"]["databases"] == "20"
    client.databases.delete(rid, purge=True)
