"""Schema as code on a large schema: snapshot and diff of 300 tables, 3,000 columns.

Each engine gets the same schema (300 tables of 10 columns: an id, strings, integers, a
decimal, a boolean with a default, a date; a unique and a plain index per table, a foreign
key to the previous table), built in a fresh SQLite file, PostgreSQL database and MariaDB
database. Measured in-process, as the service runs them (no HTTP):

- snapshot: reflection + catalog query (``engines.schema.read_schema``) and normalizing it
  into a snapshot;
- diff: the differ against a target with 30 fields changed, 3 tables added and 3 dropped
  (``complete`` + ``diff``), plus the plan the apply would run.

Target (issue 5): snapshot + diff under 2 s on SQLite and PostgreSQL.

    python bench/schema.py                    # every engine, 3 runs each
    python bench/schema.py --engines sqlite --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from dbplane.engines import create_engine_for, parse_database_url  # noqa: E402
from dbplane.engines.sql.schema import read_schema  # noqa: E402
from dbplane.schema import complete, diff, normalize, patch, plan  # noqa: E402

TABLES, COLUMNS = 300, 10
PG = os.environ.get("DBPLANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MY = os.environ.get("DBPLANE_BENCH_MYSQL", "mysql://root@127.0.0.1:3306/")
SYNC = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}


def _metadata() -> sa.MetaData:
    meta = sa.MetaData()
    for i in range(TABLES):
        cols: list[Any] = [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(100), nullable=False, server_default="x"),
            sa.Column("code", sa.String(20)),
            sa.Column("body", sa.Text),
            sa.Column("amount", sa.Numeric(10, 2)),
            sa.Column("qty", sa.Integer, server_default=sa.text("0")),
            sa.Column("big", sa.BigInteger),
            sa.Column("active", sa.Boolean, server_default=sa.true()),
            sa.Column("day", sa.Date),
            sa.Column("parent", sa.Integer,
                      sa.ForeignKey(f"t{i - 1:03d}.id") if i else None),
        ]
        sa.Table(f"t{i:03d}", meta, *[c for c in cols if c is not None],
                 sa.Index(f"t{i:03d}_code_unique", "code", unique=True),
                 sa.Index(f"t{i:03d}_qty_day_index", "qty", "day"))
    return meta


def _create(engine_name: str, workdir: Path) -> tuple[str, Any]:
    """A fresh database with the schema: its URL, and how to drop it."""
    if engine_name == "sqlite":
        path = workdir / "bench_schema.db"
        url = f"sqlite:///{path}"
        drop: Any = path.unlink
    else:
        name = f"dbp_bench_schema_{uuid.uuid4().hex[:8]}"
        server = PG if engine_name == "postgresql" else MY
        admin = sa.create_engine(sa.make_url(server).set(drivername=SYNC[engine_name]),
                                 isolation_level="AUTOCOMMIT")
        quote = '"' if engine_name == "postgresql" else "`"
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {quote}{name}{quote}")
        url = str(sa.make_url(server).set(database=name).render_as_string(
            hide_password=False))

        def drop() -> None:
            with admin.connect() as conn:
                force = " WITH (FORCE)" if engine_name == "postgresql" else ""
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote}{name}{quote}{force}")
            admin.dispose()
    sync = sa.create_engine(sa.make_url(url).set(drivername=SYNC[engine_name]))
    try:
        with sync.begin() as conn:
            _metadata().create_all(conn)
    except Exception:
        sync.dispose()
        drop()
        raise
    sync.dispose()
    return url, drop


def _target(current: dict[str, Any]) -> dict[str, Any]:
    target = copy.deepcopy(current)
    for f in target["fields"][:300:10]:
        if f["type"] == "string":
            f["schema"]["max_length"] = (f["schema"]["max_length"] or 10) + 5
        else:
            f["schema"]["is_nullable"] = not f["schema"]["is_nullable"]
    dropped = {c["collection"] for c in target["collections"][-3:]}
    for key in ("collections", "fields", "relations"):
        target[key] = [o for o in target[key] if o["collection"] not in dropped]
    target["relations"] = [r for r in target["relations"]
                           if r["related_collection"] not in dropped]
    for n in range(3):
        name = f"new_{n}"
        target["collections"].append({"collection": name, "meta": None,
                                      "schema": {"name": name}})
        target["fields"].append({"collection": name, "field": "id", "type": "integer",
                                 "meta": None, "schema": {"is_primary_key": True,
                                                          "has_auto_increment": True,
                                                          "is_nullable": False}})
    return normalize(target)


async def _measure(url: str, runs: int) -> tuple[list[float], list[float], int, int]:
    engine: Any = create_engine_for(parse_database_url(url), timeout=30)
    snaps, diffs = [], []
    changes = fields = 0
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            live = await read_schema(engine)
            current = normalize({"version": 1, "vendor": engine.snapshot_vendor,
                                 "collections": live.collections, "fields": live.fields,
                                 "relations": live.relations})
            t1 = time.perf_counter()
            target = _target(current)
            t2 = time.perf_counter()
            d = diff(current, complete(target, current))
            steps = plan(current, patch(current, d))
            t3 = time.perf_counter()
            snaps.append(t1 - t0)
            diffs.append(t3 - t2)
            changes, fields = len(steps), len(current["fields"])
    finally:
        await engine.close()
    return snaps, diffs, changes, fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql,mysql")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"schema: {TABLES} tables, {TABLES * COLUMNS} columns; median of {args.runs} runs")
    with tempfile.TemporaryDirectory() as tmp:
        for engine_name in args.engines.split(","):
            try:
                url, drop = _create(engine_name, Path(tmp))
            except Exception as exc:
                print(f"{engine_name:<11}: skipped ({type(exc).__name__}: {exc})")
                continue
            try:
                snaps, diffs, changes, fields = asyncio.run(_measure(url, args.runs))
            finally:
                drop()
            snap, dif = statistics.median(snaps), statistics.median(diffs)
            target = " (target < 2 s)" if engine_name != "mysql" else ""
            verdict = "" if engine_name == "mysql" else (
                " ok" if snap + dif < 2 else " MISSED")
            print(f"{engine_name:<11}: snapshot {snap:.3f} s, diff+plan {dif:.3f} s, total "
                  f"{snap + dif:.3f} s{target}{verdict}  [{fields} fields, {changes} "
                  "changes planned]")


if __name__ == "__main__":
    main()
