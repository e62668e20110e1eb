"""Keyset pagination: ``after=<cursor>``, the cursor built from the last row of a page.

A cursor is opaque to clients (base64url of JSON): the page's sort (every column, the
primary key last, with its direction) and the last row's values of those columns. The
next page is the rows that sort after that row: for sort terms t1..tn and values v1..vn,
``(t1 = v1 and … and t(k-1) = v(k-1) and tk "after" vk)`` for some k, where "after" follows
the sort's NULL placement (first ascending, last descending). Rows inserted meanwhile
sort into place: each row is seen once, unlike with offsets. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from dbplane.errors import MalformedParameter
from dbplane.query.convert import convert_query_value
from dbplane.query.model import OrderBy, Predicate, PredicateGroup

__all__ = ["AFTER", "encode_cursor", "seek"]

AFTER = "after"


def _bad(why: str) -> MalformedParameter:
    return MalformedParameter(f"after: {why}", parameter=AFTER)


def _spec(order: Sequence[OrderBy]) -> list[list[Any]]:
    return [[o.column.name, o.descending] for o in order]


def encode_cursor(order: Sequence[OrderBy], row: Mapping[str, Any]) -> str:
    """The cursor of the page after ``row`` (a rendered row holding every sort column)."""
    payload = orjson.dumps({"s": _spec(order), "v": [row[o.column.name] for o in order]})
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


def _text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def seek(order: Sequence[OrderBy], cursor: str) -> PredicateGroup | None:
    """The rows after the cursor's row in ``order`` (None for the empty cursor, the first
    page). MalformedParameter naming ``after`` for a cursor that is not one, or that was
    made for another sort."""
    if cursor == "":
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise _bad("not a cursor this API made (take it from the Link header)") from exc
    if not isinstance(payload, dict) or payload.get("s") != _spec(order):
        raise _bad("the cursor was made for another sort: keep the sort of the first page")
    values = payload.get("v")
    if not isinstance(values, list) or len(values) != len(order):
        raise _bad("not a cursor this API made")
    converted = [None if v is None else convert_query_value(o.column, _text(v), AFTER)
                 for o, v in zip(order, values, strict=True)]
    branches: list[Predicate | PredicateGroup] = []
    for k, (o, value) in enumerate(zip(order, converted, strict=True)):
        col = o.column
        same: list[Predicate | PredicateGroup] = [
            Predicate(p.column, "null", None) if v is None else Predicate(p.column, "eq", v)
            for p, v in zip(order[:k], converted[:k], strict=True)]
        after: Predicate | PredicateGroup
        if not o.descending:
            after = (Predicate(col, "notNull", None) if value is None
                     else Predicate(col, "gt", value))
        elif value is None:
            continue  # NULLs come last descending: nothing sorts after one in this term
        elif col.nullable:
            after = PredicateGroup("or", (Predicate(col, "lt", value),
                                          Predicate(col, "null", None)))
        else:
            after = Predicate(col, "lt", value)
        branches.append(PredicateGroup("and", (*same, after)))
    return PredicateGroup("or", tuple(branches))
