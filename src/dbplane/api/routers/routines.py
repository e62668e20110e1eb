"""Routines (issue 6): files, migrations, factories and seeders.

``/v1/databases/{db}/...`` acts on one database; the seed's ``/v1/database/...`` paths on
the default one. A body may be JSON or a form (``-d file_id=...``, as the seed's curl
sends it); an empty body means the defaults.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from dbplane.api.deps import AdminDep, ContextDep, parse_body
from dbplane.api.errors import invalid_from_validation
from dbplane.api.routers.operations import OperationPublic, accepted, created_by, render_result
from dbplane.errors import InvalidField, MalformedBody, MalformedParameter
from dbplane.services import routines as svc
from dbplane.services.auth import Principal

router = APIRouter(tags=["routines"])

ASYNC_DOC = ("Run it as an operation: 202 + Location at once; the operation's result is "
             "the body this call answers otherwise (also ?async=true).")

M = TypeVar("M", bound=BaseModel)

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class MigrationsRun(BaseModel):
    """Run the pending migrations."""

    model_config = ConfigDict(extra="forbid")
    pretend: StrictBool = Field(False, description="Answer what would run (the SQL), "
                                "changing nothing.")
    allow_changed: StrictBool = Field(False, description="Run even though an applied "
                                      "migration's file changed since.")
    run_async: StrictBool = Field(False, alias="async", description=ASYNC_DOC)


class MigrationsRollback(BaseModel):
    """Revert the last batch, or the last ``steps`` migrations."""

    model_config = ConfigDict(extra="forbid")
    steps: StrictInt | None = Field(None, ge=1, le=100_000, description="How many "
                                    "migrations to revert (default: the last batch).")
    run_async: StrictBool = Field(False, alias="async", description=ASYNC_DOC)


class FactoryRun(BaseModel):
    """Run a factory file."""

    model_config = ConfigDict(extra="forbid")
    file_id: str = Field(min_length=1, max_length=1024, description="The factory's "
                         "file_id (GET /v1/files), or its path.")
    count: StrictInt | None = Field(None, ge=0, le=10_000_000, description="How many rows "
                                    "(default: the file's count).")
    run_async: StrictBool = Field(False, alias="async", description=ASYNC_DOC)


class SeederRun(BaseModel):
    """Run a seeder file."""

    model_config = ConfigDict(extra="forbid")
    file_id: str = Field(min_length=1, max_length=1024, description="The seeder's "
                         "file_id (GET /v1/files), or its path.")
    run_async: StrictBool = Field(False, alias="async", description=ASYNC_DOC)


class RoutineAnswer(BaseModel):
    """``{"status": "200", "message": ...}`` and what was done."""

    model_config = ConfigDict(extra="allow")
    status: str
    message: str


def seed_answer(outcome: dict[str, Any]) -> RoutineAnswer:
    """The Stellify seed's body for a routine's outcome: ``"status": "200"`` first."""
    return RoutineAnswer(**seed_body(outcome))


def seed_body(outcome: dict[str, Any]) -> dict[str, Any]:
    return {"status": "200", **outcome}


# an asynchronous routine's operation carries the same body as its synchronous answer
for _type_name in svc.OPERATION_TYPES.values():
    render_result(_type_name, seed_body)


class FilesAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    files: list[dict[str, Any]]


class MigrationsAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    database: str
    migrations: list[dict[str, Any]]


def _form_value(name: str, value: str) -> Any:
    if name in ("count", "steps") and value.strip().isdigit():
        return int(value)
    if name in ("pretend", "allow_changed", "async") and value in ("true", "false"):
        return value == "true"
    return value


async def _body(request: Request, model: type[M]) -> M:
    """A JSON body, a form (the seed's ``file_id=...`` for factories and seeders, with
    ``count`` for a factory; ``steps``, ``pretend`` and ``allow_changed`` for
    migrations), or nothing (the defaults). A form is checked against the same model as
    JSON."""
    ctype = request.headers.get("content-type", "").lower()
    if ctype.startswith(_FORM_TYPES):
        form = await request.form()
        data = {k: _form_value(k, v) for k, v in form.items() if isinstance(v, str)}
        if any(not isinstance(v, str) for v in form.values()):
            raise MalformedBody("the form may hold text fields only (file_id=...)")
    elif not (await request.body()).strip():
        data = {}
    else:
        return await parse_body(request, model)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_validation(exc.errors()) from exc


def _body_doc(model: type[BaseModel], *, required: bool,
              form: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": model.model_json_schema()}}
    if form:  # the seed's curl: -d file_id=...
        content["application/x-www-form-urlencoded"] = {
            "schema": model.model_json_schema()}
    return {"requestBody": {"required": required, "content": content}}




# -- files ------------------------------------------------------------------------------


@router.get("/files", response_model=FilesAnswer)
async def list_files(request: Request, ctx: ContextDep, _: AdminDep,
                     kind: Annotated[Literal["migration", "factory", "seeder"] | None,
                                     Query(description="Only files of this kind.")] = None
                     ) -> FilesAnswer:
    """Every migration, factory and seeder file of the project directory: ``file_id``
    (stable: derived from the path), kind, path, checksum, and ``error`` for a file that
    cannot be read."""
    for name in request.query_params:
        if name != "kind":
            raise MalformedParameter(f"{name!r} is not a parameter of /v1/files; use kind",
                                     parameter=name)
    return FilesAnswer(files=await svc.list_files(ctx, kind))


# -- migrations -------------------------------------------------------------------------


def _query_async(request: Request) -> bool:
    """``?async=true|false``; any other query parameter is a 400 naming it."""
    value = False
    for name, raw in request.query_params.multi_items():
        if name != "async":
            raise MalformedParameter(f"{name!r} is not a parameter of {request.url.path}; "
                                     "use async, or put it in the body", parameter=name)
        if raw not in ("true", "false", "1", "0"):
            raise MalformedParameter(f"async must be true or false, not {raw!r}",
                                     parameter="async")
        value = raw in ("true", "1")
    return value


async def _maybe_async(request: Request, ctx: ContextDep, principal: Principal,
                       db: str | None, kind: svc.RoutineKind, run_async: bool,
                       params: dict[str, Any],
                       run: Callable[[], Awaitable[dict[str, Any]]]) -> Any:
    if _query_async(request) or run_async:
        op = await svc.start_routine(ctx, kind, db, params, created_by=created_by(principal))
        return accepted(op)
    return seed_answer(await run())


async def _run(request: Request, ctx: ContextDep, principal: Principal,
               db: str | None) -> Any:
    body = await _body(request, MigrationsRun)
    if body.pretend and (body.run_async or _query_async(request)):
        raise InvalidField("pretend changes nothing and answers at once: it cannot be "
                           "async", field="async")
    return await _maybe_async(
        request, ctx, principal, db, "migrate", body.run_async,
        {"allow_changed": body.allow_changed},
        lambda: svc.run_migrations(ctx, db, pretend=body.pretend,
                                   allow_changed=body.allow_changed))


async def _rollback(request: Request, ctx: ContextDep, principal: Principal,
                    db: str | None) -> Any:
    body = await _body(request, MigrationsRollback)
    return await _maybe_async(request, ctx, principal, db, "rollback", body.run_async,
                              {"steps": body.steps},
                              lambda: svc.rollback_migrations(ctx, db, steps=body.steps))


async def _factory(request: Request, ctx: ContextDep, principal: Principal,
                   db: str | None) -> Any:
    body = await _body(request, FactoryRun)
    return await _maybe_async(request, ctx, principal, db, "factory", body.run_async,
                              {"file_id": body.file_id, "count": body.count},
                              lambda: svc.run_factory(ctx, db, body.file_id, body.count))


async def _seeder(request: Request, ctx: ContextDep, principal: Principal,
                  db: str | None) -> Any:
    body = await _body(request, SeederRun)
    return await _maybe_async(request, ctx, principal, db, "seeder", body.run_async,
                              {"file_id": body.file_id},
                              lambda: svc.run_seeder(ctx, db, body.file_id))


_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": OperationPublic, "description": "With async: the operation started "
          "(Location: /v1/operations/{id}); its result is the 200 body."}}
_RUN_DOC = _body_doc(MigrationsRun, required=False)
_ROLLBACK_DOC = _body_doc(MigrationsRollback, required=False)
_FACTORY_DOC = _body_doc(FactoryRun, required=True, form=True)
_SEEDER_DOC = _body_doc(SeederRun, required=True, form=True)


@router.get("/databases/{db}/migrations", response_model=MigrationsAnswer)
async def list_migrations(db: str, ctx: ContextDep, _: AdminDep) -> MigrationsAnswer:
    """Applied and pending migrations: batch, time (epoch ms), checksum, and ``changed``
    for an applied file that changed since."""
    return MigrationsAnswer(**await svc.list_migrations(ctx, db))


@router.post("/databases/{db}/migrations/run", response_model=RoutineAnswer,
             responses=_ACCEPTED,
             openapi_extra=_RUN_DOC)
async def run_migrations(db: str, request: Request, ctx: ContextDep,
                         principal: AdminDep) -> Any:
    """Apply every pending migration in order, as one batch. ``{"pretend": true}`` answers
    the SQL that would run and changes nothing."""
    return await _run(request, ctx, principal, db)


@router.post("/databases/{db}/migrations/rollback", response_model=RoutineAnswer,
             responses=_ACCEPTED,
             openapi_extra=_ROLLBACK_DOC)
async def rollback_migrations(db: str, request: Request, ctx: ContextDep,
                              principal: AdminDep) -> Any:
    """Revert the last batch, or the last ``steps`` migrations."""
    return await _rollback(request, ctx, principal, db)


@router.post("/databases/{db}/factory/run", response_model=RoutineAnswer,
             responses=_ACCEPTED,
             openapi_extra=_FACTORY_DOC)
async def run_factory(db: str, request: Request, ctx: ContextDep,
                      principal: AdminDep) -> Any:
    """Run a factory: generated rows, inserted in batches; ``count`` overrides the
    file's."""
    return await _factory(request, ctx, principal, db)


@router.post("/databases/{db}/seeder/run", response_model=RoutineAnswer,
             responses=_ACCEPTED,
             openapi_extra=_SEEDER_DOC)
async def run_seeder(db: str, request: Request, ctx: ContextDep,
                     principal: AdminDep) -> Any:
    """Run a seeder: fixed rows in one transaction (an upsert on its ``key``)."""
    return await _seeder(request, ctx, principal, db)


# -- the seed's paths: the default database ---------------------------------------------


@router.get("/database/migrations", response_model=MigrationsAnswer)
async def list_default_migrations(ctx: ContextDep, _: AdminDep) -> MigrationsAnswer:
    """The default database's migrations."""
    return MigrationsAnswer(**await svc.list_migrations(ctx, None))


@router.post("/database/migrations/run", response_model=RoutineAnswer,
             responses=_ACCEPTED,
             openapi_extra=_RUN_DOC)
async def run_default_migrations(request: Request, ctx: ContextDep,
                                 principal: AdminDep) -> Any:
    """Run the default database's pending migrations: ``{"status": "200", "message":
    "Migrations complete"}``."""
    return await _run(request, ctx, principal, None)


@router.get("/database/migrations/run", response_model=RoutineAnswer)
async def run_default_migrations_get(request: Request, ctx: ContextDep,
                                     _: AdminDep) -> RoutineAnswer:
    """The same as POST: the seed's own curl for this path (``curl .../v1/database/
    migrations/run -H "Authorization: Bearer {token}"``, no ``-d``) sends a GET. It takes
    no parameters: the defaults (no pretend, no allow_changed)."""
    for name in request.query_params:
        raise MalformedParameter(f"{name!r} is not a parameter of GET "
                                 "/v1/database/migrations/run; POST a body instead",
                                 parameter=name)
    return seed_answer(await svc.run_migrations(ctx, None))


@router.post("/database/migrations/rollback", response_model=RoutineAnswer,
             responses=_ACCEPTED,
             openapi_extra=_ROLLBACK_DOC)
async def rollback_default_migrations(request: Request, ctx: ContextDep,
                                      principal: AdminDep) -> Any:
    """Revert the default database's last batch (or ``steps`` migrations)."""
    return await _rollback(request, ctx, principal, None)


@router.post("/database/factory/run", response_model=RoutineAnswer,
             responses=_ACCEPTED,
             openapi_extra=_FACTORY_DOC)
async def run_default_factory(request: Request, ctx: ContextDep,
                              principal: AdminDep) -> Any:
    """Run a factory on the default database: ``"Factory created"``."""
    return await _factory(request, ctx, principal, None)


@router.post("/database/seeder/run", response_model=RoutineAnswer,
             responses=_ACCEPTED,
             openapi_extra=_SEEDER_DOC)
async def run_default_seeder(request: Request, ctx: ContextDep,
                             principal: AdminDep) -> Any:
    """Run a seeder on the default database: ``"Seeder executed"``."""
    return await _seeder(request, ctx, principal, None)
