"""Backup and restore through dbplane against the same tools run by hand.

Builds a PostgreSQL database and a SQLite file of ``--size-mb`` (default 1024 MB), starts
a real ``dbplane serve``, registers both, then times, on the same data, one after the
other:

- PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists --no-owner
  --single-transaction`` by hand, against ``POST /v1/databases/{db}/backups`` and
  ``POST .../backups/{id}/restore`` followed until their operation is done;
- SQLite: ``sqlite3 FILE ".backup COPY"`` and ``sqlite3 FILE ".restore COPY"`` by hand,
  against the same two endpoints (SQLite's online backup API).

dbplane's time includes the HTTP request, the operation queue, the SHA-256 of the archive,
its fsync and, for a restore, the checksum and format checks. Target: within 10% of the
tools by hand (ratio <= 1.10).

    python bench/backups.py                      # 1 GB each: several minutes
    python bench/backups.py --size-mb 100 --engines sqlite
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

TOKEN = "dbp_bench-backups-token-0123456789abcdefghij"  # noqa: S105 (a throw-away server)
TARGET = 1.10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class Dbplane:
    """A real ``dbplane serve`` on a temporary data directory."""

    def __init__(self, data_dir: Path) -> None:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DBPLANE_")}
        env.update({"DBPLANE_DATA_DIR": str(data_dir), "DBPLANE_PORT": str(port),
                    "DBPLANE_ADMIN_TOKEN": TOKEN, "DBPLANE_LOG_LEVEL": "WARNING"})
        dbplane = shutil.which("dbplane") or str(Path(sys.executable).with_name("dbplane"))
        self.proc = subprocess.Popen([dbplane, "serve"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                 headers={"Authorization": f"Bearer {TOKEN}"})
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.http.get("/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dbplane did not start")
            time.sleep(0.05)

    def register(self, resource_id: str, url: str) -> None:
        answer = self.http.post("/v1/databases", json={"resource_id": resource_id,
                                                       "url": url})
        answer.raise_for_status()

    def _follow(self, answer: httpx.Response) -> dict[str, object]:
        if answer.status_code != 202:
            raise RuntimeError(f"{answer.status_code}: {answer.text}")
        location = answer.headers["location"]
        while True:
            op: dict[str, object] = self.http.get(location).json()
            if op["status"] not in ("pending", "running"):
                if op["status"] != "done":
                    raise RuntimeError(f"operation ended {op['status']}: {op['error']}")
                return op
            time.sleep(0.05)

    def backup(self, db: str) -> str:
        op = self._follow(self.http.post(f"/v1/databases/{db}/backups"))
        params = op["params"]
        assert isinstance(params, dict)
        return str(params["backup_id"])

    def restore(self, db: str, backup_id: str) -> None:
        self._follow(self.http.post(f"/v1/databases/{db}/backups/{backup_id}/restore"))

    def size(self, db: str, backup_id: str) -> int:
        body = self.http.get(f"/v1/databases/{db}/backups/{backup_id}").json()
        return int(body["database_backup"]["size"])

    def delete(self, db: str, backup_id: str) -> None:
        self.http.delete(f"/v1/databases/{db}/backups/{backup_id}")

    def close(self) -> None:
        self.http.close()
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _report(engine: str, what: str, by_hand: list[float], ours: list[float],
            sha: list[float]) -> None:
    hand, mine = min(by_hand), min(ours)
    ratio = mine / hand if hand else float("inf")
    verdict = "OK" if ratio <= TARGET else "MISS"
    print(f"{engine:<10} {what:<8} by hand {hand:7.2f} s   dbplane {mine:7.2f} s   "
          f"ratio {ratio:4.2f}  {verdict} (target <= {TARGET:.2f})", flush=True)
    # dbplane reads the archive once more for its SHA-256 (after a backup, before a
    # restore): the same tool by hand followed by sha256sum does the same work
    checked = hand + min(sha)
    print(f"{'':<10} {'':<8} by hand + sha256sum {checked:7.2f} s   ratio "
          f"{mine / checked:4.2f}", flush=True)


def _sha256sum(path: Path) -> float:
    return _timed(lambda: subprocess.run(["sha256sum", str(path)], check=True,
                                         capture_output=True))


# -- PostgreSQL -------------------------------------------------------------------------


def _pg_env(dsn: httpx.URL, name: str) -> dict[str, str]:
    env = {**os.environ, "PGHOST": dsn.host or "127.0.0.1", "PGPORT": str(dsn.port or 5432),
           "PGUSER": dsn.username or "postgres", "PGDATABASE": name}
    if dsn.password:
        env["PGPASSWORD"] = dsn.password
    return env


def bench_postgresql(server: Dbplane, dsn_text: str, size_mb: int, rounds: int,
                     work: Path) -> None:
    dsn = httpx.URL(dsn_text)
    name = f"dbp_bench_{uuid.uuid4().hex[:8]}"
    admin = _pg_env(dsn, dsn.path.strip("/") or "postgres")
    env = _pg_env(dsn, name)

    def psql(sql: str, environ: dict[str, str]) -> None:
        subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], env=environ,
                       check=True, capture_output=True)

    psql(f'CREATE DATABASE "{name}"', admin)
    try:
        rows = size_mb * 1024 * 1024 // 330  # ~330 bytes a row on disk
        took = _timed(lambda: psql(
            "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS digest, "
            "repeat(md5((g * 7)::text), 6) AS payload, now() AS at "
            f"FROM generate_series(1, {rows}) g; ALTER TABLE big ADD PRIMARY KEY (id)",
            env) or psql("VACUUM ANALYZE big", env))
        out = subprocess.run(["psql", "-tAc", f"SELECT pg_database_size('{name}')"],
                             env=env, check=True, capture_output=True, text=True)
        print(f"postgresql database of {int(out.stdout) / 2**20:.0f} MB ({rows} rows) "
              f"built in {took:.1f} s", flush=True)
        url = f"postgresql://{dsn.username or 'postgres'}"
        url += f":{dsn.password}" if dsn.password else ""
        server.register("bench-pg", f"{url}@{dsn.host}:{dsn.port or 5432}/{name}")
        archive = work / "by-hand.dump"
        dumps, ours_dump, restores, ours_restore = [], [], [], []
        sha: list[float] = []
        for _ in range(rounds):
            dumps.append(_timed(lambda: subprocess.run(
                ["pg_dump", "--format=custom", "--no-password", f"--file={archive}"],
                env=env, check=True)))
            sha.append(_sha256sum(archive))
            backup_id = ""

            def ours() -> None:
                nonlocal backup_id
                backup_id = server.backup("bench-pg")

            ours_dump.append(_timed(ours))
            restores.append(_timed(lambda: subprocess.run(
                ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                 "--exit-on-error", "--no-password", f"--dbname={name}", str(archive)],
                env=env, check=True)))
            ours_restore.append(_timed(lambda: server.restore("bench-pg", backup_id)))  # noqa: B023
            print(f"  archives: by hand {archive.stat().st_size / 2**20:.0f} MB, dbplane "
                  f"{server.size('bench-pg', backup_id) / 2**20:.0f} MB", flush=True)
            server.delete("bench-pg", backup_id)
        _report("postgresql", "backup", dumps, ours_dump, sha)
        _report("postgresql", "restore", restores, ours_restore, sha)
    finally:
        server.http.delete("/v1/databases/bench-pg")
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin)


# -- SQLite -----------------------------------------------------------------------------


def bench_sqlite(server: Dbplane, size_mb: int, rounds: int, work: Path) -> None:
    path = work / "bench.db"
    rows = size_mb * 1024 * 1024 // 1100  # ~1 KiB a row with its overhead

    def build() -> None:
        con = sqlite3.connect(path)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, payload BLOB)")
        con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE "
                    f"i < {rows}) INSERT INTO big SELECT i, randomblob(1000) FROM n")
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()

    took = _timed(build)
    print(f"sqlite file of {path.stat().st_size / 2**20:.0f} MB ({rows} rows) built in "
          f"{took:.1f} s", flush=True)
    server.register("bench-sqlite", f"sqlite:///{path}")
    copy = work / "by-hand.sqlite3"
    dumps, ours_dump, restores, ours_restore = [], [], [], []
    sha: list[float] = []
    try:
        for _ in range(rounds):
            copy.unlink(missing_ok=True)
            dumps.append(_timed(lambda: subprocess.run(
                ["sqlite3", str(path), f".backup '{copy}'"], check=True)))
            sha.append(_sha256sum(copy))
            backup_id = ""

            def ours() -> None:
                nonlocal backup_id
                backup_id = server.backup("bench-sqlite")

            ours_dump.append(_timed(ours))
            restores.append(_timed(lambda: subprocess.run(
                ["sqlite3", str(path), f".restore '{copy}'"], check=True)))
            ours_restore.append(_timed(
                lambda: server.restore("bench-sqlite", backup_id)))  # noqa: B023
            server.delete("bench-sqlite", backup_id)
        _report("sqlite", "backup", dumps, ours_dump, sha)
        _report("sqlite", "restore", restores, ours_restore, sha)
    finally:
        server.http.delete("/v1/databases/bench-sqlite")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024,
                        help="size of each database (default 1024: 1 GB)")
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--rounds", type=int, default=1,
                        help="runs of each measure; the best is reported")
    parser.add_argument("--pg-dsn", default=os.environ.get(
        "DBPLANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dbplane-bench-backups-"))
    server = Dbplane(work / "data")
    try:
        engines = args.engines.split(",")
        if "postgresql" in engines:
            bench_postgresql(server, args.pg_dsn, args.size_mb, args.rounds, work)
        if "sqlite" in engines:
            bench_sqlite(server, args.size_mb, args.rounds, work)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
