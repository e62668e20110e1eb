"""The operations queue: how long a short operation takes from ``202`` to ``done``, and how
many a process (or two replicas on one PostgreSQL metadata store) run per second.

Starts real ``dbplane serve`` processes and drives them over HTTP with ``database.check``
operations of one round trip on the default SQLite database (the queue's own cost, not
the work's):

- latency: one operation at a time, POST then poll ``GET /v1/operations/{id}`` every 5 ms
  until it has ended; median and p95 of ``--latency-runs``.
- throughput: ``--queue`` operations posted at once, time until the last has ended,
  on a SQLite metadata store (one process) and on PostgreSQL with one and two processes;
  with two, every operation must have been claimed exactly once (``attempts == 1``).

    python bench/operations.py                 # about 30 s
    python bench/operations.py --queue 400 --pg-dsn postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import asyncio
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

TOKEN = "dbp_bench-operations-token-0123456789abcdef"  # noqa: S105 (a throwaway server)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(data_dir: Path, count: int = 1, meta_url: str | None = None) -> Iterator[list[str]]:
    """``count`` dbplane processes on one data directory (and metadata store)."""
    dbplane = shutil.which("dbplane") or str(Path(sys.executable).with_name("dbplane"))
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(count):
            port = _free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("DBPLANE_")}
            env |= {"DBPLANE_DATA_DIR": str(data_dir), "DBPLANE_PORT": str(port),
                    "DBPLANE_ADMIN_TOKEN": TOKEN}
            if meta_url:
                env["DBPLANE_META_URL"] = meta_url
            procs.append(subprocess.Popen([dbplane, "serve"], env=env,
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        for proc, url in zip(procs, urls, strict=True):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/v1/health", timeout=0.5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("dbplane did not start")
                time.sleep(0.02)
        yield urls
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def latency(client: httpx.Client, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        op = client.post("/v1/databases/default/check", json={"samples": 1}).json()
        while client.get(f"/v1/operations/{op['id']}").json()["status"] not in (
                "done", "error", "canceled"):
            time.sleep(0.005)
        times.append((time.perf_counter() - started) * 1000)
    return times


def throughput(base_url: str, queue: int) -> tuple[float, float, list[dict[str, Any]]]:
    """Seconds to post ``queue`` operations (16 requests at a time), seconds from the
    first POST until the last operation has ended, and the ended operations."""

    async def post_all() -> list[str]:
        limit = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=60) as client:
            async def one() -> str:
                async with limit:
                    answer = await client.post("/v1/databases/default/check",
                                               json={"samples": 1})
                    return str(answer.json()["id"])

            return list(await asyncio.gather(*(one() for _ in range(queue))))

    started = time.perf_counter()
    ids = asyncio.run(post_all())
    posted = time.perf_counter() - started
    pending = set(ids)
    ended: list[dict[str, Any]] = []
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as client:
        while pending:
            time.sleep(0.05)
            listed = client.get("/v1/operations", params={
                "type": "database.check", "limit": 1000}).json()["operations"]
            for op in listed:
                if op["id"] in pending and op["status"] in ("done", "error", "canceled"):
                    pending.discard(op["id"])
                    ended.append(op)
    return posted, time.perf_counter() - started, ended


def _pg_database(dsn: str, name: str, create: bool) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-runs", type=int, default=50)
    parser.add_argument("--queue", type=int, default=200)
    parser.add_argument("--pg-dsn", default=os.environ.get(
        "DBPLANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        with serve(Path(tmp) / "sqlite") as (url,), \
                httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
            times = latency(client, args.latency_runs)
            print(f"latency 202 -> done, SQLite store : median {statistics.median(times):.1f}"
                  f" ms, p95 {statistics.quantiles(times, n=20)[-1]:.1f} ms "
                  f"({args.latency_runs} runs)")
            posted, seconds, _ = throughput(url, args.queue)
            print(f"throughput, SQLite store, 1 process : {args.queue / seconds:.0f} ops/s "
                  f"({args.queue} posted in {posted:.2f} s, all ended after {seconds:.2f} s)")
        name = f"dbp_bench_ops_{uuid.uuid4().hex[:8]}"
        try:
            _pg_database(args.pg_dsn, name, create=True)
        except Exception as exc:  # no server: the PostgreSQL half is skipped
            print(f"PostgreSQL half skipped: {exc}")
            return
        meta_url = args.pg_dsn.rsplit("/", 1)[0] + f"/{name}"
        try:
            for count in (1, 2):
                data = Path(tmp) / f"pg{count}"
                with serve(data, count, meta_url) as urls, \
                        httpx.Client(base_url=urls[0], headers=AUTH, timeout=30) as client:
                    if count == 1:
                        times = latency(client, args.latency_runs)
                        print(f"latency 202 -> done, PostgreSQL store: median "
                              f"{statistics.median(times):.1f} ms, p95 "
                              f"{statistics.quantiles(times, n=20)[-1]:.1f} ms")
                    posted, seconds, ended = throughput(urls[0], args.queue)
                    owners = {op["owner"] for op in ended}
                    twice = [op["id"] for op in ended if op["attempts"] != 1]
                    print(f"throughput, PostgreSQL store, {count} process(es): "
                          f"{args.queue / seconds:.0f} ops/s ({args.queue} posted in "
                          f"{posted:.2f} s, all ended after {seconds:.2f} s"
                          f", run by {len(owners)} process(es), claimed more than once: "
                          f"{len(twice)})")
        finally:
            _pg_database(args.pg_dsn, name, create=False)


if __name__ == "__main__":
    main()
