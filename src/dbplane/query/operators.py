"""The filter operators of the Tables API, as a table of small objects.

Pure: plain data, no I/O, no SQL. As in Datasette's ``filters.py``, each operator is one
object that knows its names, how many values it takes and which column kinds it applies
to; the parser reads the arity (to split ``a,b,c`` lists), the planner checks names and
kinds, and each engine compiles the canonical name into SQLAlchemy Core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dbplane.query.model import ColumnKind

__all__ = [
    "ALL_KINDS",
    "OPERATORS",
    "Arity",
    "Operator",
    "operator_for",
    "operator_named",
    "operators_for_kind",
    "valid_operators",
]

Arity = Literal["one", "list", "pair", "none"]
"""``one``: a single value; ``list``: one or more values (``a,b,c`` or indexed);
``pair``: exactly two values (``lo,hi`` or indexed ``[0]``/``[1]``); ``none``: no value
(``$null`` / ``$notNull``, whose ``true``/``false`` is folded into the operator)."""

ALL_KINDS: frozenset[ColumnKind] = frozenset({
    "integer", "float", "decimal", "text", "boolean", "date", "datetime", "time", "json",
    "binary", "uuid", "other",
})
_NOT_JSON = ALL_KINDS - {"json"}
_ORDERED = ALL_KINDS - {"json", "binary"}
_TEXTUAL: frozenset[ColumnKind] = frozenset({"text", "uuid", "other"})


@dataclass(frozen=True)
class Operator:
    """One filter operator: ``name`` is canonical (what ``Predicate.operator`` holds),
    ``aliases`` are the spellings a request may use (the first is the one documented)."""

    name: str
    aliases: tuple[str, ...]
    arity: Arity
    kinds: frozenset[ColumnKind]
    description: str
    pattern: bool = False
    """The value is a piece of text matched inside the column's text (``contains``,
    ``startsWith``…): it is kept as given, not converted to the column's kind."""

    @property
    def spelling(self) -> str:
        """The documented spelling, e.g. ``$eq``."""
        return self.aliases[0]

    def applies_to(self, kind: ColumnKind) -> bool:
        """Whether this operator can be used on a column of this kind."""
        return kind in self.kinds


OPERATORS: tuple[Operator, ...] = (
    Operator("eq", ("$eq",), "one", _NOT_JSON, "equals"),
    Operator("ne", ("$ne",), "one", _NOT_JSON, "does not equal"),
    Operator("lt", ("$lt",), "one", _ORDERED, "is less than"),
    Operator("lte", ("$lte",), "one", _ORDERED, "is less than or equal to"),
    Operator("gt", ("$gt",), "one", _ORDERED, "is greater than"),
    Operator("gte", ("$gte",), "one", _ORDERED, "is greater than or equal to"),
    Operator("in", ("$in",), "list", _NOT_JSON, "is one of"),
    # $notIn is Strapi's spelling (SonicJS follows Strapi's filter syntax)
    Operator("nin", ("$nin", "$notIn"), "list", _NOT_JSON, "is none of"),
    # $contain is the seed's spelling (SonicJS documents "$contain contains")
    Operator("contains", ("$contains", "$contain"), "one", _TEXTUAL, "contains",
             pattern=True),
    Operator("notContains", ("$notContains",), "one", _TEXTUAL, "does not contain",
             pattern=True),
    Operator("startsWith", ("$startsWith",), "one", _TEXTUAL, "starts with", pattern=True),
    Operator("endsWith", ("$endsWith",), "one", _TEXTUAL, "ends with", pattern=True),
    Operator("null", ("$null",), "none", ALL_KINDS, "is null"),
    Operator("notNull", ("$notNull",), "none", ALL_KINDS, "is not null"),
    Operator("between", ("$between",), "pair", _ORDERED, "is between (inclusive)"),
)

_BY_ALIAS: dict[str, Operator] = {alias: op for op in OPERATORS for alias in op.aliases}
_BY_NAME: dict[str, Operator] = {op.name: op for op in OPERATORS}


def operator_for(spelling: str) -> Operator | None:
    """The operator a request names (``$eq``, ``$contain``…), or None. Case-sensitive, as
    the names are documented; a canonical name without ``$`` is not a request spelling."""
    return _BY_ALIAS.get(spelling)


def operator_named(name: str) -> Operator:
    """The operator with this canonical name (``eq``); KeyError for any other."""
    return _BY_NAME[name]


def valid_operators() -> list[str]:
    """The documented spellings, in order, for error messages: ``["$eq", "$ne", …]``."""
    return [op.spelling for op in OPERATORS]


def operators_for_kind(kind: ColumnKind) -> list[str]:
    """The documented spellings of the operators that apply to a column kind."""
    return [op.spelling for op in OPERATORS if op.applies_to(kind)]
