"""The schema page: download the snapshot (JSON or YAML), upload a snapshot to see the
diff and the SQL it would run, and apply it with the diff's hash (a schema changed since
is refused) after a confirmation naming the tables and columns that would be dropped.
Admin only, as the schema endpoints."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from dbplane.api.console.web import ConsoleRoute, caller, check_csrf, context_of, render
from dbplane.errors import DbplaneError, MalformedParameter, SchemaBodyInvalid
from dbplane.schema import load_document, to_yaml
from dbplane.services import databases as databases_svc
from dbplane.services import schema as schema_svc
from dbplane.services.auth import Principal

__all__ = ["router"]

router = APIRouter(prefix="/console/databases/{db}/schema", route_class=ConsoleRoute,
                   include_in_schema=False)


async def _admin(request: Request) -> Principal:
    principal = await caller(request)
    principal.require_admin()
    return principal


def _losses(diff: dict[str, Any]) -> list[str]:
    """What applying ``diff`` drops: whole tables, then columns."""
    lost = []
    for item in diff.get("collections") or []:
        if any(e.get("kind") == "D" and not e.get("path") for e in item["diff"]):
            lost.append(f"the table {item['collection']} and all its rows")
    for item in diff.get("fields") or []:
        if any(e.get("kind") == "D" and not e.get("path") for e in item["diff"]):
            lost.append(f"the column {item['collection']}.{item['field']} and its values")
    return lost


def _counts(diff: dict[str, Any]) -> dict[str, int]:
    return {key: len(diff.get(key) or []) for key in ("collections", "fields", "relations")}


@router.get("")
async def schema_page(db: str, request: Request) -> Response:
    principal = await _admin(request)
    ctx = context_of(request)
    database = await databases_svc.get_database(ctx, principal, db)
    snap = await schema_svc.snapshot(ctx, db)
    return render(request, "schema.html", principal=principal, db=database, snapshot=snap,
                  answer=None, error=None)


@router.get("/snapshot.{export}")
async def download_snapshot(db: str, export: str, request: Request) -> Response:
    await _admin(request)
    snap = await schema_svc.snapshot(context_of(request), db)
    if export == "yaml":
        return Response(to_yaml(snap), media_type="text/yaml; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{db}-schema.yaml"'})
    if export == "json":
        return Response(orjson.dumps(snap, option=orjson.OPT_INDENT_2),
                        media_type="application/json", headers={
                            "Content-Disposition": f'attachment; filename="{db}-schema.json"'})
    raise MalformedParameter(f"export must be json or yaml, not {export!r}",
                             parameter="export")


@router.post("/diff")
async def diff_page(db: str, request: Request) -> Response:
    principal = await _admin(request)
    async with request.form() as form:
        check_csrf(request, form)
        upload = form.get("file")
        content = (await upload.read() if isinstance(upload, UploadFile) and upload.filename
                   else None)
        force = bool(form.get("force"))
    ctx = context_of(request)
    database = await databases_svc.get_database(ctx, principal, db)
    error: DbplaneError | None = None
    answer = None
    try:
        if content is None:
            raise SchemaBodyInvalid("choose a snapshot file (JSON or YAML)", field="file")
        document = load_document(content, what="the uploaded file")
        answer = await schema_svc.diff_snapshot(ctx, db, document, force=force, sql=True)
    except DbplaneError as exc:
        if exc.status >= 500:
            raise
        error = exc
    snap = await schema_svc.snapshot(ctx, db)
    values: dict[str, Any] = {"answer": answer, "error": error, "same": answer is None
                              and error is None}
    if answer is not None:
        values.update(diff_json=orjson.dumps(answer.diff).decode(),
                      diff_pretty=orjson.dumps(answer.diff,
                                               option=orjson.OPT_INDENT_2).decode(),
                      losses=_losses(answer.diff), counts=_counts(answer.diff))
    return render(request, "schema.html", status=error.status if error else 200,
                  principal=principal, db=database, snapshot=snap, **values)


@router.post("/apply")
async def apply_diff(db: str, request: Request) -> Response:
    principal = await _admin(request)
    form = await request.form()
    check_csrf(request, form)
    ctx = context_of(request)
    database = await databases_svc.get_database(ctx, principal, db)
    try:
        diff = orjson.loads(str(form.get("diff") or ""))
    except orjson.JSONDecodeError as exc:
        raise SchemaBodyInvalid("the diff is not JSON", field="diff") from exc
    losses = _losses(diff) if isinstance(diff, dict) else []
    if losses and form.get("confirm") != "yes":
        raise MalformedParameter("this diff drops data: tick the box that says what will be "
                                 "lost to apply it", parameter="confirm")
    error: DbplaneError | None = None
    steps: list[Any] = []
    try:
        steps = await schema_svc.apply(ctx, db, {"hash": str(form.get("hash") or ""),
                                                 "diff": diff})
    except DbplaneError as exc:
        if exc.status >= 500:
            raise
        error = exc
    snap = await schema_svc.snapshot(ctx, db)
    return render(request, "schema.html", status=error.status if error else 200,
                  principal=principal, db=database, snapshot=snap, answer=None,
                  error=error, applied=None if error else len(steps))
