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
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbplane.engines import create_engine_for, parse_database_url
from dbplane.engines.mysql.lock import LOCK_NAME_SQL as MY_LOCK_NAME_SQL
from dbplane.engines.postgresql.lock import LOCK_KEY as PG_LOCK_KEY
from dbplane.engines.sql import schema as schema_engine
from dbplane.engines.sql.engine import SqlEngine
from dbplane.engines.sql.schema import apply_plan, read_schema, render_sql
from dbplane.errors import SchemaApplyFailed, StaleSchemaHash, UnsupportedFieldType
from dbplane.schema import complete, diff, is_empty, normalize, patch, plan
from tests.fixtures.servers import SqlDatabase, mysql_admin, pg_admin

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
        # the primary key: an auto-increment id, or a plain one with a default (the row
        # the test inserts takes it)
        auto = draw(st.booleans())
        fields.append({"collection": table, "field": "id", "type": "integer", "meta": None,
                       "schema": {"is_primary_key": True, "has_auto_increment": auto,
                                  "is_nullable": False,
                                  "default_value": None if auto else 1}})
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
    return normalize({"version": 1, "vendor": engine.snapshot_vendor,
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


def _rowid(snap: dict[str, Any]) -> dict[str, Any]:
    """SQLite: a sole INTEGER PRIMARY KEY is the rowid, auto-increment whatever is asked."""
    out = copy.deepcopy(snap)
    for f in out["fields"]:
        if f["field"] == "id":
            f["schema"].update(has_auto_increment=True, default_value=None)
    return out


async def _roundtrip(url: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    engine: Any = create_engine_for(parse_database_url(url), timeout=10)
    if engine.type_name == "sqlite":
        a, b = _rowid(a), _rowid(b)
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
            # the message itself names what was and was not applied
            applied, not_applied = err.detail.split("applied before it: ")[1].split(
                "; not applied: ")
            assert "add column notes.extra (integer)" in applied
            assert not_applied == "add check notes_rank_small on notes: rank < 1"
            # MariaDB's message, then its error number (not the driver's tuple)
            assert err.fields["reason"].startswith("CONSTRAINT `notes_rank_small` failed")
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


async def test_a_view_whose_table_is_gone_does_not_break_the_snapshot(
        sql_url: SqlDatabase) -> None:
    """A snapshot reads tables, never views: a view naming a dropped table (SQLite and
    MariaDB keep it) is no error."""
    if sql_url.engine == "postgresql":
        pytest.skip("PostgreSQL drops no table a view uses")
    engine: Any = create_engine_for(parse_database_url(sql_url.url), timeout=10)
    try:
        await _make(engine, EMPTY)
        snap = await _make(engine, NOTES)
        async with engine.sa_engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE gone (x INTEGER)"))
            await conn.execute(sa.text("CREATE VIEW gone_view AS SELECT x FROM gone"))
            await conn.execute(sa.text("DROP TABLE gone"))
        try:
            assert (await _snapshot(engine))[0] == snap
        finally:
            async with engine.sa_engine.begin() as conn:
                await conn.execute(sa.text("DROP VIEW gone_view"))
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


@contextmanager
def _holding_lock(db: SqlDatabase) -> Iterator[Callable[[str], Any]]:
    """Another dbplane process applying to ``db``: it holds the database's schema lock
    (the one engines/routines.py takes) and runs DDL through the function it yields;
    its change is committed and the lock released at the end of the block."""
    if db.engine == "sqlite":
        lite = sqlite3.connect(db.name, isolation_level=None)
        try:
            lite.execute("BEGIN IMMEDIATE")
            yield lite.execute
            lite.execute("COMMIT")
        finally:
            lite.close()
    elif db.engine == "postgresql":
        with pg_admin(db.name) as pg:
            pg.execute("BEGIN")
            pg.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK_KEY,))
            yield pg.execute
            pg.execute("COMMIT")
    else:
        my = mysql_admin(db.name)
        try:
            with my.cursor() as cur:
                cur.execute(f"SELECT GET_LOCK({MY_LOCK_NAME_SQL}, 1)")
                assert cur.fetchone() == (1,)
                yield cur.execute
                cur.execute(f"SELECT RELEASE_LOCK({MY_LOCK_NAME_SQL})")
        finally:
            my.close()


def _with_column(snap: dict[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(snap)
    out["fields"].append({"collection": "notes", "field": name, "type": "integer",
                          "meta": None, "schema": {"is_nullable": True}})
    return out


async def test_an_apply_waits_for_another_and_then_finds_the_schema_changed(
        sql_url: SqlDatabase) -> None:
    """Two replicas: the second apply waits on the database's lock, then sees the schema
    the first one made, so its plan (made for the old schema) is stale: nothing of it runs."""
    engine: Any = create_engine_for(parse_database_url(sql_url.url), timeout=10)
    try:
        await _make(engine, EMPTY)
        snap = await _make(engine, NOTES)
        current, live = await _snapshot(engine)
        steps = plan(current, patch(current, diff(current, _with_column(snap, "mine"))))
        with _holding_lock(sql_url) as run:
            task = asyncio.create_task(apply_plan(engine, steps, live))
            await asyncio.sleep(1.5)
            assert not task.done()  # it waits for the lock
            run("ALTER TABLE notes ADD COLUMN theirs INTEGER")
        with pytest.raises(StaleSchemaHash):
            await task
        after, live = await _snapshot(engine)
        columns = {f["field"] for f in after["fields"]}
        assert "theirs" in columns and "mine" not in columns
        # a plan made after the other apply goes through
        steps = plan(after, patch(after, diff(after, _with_column(after, "mine"))))
        await apply_plan(engine, steps, live)
        assert "mine" in {f["field"] for f in (await _snapshot(engine))[0]["fields"]}
    finally:
        await engine.close()


async def test_an_apply_that_cannot_get_the_lock_changes_nothing(
        sql_url: SqlDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_engine, "LOCK_WAIT", 1.0)
    engine: Any = create_engine_for(parse_database_url(sql_url.url), timeout=10)
    try:
        await _make(engine, EMPTY)
        snap = await _make(engine, NOTES)
        current, live = await _snapshot(engine)
        steps = plan(current, patch(current, diff(current, _with_column(snap, "late"))))
        with _holding_lock(sql_url), pytest.raises(SchemaApplyFailed) as failed:
            await asyncio.wait_for(apply_plan(engine, steps, live), 20)
        assert failed.value.fields["reason"] == "locked"
        assert "held this database's lock" in failed.value.detail
        assert failed.value.fields["applied"] == []
        assert (await _snapshot(engine))[0] == current
        await apply_plan(engine, steps, live)  # the lock is free again
        assert "late" in {f["field"] for f in (await _snapshot(engine))[0]["fields"]}
    finally:
        await engine.close()


async def test_expression_and_partial_indexes_are_left_alone_and_survive_a_rebuild(
        sql_url: SqlDatabase) -> None:
    """Not in the snapshot (a partial unique index does not make its column unique), and
    kept as they were when a change rebuilds the table (SQLite's batch mode)."""
    if sql_url.engine == "mysql":
        pytest.skip("MariaDB has neither expression nor partial indexes")
    engine: Any = create_engine_for(parse_database_url(sql_url.url), timeout=10)
    try:
        await _make(engine, EMPTY)
        snap = await _make(engine, NOTES)
        async with engine.sa_engine.begin() as conn:
            await conn.execute(sa.text("CREATE INDEX notes_lower ON notes (lower(title))"))
            await conn.execute(sa.text(
                "CREATE UNIQUE INDEX notes_positive ON notes (title) WHERE rank > 0"))
            await conn.execute(sa.text(
                "INSERT INTO notes (title, rank) VALUES ('a', 0), ('a', 0), ('b', 1)"))
            if sql_url.engine == "sqlite":  # the rebuild's RENAME must not trip on a view
                await conn.execute(sa.text("CREATE VIEW notes_view AS SELECT title FROM notes"))
                await conn.execute(sa.text(
                    "CREATE TABLE notes_log (title TEXT)"))
                await conn.execute(sa.text(
                    "CREATE TRIGGER notes_logged AFTER INSERT ON notes BEGIN "
                    "INSERT INTO notes_log VALUES (new.title); END"))
        full, _ = await _snapshot(engine)
        title = next(f for f in full["fields"] if f["field"] == "title")
        assert title["schema"]["is_unique"] is False and title["schema"]["is_indexed"] is False
        notes = {**full, "collections": [c for c in full["collections"]
                                         if c["collection"] == "notes"],
                 "fields": [f for f in full["fields"] if f["collection"] == "notes"]}
        assert is_empty(diff(notes, snap))
        # a wider column: SQLite rebuilds the table
        changed = copy.deepcopy(full)
        for f in changed["fields"]:
            if f["field"] == "title":
                f["schema"]["max_length"] = 60
        after = await _make(engine, changed)
        assert next(f for f in after["fields"] if f["field"] == "title")["schema"][
            "max_length"] == 60
        assert await _rows(engine, ["notes"]) == {"notes": 3}
        async with engine.sa_engine.connect() as conn:
            catalog = ("SELECT name FROM sqlite_master" if sql_url.engine == "sqlite" else
                       "SELECT indexname FROM pg_indexes WHERE tablename = 'notes'")
            names = set((await conn.execute(sa.text(catalog))).scalars())
            assert {"notes_lower", "notes_positive"} <= names
            if sql_url.engine == "sqlite":
                assert {"notes_view", "notes_logged"} <= names
                await conn.execute(sa.text("INSERT INTO notes (title, rank) VALUES ('c', 0)"))
                assert (await conn.execute(sa.text(
                    "SELECT title FROM notes_log"))).scalars().all() == ["c"]
                assert (await conn.execute(sa.text(
                    "SELECT count(*) FROM notes_view"))).scalar_one() == 4
            # the partial index is still partial: a second 'a' of rank 0 is allowed,
            # a second 'b' of rank 1 is not
            await conn.execute(sa.text("INSERT INTO notes (title, rank) VALUES ('a', 0)"))
            with pytest.raises(sa.exc.IntegrityError):
                await conn.execute(sa.text("INSERT INTO notes (title, rank) VALUES ('b', 2)"))
            await conn.rollback()
    finally:
        await engine.close()


async def test_an_existing_key_becomes_auto_increment_and_back(sql_url: SqlDatabase) -> None:
    """PostgreSQL: a sequence owned by the column, started past the rows' largest value;
    MariaDB: MODIFY ... AUTO_INCREMENT. (SQLite's sole INTEGER key is always the rowid.)"""
    if sql_url.engine == "sqlite":
        pytest.skip("a sole INTEGER PRIMARY KEY is SQLite's rowid: always auto-increment")

    def keyed(auto: bool) -> dict[str, Any]:
        return {"version": 1,
                "collections": [{"collection": "k", "meta": None, "schema": {"name": "k"}}],
                "fields": [{"collection": "k", "field": "id", "type": "integer",
                            "meta": None,
                            "schema": {"is_primary_key": True, "is_nullable": False,
                                       "has_auto_increment": auto,
                                       "default_value": None if auto else 7}}],
                "relations": []}

    engine: Any = create_engine_for(parse_database_url(sql_url.url), timeout=10)
    try:
        await _make(engine, EMPTY)
        await _make(engine, keyed(False))
        async with engine.sa_engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO k (id) VALUES (41)"))
        current, live = await _snapshot(engine)
        steps = plan(current, patch(current, diff(current, complete(
            normalize({**keyed(True), "vendor": current["vendor"]}), current))))
        assert "nextval" in await render_sql(engine, steps, live) or \
            sql_url.engine == "mysql"
        made = await _make(engine, keyed(True))
        assert made["fields"][0]["schema"]["has_auto_increment"] is True
        assert is_empty(diff(made, (await _snapshot(engine))[0]))
        async with engine.sa_engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO k (id) VALUES (DEFAULT)"))
            ids = (await conn.execute(sa.text("SELECT id FROM k ORDER BY id"))).scalars()
            assert list(ids) == [41, 42]
        back = await _make(engine, keyed(False))
        assert back["fields"][0]["schema"]["has_auto_increment"] is False
        assert back["fields"][0]["schema"]["default_value"] == 7
        assert await _rows(engine, ["k"]) == {"k": 2}
    finally:
        await engine.close()
