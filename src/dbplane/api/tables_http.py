"""What the Tables API's answers say in HTTP: the Content-Range of a counted list, and the
OpenAPI document of one database's tables (``/v1/databases/{db}/openapi.json``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from dbplane.query.model import ColumnInfo, TableInfo
from dbplane.services.table_writes import WriteAnswer
from dbplane.services.tables import ReadableTables

__all__ = ["content_range", "link_next", "table_openapi", "write_answer"]

Headers = list[tuple[bytes, bytes]]
_JSON = (b"content-type", b"application/json")


def link_next(path: str, query: bytes, after: str) -> str:
    """``Link: <path?…&after=cursor>; rel="next"``: the request's query string with its
    ``after`` replaced."""
    kept = [(k, v) for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            if k != "after"]
    return f'<{path}?{urlencode([*kept, ("after", after)])}>; rel="next"'


def write_answer(answer: WriteAnswer, kind: str, path: str) -> tuple[int, Headers, bytes]:
    """The status, headers and body of a write's answer. ``kind``: ``create``
    (201, and ``Location`` of the one record created), ``record`` (an update or delete
    by key: 200 with the record, or 204), ``bulk`` (a PATCH or DELETE of the collection:
    200 with the rows, or 204; ``Content-Range`` gives how many). ``path``: the request's
    path (the collection's, for a create)."""
    headers: Headers = []
    body = answer.body
    if kind == "create":
        status = 201
        if answer.key is not None:
            headers.append((b"location", f"{path}/{quote(answer.key, safe=',')}".encode()))
    else:
        status = 200 if body is not None else 204
        if kind == "bulk" and answer.affected is not None:
            n = answer.affected
            span = f"0-{n - 1}/{n}" if body is not None and n else f"*/{n}"
            headers.append((b"content-range", span.encode()))
    if body is not None:
        headers.append(_JSON)
    return status, headers, body or b""


def content_range(page: tuple[int, int | None, int]) -> str:
    """``first-last/total`` of a counted list's (offset, limit, total): the page's size
    follows from the total, offset and limit, so the body is never parsed to count its
    rows."""
    offset, limit, total = page
    size = max(0, total - offset)
    if limit is not None:
        size = min(size, limit)
    if size == 0:
        return f"*/{total}"
    return f"{offset}-{offset + size - 1}/{total}"


_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "float": {"type": "number"},
    "decimal": {"type": "string", "pattern": r"^-?\d+(\.\d+)?$",
                "description": "exact decimal, as a string"},
    "text": {"type": "string"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "json": {},
    "binary": {"type": "string", "pattern": "^([0-9a-f]{2})*$",
               "description": "bytes as lower-case hex"},
    "uuid": {"type": "string", "format": "uuid"},
    "other": {"type": "string"},
}


def _column_schema(c: ColumnInfo) -> dict[str, Any]:
    base = dict(_KIND_SCHEMAS.get(c.kind, {}))
    base["description"] = (base.get("description", "") + f" ({c.type_sql})").strip()
    if c.nullable and "type" in base:
        base["type"] = [base["type"], "null"]
    return base


def _row_schema(info: TableInfo) -> dict[str, Any]:
    return {"type": "object",
            "properties": {c.name: _column_schema(c) for c in info.columns}}


def table_openapi(readable: ReadableTables, base_path: str) -> dict[str, Any]:
    """An OpenAPI 3.1 document of one database's tables (those the caller may read)."""
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {}
    problem: dict[str, Any] = {"description": "problem details",
               "content": {"application/problem+json": {"schema": {"type": "object"}}}}
    errors: dict[str, Any] = {str(s): problem for s in (400, 401, 403, 404, 409)}
    for info in readable.tables:
        name = info.name
        ref = {"$ref": f"#/components/schemas/{_schema_name(name)}"}
        components[_schema_name(name)] = _row_schema(info)
        path = f"{base_path}/{_path_segment(name)}"
        list_params = [
            {"name": p, "in": "query", "required": False, "schema": {"type": "string"},
             "description": d} for p, d in (
                ("limit", "rows per page"), ("offset", "rows to skip"),
                ("sort", "column[:asc|:desc], comma separated"), ("fields", "a,b"),
                ("count", "exact: the total in Content-Range"),
                ("include", "relations to embed"),
                ("includeContentType", "true: answer {data, contentType}"),
                ("after", "keyset pages: '' for the first, then the cursor of the Link "
                          "rel=next header"),
                ("groupBy", "group columns, a,b (or groupBy[]=a)"),
                ("distinct", "a,b: the distinct combinations of these columns"),
                ("export", "csv: every matching row as CSV, streamed"))]
        list_params.append({
            "name": "aggregate", "in": "query", "required": False, "style": "deepObject",
            "explode": True, "schema": {"type": "object"},
            "description": "aggregate[count|countDistinct|sum|avg|min|max]=col (count=*)"})
        ops: dict[str, Any] = {"get": {
            "summary": f"List rows of {name}", "parameters": list_params,
            "responses": {"200": {
                "description": "rows (or, with aggregate/groupBy/distinct, the groups)",
                "headers": {"Link": {"description": "keyset pages: the next page",
                                     "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"type": "array", "items": {
                    "anyOf": [ref, {"type": "object"}]}}},
                            "text/csv": {"schema": {"type": "string"}}}}, **errors}}}
        if info.kind == "table":
            prefer = {"name": "Prefer", "in": "header", "required": False,
                      "schema": {"type": "string"}, "description":
                      "return=representation|minimal, resolution=merge-duplicates|"
                      "ignore-duplicates (upsert), missing=default, max-affected=N "
                      "(bulk PATCH/DELETE)"}
            filters = {"name": "filters", "in": "query", "required": False,
                       "style": "deepObject", "explode": True,
                       "schema": {"type": "object"},
                       "description": "filters[column][$op]=value: the rows to touch"}
            every = {"name": "all", "in": "query", "required": False,
                     "schema": {"type": "boolean"},
                     "description": "true: touch every row (instead of filters)"}
            bulk_answer = {"description": "the rows touched (Content-Range: 0-(N-1)/N)",
                           "content": {"application/json": {"schema": {
                               "type": "array", "items": ref}}}}
            ops["patch"] = {
                "summary": f"Update the rows of {name} the filters keep",
                "parameters": [filters, every, prefer],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "required": ["data"],
                               "properties": {"data": ref}}}}},
                "responses": {"200": bulk_answer,
                              "204": {"description": "return=minimal: Content-Range */N"},
                              **errors}}
            ops["delete"] = {
                "summary": f"Delete the rows of {name} the filters keep",
                "parameters": [filters, every, prefer],
                "responses": {"200": {**bulk_answer,
                                      "description": "return=representation: the rows "
                                                     "deleted"},
                              "204": {"description": "deleted: Content-Range */N"},
                              **errors}}
            ops["post"] = {
                "summary": f"Create (or, with Prefer: resolution, upsert) rows in {name}",
                "parameters": [
                    prefer,
                    {"name": "on_conflict", "in": "query", "required": False,
                     "schema": {"type": "string"},
                     "description": "an upsert's unique key, col,col (default: the "
                                    "primary key)"}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "required": ["data"], "properties": {
                        "data": {"oneOf": [ref, {"type": "array", "items": ref}]}}}}}},
                "responses": {"201": {"description": "the stored record for {\"data\": "
                                      "{...}}; an array of the stored records, in the "
                                      "order given, for {\"data\": [...]}",
                                      "content": {"application/json": {"schema": {
                                          "anyOf": [{**ref}, {"type": "array",
                                                              "items": ref}]}}}},
                              "413": problem, **errors}}
            ops["post"]["responses"]["201"]["headers"] = {"Location": {
                "description": "the created record (one record created)",
                "schema": {"type": "string"}}}
        paths[path] = ops
        if info.primary_key:
            key_doc = ("the primary key" if len(info.primary_key) == 1 else
                       "the primary key values (" + ", ".join(info.primary_key)
                       + r") joined by ',' (a ',' or '\' inside a value escaped with '\')")
            key_param = [{"name": "id", "in": "path", "required": True,
                          "schema": {"type": "string"}, "description": key_doc}]
            one: dict[str, Any] = {"get": {
                "summary": f"One record of {name}", "parameters": key_param,
                "responses": {"200": {"description": "the record", "content": {
                    "application/json": {"schema": ref}}}, **errors}}}
            if info.kind == "table":
                body = {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["data"], "properties": {"data": ref}}}}}
                for verb in ("put", "patch"):
                    one[verb] = {"summary": f"Update a record of {name}",
                                 "parameters": key_param, "requestBody": body,
                                 "responses": {"200": {"description": "the record",
                                                       "content": {"application/json": {
                                                           "schema": ref}}}, **errors}}
                one["delete"] = {"summary": f"Delete a record of {name}",
                                 "parameters": key_param,
                                 "responses": {"204": {"description": "deleted"}, **errors}}
            paths[path + "/{id}"] = one
    return {
        "openapi": "3.1.0",
        "info": {"title": f"dbplane tables of {readable.resource_id}",
                 "version": readable.version or "live"},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


def _schema_name(table: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in table) or "table"


def _path_segment(table: str) -> str:
    return quote(table, safe="")

