"""dbplane.routines, no server: statement splitting, migration names and ordering, file
ids, factory and seeder specs."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbplane.routines.files import (
    file_id,
    file_kind,
    group_migrations,
    parse_migration_name,
)
from dbplane.routines.specs import (
    ColumnShape,
    SpecError,
    TableShape,
    missing_generators,
    parse_factory,
    parse_seeder,
    unknown_columns,
)
from dbplane.routines.sqlsplit import split_statements

# -- splitting ---------------------------------------------------------------------------


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
    ("SELECT 'a;b'; SELECT 2", ["SELECT 'a;b'", "SELECT 2"]),
    ("SELECT 'it''s; here'", ["SELECT 'it''s; here'"]),
    ('SELECT "a;b" FROM t', ['SELECT "a;b" FROM t']),
    ("SELECT `a;b` FROM t", ["SELECT `a;b` FROM t"]),
    ("-- one; two\nSELECT 1; /* x; y */ SELECT 2", ["SELECT 1", "SELECT 2"]),
    ("SELECT 1 /* inner; */ + 1;", ["SELECT 1 /* inner; */ + 1"]),
    ("-- only a comment;\n\n;  ;", []),
    ("CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;"
     " SELECT 2", ["CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ "
                   "LANGUAGE plpgsql", "SELECT 2"]),
    ("DO $body$ BEGIN PERFORM 1; $x$ inner; $x$ END $body$; SELECT 3",
     ["DO $body$ BEGIN PERFORM 1; $x$ inner; $x$ END $body$", "SELECT 3"]),
    ("SELECT $1; SELECT 2", ["SELECT $1", "SELECT 2"]),
    ("SELECT 'unterminated; x", ["SELECT 'unterminated; x"]),
])
def test_split(sql: str, expected: list[str]) -> None:
    assert split_statements(sql) == expected


def test_split_mysql_backslash_escapes_and_hash_comments() -> None:
    sql = "INSERT INTO t VALUES ('a\\';b'); # c; d\nSELECT 2"
    assert split_statements(sql, "mysql") == ["INSERT INTO t VALUES ('a\\';b')",
                                              "SELECT 2"]
    # elsewhere a backslash is an ordinary character and $ names no quote in MySQL
    assert split_statements("SELECT 'a\\'; SELECT 2") == ["SELECT 'a\\'", "SELECT 2"]
    assert split_statements("SELECT $a$; SELECT 2", "mysql") == ["SELECT $a$",
                                                                 "SELECT 2"]


_SAFE = st.text(alphabet="abc XYZ019_,()=", min_size=1, max_size=20).filter(str.strip)


@given(st.lists(_SAFE, min_size=1, max_size=8))
def test_split_joins_back(parts: list[str]) -> None:
    statements = [p.strip() for p in parts]
    assert split_statements(";\n".join(statements)) == statements


@given(st.lists(st.text(alphabet="ab;' \n", max_size=10), max_size=5))
def test_semicolons_in_strings_never_split(texts: list[str]) -> None:
    literals = ", ".join("'" + t.replace("'", "''") + "'" for t in texts) or "1"
    assert split_statements(f"SELECT {literals}; SELECT 2") == [f"SELECT {literals}",
                                                                "SELECT 2"]


# -- names, ids --------------------------------------------------------------------------


def test_migration_names() -> None:
    m = parse_migration_name("0001_create_users.up.sql")
    assert (m.version, m.name, m.direction, m.format, m.key) == (
        "0001", "create_users", "up", "sql", "0001_create_users")
    assert parse_migration_name("0002_x.down.sql").direction == "down"
    assert parse_migration_name("0003_x.sql").direction == "up"
    assert parse_migration_name("0004_py_thing.py").format == "py"
    for bad in ("create.sql", "0001.sql", "0001_x.up.py", "x_0001.up.sql"):
        with pytest.raises(ValueError, match="NNNN_name"):
            parse_migration_name(bad)


def test_grouping_orders_numerically_and_reports_problems() -> None:
    migs = group_migrations(["migrations/10_b.up.sql", "migrations/2_a.up.sql",
                             "migrations/2_a.down.sql", "migrations/0011_c.py",
                             "migrations/0012_d.down.sql", "migrations/11_e.up.sql",
                             "migrations/bad.sql"])
    keys = [m.key for m in migs]
    assert keys == ["bad.sql", "2_a", "10_b", "0011_c", "11_e", "0012_d"]
    by = {m.key: m for m in migs}
    assert by["2_a"].down == "migrations/2_a.down.sql" and not by["2_a"].errors
    assert "no up file" in by["0012_d"].errors[0]
    assert "share the version 0011: 0011_c, 11_e" in by["0011_c"].errors[0]
    assert by["bad.sql"].errors


def test_file_ids_are_stable_uuids_of_the_path() -> None:
    a = file_id("factories/users.yaml")
    assert a == file_id("factories/users.yaml") == file_id("/factories/users.yaml")
    assert uuid.UUID(a).version == 5 and len(a) == 36 and a[14] == "5"
    # pinned: the id must not change across restarts, replicas or dbplane versions
    assert a == "2e57b6d9-33af-5e44-b07d-2f6ccf1f7bba"
    assert a != file_id("factories/users.yml")
    assert file_kind("factories", "users.yaml") == "factory"
    assert file_kind("seeders", "x.csv") == "seeder"
    assert file_kind("factories", "x.csv") is None
    assert file_kind("migrations", ".hidden.sql") is None
    assert file_kind("other", "x.sql") is None


# -- specs --------------------------------------------------------------------------------

FACTORY = """
table: users
count: 50
seed: 42
columns:
  name: name
  email: {faker: email, unique: true}
  score: {faker: random_int, min: 0, max: 100}
  role: {choice: [admin, user], weights: [1, 3]}
  team_id: {ref: teams.id}
  code: {sequence: "U-{n}"}
  active: true
"""


def test_factory_spec() -> None:
    spec = parse_factory(FACTORY)
    assert (spec.table, spec.count, spec.seed) == ("users", 50, 42)
    g = spec.columns
    assert g["name"].kind == "faker" and g["name"].provider == "name"
    assert g["email"].unique and g["score"].kwargs == {"min": 0, "max": 100}
    assert g["role"].choices == ("admin", "user") and g["role"].weights == (1.0, 3.0)
    assert (g["team_id"].ref_table, g["team_id"].ref_column) == ("teams", "id")
    assert g["code"].template == "U-{n}" and g["active"].value is True
    assert parse_factory('{"table": "t", "columns": {"a": "name"}}', "json").count == 10


@pytest.mark.parametrize(("text", "words"), [
    ("[1, 2]", "mapping"),
    ("table: t\ncolumns: {}\n", "columns"),
    ("table: t\ncount: -1\ncolumns: {a: name}\n", "count"),
    ("table: t\ncount: yes\ncolumns: {a: name}\n", "count"),
    ("table: t\ncolumns: {a: {ref: nodot}}\n", "table.column"),
    ("table: t\ncolumns: {a: {choice: []}}\n", "non-empty"),
    ("table: t\ncolumns: {a: {faker: name, choice: [1]}}\n", "exactly one"),
    ("table: t\ncolumns: {a: {sequence: 'no n'}}\n", "{n}"),
    ("table: t\ncolumns: {a: {choice: [1], extra: 2}}\n", "unknown key"),
    ("table: t\nrows: []\ncolumns: {a: name}\n", "unknown key"),
    ("table: [t\n", "YAML"),
])
def test_factory_errors_name_the_field(text: str, words: str) -> None:
    with pytest.raises(SpecError, match=words.replace("{", r"\{").replace("}", r"\}")
                       .replace("[", r"\[")):
        parse_factory(text)


def test_checks_against_the_table() -> None:
    shape = TableShape("users", {
        "id": ColumnShape("id", False, True), "name": ColumnShape("name", False, False),
        "email": ColumnShape("email", False, False), "bio": ColumnShape("bio", True, False)})
    spec = parse_factory("table: users\ncolumns: {name: name, nope: name}\n")
    assert unknown_columns(list(spec.columns), shape) == ["nope"]
    assert missing_generators(spec, shape) == ["email"]


def test_seeder_formats() -> None:
    spec = parse_seeder("table: roles\nkey: name\nrows:\n  - {name: a, label: A}\n",
                        "yaml", "roles.yaml")
    assert (spec.table, spec.key, spec.rows) == ("roles", ("name",),
                                                 [{"name": "a", "label": "A"}])
    spec = parse_seeder('{"table": "r", "rows": [{"x": 1}]}', "json", "r.json")
    assert spec.rows == [{"x": 1}] and spec.key == ()
    spec = parse_seeder("# key: a, b\na,b,c\n1,2,\n\n3,4,x\n", "csv", "0002_pairs.csv")
    assert (spec.table, spec.key) == ("pairs", ("a", "b"))
    assert spec.rows == [{"a": "1", "b": "2", "c": None}, {"a": "3", "b": "4", "c": "x"}]
    assert parse_seeder("INSERT INTO t VALUES (1);", "sql", "x.sql").sql is not None
    with pytest.raises(SpecError, match="line 2"):
        parse_seeder("a,b\n1\n", "csv", "t.csv")
    with pytest.raises(SpecError, match="rows"):
        parse_seeder("table: t\nrows: {a: 1}\n", "yaml", "t.yaml")
