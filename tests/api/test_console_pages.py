"""The console's schema, routines and admin pages through the real app in-process."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager

from dbplane.api.app import create_app
from dbplane.routines.files import file_id
from tests.conftest import ADMIN_TOKEN, make_settings

_CSRF = re.compile(r'name="(?:login_)?csrf" value="([^"]+)"')


class Console:
    def __init__(self, client: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
        self.client, self.api = client, api

    async def csrf(self, path: str) -> str:
        page = await self.client.get(path)
        assert page.status_code == 200, page.text
        found = _CSRF.search(page.text)
        assert found is not None
        return found.group(1)

    async def sign_in(self, **fields: str) -> None:
        token = await self.csrf("/console/login")
        answer = await self.client.post("/console/login", data={"login_csrf": token,
                                                                "next": "/console", **fields})
        assert answer.status_code == 303, answer.text

    async def wait_ops(self) -> None:
        for _ in range(200):
            ops = (await self.api.get("/v1/operations")).json()["operations"]
            if all(o["status"] in ("done", "error", "canceled") for o in ops):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("operations did not end")


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    root = tmp_path / "project"
    (root / "migrations").mkdir(parents=True)
    (root / "factories").mkdir()
    (root / "migrations" / "0001_create_players.sql").write_text(
        "CREATE TABLE players (id INTEGER PRIMARY KEY, name VARCHAR(80) NOT NULL, "
        "score INTEGER);\n")
    (root / "factories" / "players.yaml").write_text(
        "table: players\ncount: 3\nseed: 1\ncolumns:\n  name: name\n"
        "  score: {faker: random_int, min: 0, max: 9}\n")
    app = create_app(make_settings(tmp_path / "data", project_dir=root))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dbplane.test",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                                     ) as api, \
                httpx.AsyncClient(transport=transport, base_url="http://dbplane.test"
                                  ) as client:
            console = Console(client, api)
            await console.sign_in(token=ADMIN_TOKEN)
            yield console


async def test_routines_pretend_migrate_and_factory(console: Console) -> None:
    base = "/console/databases/default/routines"
    csrf = await console.csrf(base)
    page = await console.client.get(base)
    assert "0001_create_players" in page.text and "factories/players.yaml" in page.text
    pretend = await console.client.post(f"{base}/pretend", data={"csrf": csrf})
    assert pretend.status_code == 200 and "CREATE TABLE players" in pretend.text
    tables = (await console.api.get("/v1/tables")).json()
    assert "players" not in [t["name"] for t in tables]  # pretend changed nothing
    assert (await console.client.post(f"{base}/migrate", data={"csrf": csrf})
            ).status_code == 303
    await console.wait_ops()
    bad = await console.client.post(f"{base}/factory", data={
        "csrf": csrf, "file_id": file_id("factories/players.yaml"), "count": "lots"})
    assert bad.status_code == 400 and "count must be" in bad.text
    started = await console.client.post(f"{base}/factory", data={
        "csrf": csrf, "file_id": file_id("factories/players.yaml"), "count": "7"})
    assert started.status_code == 303
    await console.wait_ops()
    rows = await console.api.get("/v1/tables/players", params={"count": "exact",
                                                               "limit": "1"})
    assert rows.headers["content-range"].endswith("/7")
    page = await console.client.get(base)
    assert "routines.factory" in page.text and "status-done" in page.text


async def test_schema_diff_and_apply_with_confirmation(console: Console,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, "
                     "tag VARCHAR(20))")
        conn.execute("INSERT INTO notes (body, tag) VALUES ('a', 'x')")
    assert (await console.api.post("/v1/databases", json={
        "resource_id": "notes", "url": f"sqlite:///{path}"})).status_code == 201
    base = "/console/databases/notes/schema"
    csrf = await console.csrf(base)
    snap = (await console.client.get(f"{base}/snapshot.json")).json()
    yaml_text = (await console.client.get(f"{base}/snapshot.yaml")).text
    assert "collection: notes" in yaml_text
    snap["fields"] = [f for f in snap["fields"] if f["field"] != "tag"]
    diff = await console.client.post(f"{base}/diff", data={"csrf": csrf}, files={
        "file": ("s.json", orjson.dumps(snap), "application/json")})
    assert diff.status_code == 200, diff.text
    assert "the column notes.tag and its values" in diff.text
    assert re.search(r"DROP COLUMN|ALTER TABLE|DROP TABLE", diff.text)
    hash_ = re.search(r'name="hash" value="([^"]+)"', diff.text)
    body = re.search(r'name="diff" value="([^"]+)"', diff.text)
    assert hash_ and body
    import html
    form = {"csrf": csrf, "hash": hash_.group(1), "diff": html.unescape(body.group(1))}
    unconfirmed = await console.client.post(f"{base}/apply", data=form)
    assert unconfirmed.status_code == 400 and "tick the box" in unconfirmed.text
    with sqlite3.connect(path) as conn:
        assert "tag" in [r[1] for r in conn.execute("PRAGMA table_info(notes)")]
    applied = await console.client.post(f"{base}/apply", data={**form, "confirm": "yes"})
    assert applied.status_code == 200 and 'id="applied"' in applied.text
    with sqlite3.connect(path) as conn:
        assert "tag" not in [r[1] for r in conn.execute("PRAGMA table_info(notes)")]
    stale = await console.client.post(f"{base}/apply", data={**form, "confirm": "yes"})
    assert stale.status_code == 409 and "diff again" in stale.text


async def test_users_roles_and_tokens_for_admins(console: Console) -> None:
    csrf = await console.csrf("/console/roles")
    bad = await console.client.post("/console/roles", data={
        "csrf": csrf, "name": "readers", "grants": "notagrant"})
    assert bad.status_code == 400 and "DATABASE:TABLE:ACTIONS" in bad.text
    made = await console.client.post("/console/roles", data={
        "csrf": csrf, "name": "readers", "description": "", "grants": "*:*:read"})
    assert made.status_code == 303
    bad = await console.client.post("/console/users", data={
        "csrf": csrf, "name": "Al", "email": "not-an-email", "password": "longenough1",
        "role": "readers"})
    assert bad.status_code == 422 and "email" in bad.text
    made = await console.client.post("/console/users", data={
        "csrf": csrf, "name": "Al", "email": "al@example.com", "password": "longenough1",
        "role": "readers"})
    assert made.status_code == 303
    assert "al@example.com" in (await console.client.get("/console/users")).text
    token_page = await console.client.post("/console/tokens", data={"csrf": csrf,
                                                                     "name": "ci"})
    token = re.search(r"<pre>(dbp_[^<]+)</pre>", token_page.text)
    assert token is not None
    assert (await console.api.get("/v1/databases", headers={
        "Authorization": f"Bearer {token.group(1)}"})).status_code == 200
    tokens = (await console.api.get("/v1/tokens")).json()
    ci = next(t for t in (tokens.get("tokens") if isinstance(tokens, dict) else tokens)
              if t["name"] == "ci")
    confirm = await console.client.get(f"/console/tokens/{ci['id']}/delete")
    assert "refused from now on" in confirm.text
    assert (await console.client.post(f"/console/tokens/{ci['id']}/delete",
                                      data={"csrf": csrf})).status_code == 303
    assert (await console.api.get("/v1/databases", headers={
        "Authorization": f"Bearer {token.group(1)}"})).status_code == 401
    # a non-admin user is refused the admin pages
    async with httpx.AsyncClient(transport=console.client._transport,
                                 base_url="http://dbplane.test") as other:
        user = Console(other, console.api)
        await user.sign_in(email="al@example.com", password="longenough1")
        for path in ("/console/users", "/console/roles", "/console/tokens",
                     "/console/databases/default/schema",
                     "/console/databases/default/routines"):
            answer = await other.get(path)
            assert answer.status_code == 403 and "DBP-A201" in answer.text, path


async def test_deployments_panel_redeploys_and_lists_the_history(console: Console) -> None:
    base = "/console/databases/default"
    page = await console.client.get(base)
    assert 'id="deployments"' in page.text and "NEVER_DEPLOYED" in page.text
    # an embedded database: redeploy and restart only (dbplane does not run a server)
    assert 'id="deploy-redeploy"' in page.text and 'id="deploy-stop"' not in page.text
    csrf = await console.csrf(base)
    refused = await console.client.post(f"{base}/deployments/redeploy", data={})
    assert refused.status_code == 403  # no CSRF token: nothing started
    assert (await console.api.get("/v1/databases/default/deployments")
            ).json()["results"] == []
    started = await console.client.post(f"{base}/deployments/redeploy", data={"csrf": csrf})
    assert started.status_code == 303, started.text
    assert started.headers["location"].endswith("#deployments")
    await console.wait_ops()
    [deployment] = (await console.api.get("/v1/databases/default/deployments")
                    ).json()["results"]
    assert deployment["state"] == "DEPLOYED"
    page = await console.client.get(base)
    section = page.text.split('id="deployments"')[1].split("</section>")[0]
    assert "DEPLOYED" in section and "UP_TO_DATE" in section, section
    assert deployment["steps"]["details"][0]["step_name"] in page.text
    unknown = await console.client.post(f"{base}/deployments/explode", data={"csrf": csrf})
    assert unknown.status_code == 404
