"""Users, roles, sessions and admin tokens through the real app, on both metadata stores."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from dbplane.meta.tables import api_tokens, users
from dbplane.services.auth import ensure_admin_token
from dbplane.services.context import AppContext
from tests.conftest import ADMIN_TOKEN, AppHandle, MetaBackend, make_settings

pytestmark = pytest.mark.parametrize("meta_backend", ["sqlite", "postgresql"], indirect=True)


def _email() -> str:
    return f"kate-{uuid.uuid4().hex[:8]}@example.com"


async def _role(client: httpx.AsyncClient, name: str, grants: list[dict[str, object]]) -> None:
    response = await client.post("/v1/roles", json={"name": name, "grants": grants})
    assert response.status_code == 201, response.text


async def _user(client: httpx.AsyncClient, role: str, password: str = "correct horse") -> dict:
    response = await client.post("/v1/users", json={
        "name": "Kate", "email": _email(), "password": password, "role": role})
    assert response.status_code == 201, response.text
    return response.json()


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email, "password": password},
                             headers={"Authorization": ""})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_health_needs_no_token(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/v1/health", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(("header", "code"), [
    (None, "DBP-A101"),
    ("Bearer nope", "DBP-A102"),
    ("Basic dXNlcjpwYXNz", "DBP-A102"),
    ("Bearer ", "DBP-A102"),
    ("Bearer " + "x" * 5000, "DBP-A102"),
])
async def test_every_endpoint_but_health_and_login_needs_a_valid_token(
    app_client: httpx.AsyncClient, header: str | None, code: str
) -> None:
    headers = {"Authorization": header} if header is not None else {"Authorization": ""}
    for method, path in [("GET", "/v1/databases"), ("GET", "/v1/databases/default"),
                         ("POST", "/v1/databases"), ("GET", "/v1/users"),
                         ("GET", "/v1/user"), ("POST", "/v1/auth/logout"),
                         ("GET", "/v1/roles"), ("GET", "/v1/tokens")]:
        response = await app_client.request(method, path, headers=headers)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code


async def test_user_logs_in_reads_itself_and_logs_out(app_client: httpx.AsyncClient) -> None:
    await _role(app_client, "reader", [{"database": "*", "table": "users",
                                        "actions": ["read"]}])
    created = await _user(app_client, "reader")
    assert "password" not in created and "password_hash" not in created
    uuid.UUID(created["id"])

    response = await _login(app_client, created["email"].upper(), "correct horse")
    assert response.status_code == 200, response.text
    login = response.json()
    assert login["token"].startswith("dbs_")
    assert login["expires_on"] > created["created_on"]
    assert login["user"]["id"] == created["id"]

    me = await app_client.get("/v1/user", headers=_bearer(login["token"]))
    assert me.status_code == 200
    assert me.json() == {k: created[k] for k in
                         ("id", "name", "email", "role", "created_on", "updated_on")}
    assert isinstance(me.json()["created_on"], int) and me.json()["created_on"] > 10**12

    out = await app_client.post("/v1/auth/logout", headers=_bearer(login["token"]))
    assert out.status_code == 204
    assert out.content == b""
    again = await app_client.get("/v1/user", headers=_bearer(login["token"]))
    assert again.status_code == 401
    assert again.json()["code"] == "DBP-A102"


async def test_wrong_password_and_unknown_email_answer_alike(
    app_client: httpx.AsyncClient,
) -> None:
    created = await _user(app_client, "admin")
    wrong = await _login(app_client, created["email"], "not the password")
    unknown = await _login(app_client, "nobody@example.com", "correct horse")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "DBP-A103"


async def test_password_is_stored_as_argon2(app_handle: AppHandle) -> None:
    created = await _user(app_handle.client, "admin", password="s3cret-passw0rd")
    async with app_handle.ctx.meta.connect() as conn:
        stored = (await conn.execute(select(users.c.password_hash)
                                     .where(users.c.id == created["id"]))).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "s3cret-passw0rd" not in stored


async def test_non_admin_gets_403_on_admin_endpoints(app_client: httpx.AsyncClient) -> None:
    await _role(app_client, "viewer", [{"database": "default", "table": "*",
                                        "actions": ["read"]}])
    created = await _user(app_client, "viewer")
    token = (await _login(app_client, created["email"], "correct horse")).json()["token"]
    for method, path, body in [
        ("POST", "/v1/users", {"name": "x", "email": _email(), "password": "12345678",
                               "role": "viewer"}),
        ("GET", "/v1/users", None), ("GET", "/v1/roles", None), ("GET", "/v1/tokens", None),
        ("POST", "/v1/tokens", {"name": "mine"}),
        ("POST", "/v1/databases", {"resource_id": "nope"}),
        ("PATCH", "/v1/databases/default", {"periodic_backups_enabled": True}),
        ("DELETE", "/v1/databases/default", None),
    ]:
        response = await app_client.request(method, path, json=body, headers=_bearer(token))
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "DBP-A201"
    # nothing was changed by the refused requests
    listed = (await app_client.get("/v1/databases")).json()["databases"]
    assert [d["resource_id"] for d in listed] == ["default"]
    assert listed[0]["periodic_backups_enabled"] is False


async def test_grants_scope_which_databases_a_user_sees(app_client: httpx.AsyncClient) -> None:
    await app_client.post("/v1/databases", json={"resource_id": "other"})
    await _role(app_client, "only-other", [{"database": "other", "table": "*",
                                            "actions": ["read"]}])
    created = await _user(app_client, "only-other")
    token = (await _login(app_client, created["email"], "correct horse")).json()["token"]
    listed = await app_client.get("/v1/databases", headers=_bearer(token))
    assert [d["resource_id"] for d in listed.json()["databases"]] == ["other"]
    hidden = await app_client.get("/v1/databases/default", headers=_bearer(token))
    assert hidden.status_code == 404


async def test_a_user_role_must_exist(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post("/v1/users", json={
        "name": "x", "email": _email(), "password": "12345678", "role": "ghost"})
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "DBP-U201"
    assert body["value"] == "ghost"
    assert (await app_client.get("/v1/users")).json() == []


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "email": "not-an-email", "password": "12345678", "role": "admin"}, "email"),
    ({"name": "x", "email": "a@b.co", "password": "short", "role": "admin"}, "password"),
    ({"name": "", "email": "a@b.co", "password": "12345678", "role": "admin"}, "name"),
    ({"email": "a@b.co", "password": "12345678", "role": "admin"}, "name"),
    ({"name": "x", "email": "a@b.co", "password": "12345678", "role": "admin",
      "is_admin": True}, "is_admin"),
    ({"data": {"name": "x", "email": "a@b.co", "password": "12345678"}}, "data.role"),
])
async def test_bad_user_bodies_name_the_field(app_client: httpx.AsyncClient, body: dict,
                                              field: str) -> None:
    response = await app_client.post("/v1/users", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == field
    assert "12345678" not in response.text or field != "password"
    assert (await app_client.get("/v1/users")).json() == []


async def test_users_accept_the_seed_data_wrapper_and_duplicate_email_is_409(
    app_client: httpx.AsyncClient,
) -> None:
    email = _email()
    body = {"name": "John", "email": email, "password": "12345678", "role": "admin"}
    first = await app_client.post("/v1/users", json={"data": body})
    assert first.status_code == 201
    second = await app_client.post("/v1/users", json=body)
    assert second.status_code == 409
    assert second.json()["code"] == "DBP-U301"


async def test_user_update_and_delete_end_its_sessions(app_client: httpx.AsyncClient) -> None:
    created = await _user(app_client, "admin")
    token = (await _login(app_client, created["email"], "correct horse")).json()["token"]
    patched = await app_client.patch(f"/v1/users/{created['id']}",
                                     json={"data": {"name": "Kate B", "password": "new pass 1"}})
    assert patched.status_code == 200
    assert patched.json()["name"] == "Kate B"
    assert patched.json()["updated_on"] >= created["updated_on"]
    assert (await _login(app_client, created["email"], "correct horse")).status_code == 401
    assert (await _login(app_client, created["email"], "new pass 1")).status_code == 200
    assert (await app_client.delete(f"/v1/users/{created['id']}")).status_code == 204
    assert (await app_client.get("/v1/user", headers=_bearer(token))).status_code == 401
    missing = await app_client.get(f"/v1/users/{created['id']}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "DBP-U101"


async def test_roles_crud_and_protection(app_client: httpx.AsyncClient) -> None:
    grants = [{"database": "*", "table": "users", "actions": ["read"]}]
    created = await app_client.post("/v1/roles", json={"name": "reader", "grants": grants})
    assert created.status_code == 201
    assert created.json()["grants"] == grants
    assert (await app_client.post("/v1/roles", json={"name": "reader"})).status_code == 409
    names = [r["name"] for r in (await app_client.get("/v1/roles")).json()]
    assert names == ["admin", "reader"]

    updated = await app_client.put("/v1/roles/reader", json={"grants": [
        {"database": "default", "table": "*", "actions": ["read", "update"]}]})
    assert updated.status_code == 200
    assert updated.json()["grants"][0]["actions"] == ["read", "update"]

    bad = await app_client.post("/v1/roles", json={"name": "x", "grants": [
        {"database": "*", "table": "*", "actions": ["drop"]}]})
    assert bad.status_code == 422
    assert bad.json()["field"] == "grants.0.actions.0"

    await _user(app_client, "reader")
    in_use = await app_client.delete("/v1/roles/reader")
    assert in_use.status_code == 409
    assert in_use.json()["code"] == "DBP-U303"
    for method in ("PUT", "DELETE"):
        response = await app_client.request(method, "/v1/roles/admin", json={"grants": []})
        assert response.status_code == 409, method


async def test_api_tokens_are_stored_hashed_and_revocable(app_handle: AppHandle) -> None:
    client = app_handle.client
    created = await client.post("/v1/tokens", json={"name": "ci"})
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("dbp_") and len(token) > 40
    listed = (await client.get("/v1/tokens")).json()
    assert {t["name"] for t in listed} == {"DBPLANE_ADMIN_TOKEN", "ci"}
    assert all("token" not in t for t in listed)

    async with app_handle.ctx.meta.connect() as conn:
        hashes = set((await conn.execute(select(api_tokens.c.token_hash))).scalars())
    assert hashlib.sha256(token.encode()).hexdigest() in hashes
    assert hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest() in hashes
    assert token not in hashes

    assert (await client.get("/v1/databases", headers=_bearer(token))).status_code == 200
    me = await client.get("/v1/user", headers=_bearer(token))
    assert me.status_code == 404
    assert me.json()["code"] == "DBP-A104"
    assert (await client.delete(f"/v1/tokens/{created.json()['id']}")).status_code == 204
    assert (await client.get("/v1/databases", headers=_bearer(token))).status_code == 401
    assert (await client.delete(f"/v1/tokens/{created.json()['id']}")).status_code == 404


async def test_login_reads_json_whatever_the_content_type_and_never_echoes_a_password(
    app_client: httpx.AsyncClient,
) -> None:
    created = await _user(app_client, "admin", password="plain-text-body")
    body = f'{{"email": "{created["email"]}", "password": "plain-text-body"}}'.encode()
    response = await app_client.post("/v1/auth/login", content=body,
                                     headers={"Authorization": "",
                                              "Content-Type": "text/plain"})
    assert response.status_code == 200, response.text

    wrong_type = await app_client.post("/v1/auth/login", headers={"Authorization": ""},
                                       json={"email": created["email"],
                                             "password": ["plain-text-body"]})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["field"] == "password"
    assert "plain-text-body" not in wrong_type.text

    not_json = await app_client.post("/v1/auth/login", headers={"Authorization": ""},
                                     content=b'{"password": "plain-text-body"')
    assert not_json.status_code == 400
    assert not_json.json()["code"] == "DBP-V101"
    assert "plain-text-body" not in not_json.text


async def test_replicas_starting_together_with_one_admin_token_both_start(
    tmp_path: Path, meta_backend: MetaBackend
) -> None:
    """Two processes on one store, both given DBPLANE_ADMIN_TOKEN, store its hash once
    and neither fails on the other's insert (its unique key)."""
    contexts = [await AppContext.open(make_settings(tmp_path / "data", meta_backend))
                for _ in range(4)]
    try:
        answers = await asyncio.gather(*(ensure_admin_token(c) for c in contexts))
        assert answers == [None] * 4
        async with contexts[0].meta.connect() as conn:
            rows = (await conn.execute(select(api_tokens.c.token_hash))).scalars().all()
        assert rows.count(hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()) == 1
    finally:
        for c in contexts:
            await c.close()
