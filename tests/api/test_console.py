"""The console's pages through the real app in-process: sign-in, cookies, CSRF, the
security headers, grants applied as in the API, the table browser, and API docs that load
nothing from another host. (Real-browser tests are in tests/console/.)"""

from __future__ import annotations

import asyncio
import html
import re
import uuid

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, AppHandle
from tests.fixtures.servers import SqlDatabase

_CSRF = re.compile(r'name="(?:login_)?csrf" value="([^"]+)"')


def _browser(app_handle: AppHandle) -> httpx.AsyncClient:
    """A client with no Authorization header: only the console's cookie."""
    return httpx.AsyncClient(transport=app_handle.client._transport,
                             base_url="http://dbplane.test")


async def _sign_in(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    page = await client.get("/console/login")
    token = _CSRF.search(page.text)
    assert token is not None
    return await client.post("/console/login", data={"login_csrf": token.group(1),
                                                      "next": "/console", **fields})


async def _csrf(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found is not None
    return found.group(1)


async def test_a_browser_is_sent_to_sign_in_and_back(app_handle: AppHandle) -> None:
    async with _browser(app_handle) as client:
        root = await client.get("/")
        assert root.status_code == 307 and root.headers["location"] == "/console"
        page = await client.get("/console")
        assert page.status_code == 303
        assert page.headers["location"] == "/console/login?next=%2Fconsole"
        login = await client.get("/console/login")
        csp = login.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "<script>" not in login.text and " style=" not in login.text
        signed = await _sign_in(client, token=ADMIN_TOKEN)
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Path=/console" in cookie
        page = await client.get("/console")
        assert page.status_code == 200
        assert 'href="/console/databases/default"' in page.text


async def test_a_wrong_token_or_password_is_refused(app_handle: AppHandle) -> None:
    async with _browser(app_handle) as client:
        answer = await _sign_in(client, token="dbp_not-a-token")
        assert answer.status_code == 401 and "not valid" in answer.text
        answer = await _sign_in(client, email="nobody@example.com", password="x")
        assert answer.status_code == 401
        assert (await client.get("/console")).status_code == 303
        # a login form posted without the cookie's token (from another site) is refused
        client.cookies.clear()
        answer = await client.post("/console/login", data={"login_csrf": "forged",
                                                           "token": ADMIN_TOKEN})
        assert answer.status_code == 401 and "dbplane_console=" not in answer.headers.get(
            "set-cookie", "")


async def test_forms_need_the_sessions_csrf_token(app_handle: AppHandle) -> None:
    async with _browser(app_handle) as client:
        await _sign_in(client, token=ADMIN_TOKEN)
        forged = await client.post("/console/databases/default/backups",
                                   data={"csrf": "0" * 64})
        assert forged.status_code == 403 and "DBP-A210" in forged.text
        backups = await app_handle.client.get("/v1/databases/default/backups")
        assert backups.json()["database_backups"] == []
        csrf = await _csrf(client, "/console/databases/default")
        started = await client.post("/console/databases/default/backups",
                                    data={"csrf": csrf})
        assert started.status_code == 303
        op_id = started.headers["location"].split("operation=")[1].split("#")[0]
        op = await client.get(f"/console/operations/{op_id}.json")
        assert op.status_code == 200 and op.json()["type"] == "backup"


async def test_a_user_sees_only_what_its_role_grants(app_handle: AppHandle,
                                                     db: SqlDatabase) -> None:
    api = app_handle.client
    role = f"reader-{uuid.uuid4().hex[:6]}"
    assert (await api.post("/v1/roles", json={"name": role, "grants": [
        {"database": "shop", "table": "articles", "actions": ["read"]}]})).status_code == 201
    email = f"r-{uuid.uuid4().hex[:6]}@example.com"
    assert (await api.post("/v1/users", json={
        "name": "Reader", "email": email, "password": "correct horse",
        "role": role})).status_code == 201
    async with _browser(app_handle) as client:
        assert (await _sign_in(client, email=email, password="correct horse")
                ).status_code == 303
        home = await client.get("/console")
        assert "/console/databases/shop" in home.text
        assert "/console/databases/default" not in home.text
        page = await client.get("/console/databases/shop")
        assert "/tables/articles" in page.text and "/tables/authors" not in page.text
        assert 'id="backup-now"' not in page.text
        denied = await client.get("/console/databases/shop/tables/authors")
        assert denied.status_code == 404
        csrf = await _csrf(client, "/console/databases/shop")
        refused = await client.post("/console/databases/shop/backups", data={"csrf": csrf})
        assert refused.status_code == 403 and "DBP-A201" in refused.text
        rows = await client.get("/console/databases/shop/tables/articles")
        assert rows.status_code == 200 and "Engines" in rows.text
        assert "/rows/1/delete" not in rows.text  # read only: no delete link
        edit = await client.post("/console/databases/shop/tables/articles/rows/1",
                                 data={"csrf": csrf, "v:title": "Changed",
                                       "was:title": "Engines"})
        assert edit.status_code == 403 and "DBP-A202" in edit.text
        signed_out = await client.post("/console/logout", data={"csrf": csrf})
        assert signed_out.status_code == 303
        assert (await client.get("/console")).status_code == 303


async def test_the_table_browser_filters_sorts_and_edits(app_handle: AppHandle,
                                                         db: SqlDatabase) -> None:
    async with _browser(app_handle) as client:
        await _sign_in(client, token=ADMIN_TOKEN)
        base = "/console/databases/shop/tables/articles"
        form = await client.get(base, params={"f_col": "score", "f_op": "$gte",
                                              "f_val": "10", "sort": "score:desc"})
        assert form.status_code == 303
        assert "filters[score][$gte]=10" in form.headers["location"]
        page = await client.get(form.headers["location"])
        assert "1-2 of 2" in page.text
        assert page.text.index("Compilers") < page.text.index("Engines")
        assert "/tables/authors?filters[id][$eq]=2" in page.text  # the relation, linked
        bad = await client.get(base, params={"filters[titel][$eq]": "x"})
        assert bad.status_code == 200 and "DBP-Q1" in bad.text and "titel" in bad.text
        csrf = await _csrf(client, f"{base}/rows/1")
        wrong = await client.post(f"{base}/rows/1", data={
            "csrf": csrf, "v:score": "lots", "was:score": "10"})
        assert wrong.status_code == 400
        assert re.search(r'id="error-score"[^>]*>[^<]*score', wrong.text)
        saved = await client.post(f"{base}/rows/1", data={
            "csrf": csrf, "v:title": "Engines, again", "was:title": "Engines",
            "v:score": "10", "was:score": "10"})
        assert saved.status_code == 303
        record = await app_handle.client.get("/v1/databases/shop/tables/articles/1")
        assert record.json()["title"] == "Engines, again"
        assert record.json()["score"] == 10


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_api_docs_load_only_what_dbplane_serves(app_handle: AppHandle,
                                                      path: str) -> None:
    page = await app_handle.client.get(path)
    assert page.status_code == 200
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    refs += re.findall(r"""url:\s*['"]([^'"]+)['"]""", page.text)
    assert refs, page.text
    assert not re.search(r"https?://|//[a-z]", page.text.replace("http://dbplane.test", ""))
    for ref in refs:
        assert ref.startswith("/"), ref
        assert (await app_handle.client.get(ref)).status_code == 200, ref


async def test_backups_download_upload_restore_and_actions(app_handle: AppHandle) -> None:
    api = app_handle.client
    async with _browser(app_handle) as client:
        await _sign_in(client, token=ADMIN_TOKEN)
        page = "/console/databases/default"
        csrf = await _csrf(client, page)
        started = await client.post(f"{page}/backups", data={"csrf": csrf})
        op_id = started.headers["location"].split("operation=")[1].split("#")[0]
        for _ in range(200):
            op = (await client.get(f"/console/operations/{op_id}.json")).json()
            if op["status"] in ("done", "error"):
                break
            await asyncio.sleep(0.05)
        assert op["status"] == "done", op
        backup_id = op["params"]["backup_id"]
        archive = await client.get(f"{page}/backups/{backup_id}/archive")
        assert archive.status_code == 200 and archive.headers["x-checksum"].startswith(
            "sha256:")
        uploaded = await client.post(f"{page}/backups/upload", data={"csrf": csrf},
                                     files={"file": ("copy.db", archive.content)})
        assert uploaded.status_code == 303, uploaded.text
        listed = (await api.get("/v1/databases/default/backups")).json()["database_backups"]
        assert sorted(b["method"] for b in listed) == ["manual", "upload"]
        confirm = await client.get(f"{page}/backups/{backup_id}/restore")
        assert "every change made since then is lost" in confirm.text
        restored = await client.post(f"{page}/backups/{backup_id}/restore",
                                     data={"csrf": csrf})
        assert restored.status_code == 303
        ran = await client.post(f"{page}/actions", data={
            "csrf": csrf, "action_name": "list-actions", "params": ""})
        assert ran.status_code == 200 and "reset-database" in ran.text
        asked = await client.post(f"{page}/actions", data={
            "csrf": csrf, "action_name": "reset-database",
            "params": '{"database_name": "main"}'})
        assert asked.status_code == 200 and "is dropped with its data" in asked.text
        assert 'name="confirmed" value="yes"' in asked.text
        refused = await client.post(f"{page}/actions", data={
            "csrf": csrf, "action_name": "no-such-action", "params": ""})
        assert refused.status_code == 400
        assert '"code": "DBP-' in html.unescape(refused.text)


async def test_create_and_delete_a_row_and_choose_columns(app_handle: AppHandle,
                                                          db: SqlDatabase) -> None:
    async with _browser(app_handle) as client:
        await _sign_in(client, token=ADMIN_TOKEN)
        base = "/console/databases/shop/tables/authors"
        csrf = await _csrf(client, f"{base}/new")
        refused = await client.post(f"{base}/new", data={"csrf": csrf, "v:name": "Ada"})
        assert refused.status_code == 409, refused.text
        assert 'id="row-error"' in refused.text and 'value="Ada"' in refused.text
        created = await client.post(f"{base}/new", data={"csrf": csrf, "v:name": "Linus"})
        assert created.status_code == 303, created.text
        location = created.headers["location"]
        assert location.startswith(f"{base}/rows/") and location.endswith("?saved=1")
        key = location.split("/rows/")[1].split("?")[0]
        author = await client.get("/console/databases/shop/tables/authors/rows/1")
        # the articles that refer to an author are a link away
        assert "/tables/articles?filters[author_id][$eq]=1" in author.text
        confirm = await client.get(f"{base}/rows/{key}/delete")
        assert "for good" in confirm.text and "Linus" in confirm.text
        assert (await client.post(f"{base}/rows/{key}/delete", data={"csrf": csrf})
                ).status_code == 303
        gone = await app_handle.client.get(f"/v1/databases/shop/tables/authors/{key}")
        assert gone.status_code == 404
        chosen = await client.get("/console/databases/shop/tables/articles", params=[
            ("apply_columns", "1"), ("col", "id"), ("col", "title")])
        assert chosen.status_code == 303 and "fields=id,title" in chosen.headers["location"]
        page = await client.get(chosen.headers["location"])
        assert ">title</a>" in page.text and ">score</a>" not in page.text


async def test_an_operation_is_canceled_from_its_card(app_handle: AppHandle) -> None:
    from dbplane.services import operations as operations_svc

    default = (await app_handle.client.get("/v1/databases/default")).json()["database"]
    op = await operations_svc.start_operation(
        app_handle.ctx, "database.check", database_id=default["id"],
        params={"samples": 1000, "interval_ms": 60_000}, created_by="test")
    async with _browser(app_handle) as client:
        await _sign_in(client, token=ADMIN_TOKEN)
        page = await client.get("/console/databases/default")
        csrf = _CSRF.search(page.text)
        assert csrf is not None
        answer = await client.post(f"/console/operations/{op.id}/cancel", data={
            "csrf": csrf.group(1), "back": "https://elsewhere.example/"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console#operations"  # never off-site
        for _ in range(200):
            ended = (await client.get(f"/console/operations/{op.id}.json")).json()
            if ended["status"] == "canceled":
                break
            await asyncio.sleep(0.05)
        assert ended["status"] == "canceled"
        again = await client.post(f"/console/operations/{op.id}/cancel", data={
            "csrf": csrf.group(1), "back": "/console"})
        assert again.status_code == 409 and "already ended" in again.text


async def test_a_database_whose_server_is_gone_shows_unreachable(
        app_handle: AppHandle, pg_url: SqlDatabase) -> None:
    from tests.fixtures.servers import pg_admin

    with pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{pg_url.name}_gone"')
    url = pg_url.url.rsplit("/", 1)[0] + f"/{pg_url.name}_gone"
    assert (await app_handle.client.post("/v1/databases", json={
        "resource_id": "gone", "url": url})).status_code == 201
    with pg_admin() as conn:
        conn.execute(f'DROP DATABASE "{pg_url.name}_gone" WITH (FORCE)')
    async with _browser(app_handle) as client:
        await _sign_in(client, token=ADMIN_TOKEN)
        home = await client.get("/console")
        assert home.status_code == 200 and "status-unreachable" in home.text
        health = (await client.get("/console/databases.json")).json()
        assert "unreachable" in [h["status"] for h in health.values()]
