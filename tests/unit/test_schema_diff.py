"""The pure schema core: normalizing snapshots (Directus' exports included), the deep-diff
entries, patching a snapshot with a diff, the hash, and the ordered plan."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbplane.errors import DiffNotApplicable, SchemaBodyInvalid, UnsupportedFieldType
from dbplane.schema import (
    complete,
    deep_diff,
    diff,
    is_empty,
    load_document,
    normalize,
    parse_apply_body,
    patch,
    plan,
    schema_hash,
)
from dbplane.schema.plan import (
    AddColumn,
    AlterColumn,
    CreateIndex,
    CreateRelation,
    CreateTable,
    DropColumn,
    DropRelation,
    DropTable,
    constraint_name,
)

# the exports of a real Directus 12.4.0 (tests/fixtures/directus/README.md)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "directus"


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _empty() -> dict[str, Any]:
    return normalize({"version": 1, "vendor": "postgres", "collections": [], "fields": [],
                      "relations": []})


def test_directus_json_and_yaml_exports_normalize_to_the_same_snapshot() -> None:
    as_json = normalize(_fixture("snapshot_v2.json"))
    _fixture("snapshot_v2.json")
    as_yaml = normalize(load_document((FIXTURES / "snapshot_v2.yaml").read_bytes()))
    assert as_json == as_yaml
    assert as_json["directus"] == "12.4.0" and as_json["vendor"] == "postgres"
    assert as_json["systemFields"] == []  # Directus' own tables are not ours
    assert normalize({"data": _fixture("snapshot_v2.json")}) == as_json
    title = next(f for f in as_json["fields"] if f["field"] == "title")
    assert title["schema"]["max_length"] == 500
    assert as_json["collections"][0]["schema"] == {"name": "articles"}


def test_diff_matches_the_directus_diff_of_the_fixture() -> None:
    """Turning the v2 snapshot into the v1 one Directus described: tags dropped (its
    fields go with it), slug dropped, title's length and a new rating field."""
    current = normalize(_fixture("snapshot_v2.json"))
    directus = _fixture("diff_v2_to_v1.json")["data"]["diff"]
    target = patch(current, directus)
    ours = diff(current, target)
    assert ours["collections"] == directus["collections"]
    assert ours["relations"] == directus["relations"] == []
    key = lambda i: (i["collection"], i["field"])  # noqa: E731
    assert sorted(ours["fields"], key=key) == sorted(directus["fields"], key=key)
    # and the plan is what that means for the tables
    described = [c.describe() for c in plan(current, target)]
    assert described == [
        "drop table tags",
        "alter column articles.title: type string(500) -> string(255)",
        "add column articles.rating (decimal)",
        "drop column articles.slug",
    ]


def test_identical_snapshots_have_no_diff_and_equal_hashes() -> None:
    snap = normalize(_fixture("snapshot_v2.json"))
    shuffled = copy.deepcopy(snap)
    shuffled["fields"].reverse()
    assert is_empty(diff(snap, shuffled))
    assert schema_hash(snap) == schema_hash(normalize(shuffled))
    changed = copy.deepcopy(snap)
    changed["collections"][0]["meta"]["icon"] = "x"
    assert schema_hash(snap) != schema_hash(changed)
    assert len(schema_hash(snap)) == 40


def test_deep_diff_entries() -> None:
    assert deep_diff({"a": 1, "b": 2}, {"a": 1, "c": 3}) == [
        {"kind": "D", "path": ["b"], "lhs": 2}, {"kind": "N", "path": ["c"], "rhs": 3}]
    assert deep_diff({"a": {"b": 1}}, {"a": {"b": True}}) == [
        {"kind": "E", "path": ["a", "b"], "lhs": 1, "rhs": True}]
    assert deep_diff([1, 2], [1, 2, 3]) == [
        {"kind": "A", "path": [], "index": 2, "item": {"kind": "N", "rhs": 3}}]
    assert deep_diff([1, 2, 3], [1]) == [
        {"kind": "A", "path": [], "index": 2, "item": {"kind": "D", "lhs": 3}},
        {"kind": "A", "path": [], "index": 1, "item": {"kind": "D", "lhs": 2}}]


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=3),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(
                         st.text(max_size=2), c, max_size=3), max_leaves=8)


@given(_json, _json)
def test_a_diff_patched_onto_its_left_side_gives_the_right_side(a: Any, b: Any) -> None:
    base = _empty()
    base["collections"] = [{"collection": "t", "meta": {"x": a}, "schema": None}]
    other = copy.deepcopy(base)
    other["collections"][0]["meta"] = {"x": b}
    d = diff(base, other)
    assert patch(base, d) == normalize(other)
    assert is_empty(diff(patch(base, d), normalize(other)))


def _table(name: str, *fields: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    return ({"collection": name, "meta": None, "schema": {"name": name}},
            [{"collection": name, "meta": None, **f} for f in fields])


def _snap(*tables: tuple[dict[str, Any], list[Any]],
          relations: list[Any] | None = None) -> dict[str, Any]:
    return normalize({"version": 1, "vendor": "sqlite",
                      "collections": [t[0] for t in tables],
                      "fields": [f for t in tables for f in t[1]],
                      "relations": relations or []})


ID = {"field": "id", "type": "integer",
      "schema": {"is_primary_key": True, "has_auto_increment": True, "is_nullable": False}}


def test_plan_orders_drops_before_creates_and_keys_last() -> None:
    current = _snap(_table("a", ID, {"field": "b_id", "type": "integer", "schema": {}}),
                    _table("b", ID),
                    relations=[{"collection": "a", "field": "b_id",
                                "related_collection": "b", "schema": {}}])
    target = _snap(_table("a", ID, {"field": "c_id", "type": "integer",
                                    "schema": {"is_indexed": True}}),
                   _table("c", ID),
                   relations=[{"collection": "a", "field": "c_id",
                               "related_collection": "c",
                               "schema": {"on_delete": "cascade"}}])
    steps = plan(current, target)
    assert [type(s) for s in steps] == [DropRelation, DropTable, CreateTable,
                                        AddColumn, DropColumn, CreateIndex, CreateRelation]
    assert steps[-1].relation.name == "a_c_id_foreign"  # type: ignore[attr-defined]
    assert steps[-1].relation.on_delete == "CASCADE"  # type: ignore[attr-defined]
    assert [s.destructive for s in steps if isinstance(s, DropTable | DropColumn)] == [
        True, True]


def test_alter_and_complete() -> None:
    current = _snap(_table("t", ID, {"field": "n", "type": "string",
                                     "schema": {"max_length": 10, "data_type": "varchar"}}))
    target = _snap(_table("t", ID, {"field": "n", "type": "string",
                                    "schema": {"max_length": 20}}))
    (step,) = plan(current, target)
    assert isinstance(step, AlterColumn) and step.destructive
    # what the target leaves unsaid is taken from the database
    d = diff(current, complete(target, current))
    (item,) = d["fields"]
    assert item["diff"] == [{"kind": "E", "path": ["schema", "max_length"], "lhs": 10,
                             "rhs": 20}]


def test_bodies_that_are_not_snapshots_or_diffs() -> None:
    bad: Any
    for bad in ([], "x", {"collections": [], "fields": []},
                {"collections": [{"collection": 3}], "fields": [], "relations": []},
                {"collections": [], "fields": [{"collection": "a", "field": "b",
                                                "type": "string",
                                                "schema": {"max_length": "x"}}],
                 "relations": []}):
        with pytest.raises(SchemaBodyInvalid):
            normalize(bad)
    for raw in (b"", b"  ", b"\xff", b"a: [b", b"\x00", b"a: \x1b"):
        with pytest.raises(SchemaBodyInvalid):
            load_document(raw)
    body: Any
    for body in ([], {"hash": "x"}, {"diff": {}}, {"hash": 3, "diff": {}},
                 {"hash": "x", "diff": {"collections": [{"collection": "a",
                                                         "diff": [{"kind": "Q"}]}]}}):
        with pytest.raises(SchemaBodyInvalid):
            parse_apply_body(body)
    assert parse_apply_body({"data": {"hash": "h", "diff": {}}}) == ("h", {
        "collections": [], "fields": [], "systemFields": [], "relations": []})


def test_diffs_that_do_not_fit() -> None:
    current = _snap(_table("t", ID))
    for changes in (
        {"collections": [{"collection": "t", "diff": [{"kind": "N", "rhs": {}}]}]},
        {"collections": [{"collection": "u", "diff": [{"kind": "D", "lhs": {}}]}]},
        {"fields": [{"collection": "u", "field": "x", "diff": [
            {"kind": "N", "rhs": {"type": "string", "schema": {}}}]}]},
        {"fields": [{"collection": "t", "field": "id", "diff": [
            {"kind": "E", "path": ["schema", "nope", "x"], "rhs": 1}]}]},
    ):
        with pytest.raises(DiffNotApplicable):
            patch(current, changes)
    odd = patch(current, {"fields": [{"collection": "t", "field": "g", "diff": [
        {"kind": "N", "rhs": {"type": "geometry", "schema": {}}}]}]})
    with pytest.raises(UnsupportedFieldType) as err:
        plan(current, odd)
    assert "t.g" in err.value.detail


def test_check_expressions_are_one_expression() -> None:
    table, fields = _table("t", ID)
    for expression in ("id > 0); DROP TABLE t; --", "id > 0 -- x", "(id > 0", "id > ')'"):
        snap = _snap((dict(table, schema={"name": "t", "checks": [
            {"name": "c", "expression": expression}]}), fields))
        if expression == "id > ')'":
            assert plan(_snap(), snap)
            continue
        with pytest.raises(DiffNotApplicable):
            plan(_snap(), snap)


def test_constraint_names_fit_every_engine() -> None:
    assert constraint_name("articles", ("author",), "foreign") == "articles_author_foreign"
    long = constraint_name("t" * 50, ("c" * 40,), "unique")
    assert len(long) <= 60 and long.endswith("_unique")
    assert long != constraint_name("t" * 50, ("c" * 41,), "unique")
