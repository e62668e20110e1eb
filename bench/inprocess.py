"""The Tables API's cost per request inside the process: raw ASGI calls to the app (no
HTTP server, no load generator), timed in CPU seconds, so the figure holds on a busy
machine. The same table as bench/tables.py, 20,000 rows, on SQLite and (with a server)
PostgreSQL and MariaDB; the reads, then a create, an update and a delete by key (the
MariaDB table's key is not generated: its create answers 409, measured as such).

    python bench/inprocess.py                       # SQLite, then PostgreSQL if it answers
    python bench/inprocess.py --profile get         # and a cProfile of one endpoint
    DBPLANE_BENCH_PG=postgresql://postgres@127.0.0.1:5432/postgres python bench/inprocess.py
    PROFILE_SORT=tottime python bench/inprocess.py --engines mysql --profile update
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from asgi_lifespan import LifespanManager

TOKEN = "bench-" + secrets.token_hex(16)
ROWS = 20_000
REQUESTS = {
    "list": ("/v1/databases/bench/tables/items", b"limit=50"),
    "get": ("/v1/databases/bench/tables/items/777", b""),
    "filter": ("/v1/databases/bench/tables/items",
               b"filters[score][$gt]=500&sort=score:desc&limit=50"),
    "count": ("/v1/databases/bench/tables/items", b"limit=50&count=exact"),
}
WRITES = {
    "create": ("POST", "/v1/databases/bench/tables/items", orjson.dumps({"data": {
        "title": "new", "body": "b" * 50, "score": 5, "active": True,
        "created_on": 1_700_000_000_000}})),
    "update": ("PATCH", "/v1/databases/bench/tables/items/777",
               orjson.dumps({"data": {"score": 6}})),
    "delete": ("DELETE", "/v1/databases/bench/tables/items/{n}", b""),
}
Call = Callable[[str, str, bytes, bytes], Awaitable[tuple[int, bytes]]]


def _sqlite_file(where: Path) -> str:
    path = where / "bench.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT, body TEXT, "
                "score INTEGER, active BOOLEAN, created_on INTEGER)")
    con.executemany("INSERT INTO items VALUES (?,?,?,?,?,?)",
                    [(i, f"t{i}", "b" * 50, i % 1000, i % 2, 1_700_000_000_000 + i)
                     for i in range(1, ROWS + 1)])
    con.execute("CREATE INDEX ix_score ON items (score)")
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def _pg_database(dsn: str) -> tuple[str, Callable[[], None]]:
    import psycopg  # the test extras' driver, for set-up only

    name = "dbp_inproc_" + secrets.token_hex(4)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = dsn.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE TABLE items (id integer PRIMARY KEY, title text, body text, "
                    "score integer, active boolean, created_on bigint)")
        con.execute("INSERT INTO items SELECT i, 't' || i, repeat('b', 50), i %% 1000, "
                    "i %% 2 = 1, 1700000000000 + i FROM generate_series(1, %s) i", (ROWS,))
        con.execute("CREATE INDEX ix_score ON items (score)")
        con.execute("ANALYZE items")

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def _mysql_database(dsn: str) -> tuple[str, Callable[[], None]]:
    import pymysql  # the test extras' driver, for set-up only

    name = "dbp_inproc_" + secrets.token_hex(4)
    parts = httpx_url(dsn)
    con = pymysql.connect(host=parts.host, port=parts.port or 3306,
                          user=parts.username or "root", password=parts.password or "",
                          autocommit=True)
    with con.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE TABLE `{name}`.items (id int PRIMARY KEY, title text, "
                    "body text, score int, active boolean, created_on bigint, "
                    "KEY ix_score (score))")
        cur.executemany(f"INSERT INTO `{name}`.items VALUES (%s,%s,%s,%s,%s,%s)",
                        [(i, f"t{i}", "b" * 50, i % 1000, i % 2, 1_700_000_000_000 + i)
                         for i in range(1, ROWS + 1)])

    def drop() -> None:
        with con.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        con.close()

    return dsn.rsplit("/", 1)[0] + "/" + name, drop


def httpx_url(dsn: str) -> Any:
    import httpx

    return httpx.URL(dsn)


def _caller(asgi: Any) -> Call:
    headers = [(b"authorization", f"Bearer {TOKEN}".encode()), (b"host", b"bench")]

    async def call(method: str, path: str, query: bytes = b"",
                   body: bytes = b"") -> tuple[int, bytes]:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": query, "root_path": "",
                 "headers": headers + ([(b"content-type", b"application/json")]
                                       if body else []),
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        sent: list[dict[str, Any]] = []
        given = False

        async def receive() -> dict[str, Any]:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await asgi(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    return call


async def measure(engine: str, url: str, n: int, profile: str | None) -> None:
    os.environ["DBPLANE_ADMIN_TOKEN"] = TOKEN
    from dbplane.api.app import create_app
    from dbplane.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp) / "data"))
        async with LifespanManager(app) as manager:
            call = _caller(manager.app)
            status, body = await call("POST", "/v1/databases", b"", orjson.dumps(
                {"database": {"resource_id": "bench", "url": url}}))
            if status != 201:
                raise SystemExit(f"could not register the {engine} database: {body!r}")
            for name, (path, query) in REQUESTS.items():
                status, body = await call("GET", path, query, b"")
                if status != 200:
                    raise SystemExit(f"{name}: {status} {body[:200]!r}")
                for _ in range(200):
                    await call("GET", path, query, b"")
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(n):
                    await call("GET", path, query, b"")
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                print(f"{engine:<10} {name:<7} {1e6 * cpu / n:7.1f} us CPU per request "
                      f"({1e6 * wall / n:7.1f} us wall)", flush=True)
            deleted = iter(range(1, ROWS + 1))
            for name, (method, path, body) in WRITES.items():
                def one(method: str = method, path: str = path, body: bytes = body
                        ) -> Awaitable[tuple[int, bytes]]:
                    return call(method, path.format(n=next(deleted)), b"", body)
                for _ in range(100):
                    await one()
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(n):
                    status, _ = await one()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                print(f"{engine:<10} {name:<7} {1e6 * cpu / n:7.1f} us CPU per request "
                      f"({1e6 * wall / n:7.1f} us wall, last {status})", flush=True)
            if profile in WRITES:
                method, path, body = WRITES[profile]
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(n):
                    await call(method, path.format(n=next(deleted)), b"", body)
                prof.disable()
                pstats.Stats(prof).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")
                                              ).print_stats(45)
            elif profile:
                path, query = REQUESTS[profile]
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(n):
                    await call("GET", path, query, b"")
                prof.disable()
                order = os.environ.get("PROFILE_SORT", "cumulative")  # or tottime
                pstats.Stats(prof).sort_stats(order).print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="requests per endpoint")
    parser.add_argument("--profile", choices=sorted([*REQUESTS, *WRITES]),
                        help="cProfile one endpoint")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="the event loop (default uvloop, as `dbplane serve` runs)")
    parser.add_argument("--pg-dsn", default=os.environ.get(
        "DBPLANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--mysql-dsn", default=os.environ.get(
        "DBPLANE_BENCH_MYSQL", "mysql://root@127.0.0.1:3306/mysql"))
    parser.add_argument("--engines", default="sqlite,postgresql,mysql",
                        help="which of sqlite, postgresql, mysql (comma-separated)")
    args = parser.parse_args()
    engines = set(args.engines.split(","))
    run: Callable[[Any], Any] = asyncio.run
    if args.loop == "uvloop":
        import uvloop

        run = uvloop.run
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory() as tmp:
            run(measure("sqlite", _sqlite_file(Path(tmp)), args.n, args.profile))
    for engine, make, dsn in (("postgresql", _pg_database, args.pg_dsn),
                              ("mysql", _mysql_database, args.mysql_dsn)):
        if engine not in engines:
            continue
        try:
            url, drop = make(dsn)
        except Exception as exc:  # no server: the others stand alone
            print(f"{engine}: skipped ({type(exc).__name__}: {exc})")
            continue
        try:
            run(measure(engine, url, args.n, args.profile))
        finally:
            drop()


if __name__ == "__main__":
    main()
