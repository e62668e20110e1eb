"""Point-in-time restore (Scalingo's ``pitr/restore``): the restorable window and the
restore of a managed PostgreSQL with ``wal-archiving`` on. Admin only.

``POST .../pitr/restore {"restore_time": RFC 3339}`` answers ``201 Created`` with
``{"operation_id": ...}`` exactly as Scalingo's (and ``Location: /v1/operations/{id}``).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from dbplane.api.deps import AdminDep, ContextDep
from dbplane.api.routers.operations import created_by
from dbplane.services import pitr as svc

__all__ = ["router"]

router = APIRouter(prefix="/databases/{db}/pitr", tags=["pitr"])


class PitrRange(BaseModel):
    earliest: str | None
    latest: str | None
    base_backup: str


class PitrWindow(BaseModel):
    """What can really be restored now."""

    database_id: str
    feature: str
    earliest: str | None = Field(description="RFC 3339: the newest range's start (the end "
                                 "of its base backup); null when nothing can be restored")
    latest: str | None = Field(description="RFC 3339: the last transaction found in the "
                               "contiguous archived WAL after that base backup")
    timeline: int | None
    ranges: list[PitrRange] = Field(description="every restorable stretch, oldest first "
                                    "(a missing WAL segment splits the window)")
    base_backups: list[dict[str, Any]]
    archive: dict[str, Any]
    latest_is: str
    reason: str | None = Field(description="why nothing can be restored, when so")
    base_backups_kept: int


class PitrRestoreBody(BaseModel):
    restore_time: Any = Field(description="RFC 3339 with an offset, e.g. "
                              "2019-07-18T23:00:00Z", examples=["2019-07-18T23:00:00Z"])


class PitrRestoreStarted(BaseModel):
    operation_id: str


@router.get("", response_model=PitrWindow)
async def pitr_window(db: str, ctx: ContextDep, _: AdminDep) -> Any:
    """The restorable window, computed from the base backups and a continuity check of the
    archived WAL (a WAL switch first, so the latest writes are in it)."""
    return await svc.window(ctx, db)


@router.post("/restore", status_code=201, response_model=PitrRestoreStarted,
             responses={201: {"headers": {"Location": {
                 "schema": {"type": "string"}, "description": "/v1/operations/{id}"}}}})
async def pitr_restore(db: str, body: PitrRestoreBody, ctx: ContextDep,
                       principal: AdminDep) -> Response:
    """Restore the database in place to ``restore_time`` (a new timeline; the previous data
    directory serves again if any step fails). 422 for a malformed time or one outside
    the window (named), 409 while another operation runs or without wal-archiving, 400 for
    a database that is not a managed PostgreSQL: nothing changes."""
    op = await svc.start_pitr_restore(ctx, db, body.restore_time,
                                      created_by=created_by(principal))
    return Response(orjson.dumps({"operation_id": op.id}), status_code=201,
                    media_type="application/json",
                    headers={"Location": f"/v1/operations/{op.id}"})
