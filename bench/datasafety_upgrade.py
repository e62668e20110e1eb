"""The upgrade of a managed PostgreSQL (Debian's 15 to the 16 the ``pgserver`` package
carries) through dbplane against the same steps by hand with the server tools, in one run,
and how long clients are refused meanwhile.

Starts ``dbplane serve`` on a fresh data directory and provisions a managed PostgreSQL;
by hand, initialises a 15 cluster of its own. Both get the same ``--size-mb`` of rows, a
role and a second database. Then:

- **by hand**: ``pg_dump --format=custom`` of the database (dbplane's backup); ``initdb``
  of a 16 cluster, started on a free port; the 15 restarted on another port (clients
  refused from here); ``pg_dumpall | psql`` (15's tools); the same checks on both (each
  table's row count and a checksum of its rows, the roles, the databases); both stopped
  and the 16 started on the 15's port (clients served again).
- **dbplane**: ``POST /v1/databases/{db}/upgrade`` to the operation's end (its backup
  also records the database's fingerprint, which a restore drill compares with).

Meanwhile a client connects to the served port every 20 ms (``SELECT 1`` on a new
connection): the longest stretch it is refused is the unavailability, for both.

Prints the figures and, last, one JSON line. Needs root (servers run as ``postgres``).

    PYTHONPATH=src python bench/datasafety_upgrade.py [--size-mb 64]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

TOKEN = "dbp_bench-admin-token-0123456789abcdefghijkl"  # noqa: S105 (a throw-away server)
PG_BIN = Path(os.environ.get("DBPLANE_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "postgres"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _new_bin() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pip install pgserver (PostgreSQL 16) first")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


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


def _wait_op(http: httpx.Client, op_id: str, timeout: float = 3600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op: dict[str, Any] = http.get(f"/v1/operations/{op_id}").json()
        if op["status"] in ("done", "error", "canceled"):
            return op
        time.sleep(0.02)
    raise TimeoutError(op_id)


def _as_user(argv: list[str], **kwargs: Any) -> str:
    done = subprocess.run(["runuser", "-u", USER, "--", *argv], check=True,
                          capture_output=True, text=True, **kwargs)
    return done.stdout.strip()


def _psql(bin_dir: Path, socket_dir: Path, port: int, database: str, sql: str) -> str:
    return _as_user([str(bin_dir / "psql"), "-h", str(socket_dir), "-p", str(port), "-U",
                     "postgres", "-d", database, "-At", "-X", "-v", "ON_ERROR_STOP=1", "-c",
                     sql])


def _load(bin_dir: Path, socket_dir: Path, port: int, database: str, rows: int) -> None:
    _psql(bin_dir, socket_dir, port, database,
          "CREATE TABLE big (id int PRIMARY KEY, pad text); "
          f"INSERT INTO big SELECT g, repeat(md5(g::text), 30) FROM "
          f"generate_series(1, {rows}) g")
    _psql(bin_dir, socket_dir, port, database, "CREATE ROLE reader LOGIN PASSWORD 'r'")
    # the client that measures the unavailability (carried over with the other roles)
    _psql(bin_dir, socket_dir, port, database, "CREATE ROLE prober LOGIN PASSWORD 'probe'")
    _psql(bin_dir, socket_dir, port, database, "GRANT SELECT ON big TO reader")
    _psql(bin_dir, socket_dir, port, database, "CREATE DATABASE other OWNER reader")
    _psql(bin_dir, socket_dir, port, "other", "CREATE TABLE o AS SELECT 1 AS k")


_CHECK = ("SELECT (SELECT count(*) || ' ' || coalesce(sum(('x' || left(md5(b::text), 16))"
          "::bit(64)::bigint::numeric), 0) FROM big b), (SELECT string_agg(rolname, ',' "
          "ORDER BY rolname) FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'), (SELECT "
          "string_agg(datname, ',' ORDER BY datname) FROM pg_database)")
"""Each table's row count and the order-independent checksum dbplane's check computes
(the sum of the first 64 bits of each row's MD5), the roles and the databases."""


class Prober:
    """A client that connects every 20 ms: the longest stretch it was refused."""

    def __init__(self, port: int, database: str) -> None:
        self.url = f"postgresql://prober:probe@127.0.0.1:{port}/{database}"
        self.longest = 0.0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()))

    async def _run(self) -> None:
        import asyncpg

        down_since: float | None = None
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                conn = await asyncpg.connect(self.url, timeout=1)
                await conn.fetchval("SELECT 1")
                await conn.close()
                if down_since is not None:
                    self.longest = max(self.longest, t - down_since)
                    down_since = None
            except Exception:  # refused, reset, starting up: all count
                self.failures += 1
                down_since = down_since or t
            await asyncio.sleep(0.02)
        if down_since is not None:
            self.longest = max(self.longest, time.monotonic() - down_since)

    def __enter__(self) -> Prober:
        self._thread.start()
        time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.1)
        self._stop.set()
        self._thread.join()


def _start(bin_dir: Path, data: Path, port: int, socket_dir: Path,
           log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115
    proc = subprocess.Popen(["runuser", "-u", USER, "--", str(bin_dir / "postgres"), "-D",
                             str(data), "-c", f"port={port}", "-c",
                             f"unix_socket_directories={socket_dir}", "-c",
                             "listen_addresses=127.0.0.1"], stdout=out, stderr=out,
                            start_new_session=True)
    while True:
        try:
            _psql(bin_dir, socket_dir, port, "postgres", "SELECT 1")
            return proc
        except subprocess.CalledProcessError:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text()[-800:]) from None
            time.sleep(0.02)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(120)


def by_hand(scratch: Path, rows: int, new_bin: Path) -> dict[str, Any]:
    """The same upgrade with the tools; its figures."""
    steps: dict[str, float] = {}
    old, new = scratch / "data15", scratch / "data16"
    port = _free_port()
    password = "bench-pw"  # noqa: S105 (a throw-away server)
    pw = scratch / "pw"
    pw.write_text(password + "\n")
    shutil.chown(pw, USER, USER)
    _as_user([str(PG_BIN / "initdb"), "-D", str(old), "-U", "postgres", "--pwfile",
              str(pw), "--auth-local=peer", "--auth-host=scram-sha-256", "--no-sync",
              "--encoding=UTF8", "--locale=C"])
    server = _start(PG_BIN, old, port, scratch, scratch / "log15")
    _psql(PG_BIN, scratch, port, "postgres", "CREATE DATABASE bench")
    _load(PG_BIN, scratch, port, "bench", rows)
    _psql(PG_BIN, scratch, port, "bench", "CHECKPOINT")
    started = time.perf_counter()
    with Prober(port, "bench") as probe:
        t = time.perf_counter()
        _as_user(["sh", "-c", f"{PG_BIN / 'pg_dump'} -h {scratch} -p {port} -U postgres "
                  f"--format=custom bench > {scratch / 'bench.dump'}"])
        steps["backup"] = time.perf_counter() - t
        t = time.perf_counter()
        _as_user([str(new_bin / "initdb"), "-D", str(new), "-U", "postgres", "--pwfile",
                  str(pw), "--auth-local=peer", "--auth-host=scram-sha-256", "--no-sync",
                  "--encoding=UTF8", "--locale=C"])
        temp = _free_port()
        target = _start(new_bin, new, temp, scratch, scratch / "log16")
        steps["initialise the new cluster"] = time.perf_counter() - t
        down = time.perf_counter()
        t = time.perf_counter()
        _stop(server)
        private = _free_port()
        server = _start(PG_BIN, old, private, scratch, scratch / "log15")
        steps["stop client connections"] = time.perf_counter() - t
        t = time.perf_counter()
        _as_user(["bash", "-o", "pipefail", "-c",
                  f"{PG_BIN / 'pg_dumpall'} -h {scratch} -p {private} -U postgres | "
                  "sed -e '0,/^CREATE ROLE postgres;$/{//d}' | "
                  f"PGOPTIONS='-c synchronous_commit=off' {PG_BIN / 'psql'} -h {scratch} "
                  f"-p {temp} -U postgres -d postgres -q -X -v ON_ERROR_STOP=1"])
        steps["move the data"] = time.perf_counter() - t
        t = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:  # both servers at once, as dbplane does
            checks = list(pool.map(lambda p: _psql(PG_BIN, scratch, p, "bench", _CHECK),
                                   (private, temp)))
        if checks[0] != checks[1]:
            raise RuntimeError(f"by hand: the clusters differ: {checks}")
        steps["verify"] = time.perf_counter() - t
        t = time.perf_counter()
        _stop(server)
        _stop(target)
        server = _start(new_bin, new, port, scratch, scratch / "log16")
        steps["switch over"] = time.perf_counter() - t
        unavailable_by_clock = time.perf_counter() - down
        total = time.perf_counter() - started
    version = _psql(new_bin, scratch, port, "postgres", "SHOW server_version")
    _stop(server)
    return {"by_hand_s": round(total, 3),
            "by_hand_steps": {k: round(v, 3) for k, v in steps.items()},
            "by_hand_unavailable_s": round(probe.longest, 3),
            "by_hand_unavailable_by_clock_s": round(unavailable_by_clock, 3),
            "by_hand_version": version}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=64)
    args = parser.parse_args()
    new_bin = _new_bin()
    root = Path(tempfile.mkdtemp(prefix="dbp-bench-upgrade-"))
    root.chmod(0o755)
    managed_dir = root / "managed"
    managed_dir.mkdir(mode=0o755)
    rows = args.size_mb * 1000  # about 1 kB a row
    figures: dict[str, Any] = {"size_mb": args.size_mb}
    scratch = root / "by-hand"
    scratch.mkdir(mode=0o755)
    shutil.chown(scratch, USER, USER)
    figures.update(by_hand(scratch, rows, new_bin))
    shutil.rmtree(scratch, ignore_errors=True)
    proc, base_url = _serve(root / "data", managed_dir)
    try:
        http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=600)
        answer = http.post("/v1/databases", json={"database": {
            "resource_id": "bench", "type_name": "postgresql", "mode": "managed"}})
        assert _wait_op(http, answer.json()["id"])["status"] == "done"
        db = http.get("/v1/databases/bench").json()["database"]
        server_dir, port = Path(db["managed"]["data_directory"]), db["managed"]["port"]
        _load(PG_BIN, server_dir, port, "bench", rows)
        _psql(PG_BIN, server_dir, port, "bench", "CHECKPOINT")
        before = _psql(PG_BIN, server_dir, port, "bench", _CHECK)
        t = time.perf_counter()
        with Prober(port, "bench") as probe:
            answer = http.post("/v1/databases/bench/upgrade")
            assert answer.status_code == 202, answer.text
            op = _wait_op(http, answer.json()["operation_id"])
            total = time.perf_counter() - t
        assert op["status"] == "done", op
        figures["dbplane_s"] = round(total, 3)
        figures["dbplane_steps"] = {s["name"]: round((s.get("duration_ms") or 0) / 1000, 3)
                                    for s in op["steps"]}
        figures["dbplane_unavailable_s"] = round(probe.longest, 3)
        figures["dbplane_unavailable_reported_s"] = op["result"]["unavailable_seconds"]
        after = http.get("/v1/databases/bench").json()["database"]
        figures["dbplane_version"] = after["readable_version"]
        figures["same_rows_roles_databases"] = before == _psql(
            Path(str(new_bin)), server_dir, port, "bench", _CHECK)
        figures["ratio"] = round(figures["dbplane_s"] / figures["by_hand_s"], 3)
        figures["unavailable_ratio"] = round(
            figures["dbplane_unavailable_s"] / max(figures["by_hand_unavailable_s"], 1e-3),
            3)
        for key, value in figures.items():
            print(f"{key:>34}: {value}")
        print(json.dumps(figures))
    finally:
        with contextlib.suppress(httpx.HTTPError):
            httpx.delete(f"{base_url}/v1/databases/bench?purge=true",
                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
