"""Dependencies shared by the routers: the app context, the caller, and bodies that may come
wrapped (``{"database": {...}}``, ``{"data": {...}}``) or flat."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ValidationError

from dbplane.api.errors import invalid_from_validation
from dbplane.errors import MalformedBody
from dbplane.services.auth import Principal, authenticate
from dbplane.services.context import AppContext

__all__ = ["EXTRA_SCHEMAS", "AdminDep", "ContextDep", "PrincipalDep", "enveloped_body",
           "parse_body"]

# schemas that request bodies described by `enveloped_body` refer to; app.py adds them to
# the OpenAPI document's components
EXTRA_SCHEMAS: dict[str, Any] = {}

M = TypeVar("M", bound=BaseModel)

# declares the scheme in the OpenAPI document; the header itself is read by `_principal`
_bearer = HTTPBearer(auto_error=False, description="An admin API token or a session token "
                     "from POST /v1/auth/login")


# every dependency is `async def`: FastAPI runs a plain `def` one in a worker thread,
# a hop that costs more than the rest of a small request
async def _context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(_context)]


async def _principal(request: Request, ctx: ContextDep,
                     _doc: Any = Security(_bearer)) -> Principal:
    return await authenticate(ctx, request.headers.get("authorization"))


PrincipalDep = Annotated[Principal, Depends(_principal)]


async def _admin(principal: PrincipalDep) -> Principal:
    principal.require_admin()
    return principal


AdminDep = Annotated[Principal, Depends(_admin)]


async def parse_body(request: Request, model: type[M], *wrappers: str) -> M:
    """Read a JSON body into ``model``, unwrapping ``{wrapper: {...}}`` when it comes so.

    Not JSON, or not an object: MalformedBody (400). Fields that do not fit: Invalid
    (422) naming each one."""
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"the request body is not valid JSON: {exc.msg}") from exc
    prefix: tuple[str, ...] = ()
    if isinstance(data, dict) and len(data) == 1:
        (key,) = data
        if key in wrappers:
            data, prefix = data[key], (key,)
    if not isinstance(data, dict):
        shape = " or ".join([f'{{"{w}": {{...}}}}' for w in wrappers] + ["a flat object"])
        raise MalformedBody(f"the request body must be a JSON object: {shape}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_validation(exc.errors(), prefix) from exc


def enveloped_body(model: type[BaseModel], *wrappers: str) -> dict[str, Any]:
    """``openapi_extra`` describing a body that is ``model``, flat or wrapped."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    EXTRA_SCHEMAS.update(schema.pop("$defs", {}))
    variants = [{"type": "object", "properties": {w: schema}, "required": [w],
                 "additionalProperties": False} for w in wrappers]
    body = {"oneOf": [*variants, schema]} if variants else schema
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": body}}}}
