"""/v1/databases: the Scalingo database object, wrapped as ``{"database": {...}}``."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from dbplane.api.deps import AdminDep, ContextDep, PrincipalDep, enveloped_body, parse_body
from dbplane.api.routers.operations import _ACCEPTED, accepted, created_by
from dbplane.services import databases as svc
from dbplane.services.databases import DatabaseCreate, DatabasePublic, DatabaseUpdate

router = APIRouter(prefix="/databases", tags=["databases"])


class DatabaseEnvelope(BaseModel):
    database: DatabasePublic


class DatabaseList(BaseModel):
    databases: list[DatabasePublic]


@router.get("", response_model=DatabaseList)
async def list_databases(ctx: ContextDep, principal: PrincipalDep) -> DatabaseList:
    """Every database the caller may see, each with a live health check and version."""
    return DatabaseList(databases=await svc.list_databases(ctx, principal))


@router.post("", status_code=201, response_model=DatabaseEnvelope,
             openapi_extra=enveloped_body(DatabaseCreate, "database"),
             responses=_ACCEPTED)
async def create_database(request: Request, ctx: ContextDep,
                          principal: AdminDep) -> DatabaseEnvelope | Response:
    """Register an external PostgreSQL, MySQL/MariaDB or Redis database by URL (the
    connection is checked first), serve an existing SQLite file
    (``sqlite:////absolute/path.db``), create an embedded SQLite database (no url), or
    provision a managed server (``mode: managed``: 202 with the operation)."""
    body = await parse_body(request, DatabaseCreate, "database")
    if body.mode == "managed":
        op = await svc.provision_database(ctx, body, created_by(principal))
        return accepted(op)
    return DatabaseEnvelope(database=await svc.create_database(ctx, body))


@router.get("/{db}", response_model=DatabaseEnvelope)
async def get_database(db: str, ctx: ContextDep, principal: PrincipalDep) -> DatabaseEnvelope:
    """One database, by id or resource_id."""
    return DatabaseEnvelope(database=await svc.get_database(ctx, principal, db))


async def _update(db: str, request: Request, ctx: ContextDep) -> DatabaseEnvelope:
    body = await parse_body(request, DatabaseUpdate, "database")
    return DatabaseEnvelope(database=await svc.update_database(ctx, db, body))


@router.patch("/{db}", response_model=DatabaseEnvelope,
              openapi_extra=enveloped_body(DatabaseUpdate, "database"))
async def patch_database(db: str, request: Request, ctx: ContextDep,
                         _: AdminDep) -> DatabaseEnvelope:
    """Change settings: ``periodic_backups_enabled``, ``periodic_backups_scheduled_at``
    (one hour or a list, 0-23 UTC), ``app_name``, ``url``."""
    return await _update(db, request, ctx)


@router.put("/{db}", response_model=DatabaseEnvelope,
            openapi_extra=enveloped_body(DatabaseUpdate, "database"))
async def put_database(db: str, request: Request, ctx: ContextDep,
                       _: AdminDep) -> DatabaseEnvelope:
    """Same as PATCH, as in the Scalingo API."""
    return await _update(db, request, ctx)


@router.delete("/{db}", status_code=204, response_class=Response,
               responses={200: {"description": "A managed database's server was stopped "
                                "and its data directory kept: `{deleted, data_directory, "
                                "message}`"}})
async def delete_database(db: str, ctx: ContextDep, _: AdminDep,
                          purge: bool = False) -> Response:
    """Unregister a database. An external or embedded database's data is never dropped;
    a managed server is stopped, and its files removed only with ``?purge=true``."""
    kept = await svc.delete_database(ctx, db, purge=purge)
    if kept is None:
        return Response(status_code=204)
    return Response(orjson.dumps({"deleted": db, "data_directory": kept, "message": (
        f"the server was stopped; its files are kept in {kept} (delete with "
        "?purge=true to remove them)")}), status_code=200, media_type="application/json")
