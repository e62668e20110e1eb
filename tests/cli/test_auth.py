"""``dbplane login``, ``whoami`` and ``logout``: the session token goes to stdout alone,
so ``export DBPLANE_TOKEN=$(dbplane login ...)`` works."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from dbplane import ApiClient
from tests.cli.conftest import Cli
from tests.fixtures.services import unique_name

PASSWORD = "kate's password"


@pytest.fixture
def kate(client: ApiClient) -> Iterator[dict[str, Any]]:
    role = unique_name("viewer")
    client.roles.create(role, [{"database": "default", "table": "*", "actions": ["read"]}])
    user = client.users.create("Kate", f"{unique_name('kate')}@example.com", PASSWORD, role)
    yield user
    client.users.delete(user["id"])
    client.roles.delete(role)


def test_login_whoami_logout_in_tables(cli: Cli, kate: dict[str, Any]) -> None:
    result = cli.ok("login", "--email", kate["email"], input=f"{PASSWORD}\n")
    # CliRunner echoes a newline for the hidden input; a terminal sends it to the tty
    [token] = result.stdout.split()
    assert token.startswith("dbs_")
    assert "Password" in result.stderr
    assert PASSWORD not in result.output
    assert f"logged in as {kate['email']}" in result.stderr

    out = cli.ok("whoami", token=token).stdout
    assert re.search(rf"email\s+{re.escape(kate['email'])}", out)
    assert re.search(rf"id\s+{kate['id']}", out)

    assert cli.ok("logout", token=token).stdout == "logged out\n"
    result = cli.fails("whoami", token=token)
    assert result.stderr.rstrip().endswith("(DBP-A102)")


def test_login_whoami_logout_in_json(cli: Cli, kate: dict[str, Any]) -> None:
    session = cli.json("login", "--email", kate["email"], "--password", PASSWORD)
    assert session["user"] == kate
    assert set(session) == {"token", "expires_on", "expires_at", "user"}

    assert cli.json("whoami", token=session["token"]) == kate
    assert cli.json("logout", token=session["token"]) == {"logged_out": True}
    cli.fails("whoami", "--json", token=session["token"])


def test_login_needs_an_email(cli: Cli) -> None:
    cli.fails("login", "--password", PASSWORD, exit_code=2)


def test_a_wrong_password(cli: Cli, kate: dict[str, Any]) -> None:
    result = cli.fails("login", "--email", kate["email"], "--password", "nope")
    assert result.stderr == "error: The email or the password is wrong. (DBP-A103)\n"


def test_whoami_with_an_api_token(cli: Cli) -> None:
    result = cli.fails("whoami")
    assert result.stderr.rstrip().endswith("(DBP-A104)")
