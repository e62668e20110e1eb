"""What people see of the CLI: ``--version``, confirmation before destructive commands,
sizes and times for people, a busy port named by ``serve``, and a start-up that does not
load the server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime

from dbplane import __version__
from dbplane.cli._common import size, stamp
from tests.cli.conftest import Cli


def _dbplane(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from dbplane.cli.main import main; main()", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
        check=False)


def test_version(cli: Cli) -> None:
    assert cli.ok("--version").stdout == f"dbplane {__version__}\n"


def test_a_destructive_command_asks_first(cli: Cli, client: object) -> None:
    created = cli.json("tokens", "create", "to-revoke")
    refused = cli("tokens", "revoke", created["id"], input="n\n")
    assert refused.exit_code == 1
    assert "Revoke the token" in refused.stdout and "nothing done" in refused.stderr
    assert created["id"] in cli.ok("tokens", "list").stdout
    agreed = cli("tokens", "revoke", created["id"], input="y\n")
    assert agreed.exit_code == 0, agreed.output
    assert created["id"] not in cli.ok("tokens", "list").stdout


def test_sizes_and_times_for_people() -> None:
    assert size(7_000_000) == "7.0 MB"
    assert size(999) == "999 B"
    assert size(1_500) == "1.5 kB"
    assert size(None) == "-"
    local = datetime.fromtimestamp(0).astimezone()
    assert stamp(0) == local.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    assert stamp("1970-01-01T00:00:00.000+00:00") == stamp(0)


def test_client_commands_do_not_load_the_server() -> None:
    probe = ("import sys; from dbplane.cli.main import app; "
             "heavy = [m for m in ('fastapi', 'sqlalchemy', 'dbplane.api', "
             "'dbplane.services', 'uvicorn', 'pydantic_settings') if m in sys.modules]; "
             "print(heavy)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"


def test_serve_names_a_busy_port_and_how_to_choose_another(tmp_path: object) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _dbplane("serve", "--port", str(port),
                          env={"DBPLANE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in result.stderr
    assert "make serve" in result.stderr and "dbplane serve --port" in result.stderr
