"""A restore drill through dbplane against the same steps by hand, on PostgreSQL.

Builds a PostgreSQL database of ``--size-mb`` (default 64), starts a real ``dbplane
serve``, registers it and takes one backup through dbplane (which records the
fingerprint). Then, ``--rounds`` times, one after the other on the same archive:

- by hand: ``sha256sum`` of the archive, ``CREATE DATABASE`` scratch, ``pg_restore
  --no-owner --single-transaction --exit-on-error`` into it, the same per-table
  count-and-checksum SQL dbplane runs (``count(*)`` and the sum of the first 64 bits of
  each row's MD5), ``DROP DATABASE``;
- dbplane: ``POST /v1/databases/{db}/backups/{id}/verify`` followed until its operation
  is done (the HTTP request, the queue, the checksum and format checks, the scratch
  database, the restore, the fingerprint, the comparison, the record, the drop).

Prints one line per round and, at the end, one JSON line of figures (best of the rounds).

    python bench/datasafety_drill.py                  # 64 MB
    python bench/datasafety_drill.py --size-mb 1024   # 1 GB
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from backups import Dbplane, _pg_env, _timed

CHECKSUM = ("SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))"
            "::bit(64)::bigint::numeric), 0)::text FROM {target} AS t")
TABLES = ("SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
          "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
          "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
          "AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1")


def _psql(sql: str, env: dict[str, str]) -> str:
    out = subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-qtAc", sql], env=env,
                         check=True, capture_output=True, text=True)
    return out.stdout


def drill_by_hand(archive: Path, admin: dict[str, str], dsn: httpx.URL) -> list[str]:
    """The drill's steps by hand; answers the checksums found."""
    subprocess.run(["sha256sum", str(archive)], check=True, capture_output=True)
    scratch = f"bench_scratch_{uuid.uuid4().hex[:8]}"
    _psql(f'CREATE DATABASE "{scratch}"', admin)
    try:
        env = _pg_env(dsn, scratch)
        subprocess.run(["pg_restore", "--no-owner", "--single-transaction",
                        "--exit-on-error", "--no-password", f"--dbname={scratch}",
                        str(archive)], env=env, check=True)
        found = []
        for table in _psql(TABLES, env).split():
            found.append(_psql(CHECKSUM.format(target=table), env).strip())
        return found
    finally:
        _psql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)', admin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pg-dsn", default=os.environ.get(
        "DBPLANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    dsn = httpx.URL(args.pg_dsn)
    name = f"dbp_bench_{uuid.uuid4().hex[:8]}"
    admin = _pg_env(dsn, dsn.path.strip("/") or "postgres")
    env = _pg_env(dsn, name)
    _psql(f'CREATE DATABASE "{name}"', admin)
    work = Path(tempfile.mkdtemp(prefix="dbplane-bench-drill-"))
    server = None
    try:
        rows = args.size_mb * 1024 * 1024 // 330  # ~330 bytes a row on disk
        built = _timed(lambda: _psql(
            "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS digest, "
            "repeat(md5((g * 7)::text), 6) AS payload, now() AS at "
            f"FROM generate_series(1, {rows}) g; ALTER TABLE big ADD PRIMARY KEY (id); "
            "CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 1000) g", env))
        size = int(_psql(f"SELECT pg_database_size('{name}')", env))
        print(f"postgresql database of {size / 2**20:.0f} MB ({rows} rows) built in "
              f"{built:.1f} s", flush=True)
        server = Dbplane(work / "data")
        url = f"postgresql://{dsn.username or 'postgres'}"
        url += f":{dsn.password}" if dsn.password else ""
        server.register("bench-drill", f"{url}@{dsn.host}:{dsn.port or 5432}/{name}")
        dump_hand = _timed(lambda: subprocess.run(
            ["pg_dump", "--format=custom", "--no-password", f"--file={work / 'h.dump'}"],
            env=env, check=True))
        backup_id = ""

        def backup() -> None:
            nonlocal backup_id
            backup_id = server.backup("bench-drill") if server else ""

        dump_ours = _timed(backup)
        print(f"backup: pg_dump by hand {dump_hand:.2f} s, dbplane (dump, with the "
              f"fingerprint read in its snapshot) {dump_ours:.2f} s", flush=True)
        db_id = server.http.get("/v1/databases/bench-drill").json()["database"]["id"]
        archive = next((work / "data" / "backups" / db_id).glob(f"{backup_id}.*"))
        hand, ours = [], []
        steps: list[dict[str, float]] = []
        for n in range(args.rounds):
            hand.append(_timed(lambda: drill_by_hand(archive, admin, dsn)))

            def drill() -> None:
                assert server is not None
                op = server._follow(server.http.post(
                    f"/v1/databases/bench-drill/backups/{backup_id}/verify"))
                result = op["result"]
                assert isinstance(result, dict) and result["status"] == "passed", op
                steps.append({s["name"]: round((s.get("duration_ms") or 0) / 1000, 3)
                              for s in op["steps"]})

            ours.append(_timed(drill))
            print(f"round {n + 1}: drill by hand {hand[-1]:.2f} s, dbplane "
                  f"{ours[-1]:.2f} s, ratio {ours[-1] / hand[-1]:.2f}; steps {steps[-1]}",
                  flush=True)
        figures = {"bench": "datasafety_drill", "size_mb": round(size / 2**20),
                   "rows": rows, "rounds": args.rounds,
                   "backup_by_hand_s": round(dump_hand, 3),
                   "backup_dbplane_s": round(dump_ours, 3),
                   "drill_by_hand_s": round(min(hand), 3),
                   "drill_dbplane_s": round(min(ours), 3),
                   "ratio": round(min(ours) / min(hand), 3)}
        print(json.dumps(figures), flush=True)
    finally:
        if server is not None:
            server.close()
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin)
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
