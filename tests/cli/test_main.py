"""The root command: its groups, its ``--url``/``--token`` options and how it fails."""

from __future__ import annotations

import re

from tests.cli.conftest import Cli
from tests.fixtures.services import free_port


def test_help_lists_every_group_and_serve(cli: Cli) -> None:
    out = cli.ok("--help").stdout
    for command in ("serve", "databases", "users", "roles", "tokens", "login", "logout",
                    "whoami", "health"):
        assert re.search(rf"^\W*{command}\s", out, re.M), command


def test_health(cli: Cli) -> None:
    assert cli.json("health") == {"status": "ok", "version": cli.json("health")["version"],
                                  "metadata_store": "sqlite"}
    out = cli.ok("health").stdout
    assert cli.server.base_url in out and "ok" in out


def test_url_and_token_options_win_over_the_environment(cli: Cli) -> None:
    unused = f"http://127.0.0.1:{free_port()}"
    result = cli.ok("--url", cli.server.base_url, "--token", cli.server.token,
                    "databases", "show", "default", "--json", url=unused, token="dbp_wrong")
    assert '"resource_id": "default"' in result.stdout


def test_a_server_that_does_not_answer(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli.fails("databases", "list", url=url)
    assert result.stderr.startswith(f"error: cannot connect to dbplane at {url}")
    assert result.stderr.rstrip().endswith("(DBP-S101)")


def test_a_wrong_token(cli: Cli) -> None:
    result = cli.fails("databases", "list", token="dbp_wrong")
    assert result.stderr == ("error: The bearer token is not valid: unknown, revoked or "
                             "expired. (DBP-A102)\n")


def test_an_unknown_command_is_a_usage_error(cli: Cli) -> None:
    cli.fails("databases", "frobnicate", exit_code=2)
