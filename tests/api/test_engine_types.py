"""A database type is one engine class and one registry entry: a type defined here, with
none of the optional parts, is served through the whole API, and every part it lacks is a
400 that names the types that have it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dbplane.engines import Engine, Health, engine_class, registry, types_with
from dbplane.engines.base import PART_NAMES


class ToyEngine(Engine):
    """A server that answers every health check and has nothing else."""

    type_name = "toy"
    label = "Toy"
    url_schemes = ("toy", "toys")
    aliases = ("plaything",)
    default_port = 7777
    connects: int = 0

    async def connect(self) -> None:
        type(self).connects += 1

    async def health(self) -> Health:
        return Health("running")

    async def version(self) -> str:
        return "1.2.3-toy"


@pytest.fixture
def toy() -> Iterator[type[ToyEngine]]:
    registry.register(ToyEngine)
    ToyEngine.connects = 0
    try:
        yield ToyEngine
    finally:
        registry.unregister("toy")


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_registry_knows_the_type_only_while_it_is_registered(
        toy: type[ToyEngine]) -> None:
    assert engine_class("toy") is toy
    assert registry.resolve_type("PLAYTHING") == "toy"
    assert registry.type_for_scheme("toys") == "toy"
    for part in PART_NAMES:
        assert "toy" not in types_with(part)
    registry.unregister("toy")
    with pytest.raises(KeyError):
        engine_class("toy")
    assert registry.resolve_type("plaything") is None
    registry.register(toy)


async def test_a_registered_type_is_listed_and_answers_4xx_for_what_it_lacks(
        app_client: httpx.AsyncClient, toy: type[ToyEngine]) -> None:
    # an unknown scheme is refused while the type is not registered ...
    registry.unregister("toy")
    refused = await app_client.post("/v1/databases", json={
        "database": {"resource_id": "box", "url": "toy://127.0.0.1/box"}})
    assert "'toy' is not one dbplane serves" in _problem(refused, 422)["detail"]
    registry.register(toy)

    # ... and registered (its connection checked) once it is, by its alias too
    created = await app_client.post("/v1/databases", json={
        "database": {"resource_id": "box", "type_name": "plaything",
                     "url": "toy://127.0.0.1/box"}})
    assert created.status_code == 201, created.text
    assert toy.connects == 1
    listed = (await app_client.get("/v1/databases")).json()["databases"]
    box = next(d for d in listed if d["resource_id"] == "box")
    assert box["type_name"] == "toy"
    assert box["status"] == "running"
    assert box["readable_version"] == "1.2.3-toy"
    assert box["instances"][0]["port"] == 7777

    tables = _problem(await app_client.get("/v1/databases/box/tables"), 400)
    assert tables["code"] == "DBP-V102"
    assert "tables apply to SQL databases (sqlite, postgresql, mysql)" in tables["detail"]
    assert "'box' is a toy database" in tables["detail"]

    snapshot = await app_client.get("/v1/databases/box/schema/snapshot")
    assert snapshot.status_code == 400
    assert "schema snapshots apply to SQL databases (sqlite, postgresql, mysql)" in \
        snapshot.text

    migrations = _problem(await app_client.post("/v1/databases/box/migrations/run"), 400)
    assert "migrations, factories and seeders apply to SQL databases (sqlite, postgresql, " \
        "mysql)" in migrations["detail"]

    backup = _problem(await app_client.post("/v1/databases/box/backups"), 400)
    assert backup["detail"] == ("a toy database cannot be backed up; backups exist for "
                                "influxdb, mysql, postgresql, redis, sqlite")

    actions = await app_client.post("/v1/databases/box/action",
                                    json={"action_name": "list-actions"})
    assert actions.status_code == 200, actions.text
    assert [a["name"] for a in actions.json()["result"]] == ["list-actions"]
    refused_action = await app_client.post("/v1/databases/box/action",
                                           json={"action_name": "list-databases"})
    assert refused_action.status_code == 400
    assert refused_action.json()["code"] == "DBP-X102"

    feature = _problem(await app_client.post("/v1/databases/box/features", json={
        "feature": {"name": "pg-stat-statements"}}), 400)
    assert "cannot be enabled on a toy database" in feature["detail"]

    removed = await app_client.delete("/v1/databases/box")
    assert removed.status_code == 204
