"""What an action costs: ``POST /v1/databases/{db}/action`` against running the same SQL by
hand with psycopg.

Starts ``dbplane serve`` on a fresh data directory, registers a fresh PostgreSQL database
(``DBPLANE_BENCH_PG``, default ``postgresql://postgres@127.0.0.1:5432/postgres``: a server
that lets it create one), and times, one request after the other over one keep-alive
connection: ``list-actions`` (no server round trip), ``list-databases``,
``pg-list-queries``, and ``create-database`` + ``delete-database`` pairs; the peer runs
the same catalog queries / DDL on one psycopg connection. Prints p50 and p99 per call and
the ratio of the medians (dbplane / by hand).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

TOKEN = "dbp_" + uuid.uuid4().hex + uuid.uuid4().hex  # a fresh admin token per run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _times(fn: Callable[[], object], runs: int) -> list[float]:
    for _ in range(min(20, runs)):  # warm-up
        fn()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _p(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * q))]


def _line(what: str, ours: list[float], peer: list[float] | None) -> None:
    text = f"{what:<34} dbplane p50 {_p(ours, .5):6.2f} ms  p99 {_p(ours, .99):6.2f} ms"
    if peer is not None:
        ratio = statistics.median(ours) / statistics.median(peer)
        text += f" | by hand p50 {_p(peer, .5):6.2f} ms  p99 {_p(peer, .99):6.2f} ms" \
                f" | x{ratio:.1f}"
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--pg-dsn", default=os.environ.get(
        "DBPLANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    name = f"dbp_bench_act_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(args.pg_dsn, dbname=name)
    db_url = args.pg_dsn.rsplit("/", 1)[0] + f"/{name}"
    port = _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="dbp-bench-actions-"))
    env = {**os.environ, "DBPLANE_DATA_DIR": str(tmp / "data"), "DBPLANE_PORT": str(port),
           "DBPLANE_ADMIN_TOKEN": TOKEN, "DBPLANE_LOG_LEVEL": "warning"}
    dbplane = shutil.which("dbplane") or str(Path(sys.executable).with_name("dbplane"))
    proc = subprocess.Popen([dbplane, "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/v1/health", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("dbplane did not start")
            time.sleep(0.05)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=30) as client, psycopg.connect(url, autocommit=True) as conn:
            created = client.post("/v1/databases", json={"resource_id": "bench",
                                                         "url": db_url})
            created.raise_for_status()

            def act(action: str, params: object = None) -> object:
                r = client.post("/v1/databases/bench/action",
                                json={"action_name": action, "params": params})
                assert r.status_code == 200, r.text
                return r.json()["result"]

            print(f"{args.runs} calls each, one after the other (the machine is shared: "
                  "other work may load it)")
            _line("list-actions (no server trip)", _times(lambda: act("list-actions"),
                                                          args.runs), None)
            _line("list-databases", _times(lambda: act("list-databases"), args.runs),
                  _times(lambda: conn.execute(
                      "SELECT datname FROM pg_database WHERE NOT datistemplate "
                      "ORDER BY datname").fetchall(), args.runs))
            _line("pg-list-queries", _times(lambda: act("pg-list-queries"), args.runs),
                  _times(lambda: conn.execute(
                      "SELECT pid, usename, state, query, query_start, clock_timestamp() "
                      "- query_start FROM pg_stat_activity WHERE datname = "
                      "current_database() AND pid <> pg_backend_pid()").fetchall(),
                      args.runs))
            pairs = max(5, args.runs // 20)
            counter = iter(range(10**9))

            def ours() -> None:
                logical = f"{name}_x{next(counter)}"
                act("create-database", {"database_name": logical})
                act("delete-database", {"database_name": logical})

            def by_hand() -> None:
                logical = f"{name}_y{next(counter)}"
                conn.execute(f'CREATE DATABASE "{logical}"')
                conn.execute(f'DROP DATABASE "{logical}"')

            _line("create-database + delete-database", _times(ours, pairs),
                  _times(by_hand, pairs))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)
        with psycopg.connect(args.pg_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
