"""What a write asks besides its body: the ``Prefer`` header (PostgREST's preferences) and
the query string of a write (``on_conflict``, ``filters[...]``, ``all``).

Pure: syntax only, no schema. ``Prefer`` preferences dbplane does not know are ignored,
as RFC 7240 asks; a known one with a value it cannot use is a 400 naming ``Prefer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dbplane.errors import MalformedParameter
from dbplane.query.model import FilterGroup
from dbplane.query.params import _level, split_brackets

__all__ = ["WRITE_PARAMETERS", "WritePrefs", "WriteRequest", "parse_prefer",
           "parse_write_params"]

WRITE_PARAMETERS = ("on_conflict", "filters", "all")


@dataclass(frozen=True)
class WritePrefs:
    """``return``: what the answer carries (``representation``: the written rows, the
    default; ``minimal``: none). ``resolution``: an upsert (``merge-duplicates`` updates
    the existing row, ``ignore-duplicates`` keeps it). ``missing_default``: columns a row
    omits take their defaults (always so in dbplane). ``max_affected``: a bulk update or
    delete touching more rows is refused and changes nothing."""

    return_: Literal["representation", "minimal"] | None = None
    resolution: Literal["merge-duplicates", "ignore-duplicates"] | None = None
    missing_default: bool = False
    max_affected: int | None = None


def _malformed(why: str) -> MalformedParameter:
    return MalformedParameter(f"Prefer: {why}", parameter="Prefer")


def parse_prefer(values: Sequence[str]) -> WritePrefs:
    """The write preferences of the ``Prefer`` header(s) (comma separated, repeatable)."""
    return_: Literal["representation", "minimal"] | None = None
    resolution: Literal["merge-duplicates", "ignore-duplicates"] | None = None
    missing_default = False
    max_affected = None
    for header in values:
        for item in header.split(","):
            name, _, value = item.strip().partition("=")
            name, value = name.strip().lower(), value.strip().strip('"')
            if name == "return":
                if value == "representation":
                    return_ = "representation"
                elif value == "minimal" or value == "headers-only":
                    return_ = "minimal"
                else:
                    raise _malformed(f"return={value!r}: representation or minimal")
            elif name == "resolution":
                if value == "merge-duplicates":
                    resolution = "merge-duplicates"
                elif value == "ignore-duplicates":
                    resolution = "ignore-duplicates"
                else:
                    raise _malformed(f"resolution={value!r}: merge-duplicates or "
                                     "ignore-duplicates")
            elif name == "missing":
                if value not in ("default", "null"):
                    raise _malformed(f"missing={value!r}: default")
                if value == "null":
                    raise _malformed("missing=null is not supported: a column a row omits "
                                     "takes its default (missing=default)")
                missing_default = True
            elif name == "max-affected":
                if not value.isdigit() or len(value) > 18:
                    raise _malformed(f"max-affected={value!r}: a whole number of rows")
                max_affected = int(value)
    return WritePrefs(return_, resolution, missing_default, max_affected)


@dataclass(frozen=True)
class WriteRequest:
    """A write's query string: the upsert's conflict columns, the filters of a bulk
    update or delete, and ``all=true`` (a bulk update or delete of every row)."""

    on_conflict: tuple[str, ...] | None = None
    filters: FilterGroup | None = None
    all_rows: bool = False


def _bad(parameter: str, why: str) -> MalformedParameter:
    return MalformedParameter(f"{parameter}: {why}", parameter=parameter)


def parse_write_params(params: Sequence[tuple[str, str]]) -> WriteRequest:
    """Read a write's query string; MalformedParameter naming the parameter for anything
    it cannot read (and for parameters of reads, which a write does not take)."""
    on_conflict: tuple[str, ...] | None = None
    all_rows = False
    entries: list[tuple[str, tuple[str, ...], str]] = []
    for key, value in params:
        split = split_brackets(key)
        if split is None:
            raise _bad(key, "malformed brackets")
        name, parts = split
        if name == "filters" and parts:
            entries.append((key, parts, value))
        elif name == "on_conflict" and not parts:
            if on_conflict is not None:
                raise _bad(key, "given more than once")
            cols = tuple(c.strip() for c in value.split(","))
            if not value or any(not c for c in cols):
                raise _bad(key, "write on_conflict=column,column (a unique key)")
            on_conflict = cols
        elif name == "all" and not parts:
            if value not in ("true", "false"):
                raise _bad(key, "all=true or all=false")
            all_rows = value == "true"
        else:
            raise _bad(key, "not a parameter of a write; a write reads "
                       + ", ".join(WRITE_PARAMETERS))
    filters = _level(entries, 0) if entries else None
    return WriteRequest(on_conflict=on_conflict,
                        filters=FilterGroup("and", tuple(filters)) if filters else None,
                        all_rows=all_rows)
