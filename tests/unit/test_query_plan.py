"""The planner: requests checked against a schema, with no database.

Each error class and its fields, the plans that come out, and the relations a table
offers to ``include=``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbplane.errors import (
    DbplaneError,
    InvalidValue,
    MalformedParameter,
    NotNullViolation,
    ReadOnlyTable,
    UnknownColumn,
    UnknownOperator,
    UnknownRelation,
)
from dbplane.query.model import (
    ColumnInfo,
    Condition,
    FilterGroup,
    ForeignKey,
    Include,
    OrderBy,
    Predicate,
    PredicateGroup,
    ReadPlan,
    SchemaInfo,
    TableInfo,
    TableRequest,
)
from dbplane.query.operators import operators_for_kind, valid_operators
from dbplane.query.params import parse_table_params
from dbplane.query.plan import (
    plan_delete,
    plan_insert,
    plan_read,
    plan_update,
    relations,
    timestamp_value,
)

NOW = 1688780261122
NEW_UUID = "00000000-0000-4000-8000-000000000001"


def c(name: str, kind: Any, type_sql: str = "", **kw: Any) -> ColumnInfo:
    return ColumnInfo(name=name, kind=kind, type_sql=type_sql or str(kind).upper(), **kw)


USERS = TableInfo("users", "table", (
    c("id", "text", primary_key=True, nullable=False),
    c("name", "text", nullable=False),
    c("email", "text"),
    c("role", "text", nullable=False, default="'user'"),
    c("age", "integer"),
    c("score", "float"),
    c("balance", "decimal"),
    c("active", "boolean"),
    c("born", "date"),
    c("seen_at", "datetime"),
    c("wakes", "time"),
    c("prefs", "json"),
    c("avatar", "binary"),
    c("token", "uuid"),
    c("created_on", "integer"),
    c("updated_on", "integer"),
), primary_key=("id",))
ARTICLES = TableInfo("articles", "table", (
    c("id", "integer", primary_key=True, nullable=False, autoincrement=True),
    c("title", "text", nullable=False),
    c("body", "text"),
    c("author_id", "text"),
    c("editor_id", "text"),
), primary_key=("id",), foreign_keys=(
    ForeignKey("fk_author", ("author_id",), "users", ("id",)),
    ForeignKey("fk_editor", ("editor_id",), "users", ("id",)),
))
COMMENTS = TableInfo("comments", "table", (
    c("id", "integer", primary_key=True, nullable=False, autoincrement=True),
    c("article_id", "integer", nullable=False),
    c("body", "text"),
), primary_key=("id",), foreign_keys=(
    # SQLite: a foreign key naming no columns refers to the primary key
    ForeignKey(None, ("article_id",), "articles", ()),
))
ORDER_ITEMS = TableInfo("order_items", "table", (
    c("order_id", "integer", primary_key=True, nullable=False),
    c("line", "integer", primary_key=True, nullable=False),
    c("qty", "integer", nullable=False),
), primary_key=("order_id", "line"))
NOTES = TableInfo("notes", "table", (
    c("order_id", "integer"), c("line", "integer"), c("text", "text"),
), foreign_keys=(ForeignKey(None, ("order_id", "line"), "order_items", ("order_id", "line")),))
LOG = TableInfo("log", "table", (c("at", "integer"), c("msg", "text")))
ACTIVE_USERS = TableInfo("active_users", "view", (c("id", "text"), c("name", "text")))
EMPLOYEES = TableInfo("employees", "table", (
    c("id", "integer", primary_key=True, nullable=False, autoincrement=True),
    c("manager_id", "integer"),
    c("name", "text"),
), primary_key=("id",), foreign_keys=(
    ForeignKey(None, ("manager_id",), "employees", ("id",)),
))
# names that need quoting, and a column that collides with a relation name
ODD = TableInfo("Odd Table", "table", (
    c("Key", "text", primary_key=True, nullable=False, default="gen_random_uuid()"),
    c("my col", "text"),
    c("Select", "integer"),
    c("users", "text"),
    c("owner_id", "text"),
    c("created_on", "text"),
    c("updated_on", "datetime", "timestamp with time zone"),
), primary_key=("Key",), foreign_keys=(ForeignKey(None, ("owner_id",), "users", ("id",)),))
STAMPS = TableInfo("stamps", "table", (
    c("id", "uuid", primary_key=True, nullable=False),
    c("created_on", "datetime", "timestamp"),
    c("updated_on", "date"),
    c("flag", "boolean", nullable=False, default="0"),
), primary_key=("id",))
SCHEMA = SchemaInfo({t.name: t for t in (
    USERS, ARTICLES, COMMENTS, ORDER_ITEMS, NOTES, LOG, ACTIVE_USERS, EMPLOYEES, ODD, STAMPS)})


def read(qs: str, table: TableInfo = USERS, **kw: Any) -> ReadPlan:
    kw.setdefault("default_limit", 50)
    kw.setdefault("max_limit", 1000)
    req = parse_table_params(parse_qsl(qs, keep_blank_values=True))
    return plan_read(req, table, SCHEMA, **kw)


def col(table: TableInfo, name: str) -> ColumnInfo:
    found = table.column(name)
    assert found is not None
    return found


def error(exc: pytest.ExceptionInfo[DbplaneError]) -> dict[str, Any]:
    return exc.value.fields


# -- columns, order, page --------------------------------------------------------------


def test_a_plain_list() -> None:
    plan = read("")
    assert plan.columns == USERS.columns
    assert plan.where is None
    assert plan.order == (OrderBy(col(USERS, "id")),)  # the key makes pages stable
    assert (plan.limit, plan.offset, plan.count_exact, plan.key) == (50, 0, False, None)


def test_fields_sort_page_count() -> None:
    plan = read("fields=name,id,name&sort=age:desc,name&limit=10&offset=5&count=exact")
    assert [x.name for x in plan.columns] == ["name", "id"]
    assert plan.order == (OrderBy(col(USERS, "age"), True), OrderBy(col(USERS, "name")),
                          OrderBy(col(USERS, "id")))
    assert (plan.limit, plan.offset, plan.count_exact) == (10, 5, True)


def test_sorting_on_the_key_is_not_repeated() -> None:
    assert read("sort=id:desc").order == (OrderBy(col(USERS, "id"), True),)
    assert read("sort=line", ORDER_ITEMS).order == (
        OrderBy(col(ORDER_ITEMS, "line")), OrderBy(col(ORDER_ITEMS, "order_id")))


def test_a_table_without_key_is_ordered_only_as_asked() -> None:
    assert read("", LOG).order == ()
    assert read("sort=msg", LOG).order == (OrderBy(col(LOG, "msg")),)


def test_names_that_need_quoting_match_exactly() -> None:
    plan = read("fields=my+col,Select&sort=Select:desc&filters[my+col][$eq]=x", ODD)
    assert [x.name for x in plan.columns] == ["my col", "Select"]
    assert plan.where == PredicateGroup("and", (Predicate(col(ODD, "my col"), "eq", "x"),))


@pytest.mark.parametrize(
    ("qs", "column", "parameter"),
    [
        ("fields=name,nmae", "nmae", "fields"),
        ("fields=Name", "Name", "fields"),
        ("fields=id,+name", " name", "fields"),
        ("sort=titel", "titel", "sort"),
        ("sort=ID:desc", "ID", "sort"),
        ("filters[titel][$eq]=x", "titel", "filters[titel][$eq]"),
        ("filters[titel]=x", "titel", "filters[titel][$eq]"),
        ("filters[$or][0][name]=a&filters[$or][1][nope][$gt]=1", "nope",
         "filters[$or][1][nope][$gt]"),
        ("filters[$and][0][$or][0][x][$in]=1", "x", "filters[$and][0][$or][0][x][$in]"),
        ("filters[$or][0][name]=a&filters[$or][0][x][$eq]=1", "x", "filters[$or][0][x][$eq]"),
        ('filters[name"; DROP TABLE users; --][$eq]=1', 'name"; DROP TABLE users; --',
         'filters[name"; DROP TABLE users; --][$eq]'),
    ],
)
def test_unknown_columns(qs: str, column: str, parameter: str) -> None:
    with pytest.raises(UnknownColumn) as exc:
        read(qs)
    assert error(exc) == {"table": "users", "column": column, "parameter": parameter}


@pytest.mark.parametrize(
    ("kw", "qs", "limit"),
    [({}, "", 50), ({}, "limit=1000", 1000), ({}, "limit=0", 0),
     ({"default_limit": 7}, "", 7)],
)
def test_limits(kw: dict[str, Any], qs: str, limit: int) -> None:
    assert read(qs, **kw).limit == limit


def test_a_limit_above_the_maximum() -> None:
    with pytest.raises(MalformedParameter) as exc:
        read("limit=1001")
    assert error(exc) == {"parameter": "limit"}
    assert "1000" in exc.value.detail


def test_json_columns_cannot_be_sorted_on() -> None:
    with pytest.raises(MalformedParameter) as exc:
        read("sort=prefs")
    assert error(exc) == {"parameter": "sort"}


# -- filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qs", "column", "operator", "value"),
    [
        ("filters[age][$gt]=30", "age", "gt", 30),
        ("filters[age]=30", "age", "eq", 30),
        ("filters[age][$in]=1,2,3", "age", "in", (1, 2, 3)),
        ("filters[age][$notIn]=1", "age", "nin", (1,)),
        ("filters[age][$between]=18,65", "age", "between", (18, 65)),
        ("filters[age][$null]=true", "age", "null", None),
        ("filters[age][$null]=false", "age", "notNull", None),
        ("filters[prefs][$notNull]=", "prefs", "notNull", None),
        ("filters[name][$contain]=oh", "name", "contains", "oh"),
        ("filters[name][$startsWith]=J%", "name", "startsWith", "J%"),
        ("filters[token][$contains]=ABC", "token", "contains", "ABC"),  # text, unconverted
        ("filters[token][$eq]=9D370085C11647C99B227F33061EC7B1", "token", "eq",
         "9d370085-c116-47c9-9b22-7f33061ec7b1"),
        ("filters[active][$eq]=TRUE", "active", "eq", True),
        ("filters[active][$ne]=0", "active", "ne", False),
        ("filters[score][$lte]=2.5", "score", "lte", 2.5),
        ("filters[balance][$gte]=10.50", "balance", "gte", Decimal("10.50")),
        ("filters[born][$lt]=2000-01-01", "born", "lt", dt.date(2000, 1, 1)),
        ("filters[seen_at][$gte]=2024-01-01T00:00:00Z", "seen_at", "gte",
         dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        ("filters[avatar][$eq]=00ff", "avatar", "eq", b"\x00\xff"),
        ("filters[name][$eq]='; DROP TABLE users; --", "name", "eq",
         "'; DROP TABLE users; --"),
    ],
)
def test_filters_are_resolved_and_converted(qs: str, column: str, operator: str,
                                            value: Any) -> None:
    plan = read(qs)
    assert plan.where == PredicateGroup("and", (Predicate(col(USERS, column), operator,
                                                          value),))


def test_nested_groups_become_predicate_groups() -> None:
    plan = read("filters[$or][0][age][$lt]=18&filters[$or][1][age][$gt]=65"
                "&filters[$or][1][active]=1&filters[name][$ne]=x")
    age, active, name = col(USERS, "age"), col(USERS, "active"), col(USERS, "name")
    assert plan.where == PredicateGroup("and", (
        PredicateGroup("or", (
            Predicate(age, "lt", 18),
            PredicateGroup("and", (Predicate(age, "gt", 65), Predicate(active, "eq", True))),
        )),
        Predicate(name, "ne", "x"),
    ))


def test_a_plan_shape_ignores_values() -> None:
    a = read("filters[age][$in]=1,2&sort=name&limit=5")
    b = read("filters[age][$in]=3,4&sort=name&limit=9")
    c_ = read("filters[age][$in]=3,4,5&sort=name&limit=9")
    assert a.shape() == b.shape() != c_.shape()


def test_unknown_operator_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownOperator) as exc:
        read("filters[name][$like]=x")
    assert error(exc) == {"operator": "$like", "column": "name", "valid": valid_operators()}
    assert "$eq $ne $lt" in exc.value.detail


@pytest.mark.parametrize(
    ("qs", "operator", "column", "kind"),
    [
        ("filters[age][$contains]=1", "$contains", "age", "integer"),
        ("filters[age][$contain]=1", "$contain", "age", "integer"),
        ("filters[active][$startsWith]=t", "$startsWith", "active", "boolean"),
        ("filters[prefs][$eq]=1", "$eq", "prefs", "json"),
        ("filters[prefs][$in]=1", "$in", "prefs", "json"),
        ("filters[avatar][$gt]=00", "$gt", "avatar", "binary"),
        ("filters[avatar][$between]=00,ff", "$between", "avatar", "binary"),
    ],
)
def test_an_operator_that_does_not_apply_to_the_kind(qs: str, operator: str, column: str,
                                                     kind: Any) -> None:
    with pytest.raises(UnknownOperator) as exc:
        read(qs)
    assert error(exc) == {"operator": operator, "column": column,
                          "valid": operators_for_kind(kind)}
    assert "does not apply" in exc.value.detail
    assert f"{kind} column {column!r}" in exc.value.detail


@pytest.mark.parametrize(
    ("qs", "column", "value", "parameter"),
    [
        ("filters[age][$eq]=abc", "age", "abc", "filters[age][$eq]"),
        ("filters[age]=1.5", "age", "1.5", "filters[age][$eq]"),
        ("filters[age][$in]=1,x", "age", "x", "filters[age][$in]"),
        ("filters[age][$between]=1,", "age", "", "filters[age][$between]"),
        ("filters[active][$eq]=yes", "active", "yes", "filters[active][$eq]"),
        ("filters[born][$gt]=yesterday", "born", "yesterday", "filters[born][$gt]"),
        ("filters[$or][0][token][$eq]=x", "token", "x", "filters[$or][0][token][$eq]"),
    ],
)
def test_values_that_do_not_fit(qs: str, column: str, value: str, parameter: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        read(qs)
    assert error(exc)["column"] == column
    assert error(exc)["value"] == value
    assert error(exc)["parameter"] == parameter


@pytest.mark.parametrize(
    ("filters", "parameter"),
    [
        (FilterGroup("and", (Condition("age", "$eq", ("1", "2")),)), "filters[age][$eq]"),
        (FilterGroup("and", (Condition("age", "$in", ()),)), "filters[age][$in]"),
        (FilterGroup("and", (Condition("age", "$between", ("1",)),)),
         "filters[age][$between]"),
        (FilterGroup("and", (FilterGroup("or", ()),)), "filters[$or]"),
    ],
)
def test_requests_built_by_hand_are_checked_too(filters: FilterGroup, parameter: str) -> None:
    with pytest.raises(MalformedParameter) as exc:
        plan_read(TableRequest(filters=filters), USERS, SCHEMA, default_limit=5, max_limit=5)
    assert error(exc) == {"parameter": parameter}


def test_a_comma_list_given_as_text_by_hand_is_split() -> None:
    req = TableRequest(filters=FilterGroup("and", (Condition("age", "$in", "1,2"),)))
    plan = plan_read(req, USERS, SCHEMA, default_limit=5, max_limit=5)
    assert plan.where == PredicateGroup("and", (Predicate(col(USERS, "age"), "in", (1, 2)),))


# -- relations -------------------------------------------------------------------------


def _summary(rels: dict[str, Include]) -> dict[str, tuple[str, str, tuple[str, ...],
                                                          tuple[str, ...]]]:
    for name, rel in rels.items():
        assert rel.name == name
        assert rel.limit is None
    return {n: (r.kind, r.table.name, r.local_columns, r.remote_columns)
            for n, r in rels.items()}


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (USERS, {
            # two foreign keys of articles refer to users: each is qualified
            "articles.author_id": ("one-to-many", "articles", ("id",), ("author_id",)),
            "articles.editor_id": ("one-to-many", "articles", ("id",), ("editor_id",)),
            "Odd Table": ("one-to-many", "Odd Table", ("id",), ("owner_id",)),
        }),
        (ARTICLES, {
            "author": ("many-to-one", "users", ("author_id",), ("id",)),
            "editor": ("many-to-one", "users", ("editor_id",), ("id",)),
            # "users" fits both foreign keys: not offered
            "comments": ("one-to-many", "comments", ("id",), ("article_id",)),
        }),
        (COMMENTS, {
            "article": ("many-to-one", "articles", ("article_id",), ("id",)),
            "articles": ("many-to-one", "articles", ("article_id",), ("id",)),
        }),
        (ORDER_ITEMS, {
            "notes": ("one-to-many", "notes", ("order_id", "line"), ("order_id", "line")),
        }),
        (NOTES, {
            "order_items": ("many-to-one", "order_items", ("order_id", "line"),
                            ("order_id", "line")),
        }),
        (EMPLOYEES, {
            "manager": ("many-to-one", "employees", ("manager_id",), ("id",)),
            # a self reference: the one-to-many reading of the table's name wins
            "employees": ("one-to-many", "employees", ("id",), ("manager_id",)),
        }),
        (ODD, {
            "owner": ("many-to-one", "users", ("owner_id",), ("id",)),
            # "users" is also a column of this table: not offered
        }),
        (LOG, {}),
        (ACTIVE_USERS, {}),
    ],
    ids=lambda t: t.name if isinstance(t, TableInfo) else None,
)
def test_relations(table: TableInfo, expected: dict[str, Any]) -> None:
    assert _summary(relations(table, SCHEMA)) == expected


def test_relations_to_a_table_outside_the_schema_are_skipped() -> None:
    lonely = TableInfo("t", "table", (c("x_id", "integer"),),
                       foreign_keys=(ForeignKey(None, ("x_id",), "elsewhere", ("id",)),))
    assert relations(lonely, SchemaInfo({"t": lonely})) == {}


def test_include_many_to_one_and_one_to_many() -> None:
    plan = read("include=author,comments", ARTICLES)
    assert [(i.name, i.kind, i.limit) for i in plan.includes] == [
        ("author", "many-to-one", None), ("comments", "one-to-many", 10)]
    plan = read("include=articles.author_id", USERS, include_limit=4)
    assert [(i.name, i.limit) for i in plan.includes] == [("articles.author_id", 4)]
    plan = read("include[articles.editor_id][limit]=0", USERS)
    assert [(i.name, i.limit) for i in plan.includes] == [("articles.editor_id", 0)]


def test_unknown_relation_lists_the_valid_names() -> None:
    with pytest.raises(UnknownRelation) as exc:
        read("include=users", ARTICLES)
    assert error(exc) == {"table": "articles", "include": "users",
                          "valid": ["author", "comments", "editor"]}
    with pytest.raises(UnknownRelation) as exc:
        read("include=anything", LOG)
    assert error(exc)["valid"] == []
    assert "none" in exc.value.detail


@pytest.mark.parametrize(
    ("table", "qs", "parameter"),
    [
        (ARTICLES, "include[author][limit]=1", "include[author][limit]"),
        (ARTICLES, "include[comments][limit]=1001", "include[comments][limit]"),
    ],
)
def test_include_limits(table: TableInfo, qs: str, parameter: str) -> None:
    with pytest.raises(MalformedParameter) as exc:
        read(qs, table)
    assert error(exc) == {"parameter": parameter}


# -- one record by key -----------------------------------------------------------------


def test_read_one_record() -> None:
    plan = read("fields=name&include=articles.author_id", key=("abc",))
    assert plan.key == ((col(USERS, "id"), "abc"),)
    assert plan.limit == 1
    assert plan.order == ()
    plan = read("", ORDER_ITEMS, key=("17", "3"))
    assert plan.key == ((col(ORDER_ITEMS, "order_id"), 17), (col(ORDER_ITEMS, "line"), 3))


def test_a_key_with_the_wrong_number_of_values() -> None:
    with pytest.raises(MalformedParameter) as exc:
        read("", ORDER_ITEMS, key=("17",))
    assert error(exc) == {"parameter": "id"}
    assert "2 column(s) (order_id, line)" in exc.value.detail


def test_a_key_value_of_the_wrong_type() -> None:
    with pytest.raises(InvalidValue) as exc:
        read("", ORDER_ITEMS, key=("17", "x"))
    assert error(exc) == {"column": "line", "value": "x", "expected": "integer",
                          "parameter": "id"}


@pytest.mark.parametrize("table", [LOG, ACTIVE_USERS])
def test_records_without_a_key_cannot_be_addressed(table: TableInfo) -> None:
    with pytest.raises(ReadOnlyTable) as exc:
        read("", table, key=("1",))
    assert error(exc) == {"table": table.name}
    assert "cannot be addressed" in exc.value.detail


def test_a_view_lists() -> None:
    assert read("filters[name][$eq]=x", ACTIVE_USERS).table is ACTIVE_USERS


# -- insert ----------------------------------------------------------------------------


def insert(table: TableInfo, data: Any) -> list[dict[str, Any]]:
    plan = plan_insert(table, data, now_ms=NOW, new_uuid=lambda: NEW_UUID)
    assert plan.action == "insert"
    assert plan.returning == table.columns
    assert plan.key is None
    return [dict(r) for r in plan.rows]


def test_insert_fills_the_key_and_the_timestamps() -> None:
    rows = insert(USERS, {"name": "John", "email": "john@example.com", "role": "admin"})
    assert rows == [{"id": NEW_UUID, "name": "John", "email": "john@example.com",
                     "role": "admin", "created_on": NOW, "updated_on": NOW}]
    assert list(rows[0]) == ["id", "name", "email", "role", "created_on", "updated_on"]


def test_insert_keeps_what_is_given() -> None:
    rows = insert(USERS, {"id": "u1", "name": "Kate", "created_on": 5, "age": None,
                          "prefs": {"a": [1]}, "balance": "1.10", "active": 1})
    assert rows == [{"id": "u1", "name": "Kate", "age": None, "balance": Decimal("1.10"),
                     "active": True, "prefs": {"a": [1]}, "created_on": 5,
                     "updated_on": NOW}]


def test_insert_many() -> None:
    rows = insert(ARTICLES, [{"title": "a"}, {"title": "b", "id": 7, "author_id": "u1"},
                             {"title": "c", "id": None}])
    assert rows == [{"title": "a"}, {"id": 7, "title": "b", "author_id": "u1"},
                    {"title": "c"}]  # null for a generated key asks for one


def test_insert_generates_no_key_the_database_makes() -> None:
    assert insert(ODD, {"my col": "x"}) == [{"my col": "x", "created_on":
                                             "2023-07-08T01:37:41.122Z", "updated_on":
                                             dt.datetime(2023, 7, 8, 1, 37, 41, 122000,
                                                         tzinfo=dt.UTC)}]


def test_timestamps_by_kind() -> None:
    assert insert(STAMPS, {}) == [{"id": NEW_UUID,
                                   "created_on": dt.datetime(2023, 7, 8, 1, 37, 41, 122000),
                                   "updated_on": dt.date(2023, 7, 8)}]


@pytest.mark.parametrize(
    ("kind", "type_sql", "value"),
    [
        ("integer", "BIGINT", NOW),
        ("float", "REAL", float(NOW)),
        ("decimal", "NUMERIC(15)", Decimal(NOW)),
        ("text", "TEXT", "2023-07-08T01:37:41.122Z"),
        ("other", "CITEXT", "2023-07-08T01:37:41.122Z"),
        ("datetime", "TIMESTAMPTZ", dt.datetime(2023, 7, 8, 1, 37, 41, 122000, tzinfo=dt.UTC)),
        ("datetime", "timestamp without time zone",
         dt.datetime(2023, 7, 8, 1, 37, 41, 122000)),
        ("date", "DATE", dt.date(2023, 7, 8)),
        ("boolean", "BOOLEAN", None),
        ("json", "JSON", None),
    ],
)
def test_timestamp_value(kind: Any, type_sql: str, value: Any) -> None:
    out = timestamp_value(c("created_on", kind, type_sql), NOW)
    assert out == value
    assert type(out) is type(value)


@pytest.mark.parametrize(
    ("table", "data", "error_class", "fields"),
    [
        (USERS, {"name": "x", "nmae": "y"}, UnknownColumn,
         {"table": "users", "column": "nmae", "parameter": "data"}),
        (USERS, [{"name": "x"}, {"Name": "y"}], UnknownColumn,
         {"table": "users", "column": "Name", "parameter": "data[1]"}),
        (USERS, {"email": "x"}, NotNullViolation,
         {"table": "users", "column": "name", "parameter": "data.name"}),
        (USERS, {"name": None}, NotNullViolation,
         {"table": "users", "column": "name", "parameter": "data.name"}),
        (USERS, {"name": "x", "role": None}, NotNullViolation,
         {"table": "users", "column": "role", "parameter": "data.role"}),
        (USERS, {"name": "x", "id": None}, NotNullViolation,
         {"table": "users", "column": "id", "parameter": "data.id"}),
        (USERS, [{"name": "x"}, {"name": "y"}, {"age": 1}], NotNullViolation,
         {"table": "users", "column": "name", "parameter": "data[2].name"}),
        (ORDER_ITEMS, {"line": 1, "qty": 1}, NotNullViolation,
         {"table": "order_items", "column": "order_id", "parameter": "data.order_id"}),
        (USERS, {"name": "x", "age": "12"}, InvalidValue,
         {"column": "age", "value": "12", "expected": "integer", "parameter": "data.age"}),
        (USERS, [{"name": "x"}, {"name": 5}], InvalidValue,
         {"column": "name", "value": 5, "expected": "string", "parameter": "data[1].name"}),
        (USERS, None, MalformedParameter, {"parameter": "data"}),
        (USERS, [], MalformedParameter, {"parameter": "data"}),
        (USERS, "x", MalformedParameter, {"parameter": "data"}),
        (USERS, [{"name": "x"}, 3], MalformedParameter, {"parameter": "data[1]"}),
        (USERS, [[]], MalformedParameter, {"parameter": "data[0]"}),
        (ACTIVE_USERS, {"name": "x"}, ReadOnlyTable, {"table": "active_users"}),
        (LOG, {"msg": "x"}, ReadOnlyTable, {"table": "log"}),
    ],
)
def test_insert_errors(table: TableInfo, data: Any, error_class: type[DbplaneError],
                       fields: dict[str, Any]) -> None:
    with pytest.raises(error_class) as exc:
        plan_insert(table, data, now_ms=NOW, new_uuid=lambda: NEW_UUID)
    assert type(exc.value) is error_class
    assert exc.value.fields == fields


def test_not_null_says_which_column() -> None:
    with pytest.raises(NotNullViolation) as exc:
        plan_insert(USERS, [{"name": "a"}, {"email": "b"}], now_ms=NOW, new_uuid=lambda: "u")
    assert exc.value.detail == "data[1].name: the column 'name' cannot be null and is missing"


def test_each_row_gets_its_own_uuid() -> None:
    ids = iter(["u1", "u2"])
    plan = plan_insert(USERS, [{"name": "a"}, {"name": "b"}], now_ms=NOW,
                       new_uuid=lambda: next(ids))
    assert [r["id"] for r in plan.rows] == ["u1", "u2"]


# -- update and delete -----------------------------------------------------------------


def test_update_changes_only_the_given_columns() -> None:
    plan = plan_update(USERS, ("u1",), {"email": "new@example.com", "id": "u2"}, now_ms=NOW)
    assert plan.action == "update"
    assert plan.key == ((col(USERS, "id"), "u1"),)
    assert plan.rows == ({"id": "u2", "email": "new@example.com", "updated_on": NOW},)
    assert plan.returning == USERS.columns


def test_update_keeps_a_given_updated_on_and_sets_nulls() -> None:
    plan = plan_update(USERS, ("u1",), {"updated_on": 1, "age": None}, now_ms=NOW)
    assert plan.rows == ({"age": None, "updated_on": 1},)
    plan = plan_update(ARTICLES, ("3",), {"title": "t"}, now_ms=NOW)
    assert plan.rows == ({"title": "t"},)
    assert plan.key == ((col(ARTICLES, "id"), 3),)


@pytest.mark.parametrize(
    ("table", "key", "data", "error_class", "fields"),
    [
        (USERS, ("u1",), {}, MalformedParameter, {"parameter": "data"}),
        (USERS, ("u1",), [{"name": "x"}], MalformedParameter, {"parameter": "data"}),
        (USERS, ("u1",), None, MalformedParameter, {"parameter": "data"}),
        (USERS, ("u1",), {"nope": 1}, UnknownColumn,
         {"table": "users", "column": "nope", "parameter": "data"}),
        (USERS, ("u1",), {"name": None}, NotNullViolation,
         {"table": "users", "column": "name", "parameter": "data.name"}),
        (USERS, ("u1",), {"active": "yes"}, InvalidValue,
         {"column": "active", "value": "yes", "expected": "boolean (true, false, 1 or 0)",
          "parameter": "data.active"}),
        (ARTICLES, ("x",), {"title": "t"}, InvalidValue,
         {"column": "id", "value": "x", "expected": "integer", "parameter": "id"}),
        (ORDER_ITEMS, ("1",), {"qty": 1}, MalformedParameter, {"parameter": "id"}),
        (ACTIVE_USERS, ("1",), {"name": "x"}, ReadOnlyTable, {"table": "active_users"}),
        (LOG, ("1",), {"msg": "x"}, ReadOnlyTable, {"table": "log"}),
    ],
)
def test_update_errors(table: TableInfo, key: tuple[str, ...], data: Any,
                       error_class: type[DbplaneError], fields: dict[str, Any]) -> None:
    with pytest.raises(error_class) as exc:
        plan_update(table, key, data, now_ms=NOW)
    assert type(exc.value) is error_class
    assert exc.value.fields == fields


def test_delete() -> None:
    plan = plan_delete(ORDER_ITEMS, ("17", "3"))
    assert plan.action == "delete"
    assert plan.key == ((col(ORDER_ITEMS, "order_id"), 17), (col(ORDER_ITEMS, "line"), 3))
    assert plan.rows == ()


@pytest.mark.parametrize(
    ("table", "key", "error_class"),
    [
        (ORDER_ITEMS, ("17",), MalformedParameter),
        (ORDER_ITEMS, ("17", "3", "1"), MalformedParameter),
        (ORDER_ITEMS, ("a", "3"), InvalidValue),
        (LOG, ("1",), ReadOnlyTable),
        (ACTIVE_USERS, ("1",), ReadOnlyTable),
    ],
)
def test_delete_errors(table: TableInfo, key: tuple[str, ...],
                       error_class: type[DbplaneError]) -> None:
    with pytest.raises(error_class):
        plan_delete(table, key)


# -- properties ------------------------------------------------------------------------

_PLAN_ERRORS = (UnknownColumn, UnknownOperator, InvalidValue, MalformedParameter,
                UnknownRelation)
_NAMES = st.sampled_from([*USERS.column_names, "nope", "Name", "articles.author_id",
                          "author", ""])
_OPS = st.sampled_from([*valid_operators(), "$contain", "$notIn", "$like", "eq"])
_RAW = st.one_of(st.text(max_size=6), st.sampled_from(
    ["1", "-5", "1.5", "true", "2024-01-01", "2024-01-01T00:00:00Z", "00ff", "12:00",
     "9d370085-c116-47c9-9b22-7f33061ec7b1", "a,b", "1,2"]))


@pytest.mark.slow
@given(st.lists(st.tuples(_NAMES, _OPS, _RAW), max_size=5),
       st.lists(_NAMES, max_size=3), st.lists(_NAMES, max_size=3))
def test_plan_read_raises_only_request_errors(conds: list[tuple[str, str, str]],
                                              fields: list[str], sort: list[str]) -> None:
    pairs = [(f"filters[{n}][{op}]", v) for n, op, v in conds]
    pairs += [("fields", f) for f in fields] + [("sort", s) for s in sort]
    try:
        req = parse_table_params(pairs)
        plan = plan_read(req, USERS, SCHEMA, default_limit=10, max_limit=100)
    except _PLAN_ERRORS:
        return
    assert plan.limit == 10
    assert plan.where is None or len(plan.where.items) == len(conds)
