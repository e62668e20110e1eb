"""``db.tables("users")`` and ``client.tables("users")``: the rows of one table or view.

A :class:`Table` (:class:`AsyncTable`) is a handle, not a fetch: making one sends nothing.
Its methods turn Python values into the Tables API's query string and body: ``filters``
as nested dicts (see :func:`filter_params`), ``sort`` as ``"col:desc"`` strings, ``key``
as a value or a tuple for a composite primary key. Rows come back as the API's JSON
objects; ``list`` answers a :class:`Rows`, a ``list`` that also carries the total asked
for with ``count=True``.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import date, time
from typing import Any, overload

from dbplane.client._http import (
    Answer,
    AsyncHttp,
    Params,
    SyncHttp,
    as_list,
    as_object,
    path,
)

__all__ = [
    "AsyncTable",
    "Filters",
    "Include",
    "Key",
    "Rows",
    "Table",
    "filter_params",
    "key_segment",
    "parse_content_range",
]

Filters = Mapping[str, Any]
"""``{"score": {"$gt": 500}, "title": "x", "$or": [{...}, {...}]}``; see
:func:`filter_params`."""

Include = str | Sequence[str] | Mapping[str, int | None]
"""Relations to embed: ``"author"``, ``["author", "tags"]``, or a dict of relation names to
a per-relation row limit (``{"articles": 5}``; None for the server's default)."""

KeyPart = str | int | float
Key = KeyPart | tuple[KeyPart, ...]
"""A primary key value, or a tuple of values in the key's column order."""

_GROUPS = ("$and", "$or")
_LIST_OPERATORS = ("$in", "$nin", "$between")
_NULL_OPERATORS = ("$null", "$notNull")


class Rows(builtins.list[dict[str, Any]]):
    """The rows of one page: a ``list`` of dicts. ``total`` is the number of rows that
    match the filters, from the answer's ``Content-Range``, when the page was listed with
    ``count=True``; otherwise None."""

    total: int | None

    def __init__(self, rows: Sequence[dict[str, Any]] = (), total: int | None = None) -> None:
        super().__init__(rows)
        self.total = total

    def __repr__(self) -> str:
        return f"Rows({builtins.list.__repr__(self)}, total={self.total!r})"


def _text(value: Any) -> str:
    """A value as the query string writes it; the server converts it by column type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return str(value)


def _list_values(where: str, operator: str, value: Any) -> builtins.list[tuple[str, str]]:
    if isinstance(value, str):
        return [(f"{where}[{operator}]", value)]  # comma separated, as the query has it
    if not isinstance(value, Sequence | set | frozenset):
        raise TypeError(f"{operator} takes a list of values, not {type(value).__name__}")
    items = [_text(v) for v in value]
    if operator == "$between" and len(items) != 2:
        raise ValueError(f"$between takes two values (low, high), not {len(items)}")
    if not items:
        raise ValueError(f"{operator} takes at least one value")
    if any("," in item for item in items):
        # a value holding a comma cannot be joined: one indexed parameter per value
        return [(f"{where}[{operator}][{i}]", item) for i, item in enumerate(items)]
    return [(f"{where}[{operator}]", ",".join(items))]


def _condition(prefix: str, column: str, condition: Any) -> builtins.list[tuple[str, str]]:
    where = f"{prefix}[{column}]"
    if condition is None:
        return [(f"{where}[$null]", "true")]
    if isinstance(condition, Mapping):
        if not condition:
            raise ValueError(f"filters: no operator given for the column {column!r}")
        out: builtins.list[tuple[str, str]] = []
        for operator, value in condition.items():
            if operator in _NULL_OPERATORS:
                # the server reads false as the opposite operator
                out.append((f"{where}[{operator}]", _text(value)))
            elif operator == "$eq" and value is None:
                out.append((f"{where}[$null]", "true"))
            elif operator == "$ne" and value is None:
                out.append((f"{where}[$notNull]", "true"))
            elif operator in _LIST_OPERATORS:
                out += _list_values(where, operator, value)
            else:
                out.append((f"{where}[{operator}]", _text(value)))
        return out
    if isinstance(condition, builtins.list | tuple | set | frozenset):
        return _list_values(where, "$in", condition)
    return [(f"{where}[$eq]", _text(condition))]


def _filters(prefix: str, filters: Filters) -> builtins.list[tuple[str, str]]:
    out: builtins.list[tuple[str, str]] = []
    for name, value in filters.items():
        if name in _GROUPS:
            if isinstance(value, Mapping | str) or not isinstance(value, Sequence):
                raise TypeError(f"filters: {name} takes a list of filter dicts")
            if not value:
                raise ValueError(f"filters: {name} needs at least one filter")
            for i, item in enumerate(value):
                if not isinstance(item, Mapping):
                    raise TypeError(f"filters: the items of {name} are filter dicts, not "
                                    f"{type(item).__name__}")
                out += _filters(f"{prefix}[{name}][{i}]", item)
        else:
            out += _condition(prefix, name, value)
    return out


def filter_params(filters: Filters) -> builtins.list[tuple[str, str]]:
    """The query parameters of a filter dict.

    - ``{"title": "x"}``: a bare value is ``$eq``; ``None`` is ``$null``; a list is ``$in``;
    - ``{"score": {"$gt": 500, "$lte": 900}}``: operators of one column, all of them hold;
    - ``$in``, ``$nin`` take a list and ``$between`` a pair (or a comma-separated string;
      a list whose values hold commas is sent as indexed parameters);
      ``$null`` and ``$notNull`` take ``True`` (``{"$null": False}`` is ``$notNull``);
    - ``{"$or": [{"a": 1}, {"b": {"$lt": 2}}]}`` and ``$and``: groups, nested freely; the
      top level is an ``$and``.

    Values are sent as text (``True`` as ``true``, dates in ISO 8601, bytes as hex): the
    server converts them by the column's type. Raises TypeError or ValueError for a dict
    of the wrong shape, before anything is sent.
    """
    return _filters("filters", filters)


def _names(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else ",".join(value)


def _fields_params(fields: str | Sequence[str]) -> builtins.list[tuple[str, str]]:
    if isinstance(fields, str) or not any("," in name for name in fields):
        return [("fields", _names(fields))]
    # a column whose name holds a comma: one indexed parameter per column
    return [(f"fields[{i}]", name) for i, name in enumerate(fields)]


def _include_params(include: Include) -> builtins.list[tuple[str, str]]:
    if isinstance(include, Mapping):
        limits = [(f"include[{name}][limit]", str(limit))
                  for name, limit in include.items() if limit is not None]
        return [("include", ",".join(include)), *limits]
    return [("include", _names(include))]


def _sort_params(sort: str | Sequence[str]) -> builtins.list[tuple[str, str]]:
    if isinstance(sort, str):
        return [("sort", sort)]
    return [(f"sort[{i}]", key) for i, key in enumerate(sort)]


def _list_params(*, filters: Filters | None, sort: str | Sequence[str] | None,
                 fields: str | Sequence[str] | None, limit: int | None, offset: int | None,
                 include: Include | None, count: bool) -> Params:
    """The query string of :meth:`Table.list`."""
    params: builtins.list[tuple[str, str]] = []
    if filters:
        params += filter_params(filters)
    if sort:
        params += _sort_params(sort)
    if fields:
        params += _fields_params(fields)
    if limit is not None:
        params.append(("limit", str(limit)))
    if offset is not None:
        params.append(("offset", str(offset)))
    if include:
        params += _include_params(include)
    if count:
        params.append(("count", "exact"))
    return params


Columns = str | Sequence[str]


def _aggregate_params(*, count: Columns | None, count_distinct: Columns | None,
                      sum: Columns | None, avg: Columns | None, min: Columns | None,
                      max: Columns | None, group_by: Columns | None,
                      filters: Filters | None, sort: str | Sequence[str] | None,
                      limit: int | None, offset: int | None) -> Params:
    params: builtins.list[tuple[str, str]] = []
    for fn, cols in (("count", count), ("countDistinct", count_distinct), ("sum", sum),
                     ("avg", avg), ("min", min), ("max", max)):
        if cols:
            params.append((f"aggregate[{fn}]", _names(cols)))
    if group_by:
        params.append(("groupBy", _names(group_by)))
    params += _list_params(filters=filters, sort=sort, fields=None, limit=limit,
                           offset=offset, include=None, count=False)
    return params


def _export_params(filters: Filters | None, sort: str | Sequence[str] | None,
                   fields: Columns | None, limit: int | None) -> Params:
    return [("export", "csv"), *_list_params(filters=filters, sort=sort, fields=fields,
                                             limit=limit, offset=None, include=None,
                                             count=False)]


def _next_after(link: str | None) -> str | None:
    """The ``after`` cursor of a ``Link: <…>; rel="next"`` header, if any."""
    if not link or 'rel="next"' not in link:
        return None
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(link.split(">", 1)[0].lstrip("<")).query)
    return query.get("after", [None])[0]


def _get_params(fields: str | Sequence[str] | None,
                include: Include | None) -> Params:
    params: builtins.list[tuple[str, str]] = []
    if fields:
        params += _fields_params(fields)
    if include:
        params += _include_params(include)
    return params


def _escape(part: KeyPart) -> str:
    return _text(part).replace("\\", "\\\\").replace(",", "\\,")


def key_segment(key: Key) -> str:
    """A primary key as the path writes it. A value (or a 1-tuple) is sent as it is, so a
    string may also be a composite key already written the API's way (``acme,bob``). A
    tuple of values is joined by ``,``, a ``,`` or ``\\`` inside a value escaped with
    ``\\``."""
    if isinstance(key, tuple):
        if not key:
            raise ValueError("a primary key needs at least one value")
        if len(key) == 1:
            return _text(key[0])
        return ",".join(_escape(part) for part in key)
    return _text(key)


def parse_content_range(value: str | None) -> int | None:
    """The total of ``0-49/1234`` or ``*/0``; None when absent or unknown (``*``)."""
    if not value:
        return None
    total = value.rpartition("/")[2].strip()
    return int(total) if total.isdigit() else None


def _body(data: Any) -> dict[str, Any]:
    if isinstance(data, Mapping):
        return {"data": dict(data)}
    if isinstance(data, str | bytes) or not isinstance(data, Sequence):
        raise TypeError(f"data is a dict, or a list of dicts, not {type(data).__name__}")
    return {"data": [dict(row) for row in data]}


def _upsert(on_conflict: str | Sequence[str] | None, ignore: bool
            ) -> tuple[builtins.list[tuple[str, str]], dict[str, str]]:
    params = [("on_conflict", _names(on_conflict))] if on_conflict else []
    resolution = "ignore-duplicates" if ignore else "merge-duplicates"
    return params, {"Prefer": f"resolution={resolution}"}


def _bulk(filters: Filters | None, all_rows: bool, max_affected: int | None,
          prefer: str) -> tuple[builtins.list[tuple[str, str]], dict[str, str]]:
    params = filter_params(filters) if filters else []
    if all_rows:
        params.append(("all", "true"))
    if max_affected is not None:
        prefer += f", max-affected={int(max_affected)}"
    return params, {"Prefer": prefer}


def _affected(answer: Answer) -> int:
    total = answer.headers.get("content-range", "").rpartition("/")[2]
    return int(total) if total.isdigit() else 0


def _created(data: Any, answer: Any) -> Any:
    return as_object(answer) if isinstance(data, Mapping) else as_list(answer)


class Table:
    """One table or view of a database: list, read, create, change and delete its rows.

    Raises the ``dbplane.errors`` classes the server answers: TableNotFound (404),
    RecordNotFound (404), UnknownColumn, UnknownOperator, UnknownRelation, InvalidValue,
    MalformedParameter (400), ReadOnlyTable (405, a view or a table without a primary
    key), NotGranted (403), and ConstraintViolation subclasses (409) on writes.
    """

    def __init__(self, http: SyncHttp, base: tuple[str, ...], name: str) -> None:
        self._http = http
        self._base = base
        self.name = name

    def _path(self, *more: str) -> str:
        return path(*self._base, self.name, *more)

    def list(self, *, filters: Filters | None = None, sort: str | Sequence[str] | None = None,
             fields: str | Sequence[str] | None = None, limit: int | None = None,
             offset: int | None = None, include: Include | None = None,
             count: bool = False) -> Rows:
        """One page of rows (the server's default page size unless ``limit``).

        ``filters``: see :func:`filter_params`. ``sort``: ``"score:desc"``, or a list of
        such keys in order. ``fields``: the columns to answer (``"a,b"`` or a list).
        ``include``: relations to embed (their names are in each table's ``relations``
        from ``list_tables()``), with per-relation limits as a dict.
        ``count=True`` also counts every matching row, into the answer's ``total``.
        """
        params = _list_params(filters=filters, sort=sort, fields=fields, limit=limit,
                              offset=offset, include=include, count=count)
        answer = self._http.request_with_headers("GET", self._path(), params=params)
        return Rows(as_list(answer.body),
                    parse_content_range(answer.headers.get("content-range")))

    def get(self, key: Key, *, fields: str | Sequence[str] | None = None,
            include: Include | None = None) -> dict[str, Any]:
        """One record by primary key (a tuple for a composite key); raises
        RecordNotFound."""
        return as_object(self._http.request("GET", self._path(key_segment(key)),
                                            params=_get_params(fields, include)))

    @overload
    def create(self, data: Mapping[str, Any]) -> dict[str, Any]: ...

    @overload
    def create(self, data: Sequence[Mapping[str, Any]]) -> builtins.list[dict[str, Any]]: ...

    def create(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Any:
        """Create a record from a dict and answer it as stored (generated ids, defaults,
        ``created_on``); or create several from a list of dicts, in one transaction, and
        answer them in order. A rejected write writes nothing."""
        return _created(data, self._http.request("POST", self._path(), json=_body(data)))

    def upsert(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
               on_conflict: str | Sequence[str] | None = None, ignore: bool = False) -> Any:
        """Create records, updating the existing record of a row whose ``on_conflict``
        columns (a unique key; default the primary key) match one (``ignore``: leaving
        it); answers the records written. MalformedParameter when ``on_conflict`` is no
        unique key. With ``ignore`` the answer is always a list: the rows written (on
        MariaDB also the existing ones left as they were)."""
        params, headers = _upsert(on_conflict, ignore)
        answer = self._http.request("POST", self._path(), json=_body(data), params=params,
                                    headers=headers)
        return as_list(answer) if ignore else _created(data, answer)

    def update(self, key: Key, data: Mapping[str, Any]) -> dict[str, Any]:
        """Change the given columns of one record and answer the record (PATCH)."""
        return as_object(self._http.request("PATCH", self._path(key_segment(key)),
                                            json=_body(data)))

    def update_where(self, data: Mapping[str, Any], *, filters: Filters | None = None,
                     all: bool = False, max_affected: int | None = None
                     ) -> builtins.list[dict[str, Any]]:
        """Change the given columns of every row ``filters`` keep (``all=True``: every
        row) in one transaction; answers the changed rows. ``max_affected``: refuse
        (TooManyAffected, nothing changed) when more would change."""
        params, headers = _bulk(filters, all, max_affected, "return=representation")
        return as_list(self._http.request("PATCH", self._path(), json=_body(data),
                                          params=params, headers=headers))

    def delete_where(self, *, filters: Filters | None = None, all: bool = False,
                     max_affected: int | None = None) -> int:
        """Delete every row ``filters`` keep (``all=True``: every row) in one
        transaction; answers how many were deleted."""
        params, headers = _bulk(filters, all, max_affected, "return=minimal")
        return _affected(self._http.request_with_headers("DELETE", self._path(),
                                                         params=params, headers=headers))

    def delete(self, key: Key) -> None:
        """Delete one record; raises RecordNotFound when there is none."""
        self._http.request("DELETE", self._path(key_segment(key)))

    def aggregate(self, *, count: Columns | None = None, count_distinct: Columns | None = None,
                  sum: Columns | None = None, avg: Columns | None = None,
                  min: Columns | None = None, max: Columns | None = None,
                  group_by: Columns | None = None, filters: Filters | None = None,
                  sort: str | Sequence[str] | None = None, limit: int | None = None,
                  offset: int | None = None) -> builtins.list[dict[str, Any]]:
        """Aggregates (Directus's shape), per group of ``group_by`` when given:
        ``aggregate(count="*", sum="price", group_by="author")`` answers
        ``[{"author": 1, "count": 3, "sum": {"price": 12}}, ...]``. ``sort`` may name an
        aggregate (``"count:desc"``, ``"sum.price"``); ``filters`` apply before grouping."""
        return as_list(self._http.request("GET", self._path(), params=_aggregate_params(
            count=count, count_distinct=count_distinct, sum=sum, avg=avg, min=min, max=max,
            group_by=group_by, filters=filters, sort=sort, limit=limit, offset=offset)))

    def distinct(self, columns: Columns, *, filters: Filters | None = None,
                 sort: str | Sequence[str] | None = None,
                 limit: int | None = None) -> builtins.list[dict[str, Any]]:
        """The distinct combinations of ``columns`` among the rows ``filters`` keep."""
        params = [("distinct", _names(columns)), *_list_params(
            filters=filters, sort=sort, fields=None, limit=limit, offset=None, include=None,
            count=False)]
        return as_list(self._http.request("GET", self._path(), params=params))

    def iter_rows(self, *, filters: Filters | None = None,
                  sort: str | Sequence[str] | None = None,
                  fields: str | Sequence[str] | None = None,
                  page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every matching row, page by page with keyset cursors (``after``): each row
        once even while rows are inserted."""
        after = ""
        while True:
            params = [*_list_params(filters=filters, sort=sort, fields=fields,
                                    limit=page_size, offset=None, include=None,
                                    count=False), ("after", after)]
            answer = self._http.request_with_headers("GET", self._path(), params=params)
            yield from as_list(answer.body)
            following = _next_after(answer.headers.get("link"))
            if following is None:
                return
            after = following

    def export_csv(self, *, filters: Filters | None = None,
                   sort: str | Sequence[str] | None = None,
                   fields: Columns | None = None,
                   limit: int | None = None) -> Iterator[bytes]:
        """The matching rows as CSV, in pieces as the server streams them (every row for
        an admin)."""
        with self._http.stream("GET", self._path(),
                               params=_export_params(filters, sort, fields, limit)) as r:
            yield from r.iter_bytes()

    def __repr__(self) -> str:
        return f"Table({self.name!r})"


class AsyncTable:
    """One table or view of a database, for the async client; see :class:`Table`."""

    def __init__(self, http: AsyncHttp, base: tuple[str, ...], name: str) -> None:
        self._http = http
        self._base = base
        self.name = name

    def _path(self, *more: str) -> str:
        return path(*self._base, self.name, *more)

    async def list(self, *, filters: Filters | None = None,
                   sort: str | Sequence[str] | None = None,
                   fields: str | Sequence[str] | None = None, limit: int | None = None,
                   offset: int | None = None, include: Include | None = None,
                   count: bool = False) -> Rows:
        """One page of rows; see :meth:`Table.list`."""
        params = _list_params(filters=filters, sort=sort, fields=fields, limit=limit,
                              offset=offset, include=include, count=count)
        answer = await self._http.request_with_headers("GET", self._path(), params=params)
        return Rows(as_list(answer.body),
                    parse_content_range(answer.headers.get("content-range")))

    async def get(self, key: Key, *, fields: str | Sequence[str] | None = None,
                  include: Include | None = None) -> dict[str, Any]:
        """One record by primary key; raises RecordNotFound."""
        return as_object(await self._http.request("GET", self._path(key_segment(key)),
                                                  params=_get_params(fields, include)))

    @overload
    async def create(self, data: Mapping[str, Any]) -> dict[str, Any]: ...

    @overload
    async def create(self, data: Sequence[Mapping[str, Any]]
                     ) -> builtins.list[dict[str, Any]]: ...

    async def create(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Any:
        """Create one record (a dict) or several in one transaction (a list); see
        :meth:`Table.create`."""
        answer = await self._http.request("POST", self._path(), json=_body(data))
        return _created(data, answer)

    async def upsert(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
                     on_conflict: str | Sequence[str] | None = None,
                     ignore: bool = False) -> Any:
        """Create or update records; see :meth:`Table.upsert`."""
        params, headers = _upsert(on_conflict, ignore)
        answer = await self._http.request("POST", self._path(), json=_body(data),
                                          params=params, headers=headers)
        return as_list(answer) if ignore else _created(data, answer)

    async def update(self, key: Key, data: Mapping[str, Any]) -> dict[str, Any]:
        """Change the given columns of one record and answer the record (PATCH)."""
        return as_object(await self._http.request("PATCH", self._path(key_segment(key)),
                                                  json=_body(data)))

    async def update_where(self, data: Mapping[str, Any], *, filters: Filters | None = None,
                           all: bool = False, max_affected: int | None = None
                           ) -> builtins.list[dict[str, Any]]:
        """Change every row ``filters`` keep; see :meth:`Table.update_where`."""
        params, headers = _bulk(filters, all, max_affected, "return=representation")
        return as_list(await self._http.request("PATCH", self._path(), json=_body(data),
                                                params=params, headers=headers))

    async def delete_where(self, *, filters: Filters | None = None, all: bool = False,
                           max_affected: int | None = None) -> int:
        """Delete every row ``filters`` keep; see :meth:`Table.delete_where`."""
        params, headers = _bulk(filters, all, max_affected, "return=minimal")
        return _affected(await self._http.request_with_headers(
            "DELETE", self._path(), params=params, headers=headers))

    async def delete(self, key: Key) -> None:
        """Delete one record; raises RecordNotFound when there is none."""
        await self._http.request("DELETE", self._path(key_segment(key)))

    async def aggregate(self, *, count: Columns | None = None,
                        count_distinct: Columns | None = None, sum: Columns | None = None,
                        avg: Columns | None = None, min: Columns | None = None,
                        max: Columns | None = None, group_by: Columns | None = None,
                        filters: Filters | None = None,
                        sort: str | Sequence[str] | None = None, limit: int | None = None,
                        offset: int | None = None) -> builtins.list[dict[str, Any]]:
        """Aggregates per group; see :meth:`Table.aggregate`."""
        return as_list(await self._http.request("GET", self._path(), params=_aggregate_params(
            count=count, count_distinct=count_distinct, sum=sum, avg=avg, min=min, max=max,
            group_by=group_by, filters=filters, sort=sort, limit=limit, offset=offset)))

    async def distinct(self, columns: Columns, *, filters: Filters | None = None,
                       sort: str | Sequence[str] | None = None,
                       limit: int | None = None) -> builtins.list[dict[str, Any]]:
        """The distinct combinations of ``columns``; see :meth:`Table.distinct`."""
        params = [("distinct", _names(columns)), *_list_params(
            filters=filters, sort=sort, fields=None, limit=limit, offset=None, include=None,
            count=False)]
        return as_list(await self._http.request("GET", self._path(), params=params))

    async def iter_rows(self, *, filters: Filters | None = None,
                        sort: str | Sequence[str] | None = None,
                        fields: str | Sequence[str] | None = None,
                        page_size: int = 500) -> AsyncIterator[dict[str, Any]]:
        """Every matching row by keyset pages; see :meth:`Table.iter_rows`."""
        after = ""
        while True:
            params = [*_list_params(filters=filters, sort=sort, fields=fields,
                                    limit=page_size, offset=None, include=None,
                                    count=False), ("after", after)]
            answer = await self._http.request_with_headers("GET", self._path(),
                                                           params=params)
            for row in as_list(answer.body):
                yield row
            following = _next_after(answer.headers.get("link"))
            if following is None:
                return
            after = following

    async def export_csv(self, *, filters: Filters | None = None,
                         sort: str | Sequence[str] | None = None,
                         fields: Columns | None = None,
                         limit: int | None = None) -> AsyncIterator[bytes]:
        """The matching rows as CSV, streamed; see :meth:`Table.export_csv`."""
        async with self._http.stream("GET", self._path(), params=_export_params(
                filters, sort, fields, limit)) as r:
            async for chunk in r.aiter_bytes():
                yield chunk

    def __repr__(self) -> str:
        return f"AsyncTable({self.name!r})"
