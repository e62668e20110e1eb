"""SIGKILL a real ``dbplane serve`` during a backup: at the next start the operation is
failed with a reason and the backup is listed as ``error``, with no archive anywhere."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.e2e.test_serve import _start, _stop, _wait_healthy
from tests.fixtures.servers import start_redis, stop_process

pytestmark = pytest.mark.e2e

TOKEN = "dbp_e2e-backup-kill-token-0123456789abcdef"


def test_killed_during_a_backup(tmp_path: Path) -> None:
    # a Redis of our own that waits 10 s before it streams a snapshot to a replica
    # (redis-cli --rdb is one): the backup is surely running when dbplane is killed
    server, port = start_redis()
    closing = contextlib.ExitStack()  # the clients, closed even when an assertion fails
    try:
        admin = redis.Redis(host="127.0.0.1", port=port)
        admin.config_set("repl-diskless-sync", "yes")
        admin.config_set("repl-diskless-sync-delay", "10")
        admin.set("k", "v")
        admin.close()
        data_dir = tmp_path / "data"
        env = {"DBPLANE_ADMIN_TOKEN": TOKEN}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        served = _start(data_dir, env)
        try:
            _wait_healthy(served)
            api = httpx.Client(base_url=served.base_url, headers=headers, timeout=10)
            closing.callback(api.close)
            created = api.post("/v1/databases", json={
                "resource_id": "cache", "url": f"redis://127.0.0.1:{port}/0"})
            assert created.status_code == 201, created.text
            started = api.post("/v1/databases/cache/backups")
            assert started.status_code == 202
            op_id, backup_id = started.json()["id"], started.json()["params"]["backup_id"]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                op = api.get(f"/v1/operations/{op_id}").json()
                temps = list((data_dir / "backups").rglob("*.tmp"))
                if op["status"] == "running" and temps:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"the backup did not start: {op}")
            assert api.get("/v1/databases/cache").json()["database"]["status"] == "backing-up"
            served.proc.send_signal(signal.SIGKILL)
            served.proc.communicate(timeout=10)
        finally:
            if served.proc.poll() is None:
                served.proc.kill()
                served.proc.communicate()

        again = _start(data_dir, env)
        try:
            _wait_healthy(again)
            api = httpx.Client(base_url=again.base_url, headers=headers, timeout=10)
            closing.callback(api.close)
            op = api.get(f"/v1/operations/{op_id}").json()
            assert op["status"] == "error"
            assert "stopped before it ended" in op["error"]["message"]
            backups = api.get("/v1/databases/cache/backups").json()["database_backups"]
            assert [(b["id"], b["status"]) for b in backups] == [(backup_id, "error")]
            assert backups[0]["checksum"] is None and backups[0]["size"] is None
            assert not [p for p in (data_dir / "backups").rglob("*") if p.is_file()]
            missing = api.get(f"/v1/databases/cache/backups/{backup_id}/archive")
            assert missing.status_code == 409
            # the database is usable again: a new backup can start
            assert api.get("/v1/databases/cache").json()["database"]["status"] == "running"
        finally:
            _stop(again)
    finally:
        closing.close()
        stop_process(server)
