"""Schema as code on SQLite, PostgreSQL and MariaDB (``engines.schema``): reading a schema,
applying a plan, and the round trip as a Hypothesis property.

For two random schemas A and B (tables, columns of the portable types, nullability,
defaults, primary keys, unique and plain indexes of one or two columns, foreign keys):
build B and take its snapshot, empty the database, build A with a row in each table, then
apply the diff to B's snapshot: the snapshot is B's, a second diff is empty, and the rows of
the tables both have are still there.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbplane.engines import create_engine_for, parse_database_url
from dbplane.engines.schema import VENDORS, apply_plan, read_schema, render_sql
from dbplane.engines.sql import SqlEngine
from dbplane.errors import SchemaApplyFailed, UnsupportedFieldType
from dbplane.schema import complete, diff, is_empty, normalize, patch, plan
from tests.fixtures.servers import SqlDatabase

# name → (type, nullable): a column keeps its type and nullability across A and B (a
# database refuses some type changes of a column with rows: that is not the property)
COLUMNS: dict[str, tuple[str, bool]] = {
    "num": ("integer", True), "big": ("bigInteger", False), "label": ("string", True),
    "code": ("string", False), "body": ("text", True), "flag": ("boolean", False),
    "price": ("decimal", True), "day": ("date", True), "ts": ("dateTime", True),
    "ratio": ("float", True), "uid": ("uuid", True), "doc": ("json", True),
    "at": ("time", True), "stamp": ("timestamp", True),
}
UNINDEXABLE = {"text", "json"}  # MariaDB indexes neither without a prefix length
TABLES = ["t_a", "t_b", "t_c"]
_small_text = st.text(alphabet="abcxyz", max_size=4)


def _default(ftype: str, nullable: bool) -> st.SearchStrategy[Any]:
    value: st.SearchStrategy[Any]
    if ftype in ("integer", "bigInteger"):
        value = st.integers(-1000, 1000)
    elif ftype == "string":
        value = _small_text
    elif ftype == "boolean":
        value = st.booleans()
    else:
        return st.none()
    return (st.none() | value) if nullable else value


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(TABLES), min_size=1, max_size=3, unique=True))
    collections, fields, relations = [], [], []
    for n, table in enumerate(sorted(names)):
        index: dict[str, Any] = {"name": table}
        fields.append({"collection": table, "field": "id", "type": "integer", "meta": None,
                       "schema": {"is_primary_key": True, "has_auto_increment": True,
                                  "is_nullable": False}})
        cols = draw(st.lists(st.sampled_from(sorted(COLUMNS)), max_size=5, unique=True))
        for col in cols:
            ftype, nullable = COLUMNS[col]
            flag = draw(st.sampled_from(["", "", "unique", "indexed"])) \
                if ftype not in UNINDEXABLE else ""
            schema: dict[str, Any] = {
                "is_nullable": nullable, "default_value": draw(_default(ftype, nullable)),
                "is_unique": flag == "unique", "is_indexed": flag == "indexed"}
            if ftype == "string":
                schema["max_length"] = draw(st.sampled_from([20, 40]))
            if ftype == "decimal":
                schema["numeric_precision"], schema["numeric_scale"] = 10, 2
            fields.append({"collection": table, "field": col, "type": ftype,
                           "meta": None, "schema": schema})
        indexable = [c for c in cols if COLUMNS[c][0] not in UNINDEXABLE]
        if len(indexable) >= 2 and draw(st.booleans()):
            pair = draw(st.lists(st.sampled_from(indexable), min_size=2, max_size=2,
                                 unique=True))
            index["indexes"] = [{"columns": pair, "unique": draw(st.booleans())}]
        collections.append({"collection": table, "meta": None, "schema": index})
        earlier: list[str] = sorted(names)[:n]
        if len(earlier) > 0 and draw(st.booleans()):
            ref: str = draw(st.sampled_from(earlier))
            fields.append({"collection": table, "field": "ref", "type": "integer",
                           "meta": None, "schema": {"is_nullable": True}})
            relations.append({"collection": table, "field": "ref",
                              "related_collection": ref, "meta": None,
                              "schema": {"on_delete": draw(st.sampled_from(
                                  ["NO ACTION", "CASCADE", "SET NULL"]))}})
    return {"version": 1, "collections": collections, "fields": fields,
            "relations": relations}


async def _snapshot(engine: SqlEngine) -> tuple[dict[str, Any], Any]:
    live = await read_schema(engine)
    return normalize({"version": 1, "vendor": VENDORS[engine.type_name],
                      "collections": live.collections, "fields": live.fields,
                      "relations": live.relations}), live


async def _make(engine: SqlEngine, target: dict[str, Any]) -> dict[str, Any]:
    """Apply the diff to ``target`` as the service does; answers the new snapshot."""
    current, live = await _snapshot(engine)
    wanted = normalize({**target, "vendor": current["vendor"]})
    changes = diff(current, complete(wanted, current))
    await apply_plan(engine, plan(current, patch(current, changes)), live)
    return (await _snapshot(engine))[0]


EMPTY = {"version": 1, "collections": [], "fields": [], "relations": []}


def _key(snap: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(snap)
    out["fields"].sort(key=lambda f: (f["collection"], f["field"]))
    return out


async def _rows(engine: SqlEngine, tables: list[str]) -> dict[str, int]:
    async with engine.sa_engine.connect() as conn:
        return {t: (await conn.execute(sa.select(sa.func.count()).select_from(
            sa.table(t)))).scalar_one() for t in tables}


async def _roundtrip(url: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    engine: Any = create_engine_for(parse_database_url(url), timeout=10)
    try:
        await _make(engine, EMPTY)
        snap_b = await _make(engine, b)
        assert is_empty(diff(snap_b, snap_b))
        await _make(engine, EMPTY)
        await _make(engine, a)
        tables_a = [c["collection"] for c in a["collections"]]
        async with engine.sa_engine.begin() as conn:
            for table in tables_a:
                await conn.execute(sa.insert(sa.table(table)))  # every default
        after = await _make(engine, snap_b)
        assert _key(after) == _key(snap_b)
        again, _ = await _snapshot(engine)
        assert is_empty(diff(again, snap_b))
        kept = [t for t in tables_a if t in {c["collection"] for c in b["collections"]}]
        assert await _rows(engine, kept) == dict.fromkeys(kept, 1)
    finally:
        await engine.close()


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(a=schemas(), b=schemas())
def test_apply_of_a_diff_makes_the_snapshot_and_keeps_rows(sql_url: SqlDatabase,
                                                           a: dict[str, Any],
                                                           b: dict[str, Any]) -> None:
    asyncio.run(_roundtrip(sql_url.url, a, b))


NOTES: dict[str, Any] = {
    "version": 1,
    "collections": [{"collection": "notes", "meta": None, "schema": {
        "name": "notes", "checks": [{"name": "notes_rank_positive",
                                     "expression": "rank >= 0"}]}}],
    "fields": [
        {"collection": "notes", "field": "id", "type": "integer", "meta": None,
         "schema": {"is_primary_key": True, "has_auto_increment": True,
                    "is_nullable": False}},
        {"collection": "notes", "field": "rank", "type": "integer", "meta": None,
         "schema": {"default_value": 0, "is_nullable": False}},
        {"collection": "notes", "field": "title", "type": "string", "meta": None,
         "schema": {"max_length": 30}},
    ],
    "relations": [],
}


async def test_checks_sql_rendering_and_failures(sql_url: SqlDatabase) -> None:
    engine: Any = create_engine_for(parse_database_url(sql_url.url), timeout=10)
    try:
        await _make(engine, EMPTY)
        current, live = await _snapshot(engine)
        wanted = normalize({**NOTES, "vendor": current["vendor"]})
        steps = plan(current, patch(current, diff(current, wanted)))
        text = await render_sql(engine, steps, live)
        assert "notes_rank_positive" in text and "CREATE TABLE" in text
        assert (await _snapshot(engine))[0]["collections"] == []  # rendering changed nothing
        snap = await _make(engine, NOTES)
        (check,) = snap["collections"][0]["schema"]["checks"]
        assert check["name"] == "notes_rank_positive"
        async with engine.sa_engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO notes (title, rank) VALUES ('x', 5)"))

        # a change the rows refuse: on SQLite and PostgreSQL nothing is applied; on
        # MariaDB the changes before it are, and the error says which
        broken = copy.deepcopy(snap)
        broken["fields"].append({"collection": "notes", "field": "extra",
                                 "type": "integer", "meta": None,
                                 "schema": {"is_nullable": True}})
        broken["collections"][0]["schema"]["checks"] = [
            {"name": "notes_rank_small", "expression": "rank < 1"}]
        current, live = await _snapshot(engine)
        steps = plan(current, patch(current, diff(current, broken)))
        with pytest.raises(SchemaApplyFailed) as failed:
            await apply_plan(engine, steps, live)
        err = failed.value
        assert "add check notes_rank_small on notes: rank < 1" in err.fields["failed"]
        after, _ = await _snapshot(engine)
        columns = {f["field"] for f in after["fields"]}
        if sql_url.engine == "mysql":
            assert "extra" in columns
            assert "add column notes.extra (integer)" in err.fields["applied"]
        else:
            assert after == current
            assert err.fields["applied"] == []
        assert await _rows(engine, ["notes"]) == {"notes": 1}
    finally:
        await engine.close()


async def test_primary_key_change_keeps_rows(sql_url: SqlDatabase) -> None:
    engine: Any = create_engine_for(parse_database_url(sql_url.url), timeout=10)
    try:
        await _make(engine, EMPTY)
        one: dict[str, Any] = {"version": 1,
               "collections": [{"collection": "pk", "meta": None, "schema": {"name": "pk"}}],
               "fields": [
                   {"collection": "pk", "field": "a", "type": "integer", "meta": None,
                    "schema": {"is_primary_key": True, "is_nullable": False}},
                   {"collection": "pk", "field": "b", "type": "string", "meta": None,
                    "schema": {"is_nullable": False, "max_length": 10}}],
               "relations": []}
        await _make(engine, one)
        async with engine.sa_engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO pk (a, b) VALUES (1, 'x'), (2, 'y')"))
        two = copy.deepcopy(one)
        two["fields"][1]["schema"]["is_primary_key"] = True
        snap = await _make(engine, two)
        assert [f["schema"]["is_primary_key"] for f in snap["fields"]] == [True, True]
        assert await _rows(engine, ["pk"]) == {"pk": 2}
    finally:
        await engine.close()


async def test_a_foreign_key_the_rows_break_is_refused(sql_url: SqlDatabase) -> None:
    engine: Any = create_engine_for(parse_database_url(sql_url.url), timeout=10)
    try:
        await _make(engine, EMPTY)
        two: dict[str, Any] = {"version": 1,
               "collections": [{"collection": n, "meta": None, "schema": {"name": n}}
                               for n in ("parent", "child")],
               "fields": [
                   {"collection": n, "field": "id", "type": "integer", "meta": None,
                    "schema": {"is_primary_key": True, "has_auto_increment": True,
                               "is_nullable": False}} for n in ("parent", "child")]
               + [{"collection": "child", "field": "parent", "type": "integer",
                   "meta": None, "schema": {}}],
               "relations": []}
        before = await _make(engine, two)
        async with engine.sa_engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO child (parent) VALUES (99)"))
        linked = copy.deepcopy(before)
        linked["relations"] = [{"collection": "child", "field": "parent",
                                "related_collection": "parent", "meta": None,
                                "schema": {}}]
        current, live = await _snapshot(engine)
        steps = plan(current, patch(current, diff(current, linked)))
        with pytest.raises(SchemaApplyFailed) as failed:
            await apply_plan(engine, steps, live)
        assert failed.value.fields["applied"] == []
        assert (await _snapshot(engine))[0] == current
        assert await _rows(engine, ["child"]) == {"child": 1}
    finally:
        await engine.close()


async def test_dbplane_bookkeeping_tables_are_left_alone(sql_url: SqlDatabase) -> None:
    engine: Any = create_engine_for(parse_database_url(sql_url.url), timeout=10)
    try:
        await _make(engine, EMPTY)
        async with engine.sa_engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE dbplane_migrations (id INTEGER)"))
        try:
            snap, _ = await _snapshot(engine)
            assert snap["collections"] == []
            await _make(engine, EMPTY)
            assert await _rows(engine, ["dbplane_migrations"]) == {"dbplane_migrations": 0}
        finally:
            async with engine.sa_engine.begin() as conn:
                await conn.execute(sa.text("DROP TABLE dbplane_migrations"))
    finally:
        await engine.close()


async def test_a_column_of_another_type_is_kept_and_never_made(sql_url: SqlDatabase) -> None:
    exotic = {"sqlite": "POINT", "postgresql": "inet", "mysql": "BIT(3)"}[sql_url.engine]
    engine: Any = create_engine_for(parse_database_url(sql_url.url), timeout=10)
    try:
        await _make(engine, EMPTY)
        async with engine.sa_engine.begin() as conn:
            await conn.execute(sa.text(f"CREATE TABLE ex (id INTEGER PRIMARY KEY, p {exotic}, "
                                       "n INTEGER)"))
        snap, _ = await _snapshot(engine)
        p = next(f for f in snap["fields"] if f["field"] == "p")
        assert p["type"] == "unknown"
        assert is_empty(diff(snap, snap))
        changed = copy.deepcopy(snap)
        next(f for f in changed["fields"] if f["field"] == "n")["schema"][
            "default_value"] = 7
        after = await _make(engine, changed)
        assert next(f for f in after["fields"] if f["field"] == "p")["type"] == "unknown"
        assert next(f for f in after["fields"] if f["field"] == "n")["schema"][
            "default_value"] == 7
        copied = copy.deepcopy(after)
        copied["collections"].append({"collection": "ex2", "meta": None,
                                      "schema": {"name": "ex2"}})
        copied["fields"].append({**copy.deepcopy(p), "collection": "ex2"})
        current, _ = await _snapshot(engine)
        with pytest.raises(UnsupportedFieldType):
            plan(current, patch(current, diff(current, normalize(copied))))
    finally:
        async with engine.sa_engine.begin() as conn:
            await conn.execute(sa.text("DROP TABLE IF EXISTS ex"))
        await engine.close()
