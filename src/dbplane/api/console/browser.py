"""The table browser: a page of rows with the Tables API's own query string (filters with
its operators, sort, paging, column choice), and forms to create, edit and delete a row
whose errors are shown next to the field they name."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from dbplane.api.console.web import ConsoleRoute, caller, check_csrf, context_of, render
from dbplane.errors import DbplaneError, TableNotFound
from dbplane.query.keys import format_key
from dbplane.query.operators import OPERATORS
from dbplane.services import databases as databases_svc
from dbplane.services import table_writes as writes_svc
from dbplane.services import tables as tables_svc
from dbplane.services.auth import Principal

__all__ = ["router"]

router = APIRouter(prefix="/console/databases/{db}/tables", route_class=ConsoleRoute,
                   include_in_schema=False)

# the form's own fields, turned into the API's query string by a redirect
_FORM_FIELDS = ("f_col", "f_op", "f_val", "col", "apply_columns")
_FILTER = re.compile(r"^filters\[([^\]]+)\]\[(\$[A-Za-z]+)\]$")
_PAGE_SIZES = (10, 25, 50, 100)


async def _describe(request: Request, principal: Principal, db: str,
                    table: str) -> dict[str, Any]:
    """The table as the API describes it, with ``referenced_by``: the single-column
    foreign keys of the tables the caller may read that refer to it."""
    tables = await tables_svc.describe_tables(context_of(request), principal, db)
    for info in tables:
        if info["name"] == table:
            info["referenced_by"] = [
                {"table": other["name"], "column": fk["columns"][0],
                 "referred_column": fk["referred_columns"][0]}
                for other in tables for fk in other["foreign_keys"]
                if fk["referred_table"] == table and len(fk["columns"]) == 1]
            return info
    raise TableNotFound(table, db)


def _query(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs, safe="[]$:,")


def _canonical(pairs: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """The API query string of a submitted filter/column form; None when it is one
    already."""
    if not any(k in _FORM_FIELDS for k, _ in pairs):
        return None
    values = dict(pairs)
    out = [(k, v) for k, v in pairs if k not in _FORM_FIELDS and k not in ("offset",)]
    col, op = values.get("f_col", ""), values.get("f_op", "")
    if col and op:
        out.append((f"filters[{col}][{op}]", values.get("f_val", "")))
    if "apply_columns" in values:
        out = [(k, v) for k, v in out if k != "fields"]
        chosen = [v for k, v in pairs if k == "col"]
        if chosen:
            out.append(("fields", ",".join(chosen)))
    return out


def _key_of(info: dict[str, Any], row: dict[str, Any]) -> str | None:
    pk = info["primary_key"]
    if not pk or any(c not in row for c in pk):
        return None
    return format_key([str(row[c]) for c in pk])


def _links(info: dict[str, Any], db: str) -> dict[str, tuple[str, str]]:
    """Column → (table, column) it refers to, for single-column foreign keys."""
    out = {}
    for fk in info["foreign_keys"]:
        if len(fk["columns"]) == 1:
            out[fk["columns"][0]] = (fk["referred_table"], fk["referred_columns"][0])
    return out


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@router.get("/{table}")
async def table_page(db: str, table: str, request: Request) -> Response:
    principal = await caller(request)
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    canonical = _canonical(pairs)
    if canonical is not None:
        return RedirectResponse(f"{request.url.path}?{_query(canonical)}", status_code=303)
    ctx = context_of(request)
    info = await _describe(request, principal, db, table)
    database = await databases_svc.get_database(ctx, principal, db)
    values = dict(pairs)
    limit = int(values["limit"]) if values.get("limit", "").isdigit() else 25
    offset = int(values["offset"]) if values.get("offset", "").isdigit() else 0
    api = [(k, v) for k, v in pairs if k not in ("limit", "offset", "count")]
    query = _query([*api, ("limit", str(limit)), ("offset", str(offset)),
                    ("count", "exact")])
    error: DbplaneError | None = None
    rows: list[dict[str, Any]] = []
    total: int | None = None
    try:
        answer = await tables_svc.list_rows(ctx, principal, db, table, query.encode())
        rows = orjson.loads(answer.body)
        total = answer.page[2] if answer.page else None
    except DbplaneError as exc:
        if exc.status >= 500 or exc.status in (401, 403, 404):
            raise
        error = exc
    fields = values.get("fields")
    shown = [c["name"] for c in info["columns"]]
    if fields:
        chosen = fields.split(",")
        shown = [c for c in shown if c in chosen] or shown
    filters = []
    for k, v in pairs:
        m = _FILTER.match(k)
        if m:
            rest = [(k2, v2) for k2, v2 in api if (k2, v2) != (k, v)]
            filters.append({"column": m.group(1), "op": m.group(2), "value": v,
                            "remove": "?" + _query(rest)})
    sort = values.get("sort", "")

    def page_url(new_offset: int) -> str:
        return "?" + _query([*api, ("limit", str(limit)), ("offset", str(new_offset))])

    def sort_url(column: str) -> str:
        desc = sort == column
        rest = [(k, v) for k, v in api if k != "sort"]
        return "?" + _query([*rest, ("sort", f"{column}:desc" if desc else column),
                             ("limit", str(limit))])

    hidden = [(k, v) for k, v in api if k != "fields"]
    links = _links(info, db)
    return render(
        request, "table.html", principal=principal, db=database, info=info, rows=rows,
        shown=shown, total=total, limit=limit, offset=offset, error=error, filters=filters,
        operators=OPERATORS, hidden=hidden, page_url=page_url, sort_url=sort_url,
        sort=sort, key_of=lambda row: _key_of(info, row), show=_show, links=links,
        page_sizes=_PAGE_SIZES, link_url=lambda col, value: (
            f"/console/databases/{quote(db, safe='')}/tables/"
            f"{quote(links[col][0], safe='')}?"
            + _query([(f"filters[{links[col][1]}][$eq]", _show(value))])),
        writable=info["kind"] == "table" and bool(info["primary_key"]),
        can=lambda action: principal.allows(action, (database.id, database.resource_id),
                                            table))


# -- one row ------------------------------------------------------------------------------


def _form_value(column: dict[str, Any], raw: str) -> Any:
    kind = column["kind"]
    try:
        if kind == "integer":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "boolean" and raw in ("true", "false"):
            return raw == "true"
        if kind == "json":
            return orjson.loads(raw)
    except ValueError:
        return raw  # the API names the column and the value it cannot take
    return raw


def _data_of(info: dict[str, Any], form: Any, *, changed_only: bool) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for column in info["columns"]:
        name = column["name"]
        if f"v:{name}" not in form and f"null:{name}" not in form:
            continue
        if form.get(f"null:{name}"):
            value: Any = None
            if changed_only and form.get(f"was-null:{name}"):
                continue
        else:
            raw = str(form.get(f"v:{name}") or "")
            if changed_only and raw == str(form.get(f"was:{name}") or "") and \
                    not form.get(f"was-null:{name}"):
                continue
            if not changed_only and raw == "" and (column["default"] is not None
                                                   or column["autoincrement"]
                                                   or column["nullable"]):
                continue
            value = _form_value(column, raw)
        data[name] = value
    return data


def _row_page(request: Request, principal: Principal, database: Any, info: dict[str, Any],
              row: dict[str, Any], key: str | None, error: DbplaneError | None = None,
              status: int = 200, original: dict[str, Any] | None = None) -> Response:
    def referring(ref: dict[str, str]) -> str | None:
        value = (original or row).get(ref["referred_column"]) if key else None
        if value is None:
            return None
        return (f"/console/databases/{quote(database.resource_id, safe='')}/tables/"
                f"{quote(ref['table'], safe='')}?"
                + _query([(f"filters[{ref['column']}][$eq]", _show(value))]))

    return render(request, "row.html", status=status, principal=principal, db=database,
                  info=info, row=row, key=key, error=error, show=_show,
                  referring=referring,
                  original=row if original is None else original,
                  error_column=(error.fields.get("column") if error else None))


@router.get("/{table}/new")
async def new_row_page(db: str, table: str, request: Request) -> Response:
    principal = await caller(request)
    info = await _describe(request, principal, db, table)
    database = await databases_svc.get_database(context_of(request), principal, db)
    return _row_page(request, principal, database, info, {}, None)


@router.post("/{table}/new")
async def create_row(db: str, table: str, request: Request) -> Response:
    principal = await caller(request)
    form = await request.form()
    check_csrf(request, form)
    ctx = context_of(request)
    info = await _describe(request, principal, db, table)
    data = _data_of(info, form, changed_only=False)
    try:
        answer = await writes_svc.create_rows(ctx, principal, db, table,
                                              orjson.dumps({"data": data}))
        created = orjson.loads(answer.body or b"{}")
    except DbplaneError as exc:
        if exc.status >= 500 or exc.status in (401, 403, 404):
            raise
        database = await databases_svc.get_database(ctx, principal, db)
        return _row_page(request, principal, database, info, data, None, exc, exc.status)
    key = _key_of(info, created)
    target = f"/console/databases/{quote(db, safe='')}/tables/{quote(table, safe='')}"
    if key is not None:
        target += f"/rows/{quote(key, safe='')}?saved=1"
    return RedirectResponse(target, status_code=303)


@router.get("/{table}/rows/{key}")
async def row_page(db: str, table: str, key: str, request: Request) -> Response:
    principal = await caller(request)
    ctx = context_of(request)
    info = await _describe(request, principal, db, table)
    database = await databases_svc.get_database(ctx, principal, db)
    row = orjson.loads(await tables_svc.get_row(ctx, principal, db, table, key, b""))
    return _row_page(request, principal, database, info, row, key)


@router.post("/{table}/rows/{key}")
async def update_row(db: str, table: str, key: str, request: Request) -> Response:
    principal = await caller(request)
    form = await request.form()
    check_csrf(request, form)
    ctx = context_of(request)
    info = await _describe(request, principal, db, table)
    data = _data_of(info, form, changed_only=True)
    try:
        if data:
            await writes_svc.update_row(ctx, principal, db, table, key,
                                        orjson.dumps({"data": data}))
    except DbplaneError as exc:
        if exc.status >= 500 or exc.status in (401, 404):
            raise
        database = await databases_svc.get_database(ctx, principal, db)
        original = orjson.loads(await tables_svc.get_row(ctx, principal, db, table, key,
                                                          b""))
        return _row_page(request, principal, database, info, {**original, **data}, key,
                         exc, exc.status, original)
    return RedirectResponse(f"{request.url.path}?saved=1", status_code=303)


@router.get("/{table}/rows/{key}/delete")
async def confirm_delete(db: str, table: str, key: str, request: Request) -> Response:
    principal = await caller(request)
    ctx = context_of(request)
    database = await databases_svc.get_database(ctx, principal, db)
    row = orjson.loads(await tables_svc.get_row(ctx, principal, db, table, key, b""))
    return render(request, "confirm_row.html", principal=principal, db=database,
                  table=table, key=key, row=row, show=_show)


@router.post("/{table}/rows/{key}/delete")
async def delete_row(db: str, table: str, key: str, request: Request) -> Response:
    principal = await caller(request)
    check_csrf(request, await request.form())
    await writes_svc.delete_row(context_of(request), principal, db, table, key)
    return RedirectResponse(
        f"/console/databases/{quote(db, safe='')}/tables/{quote(table, safe='')}",
        status_code=303)
