"""Managed servers: provisioning time, redeploy steps, and unavailability during a
restart-redeploy, against the floor (the same tools run by hand) in one run.

Starts ``dbplane serve`` on a fresh data directory and, for each type (PostgreSQL,
MariaDB, Redis): times ``POST /v1/databases`` (mode managed) to ``running``, against the
floor (initialise, start, first answer and first database with the engine's own
managed part, no API, no operation queue); runs a redeploy and prints its timed steps;
then, while a restart-redeploy runs, reads a table through the Tables API in a loop
(Redis: the database object) and counts the failed reads and the longest gap between
two good ones. Targets: provisioning PostgreSQL < 3 s, MariaDB < 5 s, Redis < 1 s;
unavailability < 2 s.

    PYTHONPATH=src python bench/managed.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

TOKEN = "dbp_bench-admin-token-0123456789abcdefghijkl"  # noqa: S105 (a throw-away server)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TYPES = ["postgresql", "mysql", "redis"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(data_dir: Path, managed_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DBPLANE_")},
           "DBPLANE_DATA_DIR": str(data_dir), "DBPLANE_PORT": str(port),
           "DBPLANE_ADMIN_TOKEN": TOKEN, "DBPLANE_MANAGED_DIR": str(managed_dir),
           "DBPLANE_LOG_LEVEL": "WARNING"}
    dbplane = shutil.which("dbplane") or str(Path(sys.executable).with_name("dbplane"))
    proc = subprocess.Popen([dbplane, "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{base}/v1/health", timeout=0.5).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("dbplane exited before it was healthy")
        time.sleep(0.02)


def _wait_op(http: httpx.Client, op_id: str) -> dict[str, Any]:
    while True:
        op: dict[str, Any] = http.get(f"/v1/operations/{op_id}").json()
        if op["status"] in ("done", "error", "canceled"):
            return op
        time.sleep(0.01)


def provision(http: httpx.Client, name: str, type_name: str) -> float:
    started = time.perf_counter()
    answer = http.post("/v1/databases", json={"database": {
        "resource_id": name, "type_name": type_name, "mode": "managed"}})
    answer.raise_for_status()
    op = _wait_op(http, answer.json()["id"])
    if op["status"] != "done":
        raise RuntimeError(f"provisioning {type_name} failed: {op['error']}")
    while http.get(f"/v1/databases/{name}").json()["database"]["status"] != "running":
        time.sleep(0.01)
    return time.perf_counter() - started


def floor(type_name: str, root: Path) -> float:
    """The same tools through the type's managed part: initialise, start, answer."""
    from dbplane.engines import create_engine_for, parse_database_url
    from dbplane.engines.managed import ServerPlan
    from dbplane.engines.parts import part
    from dbplane.engines.registry import engine_class
    from dbplane.engines.runtime import LocalRuntime

    rt = LocalRuntime(root)
    server = part(engine_class(type_name), "managed")()
    user = "postgres" if os.geteuid() == 0 else None
    name = f"floor{secrets.token_hex(3)}"
    started = time.perf_counter()
    directory = rt.prepare(name, user)
    plan = ServerPlan(directory, _free_port(), secrets.token_urlsafe(16), "floor", user)
    server.initialise(rt, plan)
    rt.write_config(server.config_path(plan), server.config_text(plan, {}), user)
    pid = rt.start(server.process(plan))
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", plan.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.005)
        while True:
            try:
                server.bootstrap(rt, plan)
                break
            except Exception:
                time.sleep(0.02)

        async def ready() -> None:
            engine = create_engine_for(parse_database_url(server.url(plan)), timeout=1)
            while not (await engine.health()).ok:  # noqa: ASYNC110 (polling a server)
                await asyncio.sleep(0.005)
            await engine.close()

        asyncio.run(ready())
        return time.perf_counter() - started
    finally:
        rt.stop(pid, 10, server.stop_signal)
        rt.remove(name)


def redeploy_steps(http: httpx.Client, name: str) -> dict[str, Any]:
    answer = http.post(f"/v1/databases/{name}/redeploy").json()
    _wait_op(http, answer["operation_id"])
    deployment: dict[str, Any] = http.get(
        f"/v1/databases/{name}/deployments/{answer['id']}").json()
    return deployment


def unavailability(http: httpx.Client, base: str, name: str, type_name: str,
                   url: str | None) -> tuple[int, int, float]:
    """Reads through dbplane during a restart-redeploy: (reads, failures, longest gap)."""
    if type_name != "redis" and url is not None:
        _make_table(type_name, url)
    path = (f"/v1/databases/{name}" if type_name == "redis"
            else f"/v1/databases/{name}/tables/bench_t")
    reads = failures = 0
    longest = 0.0
    last_ok = time.perf_counter()
    done = threading.Event()

    def deploy() -> None:
        answer = http.post(f"/v1/databases/{name}/restart").json()
        _wait_op(http, answer["operation_id"])
        done.set()

    with httpx.Client(base_url=base, headers=AUTH, timeout=10) as reader:
        thread = threading.Thread(target=deploy)
        thread.start()
        settle = None
        while settle is None or time.perf_counter() < settle:
            reads += 1
            try:
                response = reader.get(path)
                good = response.status_code == 200 and (
                    type_name != "redis"
                    or response.json()["database"]["status"] == "running")
            except httpx.TransportError:
                good = False
            now = time.perf_counter()
            if good:
                longest = max(longest, now - last_ok)
                last_ok = now
            else:
                failures += 1
            if done.is_set() and settle is None:
                settle = now + 0.5
            time.sleep(0.005)
        thread.join()
    return reads, failures, longest


def _make_table(type_name: str, url: str) -> None:
    from sqlalchemy import create_engine, text

    driver = url.replace("postgresql://", "postgresql+psycopg://").replace(
        "mysql://", "mysql+pymysql://")
    engine = create_engine(driver)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_t (id INTEGER PRIMARY KEY, v TEXT)"))
        conn.execute(text("INSERT INTO bench_t VALUES (1, 'one')"))
    engine.dispose()


def _secret_url(data_dir: Path, name: str) -> str | None:
    """The managed server's URL, read back with dbplane's own key (for the table)."""
    try:
        from cryptography.fernet import Fernet
        from sqlalchemy import create_engine, text

        key = (data_dir / "secret.key").read_bytes().strip()
        engine = create_engine(f"sqlite:///{data_dir / 'meta.db'}")
        with engine.connect() as conn:
            token = conn.execute(text("SELECT url_secret FROM dbp_databases WHERE "
                                      "resource_id = :r"), {"r": name}).scalar_one()
        engine.dispose()
        return Fernet(key).decrypt(token.encode()).decode()
    except Exception:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dbp-bench-managed-"))
    root.chmod(0o755)
    managed_dir = root / "managed"
    managed_dir.mkdir()
    managed_dir.chmod(0o755)
    proc, base = _serve(root / "data", managed_dir)
    try:
        with httpx.Client(base_url=base, headers=AUTH, timeout=120) as http:
            print(f"{'type':<11} {'dbplane p50 s':>13} {'floor p50 s':>12} {'ratio':>6}")
            for type_name in TYPES:
                ours = [provision(http, f"{type_name[:5]}{n}", type_name)
                        for n in range(args.rounds)]
                base_line = [floor(type_name, managed_dir) for _ in range(args.rounds)]
                a, b = statistics.median(ours), statistics.median(base_line)
                print(f"{type_name:<11} {a:>13.3f} {b:>12.3f} {a / b:>6.2f}")
            print()
            for type_name in TYPES:
                deployment = redeploy_steps(http, f"{type_name[:5]}0")
                steps = ", ".join(f"{s['step_name']} {s['duration_sec']:.3f}"
                                  for s in deployment["steps"]["details"])
                print(f"redeploy {type_name:<10} {deployment['state']:<9} total "
                      f"{deployment['steps']['total_duration_sec']:.3f} s: {steps}")
            print()
            for type_name in TYPES:
                name = f"{type_name[:5]}1"
                reads, failures, gap = unavailability(
                    http, base, name, type_name, _secret_url(root / "data", name))
                print(f"restart {type_name:<10} reads {reads:>5}  failed {failures:>4}  "
                      f"longest gap {gap:.3f} s")
            for db in http.get("/v1/databases").json()["databases"]:
                if db["mode"] == "managed":
                    http.delete(f"/v1/databases/{db['id']}", params={"purge": "true"})
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
