"""Primary keys in a record's path: ``/tables/{table}/{id}``.

Pure: string functions, no I/O.

- A single-column key is the value itself, unescaped (``/users/9d370085-…``, as in the
  seed), so a text key may contain any character, commas and backslashes included.
- A composite key is the values of the primary key columns in the table's key order,
  separated by ``,``; a ``,`` or ``\\`` inside a value is escaped with a backslash (``\\,``,
  ``\\\\``). ``/order_items/17,3`` is the row with ``order_id=17, line=3``; the text values
  ``a,b`` and ``c`` give ``a\\,b,c``. A backslash before any other character is refused.

``split_key(format_key(values), len(values)) == values`` for every tuple of strings.
"""

from __future__ import annotations

from collections.abc import Sequence

from dbplane.errors import MalformedParameter

__all__ = ["KEY_PARAMETER", "format_key", "split_key"]

KEY_PARAMETER = "id"
"""The name errors give the path's key (the seed calls it ``id``)."""


def format_key(values: Sequence[str]) -> str:
    """The path segment for these primary key values (the inverse of ``split_key``)."""
    if len(values) == 1:
        return values[0]
    return ",".join(v.replace("\\", "\\\\").replace(",", "\\,") for v in values)


def split_key(raw: str, n: int) -> tuple[str, ...]:
    """The ``n`` primary key values in a path segment (still strings; the planner
    converts them by column type). MalformedParameter (``id``) if there are not ``n``
    values or an escape is not ``\\,`` or ``\\\\``."""
    if n < 1:
        raise ValueError("a key has at least one column")
    if n == 1:
        return (raw,)
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            if nxt not in (",", "\\"):
                raise MalformedParameter(
                    f"id: a backslash in a composite key escapes only ',' or '\\' "
                    f"(at position {i} of {raw!r})", parameter=KEY_PARAMETER)
            current.append(nxt)
            i += 2
            continue
        if ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    if len(parts) != n:
        raise MalformedParameter(
            f"id: the primary key has {n} columns, so the key is {n} values separated by "
            f"',' (a ',' or '\\' inside a value escaped with '\\'); {raw!r} has "
            f"{len(parts)}", parameter=KEY_PARAMETER)
    return tuple(parts)
