"""Operations across real ``dbplane serve`` processes: one killed with SIGKILL while an
operation runs has it marked failed at the next start; two sharing one PostgreSQL metadata
store drain a queue with no operation run twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.conftest import ADMIN_TOKEN, MetaBackend
from tests.fixtures.services import free_port

pytestmark = [pytest.mark.e2e]

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def get(self, url: str, **kwargs: Any) -> Any:
        answer = httpx.get(f"{self.base_url}{url}", headers=AUTH, timeout=10, **kwargs)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(f"{self.base_url}{url}", headers=AUTH, json=body, timeout=10)


def _spawn(data_dir: Path, meta_url: str | None = None,
           secret_key: str | None = None) -> Served:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBPLANE_")}
    env.update({"DBPLANE_DATA_DIR": str(data_dir), "DBPLANE_PORT": str(port),
                "DBPLANE_ADMIN_TOKEN": ADMIN_TOKEN})
    if meta_url:
        env["DBPLANE_META_URL"] = meta_url
    if secret_key:
        env["DBPLANE_SECRET_KEY"] = secret_key
    dbplane = Path(sys.executable).with_name("dbplane")
    log = data_dir.parent / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen([str(dbplane), "serve", "--host", "127.0.0.1"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    return Served(proc, f"http://127.0.0.1:{port}", log)


def _healthy(served: Served) -> Served:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert served.proc.poll() is None, served.log.read_text()[-3000:]
        try:
            if httpx.get(f"{served.base_url}/v1/health", timeout=1).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("dbplane serve did not become healthy")


def _stop(served: Served) -> None:
    if served.proc.poll() is None:
        served.proc.send_signal(signal.SIGINT)
        try:
            served.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait()


@pytest.fixture
def servers() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for served in started:
        _stop(served)


def _until(served: Served, op_id: str, statuses: tuple[str, ...],
           within: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        op: dict[str, Any] = served.get(f"/v1/operations/{op_id}")
        if op["status"] in statuses:
            return op
        assert time.monotonic() < deadline, op
        time.sleep(0.05)


def test_sigkill_during_an_operation_marks_it_failed_at_restart(
        tmp_path: Path, servers: list[Served]) -> None:
    data_dir = tmp_path / "data"
    first = _spawn(data_dir)
    servers.append(first)
    _healthy(first)
    started = first.post("/v1/databases/default/check",
                         {"samples": 100, "interval_ms": 600})
    assert started.status_code == 202, started.text
    op_id = started.json()["id"]
    running = _until(first, op_id, ("running",))
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)

    second = _spawn(data_dir)
    servers.append(second)
    _healthy(second)
    failed = second.get(f"/v1/operations/{op_id}")
    assert failed["status"] == "error", failed
    assert failed["error"]["code"] == "DBP-O402"
    assert "the dbplane process running it stopped" in failed["error"]["message"]
    assert failed["finished_at"] is not None and failed["owner"] == running["owner"]
    # the restarted process runs new work
    again = second.post("/v1/databases/default/check").json()
    assert _until(second, again["id"], ("done", "error"))["status"] == "done"


@pytest.mark.parametrize("meta_backend", ["postgresql"], indirect=True)
def test_two_processes_on_one_postgresql_store_run_each_operation_once(
        tmp_path: Path, servers: list[Served], meta_backend: MetaBackend) -> None:
    assert meta_backend.url is not None
    data_dir = tmp_path / "data"
    # started together, as replicas are (one secret key): both migrate the empty store
    key = Fernet.generate_key().decode()
    first = _spawn(data_dir, meta_backend.url, key)
    second = _spawn(data_dir, meta_backend.url, key)
    servers.extend([first, second])
    _healthy(first)
    _healthy(second)
    queued = [first.post("/v1/databases/default/check", {"samples": 6, "interval_ms": 100})
              for _ in range(16)]
    assert {q.status_code for q in queued} == {202}
    ids = [q.json()["id"] for q in queued]
    ended = [_until(second, op_id, ("done", "error", "canceled")) for op_id in ids]
    assert [op["status"] for op in ended] == ["done"] * len(ids)
    # each was claimed exactly once, and both processes took a share of the queue
    assert [op["attempts"] for op in ended] == [1] * len(ids)
    owners = {op["owner"] for op in ended}
    assert len(owners) == 2, owners
    pids = {int(owner.split(":")[1]) for owner in owners}
    assert pids == {first.proc.pid, second.proc.pid}
    # a cancel sent to the replica that does not run the operation reaches it (heartbeat)
    long = first.post("/v1/databases/default/check", {"samples": 100, "interval_ms": 600})
    running = _until(first, long.json()["id"], ("running",))
    other = second if int(running["owner"].split(":")[1]) == first.proc.pid else first
    assert other.post(f"/v1/operations/{running['id']}/cancel").status_code == 202
    canceled = _until(other, running["id"], ("canceled", "done", "error"), within=15)
    assert canceled["status"] == "canceled" and canceled["steps"][-1]["status"] == "canceled"


def test_a_long_poll_does_not_hold_the_server_s_stop(tmp_path: Path,
                                                     servers: list[Served]) -> None:
    """SIGINT makes uvicorn wait for open requests before the app stops: a client
    waiting on an operation (``?wait=60``) is answered at once, and the process ends."""
    served = _healthy(_spawn(tmp_path / "data"))
    servers.append(served)
    started = served.post("/v1/databases/default/check",
                          {"samples": 100, "interval_ms": 300})  # 30 s
    op_id = started.json()["id"]
    _until(served, op_id, ("running",))
    answers: list[httpx.Response] = []
    poll = threading.Thread(target=lambda: answers.append(httpx.get(
        f"{served.base_url}/v1/operations/{op_id}", params={"wait": 60}, headers=AUTH,
        timeout=90)))
    poll.start()
    time.sleep(0.5)
    assert poll.is_alive()  # the long poll waits for the end
    stopping = time.monotonic()
    served.proc.send_signal(signal.SIGINT)
    poll.join(timeout=20)
    assert answers and answers[0].status_code == 200, answers
    assert answers[0].json()["status"] == "running"
    served.proc.wait(timeout=30)
    # the check stops at its next round trip once the workers stop (0.3 s apart)
    assert time.monotonic() - stopping < 10, served.log.read_text()[-2000:]
