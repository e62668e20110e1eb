"""The Tables API's query string, read for syntax only.

Pure: ``(key, value)`` pairs in, a ``TableRequest`` out; no I/O and no schema. Whether
the columns, operators and relations exist, and whether values fit their columns, is the
planner's business (``query.plan``); here only the form is checked, and any form that
cannot be read is a ``MalformedParameter`` naming the parameter exactly as it was given.

The parameters (``[...]`` keys may hold any character but ``[`` and ``]``; names are
case-sensitive):

- ``limit``, ``offset``: non-negative integers (at most 2**63 - 1).
- ``count=exact``: count every matching row (``Content-Range``); ``count=planned`` the
  planner's estimate, ``count=estimated`` exact below a threshold, else the estimate.
- ``includeContentType=true|false`` (also ``1``/``0``; a bare ``includeContentType``
  is true).
- ``sort=title``, ``sort=title:desc``, ``sort=a:asc,b:desc``, ``sort=a&sort=b``, or
  indexed ``sort[0]=title:desc&sort[1]=body:asc`` (ordered by index, one key per
  parameter, so a column whose name holds a comma can be sorted). A key holding ``:``
  ends with ``:asc`` or ``:desc`` (any case); to sort on a column named ``a:b`` write
  ``a:b:asc``.
- ``fields=a,b``, ``fields=a&fields=b``, or indexed ``fields[0]=a`` (one column each).
- ``include=author,articles`` (also repeated) and ``include[articles][limit]=5`` (which
  includes ``articles`` too); duplicates are merged, the order of first mention is kept.
- ``filters[column][$op]=value`` (``filters[column]=value`` is ``$eq``). List operators
  (``$in``, ``$nin``) take ``a,b,c`` or indexed ``filters[c][$in][0]=a``; ``$between``
  takes ``lo,hi`` or indexed ``[0]`` and ``[1]``. ``$null`` / ``$notNull`` take ``true``,
  ``1`` or nothing, or ``false`` / ``0`` which inverts them. Groups:
  ``filters[$or][0][title][$eq]=a&filters[$or][1][title][$eq]=b`` and ``$and`` alike, to
  any depth up to ``MAX_FILTER_DEPTH``; several conditions under one index are and-ed; the
  top level is an ``and``. A repeated ``filters[c][$op]=v`` is one more condition; the
  plain and indexed forms of one list may not be mixed. At a column's place, a key
  starting with ``$`` must be ``$and`` or ``$or`` (a column whose name starts with ``$``
  cannot be filtered).

Any other parameter, or a scalar one given twice, is malformed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from dbplane.errors import MalformedParameter
from dbplane.query.model import Condition, FilterGroup, IncludeRequest, SortKey, TableRequest
from dbplane.query.operators import operator_for

__all__ = [
    "ACCEPTED_PARAMETERS",
    "MAX_FILTER_DEPTH",
    "parse_table_params",
    "split_brackets",
]

ACCEPTED_PARAMETERS = ("limit", "offset", "sort", "fields", "filters", "include", "count",
                       "includeContentType", "after", "aggregate", "groupBy", "distinct",
                       "export")
MAX_FILTER_DEPTH = 16
"""How deeply ``$and`` / ``$or`` groups may nest (a bound on recursion, here and in SQL)."""

_SCALARS = ("limit", "offset", "count", "includeContentType", "after")
_INDEX = re.compile(r"[0-9]{1,9}")
_UINT = re.compile(r"[0-9]+")
_MAX_UINT = 2**63 - 1
_FILTER_FORM = "write filters[column][$operator]=value, or a $and / $or group of them"

_Entry = tuple[str, tuple[str, ...], str]
"""A filters parameter: (the key as given, its bracket keys below the current level, the
value)."""


def _malformed(parameter: str, why: str) -> MalformedParameter:
    return MalformedParameter(f"{parameter}: {why}", parameter=parameter)


def split_brackets(key: str) -> tuple[str, tuple[str, ...]] | None:
    """``name[a][b]`` → ``("name", ("a", "b"))``; None if the brackets are malformed (an
    unclosed or stray bracket, text after a ``]``). A bracket key may be empty
    (``name[]`` → ``("name", ("",))``); callers decide whether that means anything."""
    start = key.find("[")
    if start < 0:
        return None if "]" in key else (key, ())
    name = key[:start]
    if "]" in name:
        return None
    parts: list[str] = []
    i = start
    while i < len(key):
        if key[i] != "[":
            return None
        end = key.find("]", i + 1)
        if end < 0:
            return None
        part = key[i + 1:end]
        if "[" in part:
            return None
        parts.append(part)
        i = end + 1
    return name, tuple(parts)


def _index(token: str) -> int | None:
    return int(token) if _INDEX.fullmatch(token) else None


def _uint(parameter: str, value: str, *, bounded: bool = True) -> int:
    """A non-negative integer; at most 2**63 - 1 when ``bounded``, else (a limit, whose
    real maximum the plan checks and names) any of up to 64 digits."""
    if not _UINT.fullmatch(value):
        raise _malformed(parameter, f"{value!r} is not a non-negative integer")
    digits = value.lstrip("0") or "0"
    if not bounded and len(digits) <= 64:
        return int(digits)
    if len(digits) > 19 or int(digits) > _MAX_UINT:
        raise _malformed(parameter, f"{value!r} is too large (at most {_MAX_UINT})")
    return int(digits)


def _flag(parameter: str, value: str) -> bool:
    low = value.lower()
    if low in ("true", "1", ""):
        return True
    if low in ("false", "0"):
        return False
    raise _malformed(parameter, f"{value!r} is not true or false")


# -- sort, fields: a comma list, repeated, or indexed ----------------------------------


@dataclass
class _ListParam:
    name: str
    plain: list[tuple[str, str]] = field(default_factory=list)
    indexed: dict[int, tuple[str, str]] = field(default_factory=dict)

    def add(self, key: str, parts: tuple[str, ...], value: str) -> None:
        if not parts:
            if self.indexed:
                raise _malformed(key, f"{self.name}={value!r} mixed with indexed "
                                      f"{self.name}[0]=…; use one form")
            self.plain.append((key, value))
            return
        index = _index(parts[0]) if len(parts) == 1 else None
        if index is None:
            raise _malformed(key, f"write {self.name}=a,b or {self.name}[0]=a; the "
                                  f"key in brackets is an index 0, 1, 2…")
        if self.plain:
            raise _malformed(key, f"{self.name}[{index}] mixed with a plain "
                                  f"{self.name}=…; use one form")
        if index in self.indexed:
            raise _malformed(key, f"the index {index} is given twice")
        self.indexed[index] = (key, value)

    def items(self) -> list[tuple[str, str]]:
        """(the parameter as given, one item) in order; an empty item is malformed."""
        out: list[tuple[str, str]] = []
        if self.plain:
            for key, value in self.plain:
                out.extend((key, item) for item in value.split(","))
        else:
            out.extend(self.indexed[i] for i in sorted(self.indexed))
        for key, item in out:
            if item == "":
                raise _malformed(key, f"an empty {self.name} item")
        return out


def _sort_key(parameter: str, item: str) -> SortKey:
    column, sep, direction = item.rpartition(":")
    if not sep:
        return SortKey(item)
    low = direction.lower()
    if low not in ("asc", "desc") or column == "":
        raise _malformed(parameter, f"{item!r}: write column, column:asc or column:desc")
    return SortKey(column, descending=low == "desc")


# -- filters ---------------------------------------------------------------------------


@dataclass
class _GroupSlot:
    kind: Literal["and", "or"]
    children: dict[int, list[_Entry]] = field(default_factory=dict)


@dataclass
class _ListSlot:
    column: str
    operator: str
    pair: bool
    values: dict[int, tuple[str, str]] = field(default_factory=dict)


_Slot = Condition | _GroupSlot | _ListSlot


def _unwrap(items: list[Condition | FilterGroup]) -> Condition | FilterGroup:
    return items[0] if len(items) == 1 else FilterGroup("and", tuple(items))


def _plain_condition(key: str, column: str, op: str, value: str) -> Condition:
    operator = operator_for(op)
    if operator is None or operator.arity == "one":
        return Condition(column, op, value)
    if operator.arity == "list":
        return Condition(column, op, tuple(value.split(",")))
    if operator.arity == "pair":
        parts = value.split(",")
        if len(parts) != 2:
            raise _malformed(key, f"{op} takes two values, lo,hi (or indexed [0] and "
                                  f"[1]); got {value!r}")
        return Condition(column, op, (parts[0], parts[1]))
    low = value.lower()
    if low in ("true", "1", ""):
        return Condition(column, op, None)
    if low in ("false", "0"):
        return Condition(column, "$notNull" if op == "$null" else "$null", None)
    raise _malformed(key, f"{op} takes true, false, 1, 0 or nothing; got {value!r}")


def _level(entries: list[_Entry], depth: int) -> list[Condition | FilterGroup]:
    """The items of one ``and`` level, in the order their first parameter came."""
    slots: list[_Slot] = []
    groups: dict[str, _GroupSlot] = {}
    lists: dict[tuple[str, str], _ListSlot] = {}
    plain: set[tuple[str, str]] = set()
    for key, toks, value in entries:
        if not toks:
            raise _malformed(key, _FILTER_FORM)
        head, rest = toks[0], toks[1:]
        if head in ("$and", "$or"):
            index = _index(rest[0]) if rest else None
            if index is None:
                raise _malformed(key, f"{head} takes indexed groups of conditions: "
                                      f"[{head}][0][column][$operator]=value")
            group = groups.get(head)
            if group is None:
                if depth >= MAX_FILTER_DEPTH:
                    raise _malformed(key, f"$and / $or groups nest at most "
                                          f"{MAX_FILTER_DEPTH} deep")
                group = _GroupSlot("and" if head == "$and" else "or")
                groups[head] = group
                slots.append(group)
            group.children.setdefault(index, []).append((key, rest[1:], value))
            continue
        if head == "":
            raise _malformed(key, f"an empty column name; {_FILTER_FORM}")
        if head.startswith("$"):
            raise _malformed(key, f"{head!r} is not a group: the groups are $and and $or "
                                  f"({_FILTER_FORM})")
        if not rest:
            slots.append(Condition(head, "$eq", value))
            continue
        op, tail = rest[0], rest[1:]
        if op == "":
            raise _malformed(key, f"an empty operator; {_FILTER_FORM}")
        if not tail:
            if (head, op) in lists:
                raise _malformed(key, f"{op} given both as a list and with indexes; use "
                                      f"one form")
            plain.add((head, op))
            slots.append(_plain_condition(key, head, op, value))
            continue
        index = _index(tail[0]) if len(tail) == 1 else None
        if index is None:
            raise _malformed(key, f"after [{op}] only an index [0], [1]… may follow "
                                  f"(for a list of values)")
        operator = operator_for(op)
        if operator is not None and operator.arity in ("one", "none"):
            raise _malformed(key, f"{op} takes one value, not a list")
        if (head, op) in plain:
            raise _malformed(key, f"{op} given both as a list and with indexes; use one "
                                  f"form")
        slot = lists.get((head, op))
        if slot is None:
            slot = _ListSlot(head, op, pair=operator is not None and operator.arity == "pair")
            lists[(head, op)] = slot
            slots.append(slot)
        if index in slot.values:
            raise _malformed(key, f"the index {index} is given twice")
        slot.values[index] = (key, value)

    items: list[Condition | FilterGroup] = []
    for s in slots:
        if isinstance(s, Condition):
            items.append(s)
        elif isinstance(s, _GroupSlot):
            items.append(FilterGroup(s.kind, tuple(
                _unwrap(_level(s.children[i], depth + 1)) for i in sorted(s.children))))
        else:
            order = sorted(s.values)
            if s.pair and order != [0, 1]:
                key = s.values[order[-1]][0]
                raise _malformed(key, f"{s.operator} takes two values: [0] and [1]")
            items.append(Condition(s.column, s.operator,
                                   tuple(s.values[i][1] for i in order)))
    return items


# -- the whole query string ------------------------------------------------------------


def parse_table_params(params: Sequence[tuple[str, str]]) -> TableRequest:
    """Read a list request's query string (the pairs in order, as from
    ``request.query_params.multi_items()``) into a ``TableRequest``, checking syntax only.
    MalformedParameter, naming the parameter as given, for anything it cannot read."""
    scalars: dict[str, str] = {}
    sort = _ListParam("sort")
    fields = _ListParam("fields")
    include_order: dict[str, None] = {}
    include_limits: dict[str, int] = {}
    filter_entries: list[_Entry] = []

    for key, value in params:
        split = split_brackets(key)
        if split is None:
            raise _malformed(key, "malformed brackets: write name[key][key]…, a key "
                                  "holding neither '[' nor ']'")
        name, parts = split
        if name in _SCALARS:
            if parts:
                raise _malformed(key, f"{name} takes no brackets: {name}=value")
            if name in scalars:
                raise _malformed(key, f"{name} is given more than once")
            scalars[name] = value
        elif name == "sort":
            sort.add(key, parts, value)
        elif name == "fields":
            fields.add(key, parts, value)
        elif name == "include":
            if not parts:
                for item in value.split(","):
                    if item == "":
                        raise _malformed(key, "an empty relation name")
                    include_order.setdefault(item)
                continue
            if len(parts) != 2 or parts[0] == "" or parts[1] != "limit":
                raise _malformed(key, "write include=relation,… or "
                                      "include[relation][limit]=N")
            if parts[0] in include_limits:
                raise _malformed(key, "given more than once")
            include_limits[parts[0]] = _uint(key, value, bounded=False)
            include_order.setdefault(parts[0])
        elif name == "filters":
            if not parts:
                raise _malformed(key, _FILTER_FORM)
            filter_entries.append((key, parts, value))
        else:
            raise _malformed(key, "not a parameter of the Tables API; it reads "
                                  + ", ".join(ACCEPTED_PARAMETERS))

    count = scalars.get("count")
    if count is not None and count not in ("exact", "planned", "estimated"):
        raise _malformed("count", f"{count!r}: count=exact, planned or estimated")
    filters = _level(filter_entries, 0) if filter_entries else None
    return TableRequest(
        limit=(_uint("limit", scalars["limit"], bounded=False) if "limit" in scalars
               else None),
        offset=_uint("offset", scalars["offset"]) if "offset" in scalars else 0,
        sort=tuple(_sort_key(k, item) for k, item in sort.items()),
        fields=tuple(item for _, item in fields.items()) or None,
        filters=FilterGroup("and", tuple(filters)) if filters else None,
        count_exact=count == "exact",
        count_estimate="planned" if count == "planned" else
        "estimated" if count == "estimated" else None,
        include=tuple(IncludeRequest(n, include_limits.get(n)) for n in include_order),
        include_content_type=_flag("includeContentType", scalars["includeContentType"])
        if "includeContentType" in scalars else False,
        after=scalars.get("after"),
    )
