"""The floor of bench/tables.py: a bare Starlette app serving the benchmark's four requests.

Each request runs one statement that renders the whole JSON body in the database
(``json_group_array(json_object(...))`` on SQLite, ``json_agg`` / ``row_to_json`` on
PostgreSQL) and returns those bytes: no query-string parsing, no authentication, no schema
lookup, no planning, no rows built in Python. It is served by uvicorn with dbplane's
settings (uvloop, httptools, one worker, no access log, no server header), so the gap
between it and dbplane is what dbplane's own per-request work costs.

    GET /list          50 rows, ORDER BY id
    GET /items/{id}    one row, or 404
    GET /filter        score > 500, ORDER BY score DESC, id DESC, 50 rows: ties in the
                       order dbplane gives them (a stable page), so both answer the same
                       bytes; ``--no-tiebreak`` drops ``id DESC``, to see what it costs
    GET /count         50 rows and the exact total, in Content-Range: 0-49/100000

How the SQLite call is made (``--sqlite-mode``):

- ``thread``: ``sqlite3`` in Starlette's threadpool (``run_in_threadpool``), one connection
  per worker thread;
- ``aiosqlite``: a pool of aiosqlite connections (each with its own thread, as SQLAlchemy's
  ``sqlite+aiosqlite`` dialect uses them);
- ``direct``: ``sqlite3`` called directly on the event loop, one connection.

PostgreSQL (``--pg-dsn``) goes through an asyncpg pool configured as dbplane's read pool
(up to 20 connections, its prepared-statement cache on, no reset query on release: these
connections run one read each and change no session state).

    python bench/floor.py --port 8001 --sqlite bench.db --sqlite-mode direct
    python bench/floor.py --port 8002 --pg-dsn postgresql://postgres@127.0.0.1/dbp_bench_x
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = ("id", "title", "body", "score", "active", "created_on")
LIMIT = 50

# --- SQLite: the JSON is built by json_object; the boolean stored as 0/1 rendered as true/false
_SQLITE_OBJECT = (
    "json_object('id', id, 'title', title, 'body', body, 'score', score, "
    "'active', json(CASE active WHEN 0 THEN 'false' WHEN 1 THEN 'true' END), "
    "'created_on', created_on)"
)
_SQLITE_COLS = ", ".join(COLUMNS)
SQLITE_SQL = {
    "list": f"SELECT json_group_array({_SQLITE_OBJECT}) FROM "
            f"(SELECT {_SQLITE_COLS} FROM items ORDER BY id LIMIT {LIMIT})",
    "get": f"SELECT {_SQLITE_OBJECT} FROM items WHERE id = ?",
    "filter": f"SELECT json_group_array({_SQLITE_OBJECT}) FROM "
              f"(SELECT {_SQLITE_COLS} FROM items WHERE score > ? "
              f"ORDER BY score DESC, id DESC LIMIT {LIMIT})",
    "count": f"SELECT (SELECT json_group_array({_SQLITE_OBJECT}) FROM "
             f"(SELECT {_SQLITE_COLS} FROM items ORDER BY id LIMIT {LIMIT})), "
             f"(SELECT count(*) FROM items)",
}

# --- PostgreSQL: json_agg over a subquery, row_to_json for one row
_PG_COLS = ", ".join(COLUMNS)
PG_SQL = {
    "list": f"SELECT coalesce(json_agg(t), '[]')::text FROM "
            f"(SELECT {_PG_COLS} FROM items ORDER BY id LIMIT {LIMIT}) t",
    "get": f"SELECT row_to_json(t)::text FROM (SELECT {_PG_COLS} FROM items WHERE id = $1) t",
    "filter": f"SELECT coalesce(json_agg(t), '[]')::text FROM "
              f"(SELECT {_PG_COLS} FROM items WHERE score > $1 "
              f"ORDER BY score DESC, id DESC LIMIT {LIMIT}) t",
    "count": f"SELECT (SELECT coalesce(json_agg(t), '[]') FROM "
             f"(SELECT {_PG_COLS} FROM items ORDER BY id LIMIT {LIMIT}) t)::text, "
             f"(SELECT count(*) FROM items)",
}

Row = tuple[Any, ...] | None
Fetch = Callable[[str, tuple[Any, ...]], Awaitable[Row]]


def _connect_sqlite(path: str) -> sqlite3.Connection:
    con = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    con.execute("PRAGMA foreign_keys=ON")  # as dbplane's engine
    con.execute("PRAGMA busy_timeout=5000")
    return con


def sqlite_fetcher(path: str, mode: str, pool_size: int) -> tuple[Fetch, Callable[[], Any]]:
    """A coroutine running one SQLite statement and returning its first row, made the way
    ``mode`` says, and a coroutine function to open what it needs at start-up."""
    if mode == "direct":
        con = _connect_sqlite(path)

        async def fetch_direct(sql: str, params: tuple[Any, ...]) -> Row:
            row: Row = con.execute(sql, params).fetchone()
            return row

        async def start_direct() -> None:
            return None

        return fetch_direct, start_direct

    if mode == "thread":
        local = threading.local()

        def run(sql: str, params: tuple[Any, ...]) -> Row:
            con = getattr(local, "con", None)
            if con is None:
                con = local.con = _connect_sqlite(path)
            row: Row = con.execute(sql, params).fetchone()
            return row

        async def fetch_thread(sql: str, params: tuple[Any, ...]) -> Row:
            return await run_in_threadpool(run, sql, params)

        async def start_thread() -> None:
            return None

        return fetch_thread, start_thread

    if mode == "aiosqlite":
        import aiosqlite

        pool: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()

        async def start_aiosqlite() -> None:
            for _ in range(pool_size):
                con = await aiosqlite.connect(path, isolation_level=None)
                await con.execute("PRAGMA foreign_keys=ON")
                await con.execute("PRAGMA busy_timeout=5000")
                pool.put_nowait(con)

        async def fetch_aiosqlite(sql: str, params: tuple[Any, ...]) -> Row:
            con = await pool.get()
            try:
                async with con.execute(sql, params) as cur:
                    row: Row = await cur.fetchone()  # type: ignore[assignment]
                    return row
            finally:
                pool.put_nowait(con)

        return fetch_aiosqlite, start_aiosqlite

    raise ValueError(f"unknown sqlite mode {mode!r}")


def pg_fetcher(dsn: str, pool_size: int) -> tuple[Fetch, Callable[[], Any]]:
    import asyncpg

    holder: dict[str, Any] = {}

    async def no_reset(_: Any) -> None:
        return None

    async def start_pg() -> None:
        # as dbplane's read pool (PostgresqlEngine.direct_read): no reset round trip
        holder["pool"] = await asyncpg.create_pool(dsn, min_size=min(5, pool_size),
                                                   max_size=pool_size, reset=no_reset)

    async def fetch_pg(sql: str, params: tuple[Any, ...]) -> Row:
        row = await holder["pool"].fetchrow(sql, *params)
        return tuple(row) if row is not None else None

    return fetch_pg, start_pg


def build_app(fetch: Fetch, start: Callable[[], Any], sql: dict[str, str]) -> Starlette:
    def json_response(body: str, headers: dict[str, str] | None = None) -> Response:
        return Response(body.encode(), media_type="application/json", headers=headers)

    async def list_items(_: Request) -> Response:
        row = await fetch(sql["list"], ())
        assert row is not None
        return json_response(row[0])

    async def get_item(request: Request) -> Response:
        try:
            item_id = int(request.path_params["id"])
        except ValueError:
            return Response(b'{"detail":"bad id"}', status_code=400,
                            media_type="application/json")
        row = await fetch(sql["get"], (item_id,))
        if row is None or row[0] is None:
            return Response(b'{"detail":"not found"}', status_code=404,
                            media_type="application/json")
        return json_response(row[0])

    async def filter_items(_: Request) -> Response:
        row = await fetch(sql["filter"], (500,))
        assert row is not None
        return json_response(row[0])

    async def count_items(_: Request) -> Response:
        row = await fetch(sql["count"], ())
        assert row is not None
        body, total = row
        # the page is ORDER BY id LIMIT 50 from offset 0
        shown = min(LIMIT, int(total))
        span = f"0-{shown - 1}" if shown else "*"
        return json_response(body, {"Content-Range": f"{span}/{total}"})

    async def health(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await start()
        yield

    return Starlette(routes=[
        Route("/health", health),
        Route("/list", list_items),
        Route("/items/{id}", get_item),
        Route("/filter", filter_items),
        Route("/count", count_items),
    ], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sqlite", metavar="PATH", help="the SQLite file")
    source.add_argument("--pg-dsn", metavar="URL", help="the PostgreSQL database (asyncpg)")
    parser.add_argument("--sqlite-mode", choices=("thread", "aiosqlite", "direct"),
                        default="thread")
    parser.add_argument("--pool-size", type=int, default=None,
                        help="aiosqlite connections (default 10) or asyncpg pool maximum "
                        "(default 20), as dbplane's engine pools")
    parser.add_argument("--no-tiebreak", action="store_true",
                        help="order /filter by score alone (ties in any order)")
    args = parser.parse_args()
    if args.sqlite:
        fetch, start = sqlite_fetcher(args.sqlite, args.sqlite_mode, args.pool_size or 10)
        sql = SQLITE_SQL
    else:
        fetch, start = pg_fetcher(args.pg_dsn, args.pool_size or 20)
        sql = PG_SQL
    if args.no_tiebreak:
        sql = {**sql, "filter": sql["filter"].replace("score DESC, id DESC", "score DESC")}
    app = build_app(fetch, start, sql)
    # the same settings as `dbplane serve` (src/dbplane/cli/serve.py), the loop and the
    # HTTP parser named so that a missing uvloop/httptools fails instead of falling back
    uvicorn.run(app, host=args.host, port=args.port, loop="uvloop", http="httptools",
                log_config=None, access_log=False, server_header=False, workers=1)


if __name__ == "__main__":
    main()
