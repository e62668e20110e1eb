"""``dbplane tables`` and ``dbplane rows`` against the live server, in table and ``--json``
mode, and how ``--filter`` is read (no server)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer

from dbplane import ApiClient
from dbplane.cli.rows import parse_data, parse_filters
from dbplane.client import Database
from tests.cli.conftest import Cli
from tests.fixtures.services import unique_name
from tests.fixtures.shop import TABLES, create_shop, run_sql


@pytest.fixture
def shop(client: ApiClient) -> Iterator[Database]:
    db = create_shop(client)
    yield db
    client.databases.delete(db)


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in rows]


# -- reading --filter and --data ------------------------------------------------------


@pytest.mark.parametrize(("texts", "filters"), [
    (["score>500"], {"score": {"$gt": "500"}}),
    (["score >= 500", "score<900"], {"score": {"$gte": "500", "$lt": "900"}}),
    (["score<=1"], {"score": {"$lte": "1"}}),
    (["title=Notes"], {"title": {"$eq": "Notes"}}),
    (["title!=a=b"], {"title": {"$ne": "a=b"}}),
    (["title~ngine"], {"title": {"$contains": "ngine"}}),
    (["title!~ngine"], {"title": {"$notContains": "ngine"}}),
    (["title^N"], {"title": {"$startsWith": "N"}}),
    (["title$again"], {"title": {"$endsWith": "again"}}),
    (["score=null"], {"score": {"$null": "true"}}),
    (["score!=null"], {"score": {"$notNull": "true"}}),
    (["first name=Amy"], {"first name": {"$eq": "Amy"}}),
    (["filters[score][$gt]=500"], {"score": {"$gt": "500"}}),
    (["filters[id][$in]=1,2"], {"id": {"$in": "1,2"}}),
    (["filters[t][$in][1]=b", "filters[t][$in][0]=a"], {"t": {"$in": ["a", "b"]}}),
    (["filters[$or][0][title][$eq]=a", "filters[$or][1][score][$gt]=5", "id>1"],
     {"$or": [{"title": {"$eq": "a"}}, {"score": {"$gt": "5"}}], "id": {"$gt": "1"}}),
])
def test_parse_filters(texts: list[str], filters: dict[str, Any]) -> None:
    assert parse_filters(texts) == filters


@pytest.mark.parametrize("texts", [["score"], ["=5"], ["filters[score]=5"],
                                   ["score>1", "score>2"]])
def test_unreadable_filters(texts: list[str]) -> None:
    with pytest.raises(typer.BadParameter):
        parse_filters(texts)


def test_parse_data(tmp_path: Path) -> None:
    assert parse_data('{"a": 1}', many=False) == {"a": 1}
    assert parse_data('[{"a": 1}]', many=True) == [{"a": 1}]
    (tmp_path / "row.json").write_text('{"b": 2}')
    assert parse_data(f"@{tmp_path / 'row.json'}", many=False) == {"b": 2}
    for bad, many in (("[1]", True), ('[{"a": 1}]', False), ("nope", False),
                      (f"@{tmp_path / 'missing.json'}", False)):
        with pytest.raises(typer.BadParameter):
            parse_data(bad, many=many)


# -- dbplane tables ----------------------------------------------------------------------


def test_tables_list_show_reload_openapi(cli: Cli, shop: Database) -> None:
    rid = shop["resource_id"]
    listed = cli.json("tables", "list", rid)
    assert [t["name"] for t in listed] == TABLES

    out = cli.ok("tables", "list", rid).stdout
    row = next(line for line in out.splitlines() if line.strip().startswith("memberships"))
    assert row.split()[:5] == ["memberships", "table", "3", "org,", "member"]
    assert re.search(r"authors\s+table\s+2\s+id\s+articles", out)

    shown = cli.json("tables", "show", rid, "articles")
    assert shown["primary_key"] == ["id"]
    out = cli.ok("tables", "show", rid, "articles").stdout
    assert re.search(r"foreign_keys\s+author_id -> authors\(id\)", out)
    assert re.search(r"relations\s+author \(many-to-one authors\)", out)
    assert re.search(r"title\s+TEXT\s+text\s+no\s+-\s+no\s+no", out)

    result = cli.fails("tables", "show", rid, "nope")
    assert result.stderr == "error: there is no table or view named 'nope' (DBP-Q101)\n"

    assert cli.json("tables", "reload", rid) == {"tables": len(TABLES)}
    assert cli.ok("tables", "reload", rid).stdout == (
        f"reloaded the schema of {rid!r}: {len(TABLES)} tables and views\n")
    assert orjson.loads(cli.ok("tables", "openapi", rid).stdout)["openapi"].startswith("3.1")


def test_tables_of_a_missing_database(cli: Cli) -> None:
    result = cli.fails("tables", "list", unique_name("missing"))
    assert result.stderr.rstrip().endswith("(DBP-D101)")


# -- dbplane rows ------------------------------------------------------------------------


def test_rows_list_filters_sort_and_count(cli: Cli, shop: Database) -> None:
    rid = shop["resource_id"]
    rows = cli.json("rows", "list", rid, "items", "--filter", "score>500",
                    "--sort", "score:desc")
    assert _ids(rows) == [4, 1]
    assert _ids(cli.json("rows", "list", rid, "items", "-f", "score=null")) == [3]
    assert _ids(cli.json("rows", "list", rid, "items", "-f", "score!=null", "-f", "title^N",
                         "-s", "id")) == [5]
    assert _ids(cli.json("rows", "list", rid, "items", "-f", "title~ngine", "-f",
                         "title!~again")) == [1]
    assert _ids(cli.json("rows", "list", rid, "items", "-f", "title$again")) == [4]
    assert _ids(cli.json("rows", "list", rid, "items", "-f", "score<=500", "-f", "score>=300",
                         "-f", "title!=Networks")) == [2]
    assert _ids(cli.json("rows", "list", rid, "items",
                         "--filter", "filters[$or][0][title][$eq]=Notes",
                         "--filter", "filters[$or][1][score][$gte]=900",
                         "--sort", "id")) == [3, 4]
    assert _ids(cli.json("rows", "list", rid, "items", "-f", "filters[id][$in]=2,5",
                         "-s", "id:desc")) == [5, 2]
    assert cli.json("rows", "list", rid, "items", "--fields", "id,title", "--sort", "id",
                    "--limit", "2", "--offset", "1") == [{"id": 2, "title": "Compilers"},
                                                         {"id": 3, "title": "Notes"}]
    counted = cli.json("rows", "list", rid, "items", "--limit", "1", "--count")
    assert (len(counted["data"]), counted["total"]) == (1, 5)

    out = cli.ok("rows", "list", rid, "items", "-f", "score>500", "-s", "score:desc",
                 "--count").stdout
    lines = out.splitlines()
    assert re.search(r"id\s+title\s+score\s+created_on\s+updated_on", out)
    assert re.search(r"4\s+Engines, again\s+900\s+null\s+null", out)
    assert lines.index(next(x for x in lines if "Engines, again" in x)) < lines.index(
        next(x for x in lines if re.search(r"\b1\s+Engines\s", x)))
    assert lines[-1] == "2 of 2 rows"
    assert cli.ok("rows", "list", rid, "items", "-f", "title=nothing").stdout == "no rows\n"


def test_rows_list_include(cli: Cli, shop: Database) -> None:
    rid = shop["resource_id"]
    authors = cli.json("rows", "list", rid, "authors", "--include", "articles:1",
                       "--sort", "id")
    assert [len(a["articles"]) for a in authors] == [1, 1]
    articles = cli.json("rows", "list", rid, "articles", "-i", "author", "-f", "id=3")
    assert articles[0]["author"] == {"id": 2, "name": "Grace"}
    out = cli.ok("rows", "list", rid, "articles", "-i", "author", "-f", "id=3").stdout
    assert '{"id":2,"name":"Grace"}' in out


def test_rows_get_create_update_delete(cli: Cli, shop: Database, tmp_path: Path) -> None:
    rid = shop["resource_id"]
    assert cli.json("rows", "get", rid, "items", "2")["title"] == "Compilers"
    assert re.search(r"title\s+Compilers", cli.ok("rows", "get", rid, "items", "2").stdout)
    assert cli.json("rows", "get", rid, "items", "2", "--fields", "score") == {"score": 300}
    assert cli.json("rows", "get", rid, "articles", "1", "-i", "author")["author"]["id"] == 1

    created = cli.json("rows", "create", rid, "items", "--data", '{"title": "CLI", "score": 1}')
    assert (created["title"], created["score"]) == ("CLI", 1)
    assert isinstance(created["created_on"], int)
    key = str(created["id"])
    out = cli.ok("rows", "create", rid, "items", "--data", '{"title": "table"}').stdout
    assert re.search(r"title\s+table", out) and re.search(r"score\s+null", out)

    (tmp_path / "rows.json").write_text('[{"title": "f1"}, {"title": "f2"}]')
    many = cli.json("rows", "create", rid, "items", "--data", f"@{tmp_path / 'rows.json'}")
    assert [r["title"] for r in many] == ["f1", "f2"]
    out = cli.ok("rows", "create", rid, "items", "--data", "-",
                 input='[{"title": "s1"}, {"title": "s2"}]').stdout
    assert re.search(r"s1", out) and re.search(r"s2", out)

    updated = cli.json("rows", "update", rid, "items", key, "--data", '{"score": 2}')
    assert (updated["title"], updated["score"]) == ("CLI", 2)
    out = cli.ok("rows", "update", rid, "items", key, "--data", "-",
                 input='{"title": "renamed"}').stdout
    assert re.search(r"title\s+renamed", out)

    deleted = cli.json("rows", "delete", rid, "items", key, "--yes")
    assert deleted == {"deleted": key, "table": "items"}
    result = cli.fails("rows", "get", rid, "items", key)
    assert result.stderr == f"error: the table 'items' has no record {key!r} (DBP-Q104)\n"
    out = cli.ok("rows", "delete", rid, "items", "5", "--yes").stdout
    assert out == "deleted '5' from 'items'\n"
    assert cli.json("rows", "list", rid, "items", "--count", "--limit", "0")["total"] == 9


def test_rows_with_a_composite_key(cli: Cli, shop: Database) -> None:
    rid = shop["resource_id"]
    assert cli.json("rows", "get", rid, "memberships", "acme,bob")["role"] == "owner"
    odd = cli.json("rows", "get", rid, "memberships", "a\\,b,c\\\\d")
    assert odd == {"org": "a,b", "member": "c\\d", "role": "odd"}
    cli.ok("rows", "update", rid, "memberships", "a\\,b,c\\\\d", "--data", '{"role": "x"}')
    assert cli.json("rows", "get", rid, "memberships", "a\\,b,c\\\\d")["role"] == "x"
    cli.ok("rows", "delete", rid, "memberships", "acme,eve", "--yes")
    cli.fails("rows", "get", rid, "memberships", "acme,eve")


def test_rows_errors(cli: Cli, shop: Database) -> None:
    rid = shop["resource_id"]
    result = cli.fails("rows", "list", rid, "items", "-f", "titel=x")
    assert "'titel'" in result.stderr
    assert result.stderr.rstrip().endswith("(DBP-Q102)")
    result = cli.fails("rows", "list", rid, "items", "--sort", "titel")
    assert result.stderr.rstrip().endswith("(DBP-Q102)")
    result = cli.fails("rows", "list", rid, "nope")
    assert result.stderr == "error: there is no table or view named 'nope' (DBP-Q101)\n"
    result = cli.fails("rows", "create", rid, "items", "--data", '{"score": 1}')
    assert result.stderr.rstrip().endswith("(DBP-Q201)")
    result = cli.fails("rows", "list", rid, "items", "-f", "score", exit_code=2)
    assert "'--filter'" in result.stderr
    result = cli.fails("rows", "create", rid, "items", "--data", "{nope", exit_code=2)
    assert "not JSON" in result.stderr
    cli.fails("rows", "update", rid, "items", "1", "--data", "[]", exit_code=2)
    cli.fails("rows", "list", rid, "items", "--include", "articles:x", exit_code=2)


def test_rows_of_the_default_database(cli: Cli, client: ApiClient) -> None:
    name = unique_name("notes")
    run_sql(client.database.get(), f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, body TEXT);")
    try:
        created = cli.json("rows", "create", "default", name, "--data", '{"body": "hi"}')
        assert cli.json("rows", "list", "default", name) == [created]
        assert name in [t["name"] for t in cli.json("tables", "list", "default")]
        cli.ok("rows", "delete", "default", name, str(created["id"]), "--yes")
    finally:
        run_sql(client.database.get(), f"DROP TABLE {name};")


def test_help_lists_the_groups(cli: Cli) -> None:
    out = cli.ok("--help").stdout
    assert re.search(r"^\W*tables\s", out, re.M)
    assert re.search(r"^\W*rows\s", out, re.M)
    out = cli.ok("rows", "--help").stdout
    for command in ("list", "get", "create", "update", "delete"):
        assert re.search(rf"^\W*{command}\s", out, re.M), command


def test_rows_upsert_update_where_delete_where(cli: Cli, shop: Database) -> None:
    rid = shop["resource_id"]
    data = '[{"org": "acme", "member": "bob", "role": "admin"}, ' \
           '{"org": "acme", "member": "eve", "role": "viewer"}]'
    first = cli.json("rows", "upsert", rid, "memberships", "--data", data)
    assert [r["role"] for r in first] == ["admin", "viewer"]
    assert cli.json("rows", "upsert", rid, "memberships", "--data", data) == first
    kept = cli.json("rows", "upsert", rid, "authors", "--on-conflict", "name", "--ignore",
                    "--data", '{"name": "Zora"}')
    assert [r["name"] for r in kept] == ["Zora"]
    refused = cli.fails("rows", "upsert", rid, "items", "--on-conflict", "title",
                        "--data", '{"title": "x"}')
    assert "on_conflict" in refused.stderr and "DBP-Q106" in refused.stderr

    changed = cli.json("rows", "update-where", rid, "memberships", "--filter", "org=acme",
                       "--data", '{"role": "member"}')
    assert {r["role"] for r in changed} == {"member"} and len(changed) == 2
    assert "--filter" in cli.fails("rows", "update-where", rid, "memberships",
                                   "--data", '{"role": "x"}', exit_code=2).stderr
    declined = cli("rows", "delete-where", rid, "memberships", "--filter", "org=acme",
                   input="n\n")
    assert declined.exit_code == 1 and "nothing deleted" in declined.stderr
    gone = cli.json("rows", "delete-where", rid, "memberships", "--filter", "org=acme",
                    "--yes")
    assert gone == {"deleted": 2, "table": "memberships"}


def test_rows_aggregate_and_export(cli: Cli, shop: Database, tmp_path: Path) -> None:
    rid = shop["resource_id"]
    grouped = cli.json("rows", "aggregate", rid, "articles", "-a", "count=*",
                       "-g", "author_id", "--sort", "count:desc")
    assert grouped == [{"author_id": 1, "count": 2}, {"author_id": 2, "count": 1}]
    out = cli.ok("rows", "aggregate", rid, "items", "-a", "sum=score").stdout
    assert "score=2400" in out
    assert cli.fails("rows", "aggregate", rid, "items", "-a", "median=score",
                     exit_code=2).exit_code == 2
    csv_text = cli.ok("rows", "export", rid, "items", "--csv", "--sort", "id",
                      "--fields", "id,score", "-f", "score>400").stdout
    assert csv_text.replace("\r\n", "\n") == "id,score\n1,700\n4,900\n5,500\n"
    target = tmp_path / "items.csv"
    cli.ok("rows", "export", rid, "items", "--csv", "-o", str(target))
    assert target.read_text().count("\n") == 6
