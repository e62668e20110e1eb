"""The one place where exceptions become HTTP responses: RFC 9457 problem details.

Every error body has ``type``, ``title``, ``status``, ``detail`` and a stable ``code``,
plus the structured fields of the error (``field``, ``value``, ``database``…).
Anything that is not a DbplaneError is a bug: logged with its traceback, answered 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.responses import Response

from dbplane.api.aliases import suggestions
from dbplane.errors import (
    BodyTooLarge,
    DbplaneError,
    EndpointNotFound,
    Invalid,
    InvalidField,
    MalformedBody,
    MethodNotAllowed,
)

__all__ = [
    "PROBLEM_RESPONSES",
    "PROBLEM_TYPE",
    "Problem",
    "ProblemResponse",
    "directus_path",
    "install_error_handlers",
    "invalid_from_validation",
    "problem_response",
]

log = logging.getLogger("dbplane.api")
PROBLEM_TYPE = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details, with dbplane's stable ``code`` and the error's fields."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str


class ProblemResponse(Response):
    media_type = PROBLEM_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _problem_content(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_content("Malformed request (not JSON, wrong shape) or unsupported"),
    401: _problem_content("No bearer token, or one that is not valid"),
    403: _problem_content("The caller may not do this"),
    404: _problem_content("Not found"),
    409: _problem_content("Conflicts with the current state"),
    413: _problem_content("The request body is larger than the server accepts"),
    422: _problem_content("A field has a value it cannot have; the body names it"),
    500: _problem_content("A bug in dbplane"),
}


_UNION_TAGS = frozenset({"int", "str", "float", "bool", "bytes", "list", "dict", "none"})


def _loc(loc: Sequence[int | str], prefix: Sequence[str] = ()) -> str:
    """The dotted field path of a pydantic error location, without pydantic's union
    branch tags (``int``, ``list[int]``, ``function-after[...]``)."""
    parts = [str(p) for p in (*prefix, *loc)
             if p != "body" and not (isinstance(p, str) and (
                 p in _UNION_TAGS or "[" in p or "(" in p))]
    return ".".join(parts) or "body"


_SECRET_FIELDS = ("password", "token", "secret", "url")
_NOT_JSON = ("json_invalid", "model_attributes_type", "dict_type")


def _echoable(field: str, value: Any) -> bool:
    """Whether a rejected value may be shown back: never a secret, never a whole body."""
    last = field.rsplit(".", 1)[-1]
    return (not isinstance(value, dict | list | bytes) or (isinstance(value, list)
            and len(value) <= 32)) and field != "body" and not any(
        s in last for s in _SECRET_FIELDS)


def invalid_from_validation(errors: Sequence[Any], prefix: Sequence[str] = ()) -> Invalid:
    """One 422 (or 400 for a body that is not a JSON object) naming each field at fault."""
    items = []
    for err in errors:
        field = _loc(err.get("loc", ()), prefix)
        item = {"field": field, "message": err.get("msg", ""), "type": err.get("type", "")}
        if "input" in err and _echoable(field, err["input"]):
            item["value"] = err["input"]
        items.append(item)
    if any(i["type"] in _NOT_JSON and i["field"] == "body" for i in items):
        for item in items:
            item.pop("value", None)
        return MalformedBody("the request body must be a JSON object", errors=items)
    first = items[0] if items else {"field": "body", "message": "invalid"}
    extra = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    detail = f"{first['field']}: {first['message']}{extra}"
    return InvalidField(detail, field=first["field"], value=first.get("value"), errors=items)


_INT64 = range(-(2**63), 2**64)


def _json_safe(value: Any) -> Any:
    """``value`` with every integer JSON encoders cannot write (past 64 bits: a request's
    number echoed as the value at fault) as its digits."""
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _render(exc: DbplaneError) -> ProblemResponse:
    body = exc.to_dict()
    try:
        encoded = orjson.dumps(body, default=str)
    except orjson.JSONEncodeError:
        encoded = orjson.dumps(_json_safe(body), default=str)
    headers = ({"Retry-After": str(exc.retry_after)} if exc.retry_after is not None
               else None)
    return ProblemResponse(orjson.loads(encoded), status_code=exc.status, headers=headers)


async def _dbplane_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DbplaneError)
    if exc.status >= 500:
        log.error("internal error: %s", exc.detail, exc_info=exc)
    return _render(exc)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError | ValidationError)
    return _render(invalid_from_validation(exc.errors()))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    err: DbplaneError
    if exc.status_code == 404:
        aliases = getattr(request.app, "aliases", None)
        reserved = aliases.reserved if aliases is not None else frozenset()
        hints = suggestions(request.url.path, reserved)
        err = EndpointNotFound(f"there is no endpoint {request.method} {request.url.path}; "
                               f"did you mean {' or '.join(hints)}?", suggestions=hints)
    elif exc.status_code == 413:
        limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
        err = BodyTooLarge(f"the request body is larger than the {limit} bytes this "
                           "endpoint accepts; nothing was done", limit=limit)
    elif exc.status_code == 405:
        err = MethodNotAllowed()
    elif exc.status_code == 400:
        cause = exc.__cause__
        err = MalformedBody(f"the request body cannot be read: {cause or exc.detail}")
    else:
        err = DbplaneError(str(exc.detail))
    body = err.to_dict()
    body["status"] = exc.status_code
    return ProblemResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.error("unexpected error", exc_info=exc)
    return _render(DbplaneError())


def problem_response(exc: Exception) -> Response:
    """The answer to an exception raised outside FastAPI's routes (``api.fast``), as the
    app's handlers would give it: a DbplaneError's problem, else a logged 500."""
    if isinstance(exc, DbplaneError):
        if exc.status >= 500:
            log.error("internal error: %s", exc.detail, exc_info=exc)
        return _render(exc)
    log.error("unexpected error", exc_info=exc)
    return _render(DbplaneError())


_DIRECTUS_PATHS = re.compile(r"^/v1/(databases/[^/]+/)?schema/")


def directus_path(path: str) -> bool:
    """Whether errors on ``path`` are answered as Directus clients read them."""
    return _DIRECTUS_PATHS.match(path) is not None


def _directus_aware(handler: Any) -> Any:
    """Schema endpoints (issue 5) answer errors as Directus clients read them:
    ``application/json`` with Directus' ``errors`` array beside the problem fields."""
    async def wrapped(request: Request, exc: Exception) -> Response:
        response: Response = await handler(request, exc)
        if not directus_path(request.url.path):
            return response
        body = orjson.loads(bytes(response.body))
        body["errors"] = [{"message": body.get("detail"),
                           "extensions": {"code": body.get("code")}}]
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in ("content-type", "content-length")}
        return Response(orjson.dumps(body), status_code=response.status_code,
                        media_type="application/json", headers=headers)
    return wrapped


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DbplaneError, _directus_aware(_dbplane_error))
    app.add_exception_handler(RequestValidationError, _directus_aware(_validation_error))
    app.add_exception_handler(ValidationError, _directus_aware(_validation_error))
    app.add_exception_handler(StarletteHTTPException, _directus_aware(_http_error))
    app.add_exception_handler(Exception, _directus_aware(_unexpected))
