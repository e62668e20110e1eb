"""A PostgreSQL fingerprint: one entry per table with its row count and a checksum of its
content, the same whatever order the rows were written in, different as soon as one
value differs; a cluster's adds its roles and databases."""

from __future__ import annotations

import asyncpg

from dbplane.engines import create_engine_for, parse_database_url
from dbplane.engines.fingerprint import compare
from dbplane.engines.parts import part
from tests.fixtures.servers import SqlDatabase


async def test_fingerprint_counts_rows_and_checks_content(pg_url: SqlDatabase) -> None:
    engine = create_engine_for(parse_database_url(pg_url.url), timeout=3)
    conn = await asyncpg.connect(pg_url.url.replace("postgresql://", "postgres://", 1))
    try:
        await conn.execute('CREATE TABLE a (id int PRIMARY KEY, v text); '
                           'CREATE SCHEMA "odd ""s"""; CREATE TABLE "odd ""s""".b (x int)')
        await conn.execute("INSERT INTO a VALUES (1, 'one'), (2, 'two'), (3, NULL)")
        fingerprint = part(engine, "fingerprint").fingerprint
        first = await fingerprint(engine)
        assert first["public.a"]["rows"] == 3
        assert first['odd "s".b'] == {"rows": 0, "checksum": "0"}
        # the same rows in another order: the same fingerprint
        await conn.execute("TRUNCATE a; INSERT INTO a VALUES (3, NULL), (2, 'two'), "
                           "(1, 'one')")
        assert await fingerprint(engine) == first
        # one value changed: the table differs, and compare names it
        await conn.execute("UPDATE a SET v = 'One' WHERE id = 1")
        changed = await fingerprint(engine)
        assert changed["public.a"]["rows"] == 3
        assert changed["public.a"]["checksum"] != first["public.a"]["checksum"]
        diff = compare(first, changed)
        assert [(d["name"], d["problem"]) for d in diff] == [("public.a", "different")]
        await conn.execute('DROP TABLE "odd ""s""".b')
        assert ('odd "s".b', "missing") in {
            (d["name"], d["problem"]) for d in compare(first, await fingerprint(engine))}
    finally:
        await conn.close()
        await engine.close()


async def test_cluster_fingerprint_has_roles_databases_and_tables(
        pg_url: SqlDatabase) -> None:
    from dbplane.engines.postgresql.fingerprint import cluster_fingerprint

    conn = await asyncpg.connect(pg_url.url.replace("postgresql://", "postgres://", 1))
    try:
        await conn.execute("CREATE TABLE c (id int)")
        await conn.execute("INSERT INTO c VALUES (7)")
    finally:
        await conn.close()
    base = pg_url.url.rsplit("/", 1)[0].replace("postgresql://", "postgres://", 1)
    found = await cluster_fingerprint(base + "/postgres")
    assert f"database:{pg_url.name}" in found
    assert found[f"{pg_url.name}/public.c"]["rows"] == 1
    assert found["role:postgres"]["rolsuper"] is True
