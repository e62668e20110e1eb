"""Operations (issue 7): long work as 202 + Location, status, cancel.

``accepted(operation)`` is how every endpoint that starts long work answers:
``202 Accepted``, ``Location: /v1/operations/{id}`` and the operation object as body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dbplane.api.deps import AdminDep, ContextDep, enveloped_body, parse_body
from dbplane.errors import DatabaseNotFound, MalformedParameter
from dbplane.services import operations as svc
from dbplane.services.auth import Principal
from dbplane.services.databases import resolve_database
from dbplane.services.operations import OperationRecord

__all__ = ["OperationPublic", "accepted", "created_by", "router"]

router = APIRouter(tags=["operations"])

Status = Literal["pending", "running", "done", "error", "canceled"]


class StepPublic(BaseModel):
    name: str
    status: Literal["running", "done", "error", "canceled"]
    started_at: str | None
    duration_ms: int | None


class OperationError(BaseModel):
    code: str
    message: str


class OperationPublic(BaseModel):
    """One long task: what it is, how far it got, and how it ended."""

    id: str
    type: str = Field(description="e.g. database.check, backup, restore")
    database_id: str | None
    status: Status
    created_at: str
    started_at: str | None
    finished_at: str | None
    progress: float = Field(ge=0, le=1)
    message: str | None = Field(description="what it is doing now")
    steps: list[StepPublic]
    log: list[str] = Field(description="the last 50 log lines")
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: OperationError | None
    created_by: str | None
    cancel_requested: bool
    owner: str | None = Field(description="the dbplane process that ran it (host:pid:nonce)")
    attempts: int = Field(description="how many times a worker claimed it (0 or 1)")


class OperationList(BaseModel):
    operations: list[OperationPublic]


# how the API shows an operation type's result, where it differs from what the service
# recorded (the routines' seed bodies); by operation type name
_RESULT_SHAPES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def render_result(type_name: str, shape: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Show the results of operations of ``type_name`` through ``shape``."""
    _RESULT_SHAPES[type_name] = shape


def public(op: OperationRecord) -> dict[str, Any]:
    """The API's operation object."""
    body = svc.public_operation(op)
    shape = _RESULT_SHAPES.get(op.type)
    if shape is not None and isinstance(body["result"], dict):
        body["result"] = shape(body["result"])
    return body


def accepted(operation: OperationRecord) -> Response:
    """202 Accepted, ``Location: /v1/operations/{id}``, body = the operation object."""
    return _json(public(operation), 202,
                 {"Location": f"/v1/operations/{operation.id}"})


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers,
                    media_type="application/json")


def created_by(principal: Principal) -> str:
    """Who started an operation, as recorded in its ``created_by``."""
    if principal.kind == "session" and principal.user_id:
        return f"user:{principal.user_id}"
    return f"token:{principal.token_hash[:12]}"


_ACCEPTED: dict[int | str, dict[str, Any]] = {202: {
    "model": OperationPublic,
    "description": "Started: follow the operation at the `Location` header",
    "headers": {"Location": {"schema": {"type": "string"},
                             "description": "/v1/operations/{id}"}}}}


_LIST_PARAMS = ("database", "status", "type", "limit")


@router.get("/operations", response_model=OperationList)
async def list_operations(request: Request, ctx: ContextDep, _: AdminDep,
                          database: str | None = Query(None, description=(
                              "a database id or resource_id")),
                          status: Status | None = None,
                          type: str | None = Query(None, max_length=64),
                          limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Operations, newest first, filtered by database, status and type."""
    for name in request.query_params:
        if name not in _LIST_PARAMS:
            raise MalformedParameter(f"{name!r} is not a parameter of /v1/operations; use "
                                     + ", ".join(_LIST_PARAMS), parameter=name)
    database_id = None
    if database is not None:
        try:
            database_id = (await resolve_database(ctx, database)).id
        except DatabaseNotFound:
            database_id = database  # a removed database keeps its history
    ops = await svc.list_operations(ctx, database_id=database_id, status=status,
                                    type_name=type, limit=limit)
    return {"operations": [public(op) for op in ops]}


MAX_WAIT_SECONDS = 60.0


@router.get("/operations/{op_id}", response_model=OperationPublic)
async def get_operation(op_id: str, ctx: ContextDep, _: AdminDep,
                        wait: float | None = Query(None, gt=0, le=MAX_WAIT_SECONDS,
                                                   description=(
                            "seconds (at most 60) to wait for the operation to end: "
                            "answered as soon as it has ended, or as it is then"))
                        ) -> dict[str, Any]:
    """One operation: status, progress, steps, log, result or error. With ``wait``, a
    long poll: the answer comes the moment the operation ends (within 0.25 s when another
    replica runs it), or after ``wait`` seconds with the operation as it is then."""
    if wait is None:
        return public(await svc.get_operation(ctx, op_id))
    return public(await svc.operation_when_ended(ctx, op_id, wait))


@router.post("/operations/{op_id}/cancel", response_model=OperationPublic,
             status_code=202)
async def cancel_operation(op_id: str, ctx: ContextDep, _: AdminDep) -> Response:
    """Cancel: a pending operation ends ``canceled`` at once (200); a running one is asked
    to stop (202) and ends ``canceled`` once it has cleaned up (follow it). 409 when it has
    ended or its type cannot stop midway (a restore)."""
    op = await svc.cancel_operation(ctx, op_id)
    return _json(public(op)) if op.status == "canceled" else accepted(op)


MAX_CHECK_MS = 60_000


class CheckParams(BaseModel):
    """How to check a database."""

    model_config = ConfigDict(extra="forbid")

    samples: int = Field(3, ge=1, le=100, description="health round trips to time")
    interval_ms: int = Field(0, ge=0, le=10_000, description="pause between round trips "
                             "(samples * interval_ms at most 60,000: a check lasts at most "
                             "a minute)")

    @model_validator(mode="after")
    def _bounded(self) -> CheckParams:
        if self.samples * self.interval_ms > MAX_CHECK_MS:
            raise ValueError(f"samples * interval_ms is {self.samples * self.interval_ms} "
                             f"ms; a check may wait at most {MAX_CHECK_MS} ms in all")
        return self


@router.post("/databases/{db}/check", status_code=202, response_model=OperationPublic,
             responses=_ACCEPTED, openapi_extra={
                 **enveloped_body(CheckParams, "check"),
                 "requestBody": {**enveloped_body(CheckParams, "check")["requestBody"],
                                 "required": False}})
async def check_database(db: str, request: Request, ctx: ContextDep,
                         principal: AdminDep) -> Response:
    """Start a `database.check` operation: a health round trip, the engine's version and
    the latency of `samples` round trips. The body is optional."""
    row = await resolve_database(ctx, db)
    params = (CheckParams() if not (await request.body()).strip()
              else await parse_body(request, CheckParams, "check"))
    op = await svc.start_operation(ctx, "database.check", database_id=row.id,
                                   params=params.model_dump(),
                                   created_by=created_by(principal))
    return accepted(op)
