"""The PostgreSQL engine's ``features`` say what the server really has:
``pg-stat-statements`` is ACTIVATED only when the server preloads the library (the
extension created without it cannot be read), FAILED otherwise."""

from __future__ import annotations

import asyncpg

from dbplane.engines import create_engine_for, parse_database_url
from tests.fixtures.servers import SqlDatabase


async def test_stat_statements_created_without_preload_is_failed(pg_url: SqlDatabase) -> None:
    conn = await asyncpg.connect(pg_url.url)
    try:
        preload = await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
        assert "pg_stat_statements" not in preload, "the shared server preloads it"
        engine = create_engine_for(parse_database_url(pg_url.url), timeout=3)
        try:
            assert not [f for f in await engine.features()
                        if f["name"] == "pg-stat-statements"]
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            features = {f["name"]: f["status"] for f in await engine.features()}
            assert features["pg-stat-statements"] == "FAILED"
        finally:
            await engine.close()
    finally:
        await conn.execute("DROP EXTENSION IF EXISTS pg_stat_statements")
        await conn.close()
