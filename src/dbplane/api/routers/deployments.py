"""Deployments (Qovery's redeploy): ``/v1/databases/{db}/redeploy|restart|stop|start``,
the history and the status, and Qovery's own paths (``/v1/database/{id}/redeploy``…) so
that a client generated from Qovery's OpenAPI document works with its base URL set to
dbplane's ``/v1``. The POSTs read no body: Qovery's client sends an empty form-encoded
one. Starting a deployment answers 202 with the deployment object and
``Location: /v1/operations/{id}`` (the operation that runs it). Admin only."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Response

from dbplane.api.deps import AdminDep, ContextDep
from dbplane.api.routers.operations import created_by
from dbplane.services import deployments as svc
from dbplane.services.deployments import Action

__all__ = ["router"]

router = APIRouter(tags=["deployments"])

_STARTED: dict[int | str, dict[str, Any]] = {202: {
    "description": "The deployment object (Qovery's shape); `Location` is its operation",
    "headers": {"Location": {"schema": {"type": "string"},
                             "description": "/v1/operations/{id}"}}}}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers,
                    media_type="application/json")


async def _start(ctx: ContextDep, principal: AdminDep, db: str, action: Action) -> Response:
    deployment = await svc.start_deployment(ctx, db, action, created_by(principal))
    return _json(deployment, 202, {"Location": f"/v1/operations/{deployment['operation_id']}"})


@router.post("/databases/{db}/redeploy", status_code=202, response_class=Response,
             responses=_STARTED)
@router.post("/database/{db}/redeploy", status_code=202, response_class=Response,
             responses=_STARTED)  # Qovery's path
async def redeploy(db: str, ctx: ContextDep, principal: AdminDep) -> Response:
    """Redeploy: a managed server restarts on its configuration with the pending
    settings, through timed steps; another database refreshes dbplane's side. 409 while
    another deployment runs."""
    return await _start(ctx, principal, db, "redeploy")


@router.post("/databases/{db}/restart", status_code=202, response_class=Response,
             responses=_STARTED)
@router.post("/database/{db}/restart-service", status_code=202, response_class=Response,
             responses=_STARTED)  # Qovery's path
async def restart(db: str, ctx: ContextDep, principal: AdminDep) -> Response:
    """Restart the server on its running configuration (pending settings stay pending)."""
    return await _start(ctx, principal, db, "restart")


@router.post("/databases/{db}/stop", status_code=202, response_class=Response,
             responses=_STARTED)
@router.post("/database/{db}/stop", status_code=202, response_class=Response,
             responses=_STARTED)  # Qovery's path
async def stop(db: str, ctx: ContextDep, principal: AdminDep) -> Response:
    """Stop a managed server (it stays stopped, also across dbplane restarts)."""
    return await _start(ctx, principal, db, "stop")


@router.post("/databases/{db}/start", status_code=202, response_class=Response,
             responses=_STARTED)
async def start(db: str, ctx: ContextDep, principal: AdminDep) -> Response:
    """Start a stopped managed server (with the pending settings)."""
    return await _start(ctx, principal, db, "start")


@router.get("/databases/{db}/deployments")
@router.get("/database/{db}/deploymentHistory")  # Qovery's path
async def list_deployments(db: str, ctx: ContextDep, _: AdminDep) -> Response:
    """The database's deployments, newest first."""
    results = await svc.list_deployments(ctx, db)
    return _json({"page": 1, "page_size": len(results), "results": results})


@router.get("/databases/{db}/deployments/{deployment_id}")
async def get_deployment(db: str, deployment_id: str, ctx: ContextDep,
                         _: AdminDep) -> Response:
    """One deployment, with its timed steps."""
    return _json(await svc.get_deployment(ctx, db, deployment_id))


@router.get("/databases/{db}/status")
@router.get("/database/{db}/status")  # Qovery's path
async def status(db: str, ctx: ContextDep, _: AdminDep) -> Response:
    """Qovery's status object: the state of the last deployment and whether the running
    configuration is the saved one (``service_deployment_status``)."""
    return _json(await svc.service_status(ctx, db))


# --- Qovery's deploy (its other paths are stacked on the handlers above) ---

@router.post("/database/{db}/deploy", status_code=202, response_class=Response,
             responses=_STARTED)
async def qovery_deploy(db: str, ctx: ContextDep, principal: AdminDep) -> Response:
    """Qovery's deploy: start a managed server, or redeploy a running one."""
    return await _start(ctx, principal, db, "start" if await _stopped(ctx, db) else
                        "redeploy")


async def _stopped(ctx: ContextDep, db: str) -> bool:
    return bool((await svc.service_status(ctx, db))["state"] == "STOPPED")
