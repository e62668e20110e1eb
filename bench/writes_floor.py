"""The floor of bench/writes.py: a bare Starlette app doing the benchmark's writes.

Each request parses the JSON body, runs ONE statement that writes and renders the written
rows as JSON in the database (``INSERT ... RETURNING json_object(...)`` on SQLite and
MariaDB, ``WITH i AS (INSERT ... RETURNING ...) SELECT row_to_json(i)`` on PostgreSQL) in
one transaction, and answers those bytes: no authentication, no schema lookup, no
planning, no value checks. Served by uvicorn with dbplane's settings, so the gap between it
and dbplane is what dbplane's own per-request work costs.

    POST   /items         {"data": {...}} one row, or {"data": [...]} several (one
                          multi-row statement)
    PATCH  /items/{id}    {"data": {...}} the given columns; the row, or 404
    DELETE /items/{id}    204, or 404
    GET    /items/{id}    the row (reads measured while writes run)

SQLite runs on the event loop (one read-write connection, WAL); PostgreSQL through an
asyncpg pool (20 connections); MariaDB through an asyncmy pool (20 connections).

    python bench/writes_floor.py --port 8001 --sqlite bench.db --table items_f
    python bench/writes_floor.py --port 8002 --url postgresql://postgres@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = ("title", "body", "score", "active", "created_on")
ALL = ("id", *COLUMNS)

Run = Callable[[str, list[Any]], Awaitable[list[tuple[Any, ...]]]]


def _sqlite_object(cols: tuple[str, ...]) -> str:
    parts = []
    for c in cols:
        v = f"json(CASE {c} WHEN 0 THEN 'false' WHEN 1 THEN 'true' END)" if c == "active" \
            else c
        parts.append(f"'{c}', {v}")
    return f"json_object({', '.join(parts)})"


def _mysql_object(cols: tuple[str, ...]) -> str:
    parts = []
    for c in cols:
        v = f"{c} <> 0" if c == "active" else f"`{c}`"
        parts.append(f"'{c}', {v}")
    return f"JSON_OBJECT({', '.join(parts)})"


class Sql:
    """The statements of one engine, for one table."""

    def __init__(self, kind: str, table: str) -> None:
        self.kind = kind
        self.table = table

    def mark(self, i: int) -> str:
        return f"${i}" if self.kind == "postgresql" else "?" if self.kind == "sqlite" \
            else "%s"

    def insert(self, cols: tuple[str, ...], n: int) -> str:
        k = len(cols)
        groups = ", ".join(
            "(" + ", ".join(self.mark(r * k + j + 1) for j in range(k)) + ")"
            for r in range(n))
        names = ", ".join(cols)
        if self.kind == "postgresql":
            return (f"WITH i AS (INSERT INTO {self.table} ({names}) VALUES {groups} "
                    f"RETURNING {', '.join(ALL)}) SELECT row_to_json(i)::text FROM i")
        obj = _sqlite_object(ALL) if self.kind == "sqlite" else _mysql_object(ALL)
        return f"INSERT INTO {self.table} ({names}) VALUES {groups} RETURNING {obj}"

    def update(self, cols: tuple[str, ...]) -> str:
        sets = ", ".join(f"{c} = {self.mark(i + 1)}" for i, c in enumerate(cols))
        key = self.mark(len(cols) + 1)
        if self.kind == "postgresql":
            return (f"WITH u AS (UPDATE {self.table} SET {sets} WHERE id = {key} "
                    f"RETURNING {', '.join(ALL)}) SELECT row_to_json(u)::text FROM u")
        if self.kind == "sqlite":
            return f"UPDATE {self.table} SET {sets} WHERE id = {key} " \
                   f"RETURNING {_sqlite_object(ALL)}"
        return f"UPDATE {self.table} SET {sets} WHERE id = {key}"  # no RETURNING on MariaDB

    def select(self) -> str:
        if self.kind == "postgresql":
            return (f"SELECT row_to_json(t)::text FROM (SELECT {', '.join(ALL)} FROM "
                    f"{self.table} WHERE id = $1) t")
        if self.kind == "sqlite":
            return f"SELECT {_sqlite_object(ALL)} FROM {self.table} WHERE id = ?"
        return f"SELECT {_mysql_object(ALL)} FROM {self.table} WHERE id = %s"

    def delete(self) -> str:
        return f"DELETE FROM {self.table} WHERE id = {self.mark(1)} RETURNING id"


def sqlite_runner(path: str) -> tuple[Run, Run, Callable[[], Any]]:
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA busy_timeout=5000")

    async def write(sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
        con.execute("BEGIN IMMEDIATE")
        try:
            rows = con.execute(sql, args).fetchall()
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        return rows

    async def read(sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
        return con.execute(sql, args).fetchall()

    async def start() -> None:
        return None

    return write, read, start


def pg_runner(url: str) -> tuple[Run, Run, Callable[[], Any]]:
    import asyncpg

    holder: dict[str, Any] = {}

    async def start() -> None:
        holder["pool"] = await asyncpg.create_pool(url, min_size=5, max_size=20)

    async def write(sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
        # one statement outside a transaction block: atomic on its own
        return [tuple(r) for r in await holder["pool"].fetch(sql, *args)]

    return write, write, start


def build_app(kind: str, table: str, write: Run, read: Run,
              start: Callable[[], Any]) -> Starlette:
    sql = Sql(kind, table)

    def json_response(body: bytes, status: int = 200) -> Response:
        return Response(body, status_code=status, media_type="application/json")

    def value(col: str, v: Any) -> Any:
        if col == "active" and kind != "postgresql":
            return 1 if v else 0
        return v

    async def create(request: Request) -> Response:
        data = orjson.loads(await request.body())["data"]
        rows = data if isinstance(data, list) else [data]
        cols = tuple(c for c in COLUMNS if c in rows[0])
        args = [value(c, r.get(c)) for r in rows for c in cols]
        out = await write(sql.insert(cols, len(rows)), args)
        texts = [r[0].encode() if isinstance(r[0], str) else r[0] for r in out]
        body = b"[" + b",".join(texts) + b"]" if isinstance(data, list) else texts[0]
        return json_response(body, 201)

    async def update(request: Request) -> Response:
        key = int(request.path_params["id"])
        data = orjson.loads(await request.body())["data"]
        cols = tuple(c for c in COLUMNS if c in data)
        args = [value(c, data[c]) for c in cols] + [key]
        out = await write(sql.update(cols), args)
        if not out:
            return json_response(b'{"detail":"not found"}', 404)
        text = out[0][0]
        return json_response(text.encode() if isinstance(text, str) else text)

    async def delete(request: Request) -> Response:
        out = await write(sql.delete(), [int(request.path_params["id"])])
        return Response(status_code=204 if out else 404)

    async def get(request: Request) -> Response:
        out = await read(sql.select(), [int(request.path_params["id"])])
        if not out or out[0][0] is None:
            return json_response(b'{"detail":"not found"}', 404)
        text = out[0][0]
        return json_response(text.encode() if isinstance(text, str) else text)

    async def health(_: Request) -> Response:
        return json_response(b'{"status":"ok"}')

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await start()
        yield

    return Starlette(routes=[
        Route("/health", health),
        Route("/items", create, methods=["POST"]),
        Route("/items/{id}", update, methods=["PATCH"]),
        Route("/items/{id}", delete, methods=["DELETE"]),
        Route("/items/{id}", get, methods=["GET"]),
    ], lifespan=lifespan)


def mysql_write_runner(url: str, table: str) -> tuple[Run, Run, Callable[[], Any]]:
    """MariaDB: statements on an asyncmy pool; an UPDATE is followed by the row's read in
    the same transaction (MariaDB has INSERT/DELETE ... RETURNING, not UPDATE's)."""
    import asyncmy
    from asyncmy.constants.CLIENT import FOUND_ROWS

    parts = urlsplit(url)
    holder: dict[str, Any] = {}
    select = Sql("mysql", table).select()

    async def start() -> None:
        holder["pool"] = await asyncmy.create_pool(
            host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
            password=parts.password or "", db=parts.path.lstrip("/"), minsize=5, maxsize=20,
            autocommit=False, init_command="SET time_zone = '+00:00'",
            client_flag=FOUND_ROWS)  # an UPDATE counts the rows it matched, as dbplane's

    async def write(sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
        async with holder["pool"].acquire() as con:
            try:
                async with con.cursor() as cur:
                    await cur.execute(sql, args)
                    if sql.startswith("UPDATE"):
                        if cur.rowcount == 0:
                            rows: list[Any] = []
                        else:
                            await cur.execute(select, [args[-1]])
                            rows = list(await cur.fetchall())
                    else:
                        rows = list(await cur.fetchall()) if cur.description else []
                await con.commit()
            except BaseException:
                await con.rollback()
                raise
        return [tuple(r) for r in rows]

    return write, write, start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--table", default="items_f")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sqlite", metavar="PATH")
    source.add_argument("--url", metavar="URL", help="postgresql://... or mysql://...")
    args = parser.parse_args()
    if args.sqlite:
        kind = "sqlite"
        write, read, start = sqlite_runner(args.sqlite)
    elif args.url.startswith("postgres"):
        kind = "postgresql"
        write, read, start = pg_runner(args.url)
    else:
        kind = "mysql"
        write, read, start = mysql_write_runner(args.url, args.table)
    app = build_app(kind, args.table, write, read, start)
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
                log_config=None, access_log=False, server_header=False, workers=1)


if __name__ == "__main__":
    main()
