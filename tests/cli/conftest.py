"""``cli``: run ``dbplane`` in-process (Typer's CliRunner) against the session's live
server, with ``DBPLANE_URL`` and ``DBPLANE_TOKEN`` set as a user would set them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner, Result

from dbplane import ApiClient
from dbplane.cli.main import app
from tests.conftest import LiveServer


@dataclass
class Cli:
    server: LiveServer

    def __call__(self, *args: str, input: str | None = None, token: str | None = None,
                 url: str | None = None) -> Result:
        env = {"DBPLANE_URL": url or self.server.base_url,
               "DBPLANE_TOKEN": token or self.server.token,
               "COLUMNS": "200"}
        return CliRunner().invoke(app, list(args), env=env, input=input)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        """Run and expect exit status 0."""
        result = self(*args, **kwargs)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        """Run with ``--json``, expect exit status 0, and parse stdout."""
        return orjson.loads(self.ok(*args, "--json", **kwargs).stdout)

    def fails(self, *args: str, exit_code: int = 1, **kwargs: Any) -> Result:
        """Run and expect ``exit_code``; for 1, one ``error: … (DBP-…)`` line first."""
        result = self(*args, **kwargs)
        assert result.exit_code == exit_code, (result.output, result.exception)
        if exit_code == 1:
            assert result.stderr.startswith("error: "), result.stderr
            assert result.stdout == ""
        return result


@pytest.fixture
def cli(live_server: LiveServer) -> Cli:
    return Cli(live_server)


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[ApiClient]:
    """For setting up and checking what the CLI did."""
    with ApiClient(live_server.token, live_server.base_url) as c:
        yield c
