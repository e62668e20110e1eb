"""``dbplane serve`` as a real process: it prints its token once, and the API answers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixtures.services import free_port

pytestmark = pytest.mark.e2e

TOKEN_LINE = re.compile(r"DBPLANE_TOKEN=(dbp_[A-Za-z0-9_\-]+)")


@dataclass
class Served:
    proc: subprocess.Popen[str]
    base_url: str
    output: list[str]


def _start(data_dir: Path, env_extra: dict[str, str] | None = None) -> Served:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBPLANE_")}
    env.update({"DBPLANE_DATA_DIR": str(data_dir), "DBPLANE_PORT": str(port)},
               **(env_extra or {}))
    dbplane = Path(sys.executable).with_name("dbplane")
    proc = subprocess.Popen([str(dbplane), "serve", "--host", "127.0.0.1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Served(proc=proc, base_url=f"http://127.0.0.1:{port}", output=[])


def _wait_healthy(served: Served, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if served.proc.poll() is not None:
            raise AssertionError(f"dbplane exited: {served.proc.stderr.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{served.base_url}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("dbplane did not become healthy")


def _stop(served: Served) -> tuple[str, str]:
    served.proc.send_signal(signal.SIGINT)
    try:
        out, err = served.proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        out, err = served.proc.communicate()
    return out, err


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def test_first_start_prints_a_token_once_and_it_drives_the_api(data_dir: Path) -> None:
    served = _start(data_dir)
    try:
        _wait_healthy(served)
        # the token line is printed before the server accepts requests
        assert served.proc.stdout is not None
        lines = []
        while not any(TOKEN_LINE.search(line) for line in lines):
            lines.append(served.proc.stdout.readline())
        token = next(m.group(1) for line in lines if (m := TOKEN_LINE.search(line)))
        auth = {"Authorization": f"Bearer {token}"}

        assert httpx.get(f"{served.base_url}/v1/databases").status_code == 401
        listed = httpx.get(f"{served.base_url}/v1/databases", headers=auth).json()
        (default,) = listed["databases"]
        assert default["resource_id"] == "default"
        assert default["status"] == "running"
        assert (data_dir / "databases" / "default.db").is_file()
        assert (data_dir / "meta.db").is_file()
        assert oct((data_dir / "secret.key").stat().st_mode & 0o777) == "0o600"

        # a user logs in and reads itself
        created = httpx.post(f"{served.base_url}/v1/users", headers=auth, json={
            "name": "John", "email": "john@example.com", "password": "hunter2-hunter2",
            "role": "admin"})
        assert created.status_code == 201, created.text
        login = httpx.post(f"{served.base_url}/v1/auth/login", json={
            "email": "john@example.com", "password": "hunter2-hunter2"})
        assert login.status_code == 200
        me = httpx.get(f"{served.base_url}/v1/user",
                       headers={"Authorization": f"Bearer {login.json()['token']}"})
        assert me.json()["id"] == created.json()["id"]
        assert me.json()["email"] == "john@example.com"
    finally:
        out, err = _stop(served)
    # the token is never written to the logs, nor the password
    assert token not in err
    assert "hunter2-hunter2" not in out + err

    # second start: same data, no new token printed, the old one still works
    again = _start(data_dir)
    try:
        _wait_healthy(again)
        assert httpx.get(f"{again.base_url}/v1/databases",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        out, _ = _stop(again)
    assert "DBPLANE_TOKEN=" not in out


def test_admin_token_from_the_environment(data_dir: Path) -> None:
    chosen = "dbp_chosen-by-the-operator-0123456789abcdef"
    served = _start(data_dir, {"DBPLANE_ADMIN_TOKEN": chosen})
    try:
        _wait_healthy(served)
        ok = httpx.get(f"{served.base_url}/v1/tokens",
                       headers={"Authorization": f"Bearer {chosen}"})
        assert ok.status_code == 200
        assert [t["source"] for t in ok.json()] == ["env"]
    finally:
        out, err = _stop(served)
    assert "DBPLANE_TOKEN=" not in out
    assert chosen not in out + err
