"""``db.tables(name)``, ``client.tables(name)`` and the database's table methods, against
the live server (sync and async), and the query strings the client builds (no server)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from dbplane import ApiClient, AsyncApiClient
from dbplane.client import AsyncTable, Database, Rows, Table
from dbplane.client.tables import filter_params, key_segment, parse_content_range
from dbplane.errors import (
    MalformedParameter,
    NotNullViolation,
    RecordNotFound,
    TableNotFound,
    UniqueViolation,
    UnknownColumn,
    UnknownOperator,
    UnknownRelation,
)
from tests.fixtures.services import unique_name
from tests.fixtures.shop import TABLES, create_shop, run_sql


@pytest.fixture
def shop(client: ApiClient) -> Iterator[Database]:
    db = create_shop(client)
    yield db
    client.databases.delete(db)


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in rows]


# -- the query string, without a server -----------------------------------------------


@pytest.mark.parametrize(("filters", "params"), [
    ({"title": "x"}, [("filters[title][$eq]", "x")]),
    ({"score": {"$gt": 500, "$lte": 900}},
     [("filters[score][$gt]", "500"), ("filters[score][$lte]", "900")]),
    ({"score": None}, [("filters[score][$null]", "true")]),
    ({"score": {"$eq": None}}, [("filters[score][$null]", "true")]),
    ({"score": {"$ne": None}}, [("filters[score][$notNull]", "true")]),
    ({"score": {"$null": False}}, [("filters[score][$null]", "false")]),
    ({"id": [1, 2]}, [("filters[id][$in]", "1,2")]),
    ({"id": {"$nin": (3,)}}, [("filters[id][$nin]", "3")]),
    ({"t": {"$in": ["a,b", "c"]}}, [("filters[t][$in][0]", "a,b"), ("filters[t][$in][1]", "c")]),
    ({"t": {"$in": "a,b"}}, [("filters[t][$in]", "a,b")]),
    ({"score": {"$between": [1, 9]}}, [("filters[score][$between]", "1,9")]),
    ({"ok": True, "day": date(2024, 5, 1), "raw": b"\x01\xff"},
     [("filters[ok][$eq]", "true"), ("filters[day][$eq]", "2024-05-01"),
      ("filters[raw][$eq]", "01ff")]),
    ({"$or": [{"a": 1}, {"b": {"$lt": 2}}]},
     [("filters[$or][0][a][$eq]", "1"), ("filters[$or][1][b][$lt]", "2")]),
    ({"x": 0, "$and": [{"$or": [{"a": 1}, {"b": 2}]}, {"c": 3}]},
     [("filters[x][$eq]", "0"), ("filters[$and][0][$or][0][a][$eq]", "1"),
      ("filters[$and][0][$or][1][b][$eq]", "2"), ("filters[$and][1][c][$eq]", "3")]),
])
def test_filter_params(filters: dict[str, Any], params: list[tuple[str, str]]) -> None:
    assert filter_params(filters) == params


@pytest.mark.parametrize(("filters", "error"), [
    ({"$or": {"a": 1}}, TypeError),
    ({"$or": []}, ValueError),
    ({"$or": ["a"]}, TypeError),
    ({"a": {}}, ValueError),
    ({"a": {"$between": [1, 2, 3]}}, ValueError),
    ({"a": {"$in": 5}}, TypeError),
    ({"a": {"$in": []}}, ValueError),
])
def test_filters_of_the_wrong_shape_fail_before_sending(filters: dict[str, Any],
                                                        error: type[Exception]) -> None:
    with pytest.raises(error):
        filter_params(filters)


@pytest.mark.parametrize(("key", "segment"), [
    (7, "7"),
    ("a,b", "a,b"),            # a string is sent as the path has it
    (("a,b",), "a,b"),         # so is a one-value tuple: a one-column key is not escaped
    (("acme", "bob"), "acme,bob"),
    (("a,b", "c\\d"), "a\\,b,c\\\\d"),
    ((17, 3), "17,3"),
])
def test_key_segment(key: Any, segment: str) -> None:
    assert key_segment(key) == segment


@pytest.mark.parametrize(("header", "total"), [
    ("0-49/1234", 1234), ("*/0", 0), ("0-1/*", None), (None, None), ("", None)])
def test_parse_content_range(header: str | None, total: int | None) -> None:
    assert parse_content_range(header) == total


# -- tables -----------------------------------------------------------------------------


def test_list_tables_describes_columns_keys_and_relations(shop: Database) -> None:
    tables = {t["name"]: t for t in shop.list_tables()}
    assert sorted(tables) == TABLES
    items = tables["items"]
    assert (items["kind"], items["primary_key"]) == ("table", ["id"])
    columns = {c["name"]: c for c in items["columns"]}
    assert list(columns) == ["id", "title", "score", "created_on", "updated_on"]
    assert columns["title"]["nullable"] is False
    assert columns["score"]["nullable"] is True
    assert columns["id"]["primary_key"] is True
    assert tables["memberships"]["primary_key"] == ["org", "member"]
    (fk,) = tables["articles"]["foreign_keys"]
    assert (fk["columns"], fk["referred_table"], fk["referred_columns"]) == (
        ["author_id"], "authors", ["id"])
    assert tables["articles"]["relations"]["author"] == {"kind": "many-to-one",
                                                         "table": "authors"}
    assert tables["authors"]["relations"]["articles"] == {"kind": "one-to-many",
                                                          "table": "articles"}
    assert shop.reload_tables() == len(TABLES)


def test_a_table_made_behind_dbplanes_back_is_found(client: ApiClient,
                                                    shop: Database) -> None:
    shop.tables("items").list()  # the schema is cached now
    run_sql(shop, "CREATE TABLE later (id INTEGER PRIMARY KEY, v TEXT);"
                  "INSERT INTO later VALUES (1, 'x');")
    assert shop.tables("later").list() == [{"id": 1, "v": "x"}]
    assert "later" in [t["name"] for t in shop.list_tables()]


def test_openapi(shop: Database) -> None:
    doc = shop.openapi()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    assert f"/v1/databases/{shop['resource_id']}/tables/items" in paths or \
        f"/v1/databases/{shop.ref}/tables/items" in paths
    assert any(p.endswith("/tables/memberships/{id}") for p in paths)


# -- rows -------------------------------------------------------------------------------


def test_list_filters_and_sort(shop: Database) -> None:
    items = shop.tables("items")
    assert isinstance(items, Table) and items.name == "items"
    assert _ids(items.list(filters={"score": {"$gt": 500}}, sort="score:desc")) == [4, 1]
    assert _ids(items.list(filters={"title": "Engines"})) == [1]
    assert _ids(items.list(filters={"score": None})) == [3]
    assert _ids(items.list(filters={"score": {"$notNull": True}}, sort="id")) == [1, 2, 4, 5]
    assert _ids(items.list(filters={"score": {"$null": False}}, sort="id")) == [1, 2, 4, 5]
    assert _ids(items.list(filters={"id": [2, 5]}, sort="id")) == [2, 5]
    assert _ids(items.list(filters={"id": {"$nin": [2, 5]}}, sort="id")) == [1, 3, 4]
    assert _ids(items.list(filters={"score": {"$between": [300, 700]}}, sort="id")) == [
        1, 2, 5]
    assert _ids(items.list(filters={"score": {"$gte": 300, "$lt": 700}}, sort="id")) == [
        2, 5]
    assert _ids(items.list(filters={"title": {"$contains": "ngine"}}, sort="id")) == [1, 4]
    assert _ids(items.list(filters={"title": {"$notContains": "ngine"}}, sort="id")) == [
        2, 3, 5]
    assert _ids(items.list(filters={"title": {"$startsWith": "N"}}, sort="id")) == [3, 5]
    assert _ids(items.list(filters={"title": {"$endsWith": "again"}})) == [4]
    assert _ids(items.list(filters={"title": {"$ne": "Notes"}, "score": {"$lte": 500}},
                           sort="id")) == [2, 5]
    # a value holding a comma goes as indexed parameters
    assert _ids(items.list(filters={"title": {"$in": ["Engines, again", "Notes"]}},
                           sort="id")) == [3, 4]
    assert _ids(items.list(filters={"$or": [{"title": "Notes"}, {"score": {"$gte": 900}}]},
                           sort="id")) == [3, 4]
    assert _ids(items.list(filters={"$or": [{"id": 1}, {"$and": [{"score": {"$gt": 100}},
                                                                  {"score": {"$lt": 400}}]}]},
                           sort=["id:desc"])) == [2, 1]
    assert _ids(items.list(sort=["score:desc", "id"])) in ([4, 1, 5, 2, 3], [3, 4, 1, 5, 2])


def test_fields_limit_offset_and_count(shop: Database) -> None:
    items = shop.tables("items")
    page = items.list(sort="id", fields=["id", "title"], limit=2, offset=1)
    assert page == [{"id": 2, "title": "Compilers"}, {"id": 3, "title": "Notes"}]
    assert isinstance(page, Rows) and page.total is None

    counted = items.list(sort="id", fields="id", limit=2, offset=1, count=True)
    assert (counted, counted.total) == ([{"id": 2}, {"id": 3}], 5)
    filtered = items.list(filters={"score": {"$gt": 500}}, count=True)
    assert filtered.total == 2 and len(filtered) == 2
    empty = items.list(filters={"title": "nothing"}, count=True)
    assert (empty, empty.total) == ([], 0)
    assert "total=0" in repr(empty)


def test_include_relations(shop: Database) -> None:
    article = shop.tables("articles").get(3, include="author")
    assert article["author"] == {"id": 2, "name": "Grace"}
    authors = shop.tables("authors").list(sort="id", include=["articles"])
    assert [sorted(a["title"] for a in au["articles"]) for au in authors] == [
        ["Analytical engine", "Notes on the engine"], ["COBOL"]]
    limited = shop.tables("authors").list(sort="id", include={"articles": 1})
    assert [len(a["articles"]) for a in limited] == [1, 1]
    assert shop.tables("articles").list(fields="id,title", filters={"id": 1}) == [
        {"id": 1, "title": "Analytical engine"}]
    with pytest.raises(UnknownRelation) as info:
        shop.tables("items").list(include="owner")
    assert info.value.fields["include"] == "owner"


def test_create_get_update_delete(shop: Database) -> None:
    items = shop.tables("items")
    created = items.create({"title": "Routers", "score": 42})
    assert (created["title"], created["score"]) == ("Routers", 42)
    assert isinstance(created["id"], int)
    assert isinstance(created["created_on"], int) and created["created_on"] > 1_600_000_000_000
    assert created["updated_on"] == created["created_on"]
    assert items.get(created["id"]) == created
    assert items.get(created["id"], fields=["title"]) == {"title": "Routers"}

    many = items.create([{"title": "A"}, {"title": "B", "score": 1}])
    assert isinstance(many, list)
    assert [(r["title"], r["score"]) for r in many] == [("A", None), ("B", 1)]

    updated = items.update(created["id"], {"score": 43})
    assert (updated["title"], updated["score"]) == ("Routers", 43)
    assert updated["updated_on"] >= created["updated_on"]
    assert items.get(created["id"])["score"] == 43

    items.delete(created["id"])
    with pytest.raises(RecordNotFound) as info:
        items.get(created["id"])
    assert info.value.status_code == 404
    assert info.value.code == "DBP-Q104"
    with pytest.raises(RecordNotFound):
        items.delete(created["id"])
    with pytest.raises(RecordNotFound):
        items.update(created["id"], {"score": 1})
    assert items.list(count=True).total == 7


def test_composite_keys(shop: Database) -> None:
    members = shop.tables("memberships")
    assert members.get(("acme", "bob"))["role"] == "owner"
    assert members.get("acme,eve")["role"] == "member"  # the path's own form
    odd = members.get(("a,b", "c\\d"))
    assert odd == {"org": "a,b", "member": "c\\d", "role": "odd"}
    assert members.update(("a,b", "c\\d"), {"role": "odder"})["role"] == "odder"
    created = members.create({"org": "x,y", "member": "z", "role": "r"})
    assert members.get(("x,y", "z")) == created
    members.delete(("x,y", "z"))
    with pytest.raises(RecordNotFound) as info:
        members.get(("x,y", "z"))
    assert info.value.status_code == 404
    with pytest.raises(MalformedParameter):
        members.get("acme")  # one value for a two-column key


def test_errors_name_what_is_wrong(shop: Database) -> None:
    items = shop.tables("items")
    for call in (lambda: items.list(filters={"titel": "x"}),
                 lambda: items.list(sort="titel:desc"),
                 lambda: items.list(fields=["id", "titel"]),
                 lambda: items.create({"titel": "x"})):
        with pytest.raises(UnknownColumn) as info:
            call()
        assert info.value.fields["column"] == "titel"
        assert "titel" in info.value.detail
        assert info.value.status_code in (400, 422)
    with pytest.raises(UnknownOperator) as op:
        items.list(filters={"score": {"$like": "1"}})
    assert "$gt" in op.value.detail
    with pytest.raises(TableNotFound) as missing:
        shop.tables("nope").list()
    assert missing.value.status_code == 404
    with pytest.raises(NotNullViolation) as not_null:
        items.create({"score": 1})
    assert not_null.value.status_code == 409
    with pytest.raises(UniqueViolation):
        shop.tables("authors").create([{"name": "Lin"}, {"name": "Ada"}])
    assert [a["name"] for a in shop.tables("authors").list(sort="id")] == ["Ada", "Grace"]


def test_the_default_database(client: ApiClient) -> None:
    name = unique_name("notes")
    run_sql(client.database.get(), f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, body TEXT);")
    try:
        notes = client.tables(name)
        assert notes.list() == []
        created = notes.create({"body": "hello"})
        assert client.database.tables(name).get(created["id"]) == created
        assert name in [t["name"] for t in client.database.list_tables()]
        assert client.database.reload_tables() >= 1
        assert client.database.openapi()["openapi"].startswith("3.1")
        notes.delete(created["id"])
    finally:
        run_sql(client.database.get(), f"DROP TABLE {name};")


# -- async -------------------------------------------------------------------------------


async def test_async_tables_and_rows(client: ApiClient, aclient: AsyncApiClient,
                                     shop: Database) -> None:
    db = await aclient.databases.get(shop.ref)
    assert sorted(t["name"] for t in await db.list_tables()) == TABLES
    assert await db.reload_tables() == len(TABLES)
    assert (await db.openapi())["openapi"].startswith("3.1")

    items = db.tables("items")
    assert isinstance(items, AsyncTable)
    top = await items.list(filters={"score": {"$gt": 500}}, sort="score:desc", count=True)
    assert (_ids(top), top.total) == ([4, 1], 2)
    assert _ids(await items.list(filters={"$or": [{"id": 2}, {"score": None}]},
                                 sort="id")) == [2, 3]

    created = await items.create({"title": "async"})
    assert (await items.get(created["id"]))["title"] == "async"
    many = await items.create([{"title": "m1"}, {"title": "m2"}])
    assert [r["title"] for r in many] == ["m1", "m2"]
    assert (await items.update(created["id"], {"score": 5}))["score"] == 5
    await items.delete(created["id"])
    with pytest.raises(RecordNotFound) as info:
        await items.get(created["id"])
    assert info.value.status_code == 404
    with pytest.raises(UnknownColumn) as bad:
        await items.list(filters={"nope": 1})
    assert bad.value.fields["column"] == "nope"

    author = await db.tables("articles").get(1, include="author")
    assert author["author"]["name"] == "Ada"
    assert (await db.tables("memberships").get(("a,b", "c\\d")))["role"] == "odd"


async def test_async_default_database(client: ApiClient, aclient: AsyncApiClient) -> None:
    name = unique_name("notes")
    run_sql(client.database.get(), f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, body TEXT);")
    try:
        notes = aclient.tables(name)
        created = await notes.create({"body": "hi"})
        assert await aclient.database.tables(name).list() == [created]
        assert name in [t["name"] for t in await aclient.database.list_tables()]
        assert await aclient.database.reload_tables() >= 1
        assert (await aclient.database.openapi())["paths"]
    finally:
        run_sql(client.database.get(), f"DROP TABLE {name};")


def test_upsert_update_where_and_delete_where(shop: Database) -> None:
    from dbplane.errors import MalformedParameter, TooManyAffected

    table = shop.tables("memberships")
    rows = [{"org": "acme", "member": "bob", "role": "admin"},
            {"org": "acme", "member": "eve", "role": "viewer"}]
    assert table.upsert(rows) == table.upsert(rows)
    assert table.upsert({"org": "acme", "member": "bob", "role": "x"}, ignore=True) == []
    assert table.get(("acme", "bob"))["role"] == "admin"
    with pytest.raises(MalformedParameter):
        table.upsert(rows, on_conflict="role")
    with pytest.raises(TooManyAffected):
        table.update_where({"role": "r"}, filters={"org": "acme"}, max_affected=1)
    changed = table.update_where({"role": "r"}, filters={"org": "acme"})
    assert sorted(r["member"] for r in changed) == ["bob", "eve"]
    assert table.delete_where(filters={"org": "acme"}) == 2
    assert table.delete_where(all=True) == 1


def test_aggregate_distinct_iter_rows_and_export(shop: Database) -> None:
    articles = shop.tables("articles")
    assert articles.aggregate(count="*", group_by="author_id", sort="count:desc") == [
        {"author_id": 1, "count": 2}, {"author_id": 2, "count": 1}]
    items = shop.tables("items")
    assert items.aggregate(sum="score", max=["score", "title"]) == [
        {"sum": {"score": 2400}, "max": {"score": 900, "title": "Notes"}}]
    assert articles.distinct("author_id", sort="author_id") == [{"author_id": 1},
                                                                {"author_id": 2}]
    assert [r["id"] for r in items.iter_rows(sort="score:desc", page_size=2)] == [
        4, 1, 5, 2, 3]
    text = b"".join(items.export_csv(filters={"score": {"$gte": 500}}, sort="id",
                                     fields="id,title")).decode()
    assert text == 'id,title\r\n1,Engines\r\n4,"Engines, again"\r\n5,Networks\r\n'
