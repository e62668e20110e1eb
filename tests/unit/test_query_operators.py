"""The operator table: names, spellings, arity and the column kinds each applies to."""

from __future__ import annotations

import pytest

from dbplane.query.model import ColumnKind
from dbplane.query.operators import (
    ALL_KINDS,
    OPERATORS,
    operator_for,
    operator_named,
    operators_for_kind,
    valid_operators,
)

CANONICAL = ["eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "contains", "notContains",
             "startsWith", "endsWith", "null", "notNull", "between"]


def test_the_canonical_names_in_order() -> None:
    assert [op.name for op in OPERATORS] == CANONICAL
    assert valid_operators() == [f"${n}" for n in CANONICAL]


@pytest.mark.parametrize(
    ("spelling", "name", "arity"),
    [
        ("$eq", "eq", "one"), ("$ne", "ne", "one"), ("$lt", "lt", "one"),
        ("$lte", "lte", "one"), ("$gt", "gt", "one"), ("$gte", "gte", "one"),
        ("$in", "in", "list"), ("$nin", "nin", "list"), ("$notIn", "nin", "list"),
        ("$contains", "contains", "one"), ("$contain", "contains", "one"),
        ("$notContains", "notContains", "one"), ("$startsWith", "startsWith", "one"),
        ("$endsWith", "endsWith", "one"), ("$null", "null", "none"),
        ("$notNull", "notNull", "none"), ("$between", "between", "pair"),
    ],
)
def test_spellings(spelling: str, name: str, arity: str) -> None:
    op = operator_for(spelling)
    assert op is not None
    assert (op.name, op.arity) == (name, arity)
    assert operator_named(name) is op


@pytest.mark.parametrize("spelling", ["eq", "$EQ", "$like", "", "$", "$containsi", "in"])
def test_unknown_spellings(spelling: str) -> None:
    assert operator_for(spelling) is None


EVERYTHING = set(ALL_KINDS)


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("eq", EVERYTHING - {"json"}),
        ("ne", EVERYTHING - {"json"}),
        ("in", EVERYTHING - {"json"}),
        ("nin", EVERYTHING - {"json"}),
        ("lt", EVERYTHING - {"json", "binary"}),
        ("lte", EVERYTHING - {"json", "binary"}),
        ("gt", EVERYTHING - {"json", "binary"}),
        ("gte", EVERYTHING - {"json", "binary"}),
        ("between", EVERYTHING - {"json", "binary"}),
        ("contains", {"text", "uuid", "other"}),
        ("notContains", {"text", "uuid", "other"}),
        ("startsWith", {"text", "uuid", "other"}),
        ("endsWith", {"text", "uuid", "other"}),
        ("null", EVERYTHING),
        ("notNull", EVERYTHING),
    ],
)
def test_kinds(name: str, kinds: set[ColumnKind]) -> None:
    op = operator_named(name)
    assert {k for k in ALL_KINDS if op.applies_to(k)} == kinds
    assert op.pattern == (name in ("contains", "notContains", "startsWith", "endsWith"))


def test_operators_for_kind() -> None:
    assert operators_for_kind("json") == ["$null", "$notNull"]
    assert "$contains" in operators_for_kind("text")
    assert "$contains" not in operators_for_kind("integer")
    assert "$gt" not in operators_for_kind("binary")
