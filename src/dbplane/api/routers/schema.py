"""Schema as code (issue 5): snapshot, diff and apply, Directus-compatible.

``/v1/databases/{db}/schema/...`` and, for the default database, ``/v1/schema/...``: a
Directus client works with its base URL set to ``/v1/databases/{db}`` (or ``/v1``).
Answers are bare JSON as in Directus' documentation; errors on these paths are
``application/json`` with Directus' ``errors`` array (see api/errors.py); 204 is empty.
"""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import StringConstraints
from starlette.datastructures import UploadFile

from dbplane.api.deps import AdminDep, ContextDep
from dbplane.errors import SchemaBodyInvalid, SchemaParameterInvalid
from dbplane.schema import load_document, to_yaml
from dbplane.services import schema as svc

_Name = Annotated[str, StringConstraints(min_length=1)]
"""A collection name in includeCollections / excludeCollections (never empty)."""

router = APIRouter(tags=["schema"])

MAX_SCHEMA_BODY = 8 << 20
"""The largest snapshot or diff body accepted (a snapshot of 2,000 tables is about 4 MB)."""
_JSON_TYPES = ("application/json",)
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}}},
}}}
# errors on these paths are application/json (Directus' clients read only that), with the
# problem fields and Directus' `errors` array: see api/errors.py
_DIRECTUS_ERROR = {"allOf": [{"$ref": "#/components/schemas/Problem"}, {
    "type": "object", "properties": {"errors": {"type": "array", "items": {
        "type": "object", "properties": {
            "message": {"type": "string"},
            "extensions": {"type": "object", "properties": {"code": {"type": "string"}}}}}}}}]}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": what, "content": {"application/json": {
        "schema": _DIRECTUS_ERROR}}}
    for status, what in ((400, "Malformed body or parameter, another vendor or version, or "
                               "not a SQL database"),
                         (401, "No bearer token, or one that is not valid"),
                         (403, "Admin only"), (404, "No such database"),
                         (409, "Stale hash, or the database refused a change"),
                         (422, "The diff does not fit the schema"),
                         (500, "A bug in dbplane"))}
_SNAPSHOT: dict[int | str, dict[str, Any]] = {**_ERRORS, 200: {
    "description": "the snapshot: version, dbplane, vendor, collections, fields, "
                   "systemFields, relations (a file with ?export=json|yaml)",
    "content": {"application/json": {"schema": {"type": "object"}},
                "text/yaml": {"schema": {"type": "string"}}}}}
_DIFF: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    200: {"description": "{hash, diff: {collections, fields, systemFields, relations}}, or "
                         "the SQL with ?format=sql",
          "content": {"application/json": {"schema": {"type": "object"}},
                      "text/plain": {"schema": {"type": "string"}}}},
    204: {"description": "no difference"}}


async def _document(request: Request) -> Any:
    """The snapshot or diff of the body: JSON, YAML, or a JSON/YAML file in a
    ``multipart/form-data`` request (field ``file``, or the first file)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        try:
            async with request.form() as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    upload = next((v for v in form.values() if isinstance(v, UploadFile)),
                                  None)
                if upload is None:
                    raise SchemaBodyInvalid("the multipart body has no file (send it as "
                                            "'file')", field="file")
                content = await upload.read()
        except (SchemaBodyInvalid, HTTPException):
            raise
        except Exception as exc:  # starlette's parser errors are not one class
            raise SchemaBodyInvalid(f"the multipart body cannot be read: {exc}") from exc
        return load_document(content, what="the uploaded file")
    raw = await request.body()
    if ctype in _JSON_TYPES or ctype in _YAML_TYPES:
        return load_document(raw)
    if not raw:
        raise SchemaBodyInvalid("the body is empty")
    raise SchemaBodyInvalid(
        f"the content type {ctype or '(none)'!r} is not accepted: send application/json, "
        "a YAML type or multipart/form-data with a file", field="content-type",
        value=ctype or None)


async def _path_db(db: str) -> str | None:
    return db


async def _default_db() -> str | None:
    return None


def _known(request: Request, *allowed: str) -> None:
    for name in request.query_params:
        if name not in allowed:
            raise SchemaParameterInvalid(
                f"{name!r} is not a parameter of this endpoint; use "
                + (", ".join(allowed) or "none"), parameter=name)


def _flag(value: str | None, name: str) -> bool:
    """``?force``, ``?force=true`` (or 1, yes) and ``?force=false`` (or 0, no)."""
    if value is None:
        return False
    if value.lower() in ("", "true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise SchemaParameterInvalid(f"{name} must be true or false, not {value!r}",
                                 parameter=name, value=value)


def _routes(prefix: str, with_db: bool) -> None:
    DbRef = Annotated[str | None, Depends(_path_db if with_db else _default_db)]
    suffix = "" if with_db else "_default"

    @router.get(f"{prefix}/snapshot", responses=_SNAPSHOT, response_class=Response,
                name=f"schema_snapshot{suffix}")
    async def schema_snapshot(
        db: DbRef, request: Request, ctx: ContextDep, _admin: AdminDep,
        export: Annotated[str | None, Query(description="json or yaml: a download")] = None,
        include: Annotated[list[_Name], Query(
            alias="includeCollections",
            description="collections to keep (comma-separated, or repeated)")] = [],  # noqa: B006
        exclude: Annotated[list[_Name], Query(
            alias="excludeCollections",
            description="collections to leave out (comma-separated, or repeated)")] = [],  # noqa: B006
    ) -> Response:
        """The database's schema: collections (tables), fields (columns) with Directus'
        ``meta`` and the column description, relations (foreign keys), plus indexes and
        checks. Admin only."""
        _known(request, "export", "includeCollections", "excludeCollections")
        if export not in (None, "json", "yaml"):
            raise SchemaParameterInvalid(f"export must be json or yaml, not {export!r}",
                                         parameter="export", value=export)
        snap = await svc.snapshot(ctx, db, include=include or None, exclude=exclude or None)
        if export == "yaml":
            return Response(to_yaml(snap), media_type="text/yaml; charset=utf-8", headers={
                "Content-Disposition": 'attachment; filename="schema.yaml"'})
        headers = ({"Content-Disposition": 'attachment; filename="schema.json"'}
                   if export == "json" else None)
        return Response(_dumps(snap), media_type="application/json", headers=headers)

    @router.post(f"{prefix}/diff", responses=_DIFF, response_class=Response,
                 openapi_extra=_BODY, name=f"schema_diff{suffix}",
                 max_body_size=MAX_SCHEMA_BODY)
    async def schema_diff(
        db: DbRef, request: Request, ctx: ContextDep, _admin: AdminDep,
        force: Annotated[str | None, Query(description="bypass vendor and version checks")]
        = None,
        format: Annotated[str | None, Query(description="sql: the statements instead")]
        = None,
    ) -> Response:
        """What turns the database's schema into the posted snapshot (JSON, YAML, or a
        file upload): ``{hash, diff}``, 204 when nothing differs. Admin only."""
        _known(request, "force", "format")
        if format not in (None, "json", "sql"):
            raise SchemaParameterInvalid(f"format must be json or sql, not {format!r}",
                                         parameter="format", value=format)
        forced = _flag(force, "force")
        document = await _document(request)
        answer = await svc.diff_snapshot(ctx, db, document, force=forced,
                                         sql=format == "sql")
        if answer is None:
            return Response(status_code=204)
        if format == "sql":
            return Response(answer.sql or "", media_type="text/plain; charset=utf-8",
                            headers={"X-Schema-Hash": answer.hash})
        return Response(_dumps({"hash": answer.hash, "diff": answer.diff}),
                        media_type="application/json")

    @router.post(f"{prefix}/apply", status_code=204, response_class=Response,
                 responses={**_ERRORS, 204: {"description": "applied"}},
                 openapi_extra=_BODY, max_body_size=MAX_SCHEMA_BODY,
                 name=f"schema_apply{suffix}")
    async def schema_apply(db: DbRef, request: Request, ctx: ContextDep,
                           _admin: AdminDep) -> Response:
        """Apply ``{hash, diff}`` from the diff endpoint; 409 when the schema changed
        since (nothing is changed). Admin only."""
        _known(request)
        await svc.apply(ctx, db, await _document(request))
        return Response(status_code=204)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


_routes("/databases/{db}/schema", with_db=True)
_routes("/schema", with_db=False)
