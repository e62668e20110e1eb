"""Console pages: sign-in and sign-out, the databases, one database (tables with row
counts, backups, operations, actions), and an operation's live state as JSON for the
page's script. Each page calls the services exactly as the API's routers do."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from starlette.datastructures import UploadFile

from dbplane.api.console import datasafety
from dbplane.api.console.web import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    ConsoleRoute,
    admin_form,
    caller,
    check_csrf,
    context_of,
    login_csrf,
    render,
)
from dbplane.errors import (
    DbplaneError,
    EndpointNotFound,
    InvalidCredentials,
    MalformedParameter,
    Unauthorized,
)
from dbplane.services import actions as actions_svc
from dbplane.services import auth as auth_svc
from dbplane.services import backups as backups_svc
from dbplane.services import databases as databases_svc
from dbplane.services import deployments as deployments_svc
from dbplane.services import operations as operations_svc
from dbplane.services import tables as tables_svc
from dbplane.services.auth import Principal

__all__ = ["router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

_ENDED = ("done", "error", "canceled")


def _created_by(principal: Principal) -> str:
    if principal.kind == "session" and principal.user_id:
        return f"user:{principal.user_id}"
    return f"token:{principal.token_hash[:12]}"


def _safe_next(target: str | None) -> str:
    """Only a console path: never a redirect to another site."""
    if target and target.startswith("/console") and not urlsplit(target).netloc:
        return target
    return "/console"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- signing in and out -----------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    token = login_csrf(request)
    response = render(request, "login.html", login_csrf=token, next=_safe_next(next))
    _set_login_cookie(request, response, token)
    return response


def _set_login_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path="/console", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    ctx = context_of(request)
    sent = str(form.get("login_csrf") or "")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    target = _safe_next(str(form.get("next") or ""))
    error: DbplaneError | None = None
    bearer: str | None = None
    max_age: int | None = None
    if not expected or not secrets.compare_digest(sent, expected):
        error = DbplaneError("the sign-in form expired: send it again")
    elif str(form.get("token") or "").strip():
        bearer = str(form.get("token")).strip()
        try:
            principal = await auth_svc.authenticate(ctx, f"Bearer {bearer}")
        except Unauthorized:
            error, bearer = InvalidCredentials("that token is not valid"), None
        else:
            if principal.kind != "token":
                error, bearer = InvalidCredentials("that is not an admin API token"), None
    else:
        try:
            bearer, _, _ = await auth_svc.login(ctx, str(form.get("email") or ""),
                                                str(form.get("password") or ""))
            max_age = ctx.settings.session_ttl_seconds
        except InvalidCredentials as exc:
            error = exc
    if bearer is None:
        token = secrets.token_urlsafe(24)
        response: Response = render(request, "login.html", status=401, login_csrf=token,
                                    next=target, error=error,
                                    email=str(form.get("email") or ""))
        _set_login_cookie(request, response, token)
        return response
    response = _see_other(target)
    response.set_cookie(COOKIE, bearer, path="/console", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=max_age)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    principal = await caller(request)
    check_csrf(request, await request.form())
    if principal.kind == "session":
        await auth_svc.logout(context_of(request), principal)
    response = _see_other("/console/login")
    response.delete_cookie(COOKIE, path="/console")
    return response


# -- databases --------------------------------------------------------------------------


@router.get("")
async def databases_page(request: Request) -> Response:
    principal = await caller(request)
    databases = await databases_svc.list_databases(context_of(request), principal)
    return render(request, "databases.html", principal=principal, databases=databases)


@router.get("/databases.json")
async def databases_health(request: Request) -> Response:
    """The live status of each database the caller sees, polled by the databases page."""
    principal = await caller(request)
    databases = await databases_svc.list_databases(context_of(request), principal)
    body = {d.id: {"status": d.status, "version": d.readable_version,
                   "detail": d.status_detail} for d in databases}
    return Response(orjson.dumps(body), media_type="application/json")


async def _row_counts(request: Request, principal: Principal,
                      db: str) -> tuple[list[dict[str, Any]], DbplaneError | None]:
    ctx = context_of(request)
    try:
        tables = await tables_svc.describe_tables(ctx, principal, db)
    except DbplaneError as exc:
        if exc.status >= 500 and exc.status != 503:
            raise
        return [], exc  # not a SQL type, or its server does not answer
    for table in tables:
        try:
            answer = await tables_svc.list_rows(ctx, principal, db, table["name"],
                                                b"count=exact&limit=1")
            table["rows"] = answer.page[2] if answer.page else None
        except DbplaneError:
            table["rows"] = None
    return tables, None


@router.get("/databases/{db}")
async def database_page(db: str, request: Request) -> Response:
    principal = await caller(request)
    ctx = context_of(request)
    database = await databases_svc.get_database(ctx, principal, db)
    tables, tables_error = await _row_counts(request, principal, db)
    backups: list[Any] = []
    operations: list[Any] = []
    actions: list[dict[str, Any]] = []
    deployments: list[dict[str, Any]] = []
    safety: dict[str, Any] = {"versions": None, "pitr": None, "pitr_error": None}
    if principal.is_admin:
        safety = await datasafety.panels(request, database)
        backups = await backups_svc.list_backups(ctx, db)
        deployments = (await deployments_svc.list_deployments(ctx, db))[:10]
        ops = await operations_svc.list_operations(ctx, database_id=database.id, limit=20)
        operations = [operations_svc.public_operation(op) for op in ops]
        try:
            actions = await actions_svc.run_action(ctx, db, "list-actions", {})
        except DbplaneError:
            actions = []
    return render(request, "database.html", principal=principal, db=database,
                  tables=tables, tables_error=tables_error, backups=backups,
                  operations=operations, actions=actions, ended=_ENDED,
                  action_result=None, deployments=deployments, **safety)


# -- deployments ------------------------------------------------------------------------

_DEPLOY_ACTIONS = ("redeploy", "restart", "stop", "start")


@router.post("/databases/{db}/deployments/{action}")
async def start_deployment(db: str, action: str, request: Request) -> Response:
    """Redeploy, restart, stop or start: a deployment followed on the page as the
    operation that runs it."""
    principal, _ = await admin_form(request)
    if action not in _DEPLOY_ACTIONS:
        raise EndpointNotFound(f"/console/databases/{db}/deployments/{action}: the "
                               "actions are " + ", ".join(_DEPLOY_ACTIONS))
    deployment = await deployments_svc.start_deployment(
        context_of(request), db, cast(deployments_svc.Action, action),
        _created_by(principal))
    return _see_other(f"/console/databases/{db}?operation={deployment['operation_id']}"
                      "#deployments")


# -- backups ----------------------------------------------------------------------------


@router.post("/databases/{db}/backups")
async def create_backup(db: str, request: Request) -> Response:
    principal, _ = await admin_form(request)
    op = await backups_svc.create_backup(context_of(request), db,
                                         created_by=_created_by(principal))
    return _see_other(f"/console/databases/{db}?operation={op.id}#operations")


@router.post("/databases/{db}/backups/upload")
async def upload_backup(db: str, request: Request) -> Response:
    principal = await caller(request)
    async with request.form() as form:
        check_csrf(request, form)
        principal.require_admin()
        upload = form.get("file")
        checksum = str(form.get("checksum") or "").strip() or None
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise MalformedParameter("choose an archive to upload", parameter="file")

        async def chunks() -> AsyncIterator[bytes]:
            while data := await upload.read(1 << 20):
                yield data

        await backups_svc.upload_backup(context_of(request), db, chunks(),
                                        checksum=checksum)
    return _see_other(f"/console/databases/{db}#backups")


@router.get("/databases/{db}/backups/{backup_id}/archive")
async def download_backup(db: str, backup_id: str, request: Request) -> Response:
    principal = await caller(request)
    principal.require_admin()
    path, filename, checksum = await backups_svc.archive_of(context_of(request), db,
                                                            backup_id)
    return FileResponse(path, media_type="application/octet-stream", filename=filename,
                        headers={"X-Checksum": checksum})


@router.get("/databases/{db}/backups/{backup_id}/{verb}")
async def confirm_backup(db: str, backup_id: str, verb: str, request: Request) -> Response:
    """The confirmation page of a restore or a delete, naming what will be lost."""
    principal = await caller(request)
    principal.require_admin()
    if verb not in ("restore", "delete"):
        raise EndpointNotFound()
    ctx = context_of(request)
    database = await databases_svc.get_database(ctx, principal, db)
    backup = await backups_svc.get_backup(ctx, db, backup_id)
    return render(request, "confirm_backup.html", principal=principal, db=database,
                  backup=backup, verb=verb)


@router.post("/databases/{db}/backups/{backup_id}/restore")
async def restore_backup(db: str, backup_id: str, request: Request) -> Response:
    principal, _ = await admin_form(request)
    op = await backups_svc.restore_backup(context_of(request), db, backup_id,
                                          created_by=_created_by(principal))
    return _see_other(f"/console/databases/{db}?operation={op.id}#operations")


@router.post("/databases/{db}/backups/{backup_id}/delete")
async def delete_backup(db: str, backup_id: str, request: Request) -> Response:
    await admin_form(request)
    await backups_svc.delete_backup(context_of(request), db, backup_id)
    return _see_other(f"/console/databases/{db}#backups")


# -- actions ----------------------------------------------------------------------------


_DESTRUCTIVE_ACTIONS = {
    "delete-database": "The logical database named in {params} is dropped with all its "
                       "tables and data.",
    "reset-database": "Every table of the logical database named in {params} is dropped "
                      "with its data.",
    "pg-terminate-query": "The session running the query in {params} is ended and its "
                          "open transaction rolled back.",
}


@router.post("/databases/{db}/actions")
async def run_action(db: str, request: Request) -> Response:
    principal, form = await admin_form(request)
    ctx = context_of(request)
    name = str(form.get("action_name") or "")
    raw = str(form.get("params") or "").strip()
    status = 200
    if name in _DESTRUCTIVE_ACTIONS and form.get("confirmed") != "yes":
        return render(request, "confirm.html", principal=principal,
                      title=f"Run {name} on {db}?",
                      loss=_DESTRUCTIVE_ACTIONS[name].format(params=raw or "{}"),
                      action=f"/console/databases/{db}/actions",
                      back=f"/console/databases/{db}#actions", button=f"Run {name}",
                      hidden={"action_name": name, "params": raw, "confirmed": "yes"})
    try:
        params = orjson.loads(raw) if raw else {}
        result: Any = {"ok": 1, "result": await actions_svc.run_action(ctx, db, name,
                                                                        params)}
    except orjson.JSONDecodeError as exc:
        result, status = {"ok": 0, "error": f"params is not JSON: {exc.msg}"}, 400
    except DbplaneError as exc:
        if exc.status >= 500 and exc.status != 503:
            raise
        result, status = {"ok": 0, "error": exc.detail, "code": exc.code}, exc.status
    database = await databases_svc.get_database(ctx, principal, db)
    listed = await actions_svc.run_action(ctx, db, "list-actions", {})
    return render(request, "action.html", status=status, principal=principal, db=database,
                  action_name=name, params=raw,
                  actions=listed,
                  result=orjson.dumps(result, option=orjson.OPT_INDENT_2,
                                      default=str).decode())


# -- operations -------------------------------------------------------------------------

CONSOLE_WAIT_SECONDS = 5.0  # an operation card's long poll: its progress at least this often


@router.post("/operations/{op_id}/cancel")
async def cancel_operation(op_id: str, request: Request) -> Response:
    """Cancel a pending operation, or ask a running one to stop (409 for a type that
    cannot stop midway, shown as a page)."""
    _, form = await admin_form(request)
    await operations_svc.cancel_operation(context_of(request), op_id)
    return _see_other(_safe_next(str(form.get("back") or "")) + "#operations")


@router.get("/operations/{op_id}.json")
async def operation_json(op_id: str, request: Request,
                         wait: float | None = Query(None, gt=0, le=CONSOLE_WAIT_SECONDS)
                         ) -> Response:
    """The operation card's JSON; with ``wait``, a long poll as the API's (the card asks
    again as soon as it is answered: progress every ``wait`` seconds, the end at once)."""
    principal = await caller(request)
    principal.require_admin()
    ctx = context_of(request)
    op = (await operations_svc.get_operation(ctx, op_id) if wait is None
          else await operations_svc.operation_when_ended(ctx, op_id, wait))
    return Response(orjson.dumps(operations_svc.public_operation(op)),
                    media_type="application/json")
