"""The Tables API's hot path: row and record GETs, and writes, answered before FastAPI.

A GET of rows (``/v1/databases/{db}/tables/{table}``, ``/v1/tables/{table}``) or of one
record (``.../{table}/{key}``) is most of the traffic, and on SQLite the read itself takes
a few tens of microseconds. Routing it through FastAPI's middleware stack and router
(telemetry check, body limit, exit stack, exception middleware, matching every route)
costs as much again. ``FrontDoor`` answers these requests straight from the ASGI call,
with the same service functions (``services.tables.list_rows`` / ``get_row``) the
FastAPI routes use, and the same problem+json answers for errors (``problem_response``);
every other request, and these paths with any other method, go on to the app.

The FastAPI routes of the same paths stay: they describe the endpoints in the OpenAPI
document and serve what the front door does not take (it takes GET and HEAD only).
FastAPI's native telemetry and any middleware added to the app do not see the requests
the front door answers.

Writes take the same way (a create costs little more than a read on SQLite): POST of
rows (not ``.../tables/reload``, the app's own route), PUT/PATCH/DELETE of a record.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.types import Receive, Scope, Send

from dbplane.api.errors import problem_response
from dbplane.api.tables_http import content_range, link_next, write_answer
from dbplane.services import table_writes as writes
from dbplane.services import tables as svc
from dbplane.services.auth import authenticate
from dbplane.services.context import AppContext
from dbplane.services.table_export import export_csv, wants_csv

__all__ = ["FrontDoor", "match_tables_read"]

_DATABASES = "/v1/databases/"
_DEFAULT = "/v1/tables/"
_JSON = (b"content-type", b"application/json")
_WRITES = {"POST": (False,), "PUT": (True,), "PATCH": (True, False), "DELETE": (True, False)}
"""The write methods the front door takes, and whether each addresses a record (a key),
the collection, or either."""
LARGE_BODY = 65536
"""A body past this size is worth checking that its client is still there before the
write starts: a client gone while a big body was read gets no write."""


def match_tables_read(path: str) -> tuple[str | None, str, str | None] | None:
    """``(db, table, key)`` of a rows or record path (``db`` None for the default
    database, ``key`` None for rows), or None for any other path. Segments match as the
    routes' ``{param}`` do: one or more characters other than ``/``."""
    if path.startswith(_DATABASES):
        parts = path[len(_DATABASES):].split("/")
        if len(parts) in (3, 4) and parts[1] == "tables" and all(parts):
            return parts[0], parts[2], parts[3] if len(parts) == 4 else None
        return None
    if path.startswith(_DEFAULT):
        parts = path[len(_DEFAULT):].split("/")
        if len(parts) in (1, 2) and all(parts):
            return None, parts[0], parts[1] if len(parts) == 2 else None
    return None


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def _authorization(scope: Scope) -> str | None:
    return _header(scope, b"authorization")


class FrontDoor:
    """Serves the Tables API's GETs of rows and records; ``ctx`` is set while the app
    runs (between its start-up and shutdown), and nothing is taken without it."""

    def __init__(self) -> None:
        self.ctx: AppContext | None = None

    def takes(self, scope: Scope) -> tuple[str | None, str, str | None] | None:
        if self.ctx is None or scope["type"] != "http":
            return None
        method = scope["method"]
        if method not in ("GET", "HEAD") and method not in _WRITES:
            return None
        path: str = scope["path"]
        root = scope.get("root_path")
        if root and path.startswith(root):
            path = path[len(root):]
        target = match_tables_read(path)
        if target is None or method in ("GET", "HEAD"):
            return target
        if (target[2] is not None) not in _WRITES[method] or (
                target[2] is None and target[1] == "reload"):
            return None  # the app answers (its reload route, or a 405)
        return target

    async def serve(self, target: tuple[str | None, str, str | None], scope: Scope,
                    receive: Receive, send: Send) -> None:
        ctx = self.ctx
        assert ctx is not None
        db, table, key = target
        headers: list[tuple[bytes, bytes]]
        if scope["method"] not in ("GET", "HEAD"):
            await self._write(ctx, target, scope, receive, send)
            return
        if key is None and wants_csv(scope["query_string"], _header(scope, b"accept")):
            await self._export(ctx, table, db, scope, receive, send)
            return
        try:
            principal = await authenticate(ctx, _authorization(scope))
            if key is None:
                answer = await svc.list_rows(ctx, principal, db, table,
                                             scope["query_string"])
                body = answer.body
                headers = [_JSON, (b"content-length", str(len(body)).encode())]
                if answer.page is not None:
                    headers.append((b"content-range", content_range(answer.page).encode()))
                if answer.next_after is not None:
                    headers.append((b"link", link_next(scope["path"], scope["query_string"],
                                                       answer.next_after).encode()))
            else:
                body = await svc.get_row(ctx, principal, db, table, key,
                                         scope["query_string"])
                headers = [_JSON, (b"content-length", str(len(body)).encode())]
        except Exception as exc:  # the app's handlers would answer it: answer it so
            await problem_response(exc)(scope, receive, send)
            return
        start: dict[str, Any] = {"type": "http.response.start", "status": 200,
                                 "headers": headers}
        await send(start)
        await send({"type": "http.response.body",
                    "body": body if scope["method"] == "GET" else b""})

    async def _export(self, ctx: AppContext, table: str, db: str | None, scope: Scope,
                      receive: Receive, send: Send) -> None:
        try:
            principal = await authenticate(ctx, _authorization(scope))
            export = await export_csv(ctx, principal, db, table, scope["query_string"])
        except Exception as exc:
            await problem_response(exc)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/csv; charset=utf-8"),
            (b"content-disposition",
             f'attachment; filename="{_filename(table)}.csv"'.encode())]})
        head = scope["method"] == "HEAD"
        try:
            async for chunk in export.chunks:
                if not head:
                    await send({"type": "http.response.body", "body": chunk,
                                "more_body": True})
                if head:
                    break
        finally:
            # the status is sent: a failure part way ends the body short (the client sees
            # the stream cut, not a complete file)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _write(self, ctx: AppContext, target: tuple[str | None, str, str | None],
                     scope: Scope, receive: Receive, send: Send) -> None:
        db, table, key = target
        method = scope["method"]
        query = scope["query_string"]
        prefer = [v.decode("latin-1") for n, v in scope["headers"] if n == b"prefer"]
        try:
            principal = await authenticate(ctx, _authorization(scope))
            raw = await _body(receive)
            if len(raw) > LARGE_BODY and await client_gone(receive):
                return  # nobody to answer: nothing written
            if key is None and method == "POST":
                kind = "create"
                answer = await writes.create_rows(ctx, principal, db, table, raw, query,
                                                  prefer)
            elif key is None:
                kind = "bulk"
                if method == "PATCH":
                    answer = await writes.update_rows(ctx, principal, db, table, raw, query,
                                                      prefer)
                else:
                    answer = await writes.delete_rows(ctx, principal, db, table, query,
                                                      prefer)
            else:
                kind = "record"
                if method == "DELETE":
                    answer = await writes.delete_row(ctx, principal, db, table, key, query,
                                                     prefer)
                else:
                    answer = await writes.update_row(ctx, principal, db, table, key, raw,
                                                     query, prefer)
        except Exception as exc:  # the app's handlers would answer it: answer it so
            await problem_response(exc)(scope, receive, send)
            return
        status, headers, body = write_answer(answer, kind, scope["path"])
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _filename(table: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in table) or "rows"


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def client_gone(receive: Receive) -> bool:
    """Whether the client has disconnected (a message already waiting says so), without
    waiting: as Starlette's ``Request.is_disconnected``."""
    with anyio.CancelScope() as scope:
        scope.cancel()
        message = await receive()
        return bool(message.get("type") == "http.disconnect")
    return False
