"""Upgrades (Scalingo's ``POST .../upgrade``): the versions a managed server can move to,
the upgrade itself, its rollback and the removal of the version it kept. Admin only.

``POST .../upgrade`` answers ``202 Accepted`` with ``Location: /v1/operations/{id}`` and
the seed's body: ``message`` ("Database upgrade to 16.2.0-1 is pending") and the target
version object (``major``, ``minor``, ``patch``, ``build``, ``features``, ``id``…). Its
body is optional: none (any content type, as Scalingo's client sends) moves to
``next_version_id``; ``{"version_id": ...}`` picks one of ``GET .../versions``.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from dbplane.api.deps import AdminDep, ContextDep
from dbplane.api.routers.operations import created_by
from dbplane.errors import InvalidField, MalformedBody
from dbplane.services import upgrades as svc
from dbplane.services.databases import resolve_database, type_id_of

__all__ = ["router"]

router = APIRouter(prefix="/databases/{db}", tags=["upgrades"])

MAX_BODY = 4096


class VersionPublic(BaseModel):
    """One server build, in Scalingo's version shape."""

    id: str
    database_type_id: str
    major: int
    minor: int
    patch: int
    build: int
    release_number: int | None
    features: list[str] = Field(description="the managed features this build can run")
    allowed_plugins: list[str]
    readable_version: str
    source: str = Field(description="where dbplane found it: debian, DBPLANE_PG_BIN, "
                        "DBPLANE_POSTGRES_BIN_DIRS, pgserver, PATH")
    bin_dir: str
    created_at: str
    updated_at: str
    deleted_at: None
    warning_message: str


class PreviousVersion(BaseModel):
    version_id: str
    readable_version: str
    data_dir: str
    upgraded_at: str
    operation_id: str


class Versions(BaseModel):
    database_id: str
    current: VersionPublic | None = Field(description="the build the server runs")
    versions: list[VersionPublic] = Field(description="the newer builds it can move to, "
                                          "oldest first")
    next_version_id: str | None = Field(description="what POST .../upgrade moves to "
                                        "without a body: the newest build of the next "
                                        "major")
    previous: PreviousVersion | None = Field(description="the version kept by the last "
                                             "upgrade (rollback moves back to it)")
    reason: str | None = Field(description="why there is nothing to move to, when so")


class UpgradeStarted(VersionPublic):
    message: str = Field(examples=["Database upgrade to 16.2.0-1 is pending"])
    operation_id: str


class RollbackStarted(BaseModel):
    message: str
    operation_id: str
    version_id: str


class PreviousRemoved(BaseModel):
    database_id: str
    removed: PreviousVersion


def _json(body: Any, status: int, location: str | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Location": location} if location else None)


async def _version_id(request: Request) -> str | None:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise MalformedBody(f"the upgrade's body is over {MAX_BODY} bytes", limit=MAX_BODY)
    if not raw.strip() or "json" not in request.headers.get("content-type", "json"):
        return None  # Scalingo's client posts nothing (or an empty form)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedBody("the upgrade's body is not JSON") from None
    if not isinstance(body, dict) or set(body) - {"version_id"}:
        raise MalformedBody("the upgrade's body is {} or {\"version_id\": \"...\"}",
                            fields=sorted(body) if isinstance(body, dict) else None)
    value = body.get("version_id")
    if value is not None and not isinstance(value, str):
        raise InvalidField("version_id must be a string (an id from GET .../versions)",
                           field="version_id", value=value)
    return value


@router.get("/versions", response_model=Versions)
async def list_versions(db: str, ctx: ContextDep, _: AdminDep) -> Any:
    """The build the server runs and the newer ones installed on this machine."""
    return await svc.versions(ctx, db)


@router.post("/upgrade", status_code=202, response_model=UpgradeStarted,
             responses={202: {"headers": {"Location": {
                 "schema": {"type": "string"}, "description": "/v1/operations/{id}"}}}},
             openapi_extra={"requestBody": {"required": False, "content": {
                 "application/json": {"schema": {"type": "object", "properties": {
                     "version_id": {"type": "string"}}, "additionalProperties": False}}}}})
async def upgrade(db: str, request: Request, ctx: ContextDep,
                  principal: AdminDep) -> Response:
    """Upgrade a managed server to the next version (or ``version_id``): a backup first,
    a new cluster, the data moved and verified, then the switch; the previous version is
    kept for a rollback. 409 when no newer version is installed, a feature or setting in
    use is missing from the target, a previous version is still kept, the server is not
    running or another operation runs; 400 for a database that is not managed; 422 for an
    unknown version_id. Nothing changes then."""
    version_id = await _version_id(request)
    row = await resolve_database(ctx, db)
    op, target = await svc.start_upgrade(ctx, db, version_id,
                                         created_by=created_by(principal))
    shown = target.public(type_id_of(row.type_name))
    label = f"{shown['major']}.{shown['minor']}.{shown['patch']}-{shown['build']}"
    return _json({"message": f"Database upgrade to {label} is pending", **shown,
                  "operation_id": op.id}, 202, f"/v1/operations/{op.id}")


@router.post("/upgrade/rollback", status_code=202, response_model=RollbackStarted,
             responses={202: {"headers": {"Location": {
                 "schema": {"type": "string"}, "description": "/v1/operations/{id}"}}}})
async def rollback(db: str, ctx: ContextDep, principal: AdminDep) -> Response:
    """Switch back to the version the last upgrade kept (what was written since is lost).
    409 when none is kept or another operation runs."""
    op = await svc.start_rollback(ctx, db, created_by=created_by(principal))
    return _json({"message": f"Database rollback to {op.params['target']} is pending",
                  "operation_id": op.id, "version_id": op.params["version_id"]}, 202,
                 f"/v1/operations/{op.id}")


@router.delete("/upgrade/previous", response_model=PreviousRemoved)
async def remove_previous(db: str, ctx: ContextDep, _: AdminDep) -> Any:
    """Delete the version the last upgrade kept (its data directory and WAL archive):
    no rollback after this. 409 when none is kept."""
    return await svc.remove_previous(ctx, db)
