"""Property: on every engine, for generated schemas, applying ``diff(live, target)`` and
then diffing again is empty. Each example is a schema made on the real database (tables,
types, nullability, auto-increment keys, foreign keys with referential actions), its
snapshot taken, the database emptied, the snapshot's diff applied and diffed again.
Bounded: DBPLANE_PROPERTY_EXAMPLES (default 6) schemas per engine, from a fixed seed."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from tests.api.test_schema import _sync, _wipe
from tests.fixtures.servers import SqlDatabase

EXAMPLES = int(os.environ.get("DBPLANE_PROPERTY_EXAMPLES", "6"))
TYPES = ["INTEGER", "VARCHAR(40)", "TEXT", "BIGINT", "NUMERIC(10, 2)"]
ACTIONS = ["NO ACTION", "CASCADE", "SET NULL", "RESTRICT"]


def _key(engine: str, auto: bool) -> str:
    if not auto:
        return "id INTEGER PRIMARY KEY"
    return {"sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
            "postgresql": "id SERIAL PRIMARY KEY",
            "mysql": "id INTEGER AUTO_INCREMENT PRIMARY KEY"}[engine]


def schema(engine: str, rng: random.Random) -> list[str]:
    """CREATE TABLE statements of a random schema (keys refer to earlier tables)."""
    out = []
    for t in range(rng.randint(1, 4)):
        cols = [_key(engine, rng.random() < 0.5)]
        for c in range(rng.randint(0, 4)):
            null = "" if rng.random() < 0.6 else " NOT NULL"
            cols.append(f"c{c} {rng.choice(TYPES)}{null}")
        if t and rng.random() < 0.7:
            ref = rng.randrange(t)
            on_delete = rng.choice(ACTIONS)
            on_update = rng.choice(["NO ACTION", "CASCADE"])
            cols.append("ref_id INTEGER")
            cols.append(f"FOREIGN KEY (ref_id) REFERENCES g{ref}(id) "
                        f"ON DELETE {on_delete} ON UPDATE {on_update}")
        out.append(f"CREATE TABLE g{t} ({', '.join(cols)})")
    return out


@pytest.fixture
def empty(sql_url: SqlDatabase) -> Iterator[SqlDatabase]:
    _wipe(sql_url)
    yield sql_url
    _wipe(sql_url)


async def test_diff_after_apply_is_empty(app_client: httpx.AsyncClient,
                                         empty: SqlDatabase) -> None:
    assert (await app_client.post("/v1/databases", json={
        "resource_id": "prop", "url": empty.url})).status_code == 201
    base = "/v1/databases/prop/schema"
    rng = random.Random(13)
    for example in range(EXAMPLES):
        statements = schema(empty.engine, rng)
        with _sync(empty) as engine, engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
        snap = (await app_client.get(f"{base}/snapshot")).json()
        _wipe(empty)
        diff = await app_client.post(f"{base}/diff", json=snap)
        assert diff.status_code == 200, (statements, diff.text)
        applied = await app_client.post(f"{base}/apply", json=diff.json())
        assert applied.status_code == 204, (statements, applied.text)
        again = await app_client.post(f"{base}/diff", json=snap)
        assert again.status_code == 204, (example, statements, again.text)
        _wipe(empty)
