"""Factory throughput (issue 6): 100,000 rows of a 6-column table on SQLite, PostgreSQL and
MariaDB, in rows per second.

For each engine, on the same fresh table (truncated between runs):

- ``generation``: Faker alone, producing the rows the factory asks for (the same providers
  and arguments, seeded), into a list: no database;
- ``floor``: a plain ``executemany`` of those pre-generated rows through the driver itself
  (asyncpg, aiosqlite, asyncmy) on one connection, in one transaction, in batches of the
  factory's size;
- ``factory``: ``POST /v1/databases/bench/factory/run`` on the real app (in-process),
  generating and inserting the same number of rows.

Target: factory time <= 1.5 x (generation + floor).

    python bench/factory.py                     # 100,000 rows, every engine
    python bench/factory.py --rows 20000 --engines sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from faker import Faker

from dbplane.api.app import create_app
from dbplane.routines.files import file_id
from dbplane.settings import Settings

TOKEN = "dbp_bench-" + secrets.token_urlsafe(32)
PG = "postgresql://postgres@127.0.0.1:5432"
MY = "mysql://root@127.0.0.1:3306"
BATCH = 2000

FACTORY = """table: people
count: {rows}
seed: 7
columns:
  name: name
  email: email
  score: {{faker: random_int, min: 0, max: 1000}}
  city: city
  born: {{faker: date_between, start_date: "-80y", end_date: "-18y"}}
  role: {{choice: [admin, user, guest]}}
"""

TABLE = sa.Table(
    "people", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(120), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("city", sa.String(100), nullable=False),
    sa.Column("born", sa.Date, nullable=False),
    sa.Column("role", sa.String(10), nullable=False),
)
COLUMNS = ["name", "email", "score", "city", "born", "role"]


def generate(rows: int) -> list[tuple[Any, ...]]:
    fake = Faker()
    fake.seed_instance(7)
    rng = random.Random(7)
    roles = ["admin", "user", "guest"]
    name, email, rint, city, between = (fake.name, fake.email, fake.random_int, fake.city,
                                        fake.date_between)
    return [(name(), email(), rint(min=0, max=1000), city(),
             between(start_date="-80y", end_date="-18y"), rng.choice(roles))
            for _ in range(rows)]


def _admin_url(engine: str, name: str) -> str:
    return {"postgresql": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
            "mysql": f"mysql+pymysql://root@127.0.0.1:3306/{name}"}[engine]


def make_database(engine: str, tmp: Path) -> tuple[str, str]:
    """(dbplane URL, sync SQLAlchemy URL) of a fresh database with the table."""
    if engine == "sqlite":
        path = tmp / "bench.db"
        sqlite3.connect(path).close()
        url, sync = f"sqlite:///{path}", f"sqlite:///{path}"
    else:
        name = "dbp_bench_" + uuid.uuid4().hex[:8]
        admin = sa.create_engine(_admin_url(engine, "postgres" if engine == "postgresql"
                                            else ""), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            quoted = f'"{name}"' if engine == "postgresql" else f"`{name}`"
            conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
        admin.dispose()
        url = (f"{PG}/{name}" if engine == "postgresql" else f"{MY}/{name}")
        sync = _admin_url(engine, name)
    eng = sa.create_engine(sync)
    TABLE.create(eng)
    eng.dispose()
    return url, sync


def drop_database(engine: str, sync: str) -> None:
    if engine == "sqlite":
        return
    name = sa.make_url(sync).database
    admin = sa.create_engine(_admin_url(engine, "postgres" if engine == "postgresql"
                                        else ""), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if engine == "postgresql":
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


def truncate(sync: str) -> None:
    eng = sa.create_engine(sync)
    with eng.begin() as conn:
        conn.execute(TABLE.delete())
    eng.dispose()


async def floor(engine: str, url: str, rows: list[tuple[Any, ...]]) -> float:
    """A plain executemany through the driver, on one connection, one transaction."""
    cols = ", ".join(COLUMNS)
    if engine == "sqlite":
        import aiosqlite

        sql = f"INSERT INTO people ({cols}) VALUES ({', '.join('?' * 6)})"
        async with aiosqlite.connect(sa.make_url(url).database or "") as conn:
            start = time.perf_counter()
            for i in range(0, len(rows), BATCH):
                await conn.executemany(sql, rows[i:i + BATCH])
            await conn.commit()
            return time.perf_counter() - start
    if engine == "postgresql":
        import asyncpg

        sql = f"INSERT INTO people ({cols}) VALUES ({', '.join(f'${i}' for i in range(1, 7))})"
        conn = await asyncpg.connect(url)
        try:
            start = time.perf_counter()
            async with conn.transaction():
                for i in range(0, len(rows), BATCH):
                    await conn.executemany(sql, rows[i:i + BATCH])
            return time.perf_counter() - start
        finally:
            await conn.close()
    import asyncmy

    u = sa.make_url(url)
    sql = f"INSERT INTO people ({cols}) VALUES ({', '.join(['%s'] * 6)})"
    conn = await asyncmy.connect(host=u.host, port=u.port, user=u.username, password="",
                                 database=u.database)
    try:
        start = time.perf_counter()
        async with conn.cursor() as cur:
            for i in range(0, len(rows), BATCH):
                await cur.executemany(sql, rows[i:i + BATCH])
        await conn.commit()
        return time.perf_counter() - start
    finally:
        conn.close()


async def factory(url: str, tmp: Path, rows: int) -> float:
    project = tmp / "project"
    (project / "factories").mkdir(parents=True, exist_ok=True)
    (project / "factories" / "people.yaml").write_text(FACTORY.format(rows=rows))
    settings = Settings(data_dir=tmp / "data", admin_token=TOKEN,  # type: ignore[arg-type]
                        log_json=False, project_dir=project)
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     headers={"Authorization": f"Bearer {TOKEN}"},
                                     timeout=600) as client:
            r = await client.post("/v1/databases", json={"resource_id": "bench",
                                                         "url": url})
            r.raise_for_status()
            start = time.perf_counter()
            r = await client.post("/v1/databases/bench/factory/run",
                                  json={"file_id": file_id("factories/people.yaml")})
            elapsed = time.perf_counter() - start
            r.raise_for_status()
            assert r.json()["rows"] == rows, r.text
            return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgresql,mysql")
    args = parser.parse_args()
    rows = args.rows
    start = time.perf_counter()
    data = generate(rows)
    gen = time.perf_counter() - start
    print(f"generation (Faker alone): {gen:.2f} s, {rows / gen:,.0f} rows/s")
    misses = 0
    for engine in args.engines.split(","):
        with tempfile.TemporaryDirectory(prefix="dbp-bench-factory-") as tmp_name:
            tmp = Path(tmp_name)
            try:
                url, sync = make_database(engine, tmp)
            except Exception as exc:  # a server that is not running: skip the engine
                print(f"{engine}: skipped ({type(exc).__name__}: {exc})")
                continue
            try:
                low = asyncio.run(floor(engine, url, data))
                truncate(sync)
                fac = asyncio.run(factory(url, tmp, rows))
            finally:
                drop_database(engine, sync)
        ratio = fac / (gen + low)
        ok = ratio <= 1.5
        misses += not ok
        print(f"{engine:>10}: floor {rows / low:>9,.0f} rows/s ({low:.2f} s) | factory "
              f"{rows / fac:>9,.0f} rows/s ({fac:.2f} s) | factory / (generation + floor)"
              f" = {ratio:.2f} {'ok' if ok else 'MISS'} (target <= 1.5)")
    del misses  # a miss is reported above, not an exit status
    return 0


if __name__ == "__main__":
    sys.exit(main())
