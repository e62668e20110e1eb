"""Managed servers across real ``dbplane serve`` processes: a restarted dbplane adopts
the servers still running (same pid, no second process); two processes on one PostgreSQL
metadata store restart a killed server once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.conftest import ADMIN_TOKEN, MetaBackend
from tests.e2e.test_operations_processes import Served, _healthy, _stop
from tests.fixtures.services import free_port
from tests.managed.conftest import need_tools

pytestmark = [pytest.mark.e2e]

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def managed_dir() -> Iterator[Path]:
    need_tools()
    path = Path(tempfile.mkdtemp(prefix="dbp-e2e-managed-"))
    path.chmod(0o755)
    yield path
    for pid in _server_pids(path):
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def servers() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for served in started:
        _stop(served)


def _server_pids(managed_dir: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            # the main server process names its data directory or config file
            if str(managed_dir).encode() in cmdline and state != "Z":
                pids.append(int(proc.name))
    return pids


def _spawn(data_dir: Path, managed_dir: Path, meta_url: str | None = None,
           secret_key: str | None = None) -> Served:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBPLANE_")}
    env.update({"DBPLANE_DATA_DIR": str(data_dir), "DBPLANE_PORT": str(port),
                "DBPLANE_ADMIN_TOKEN": ADMIN_TOKEN, "DBPLANE_MANAGED_DIR": str(managed_dir),
                "DBPLANE_MANAGED_SUPERVISE_SECONDS": "0.2",
                "DBPLANE_MANAGED_LEASE_SECONDS": "3"})
    if meta_url:
        env["DBPLANE_META_URL"] = meta_url
    if secret_key:
        env["DBPLANE_SECRET_KEY"] = secret_key
    log = data_dir.parent / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("dbplane")), "serve",
                                 "--host", "127.0.0.1"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    return _healthy(Served(proc, f"http://127.0.0.1:{port}", log))


def _db(served: Served, name: str) -> dict[str, Any]:
    return dict(served.get(f"/v1/databases/{name}")["database"])


def _provision(served: Served, name: str, type_name: str) -> dict[str, Any]:
    answer = served.post("/v1/databases", {"database": {
        "resource_id": name, "type_name": type_name, "mode": "managed"}})
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 60
    while served.get(f"/v1/operations/{answer.json()['id']}")["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return _db(served, name)


def _until_running(served: Served, name: str, within: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        db = _db(served, name)
        if db["status"] == "running":
            return db
        assert time.monotonic() < deadline, db
        time.sleep(0.05)


def test_a_restarted_dbplane_adopts_its_servers(tmp_path: Path, managed_dir: Path,
                                                servers: list[Served]) -> None:
    first = _spawn(tmp_path / "data", managed_dir)
    servers.append(first)
    pg = _provision(first, "orders", "postgresql")
    rd = _provision(first, "cache", "redis")
    pids = sorted(_server_pids(managed_dir))
    _stop(first)
    assert sorted(_server_pids(managed_dir)) == pids  # they outlive dbplane

    second = _spawn(tmp_path / "data", managed_dir)
    servers.append(second)
    time.sleep(1.0)  # several supervisor passes
    assert _db(second, "orders")["managed"]["pid"] == pg["managed"]["pid"]
    assert _db(second, "cache")["managed"]["pid"] == rd["managed"]["pid"]
    assert _db(second, "orders")["status"] == "running"
    assert sorted(_server_pids(managed_dir)) == pids  # adopted, none started twice
    assert _db(second, "orders")["managed"]["restarts"] == 0


@pytest.mark.parametrize("meta_backend", ["postgresql"], indirect=True)
def test_two_processes_restart_a_killed_server_once(
        tmp_path: Path, managed_dir: Path, servers: list[Served],
        meta_backend: MetaBackend) -> None:
    assert meta_backend.url is not None
    key = Fernet.generate_key().decode()
    first = _spawn(tmp_path / "a", managed_dir, meta_backend.url, key)
    servers.append(first)
    second = _spawn(tmp_path / "b", managed_dir, meta_backend.url, key)
    servers.append(second)
    db = _provision(first, "shared", "redis")
    os.kill(db["managed"]["pid"], signal.SIGKILL)
    time.sleep(0.3)
    again = _until_running(second, "shared")
    time.sleep(1.5)  # both processes had time to act on it
    again = _db(first, "shared")
    assert again["status"] == "running"
    assert again["managed"]["restarts"] == 1
    assert len(_server_pids(managed_dir)) == 1
    assert httpx.get(f"{second.base_url}/v1/databases/shared", headers=AUTH,
                     timeout=10).json()["database"]["managed"]["pid"] == \
        again["managed"]["pid"]
