"""Backups (issue 7): manual, periodic, archive download/upload, restore.

Shapes follow Scalingo's backups API: a list is ``{"database_backups": [...]}``, one
backup ``{"database_backup": {...}}``. Starting a backup or a restore answers
``202 Accepted`` with ``Location: /v1/operations/{id}`` and the operation. Admin only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel

from dbplane.api.deps import AdminDep, ContextDep
from dbplane.api.routers.operations import OperationPublic, accepted, created_by
from dbplane.services import backup_drills as drills
from dbplane.services import backups as svc
from dbplane.services.backups import BackupPublic

__all__ = ["router"]

router = APIRouter(prefix="/databases/{db}/backups", tags=["backups"])

_ACCEPTED: dict[int | str, dict[str, object]] = {202: {
    "model": OperationPublic,
    "description": "Started: follow the operation at the `Location` header",
    "headers": {"Location": {"schema": {"type": "string"},
                             "description": "/v1/operations/{id}"}}}}


class BackupEnvelope(BaseModel):
    database_backup: BackupPublic


class BackupList(BaseModel):
    database_backups: list[BackupPublic]


@router.get("", response_model=BackupList)
async def list_backups(db: str, ctx: ContextDep, _: AdminDep) -> BackupList:
    """The database's backups, newest first (manual, periodic and uploaded)."""
    return BackupList(database_backups=await svc.list_backups(ctx, db))


@router.post("", status_code=202, response_class=Response, responses=_ACCEPTED)
async def create_backup(db: str, ctx: ContextDep, principal: AdminDep) -> Response:
    """Start a manual backup. The operation's ``params.backup_id`` names the backup; 409
    while another backup or a restore of this database is pending or running."""
    op = await svc.create_backup(ctx, db, created_by=created_by(principal))
    return accepted(op)


@router.post("/upload", status_code=201, response_model=BackupEnvelope)
async def upload_backup(
    db: str, ctx: ContextDep, _: AdminDep,
    file: Annotated[UploadFile, File(description="The archive: a SQLite file, a "
                                     "pg_dump --format=custom archive, a mariadb-dump SQL "
                                     "file (plain or gzip), a Redis RDB file or a tar of "
                                     "an influxd backup -portable directory")],
    checksum: Annotated[str | None, Form(
        pattern=r"^(sha256:)?[0-9a-f]{64}$",
        description="sha256:<hex> the archive must have (checked before it is kept)")] = None,
) -> BackupEnvelope:
    """Upload an archive made elsewhere; its format (and checksum, when given) is checked
    before it is kept as a done backup with method ``upload``. Restore it with
    ``POST .../backups/{id}/restore``."""

    async def chunks() -> AsyncIterator[bytes]:
        while data := await file.read(1 << 20):
            yield data

    backup = await svc.upload_backup(ctx, db, chunks(), checksum=checksum)
    return BackupEnvelope(database_backup=backup)


@router.get("/{backup_id}", response_model=BackupEnvelope)
async def get_backup(db: str, backup_id: str, ctx: ContextDep, _: AdminDep) -> BackupEnvelope:
    """One backup."""
    return BackupEnvelope(database_backup=await svc.get_backup(ctx, db, backup_id))


@router.get("/{backup_id}/archive", response_class=FileResponse, responses={
    200: {"content": {"application/octet-stream": {}},
          "description": "The archive, streamed; `X-Checksum` gives its sha256"}})
async def download_archive(db: str, backup_id: str, ctx: ContextDep,
                           _: AdminDep) -> FileResponse:
    """Download a done backup's archive."""
    path, filename, checksum = await svc.archive_of(ctx, db, backup_id)
    return FileResponse(path, media_type="application/octet-stream", filename=filename,
                        headers={"X-Checksum": checksum})


@router.delete("/{backup_id}", status_code=204, response_class=Response)
async def delete_backup(db: str, backup_id: str, ctx: ContextDep, _: AdminDep) -> Response:
    """Delete a backup and its archive; 409 while it is being made or restored."""
    await svc.delete_backup(ctx, db, backup_id)
    return Response(status_code=204)


@router.post("/{backup_id}/restore", status_code=202, response_class=Response,
             responses=_ACCEPTED)
async def restore_backup(db: str, backup_id: str, ctx: ContextDep,
                         principal: AdminDep) -> Response:
    """Restore a done backup into the database (its checksum and format are verified
    first). 409 while another backup or restore of this database is pending or running."""
    op = await svc.restore_backup(ctx, db, backup_id, created_by=created_by(principal))
    return accepted(op)


@router.post("/{backup_id}/verify", status_code=202, response_class=Response,
             responses=_ACCEPTED)
async def verify_backup(db: str, backup_id: str, ctx: ContextDep,
                        principal: AdminDep) -> Response:
    """Start a restore drill: the archive is restored into a scratch copy (never the live
    database), its tables, row counts and content checksums (keys and digests for Redis)
    are compared with the ones recorded at backup time, the result is recorded on the
    backup (``verified_at``, ``verification``) and the scratch copy removed. 409 for a
    backup that is not done."""
    op = await drills.verify_backup(ctx, db, backup_id, created_by=created_by(principal))
    return accepted(op)
