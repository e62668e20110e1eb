"""The Tables API: ``/v1/databases/{db}/tables/...`` and, for the default database,
``/v1/tables/...``. List bodies are the bytes the database rendered.

The GETs of rows and records are answered by ``api.fast`` before they reach these routes
(which describe them in the OpenAPI document, and serve them should the front door not
take them); every other method is served here."""


from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from dbplane.api.deps import ContextDep, PrincipalDep
from dbplane.api.fast import LARGE_BODY
from dbplane.api.tables_http import content_range, link_next, table_openapi, write_answer
from dbplane.services import table_writes as writes
from dbplane.services import tables as svc
from dbplane.services.table_writes import WriteAnswer

router = APIRouter(tags=["tables"])

_ROW_ARRAY: dict[int | str, dict[str, Any]] = {"200": {
                      "description": "the rows, as a JSON array (or, with "
                      "includeContentType=true, {data, contentType})",
                      "content": {"application/json": {"schema": {
                          "anyOf": [{"type": "array", "items": {"type": "object"}},
                                    {"type": "object"}]}}}}}
_RECORD: dict[str, Any] = {"description": "the record", "content": {"application/json": {"schema": {
    "type": "object"}}}}
_CREATED: dict[str, Any] = {"description": "the stored record, or for {\"data\": [...]} "
                            "the stored records as an array in the order given",
                            "content": {"application/json": {"schema": {"anyOf": [
                                {"type": "object"},
                                {"type": "array", "items": {"type": "object"}}]}}}}
_TOO_MANY: dict[str, Any] = {"description": "more rows than DBPLANE_TABLES_MAX_WRITE_ROWS",
                             "content": {"application/problem+json": {"schema": {
                                 "type": "object"}}}}
_WRITE_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "required": ["data"], "properties": {
        "data": {"anyOf": [{"type": "object"},
                           {"type": "array", "items": {"type": "object"}}]}}}}}}}


class TablesReloaded(BaseModel):
    tables: int


def _prefer(request: Request) -> list[str]:
    return request.headers.getlist("prefer")


def _answer(answer: WriteAnswer, kind: str, request: Request) -> Response:
    status, headers, body = write_answer(answer, kind, request.url.path)
    return Response(content=body, status_code=status,
                    headers={k.decode(): v.decode() for k, v in headers})


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content=body, status_code=status, media_type="application/json",
                    headers=headers)


async def _path_db(db: str) -> str | None:
    """The ``{db}`` path parameter: a database's id or resource_id."""
    return db


async def _default_db() -> str | None:
    return None


# no `from __future__ import annotations` here: the handlers below are closures whose
# annotations name `DbRef`, which FastAPI must see evaluated
def _routes(prefix: str, with_db: bool) -> None:
    """Register the Tables API under ``prefix`` (``{db}`` in it when ``with_db``)."""
    DbRef = Annotated[str | None, Depends(_path_db if with_db else _default_db)]

    @router.get(f"{prefix}", summary="List tables and views",
                name=f"list_tables{'' if with_db else '_default'}")
    async def list_tables(db: DbRef, ctx: ContextDep,
                          principal: PrincipalDep) -> list[dict[str, Any]]:
        """Every table and view the caller may read: columns (type, nullability,
        default), primary key, foreign keys and the relations ``include`` accepts."""
        return await svc.describe_tables(ctx, principal, db)

    @router.post(f"{prefix}/reload", response_model=TablesReloaded,
                 name=f"reload_tables{'' if with_db else '_default'}")
    async def reload_tables(db: DbRef, ctx: ContextDep,
                            principal: PrincipalDep) -> TablesReloaded:
        """Read the database's schema again now (changes made through dbplane and ones
        seen on a 404 or 400 are picked up without this)."""
        count = await svc.reload_schema(ctx, principal, db)
        return TablesReloaded(tables=count)

    @router.get(f"{prefix}/{{table}}", responses=_ROW_ARRAY,
                name=f"list_rows{'' if with_db else '_default'}")
    async def list_rows(table: str, db: DbRef, request: Request, ctx: ContextDep,
                        principal: PrincipalDep) -> Response:
        """Rows of a table or view: ``limit``, ``offset``, ``sort``, ``fields``,
        ``filters[col][$op]``, ``$and``/``$or`` groups, ``include``, ``count=exact``
        (total in ``Content-Range``), ``includeContentType``. See docs/tables.md."""
        answer = await svc.list_rows(ctx, principal, db, table,
                                     request.scope["query_string"])
        headers = {"Content-Range": content_range(answer.page)} if answer.page else {}
        if answer.next_after is not None:
            headers["Link"] = link_next(request.url.path, request.scope["query_string"],
                                        answer.next_after)
        return _json(answer.body, headers=headers)

    @router.post(f"{prefix}/{{table}}", status_code=201, openapi_extra=_WRITE_BODY,
                 responses={201: _CREATED, 413: _TOO_MANY},
                 name=f"create_rows{'' if with_db else '_default'}")
    async def create_rows(table: str, db: DbRef, request: Request, ctx: ContextDep,
                          principal: PrincipalDep) -> Response:
        """Create a record from ``{"data": {...}}``, or several in one transaction from
        ``{"data": [...]}``; answers what was stored (generated ids and defaults).
        ``Prefer: resolution=merge-duplicates|ignore-duplicates`` with
        ``on_conflict=col,col`` (default: the primary key) upserts; ``Prefer:
        return=minimal`` answers 201 with ``Location`` only."""
        raw = await request.body()
        if len(raw) > LARGE_BODY and await request.is_disconnected():
            return Response(status_code=499)  # nobody to answer: nothing written
        answer = await writes.create_rows(ctx, principal, db, table, raw,
                                          request.scope["query_string"], _prefer(request))
        return _answer(answer, "create", request)

    async def update_where(table: str, db: DbRef, request: Request, ctx: ContextDep,
                           principal: PrincipalDep) -> Response:
        answer = await writes.update_rows(ctx, principal, db, table, await request.body(),
                                          request.scope["query_string"], _prefer(request))
        return _answer(answer, "bulk", request)

    router.add_api_route(
        f"{prefix}/{{table}}", update_where, methods=["PATCH"],
        name=f"update_rows{'' if with_db else '_default'}",
        summary="Update every row the filters keep (filters[...] or all=true)",
        description="One transaction; answers the changed rows (Prefer: return=minimal: "
        "204), Content-Range */N; Prefer: max-affected=N refuses more.",
        responses={200: _ROW_ARRAY["200"]}, openapi_extra=_WRITE_BODY)

    async def delete_where(table: str, db: DbRef, request: Request, ctx: ContextDep,
                           principal: PrincipalDep) -> Response:
        answer = await writes.delete_rows(ctx, principal, db, table,
                                          request.scope["query_string"], _prefer(request))
        return _answer(answer, "bulk", request)

    router.add_api_route(
        f"{prefix}/{{table}}", delete_where, methods=["DELETE"],
        name=f"delete_rows{'' if with_db else '_default'}",
        summary="Delete every row the filters keep (filters[...] or all=true)",
        description="One transaction; 204 with Content-Range */N (Prefer: "
        "return=representation: 200 with the deleted rows); Prefer: max-affected=N "
        "refuses more.", status_code=204, response_class=Response)

    @router.get(f"{prefix}/{{table}}/{{key}}", responses={200: _RECORD},
                name=f"get_row{'' if with_db else '_default'}")
    async def get_row(table: str, key: str, db: DbRef, request: Request, ctx: ContextDep,
                      principal: PrincipalDep) -> Response:
        """One record by primary key; a composite key is its values joined by ``,``."""
        body = await svc.get_row(ctx, principal, db, table, key,
                                 request.scope["query_string"])
        return _json(body)

    async def update(table: str, key: str, db: DbRef, request: Request, ctx: ContextDep,
                     principal: PrincipalDep) -> Response:
        answer = await writes.update_row(ctx, principal, db, table, key,
                                         await request.body(),
                                         request.scope["query_string"], _prefer(request))
        return _answer(answer, "record", request)

    for method in ("PUT", "PATCH"):
        router.add_api_route(
            f"{prefix}/{{table}}/{{key}}", update, methods=[method],
            name=f"{method.lower()}_row{'' if with_db else '_default'}",
            summary="Update the given columns of a record", responses={200: _RECORD},
            openapi_extra=_WRITE_BODY)

    @router.delete(f"{prefix}/{{table}}/{{key}}", status_code=204, response_class=Response,
                   name=f"delete_row{'' if with_db else '_default'}")
    async def delete_row(table: str, key: str, db: DbRef, request: Request, ctx: ContextDep,
                         principal: PrincipalDep) -> Response:
        answer = await writes.delete_row(ctx, principal, db, table, key,
                                         request.scope["query_string"], _prefer(request))
        return _answer(answer, "record", request)


_routes("/databases/{db}/tables", with_db=True)
_routes("/tables", with_db=False)


@router.get("/databases/{db}/openapi.json", summary="OpenAPI of one database's tables")
async def database_openapi(db: str, ctx: ContextDep,
                           principal: PrincipalDep) -> dict[str, Any]:
    """An OpenAPI 3.1 document of this database's tables and views, generated from the
    live schema: every column with its type. Kept out of the main document."""
    return table_openapi(await svc.readable_tables(ctx, principal, db),
                         f"/v1/databases/{db}/tables")
