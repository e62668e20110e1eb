"""CSV export of a table's rows: the list's filters and sort, every matching row for an
admin (``DBPLANE_TABLES_MAX_LIMIT`` rows for anyone else, unless ``limit`` says fewer),
streamed in constant memory.

The rows are read in keyset pages (``query.keyset``) of ``EXPORT_PAGE`` rows, each one
statement rendered as JSON by the database as any list is, and turned into CSV a page
at a time: memory holds one page whatever the table's size. The pages are separate
statements, so a row written during the export is seen once or not at all (each row at
most once), not as of one snapshot.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import orjson

from dbplane.engines.sql.tables import list_answer, prepare_read, run_read
from dbplane.errors import MalformedParameter
from dbplane.query.keyset import encode_cursor
from dbplane.query.model import ReadPlan, SchemaInfo, TableInfo
from dbplane.query.params import parse_table_params
from dbplane.query.plan import plan_read
from dbplane.services.auth import Principal
from dbplane.services.context import AppContext
from dbplane.services.tables import _params, _target, _with_fresh_schema

__all__ = ["EXPORT_PAGE", "CsvExport", "export_csv", "wants_csv"]

EXPORT_PAGE = 1000
"""Rows read per statement during an export."""


def wants_csv(query: bytes, accept: str | None) -> bool:
    """Whether a list request asks for CSV (``export=csv``, or ``Accept: text/csv``)."""
    if b"export=" in query:
        return True
    return accept is not None and "text/csv" in accept and "json" not in accept


@dataclass(frozen=True)
class CsvExport:
    columns: tuple[str, ...]
    chunks: AsyncIterator[bytes]
    """The CSV text in pieces (a page each), the header line first."""


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


async def export_csv(ctx: AppContext, principal: Principal, db_ref: str | None,
                     table: str, query: bytes) -> CsvExport:
    """Check the request (a 4xx before any byte is sent) and answer the CSV to stream."""
    params = []
    for key, value in _params(query):
        if key == "export":
            if value != "csv":
                raise MalformedParameter(f"export: {value!r}: the only export is csv",
                                         parameter="export")
            continue
        params.append((key, value))
    request = parse_table_params(params)
    for parameter, given in (("include", request.include), ("offset", request.offset),
                             ("after", request.after is not None),
                             ("includeContentType", request.include_content_type)):
        if given:
            raise MalformedParameter(f"{parameter}: not with a CSV export",
                                     parameter=parameter)
    s = ctx.settings
    total = request.limit
    if total is None:
        total = None if principal.is_admin else s.tables_max_limit
    elif total > s.tables_max_limit and not principal.is_admin:
        raise MalformedParameter(f"limit: {total} is more than the maximum "
                                 f"{s.tables_max_limit}", parameter="limit")
    target = await _target(ctx, db_ref)
    first = replace(request, limit=EXPORT_PAGE, after="", count_exact=False)

    async def check(schema: SchemaInfo, info: TableInfo
                    ) -> tuple[SchemaInfo, TableInfo, ReadPlan, tuple[str, ...]]:
        asked = request.fields
        planned = first
        if asked is not None:
            # the keyset pages need the sort and key columns: read them, show the asked
            needed = [k.column for k in request.sort] + list(info.primary_key)
            planned = replace(first, fields=(*asked, *(n for n in needed
                                                       if n not in asked)))
        plan = plan_read(planned, info, schema, default_limit=EXPORT_PAGE,
                         max_limit=max(EXPORT_PAGE, s.tables_max_limit))
        shown = tuple(dict.fromkeys(asked)) if asked is not None else tuple(
            c.name for c in plan.columns)
        return schema, info, plan, shown

    schema, info, plan, columns = await _with_fresh_schema(ctx, target, principal, table,
                                                           check)
    first = replace(first, fields=tuple(c.name for c in plan.columns))

    async def chunks() -> AsyncIterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        left = total
        page = plan
        while True:
            if left is not None and left < (page.limit or EXPORT_PAGE):
                page = replace(page, limit=left)
            prepared = prepare_read(target.engine, page)
            body, _, _ = list_answer(prepared, await run_read(
                target.engine, prepared.sql, prepared.args))
            rows = orjson.loads(body)
            for row in rows:
                writer.writerow([_cell(row[c]) for c in columns])
            if out.tell():
                yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
            if left is not None:
                left -= len(rows)
            if not rows or len(rows) < (page.limit or 0) or left == 0:
                return
            cursor = encode_cursor(plan.order, rows[-1])
            page = plan_read(replace(first, after=cursor,
                                     limit=page.limit), info, schema,
                             default_limit=EXPORT_PAGE,
                             max_limit=max(EXPORT_PAGE, s.tables_max_limit))

    return CsvExport(columns, chunks())
