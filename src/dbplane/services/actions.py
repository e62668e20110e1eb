"""Actions: the Scalingo ``POST /databases/{db}/action`` endpoint, decided here.

``ACTIONS`` is the registry: each action's name, what it does, the shape of its params
(a Pydantic model, a SQL-mode string or none) and its handler. A request is checked in this
order, and the first failure is the answer (nothing is changed by a refused request):
the database exists → the action exists (UnknownAction, 400) → this type has it
(ActionNotSupported, 400, naming the type's actions) → the params fit (InvalidActionParams,
422, naming the field) → a protected logical database is not deleted or reset
(ProtectedLogicalDatabase, 409). The engine's adapter (``dbplane.engines.actions``) then
talks to the server.

Protected logical databases: the server's own (``postgres``, ``template0``, ``template1``;
``mysql``, ``information_schema``, ``performance_schema``, ``sys``; SQLite's ``main``;
InfluxDB's ``_internal``),
the one the registered URL names, every other database dbplane has registered on the
same server (the ``default`` one included) and the metadata store's.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
)

from dbplane.engines import Engine, parse_database_url
from dbplane.engines.actions import ActionsAdapter, actions_for
from dbplane.errors import (
    ActionNotSupported,
    DbplaneError,
    InvalidActionParams,
    ProtectedLogicalDatabase,
    UnknownAction,
    Unsupported,
)
from dbplane.meta import queries as q
from dbplane.meta.records import DatabaseRecord
from dbplane.services import managed, managed_features
from dbplane.services.context import AppContext
from dbplane.services.databases import resolve_database

__all__ = [
    "ACTIONS",
    "ActionSpec",
    "DatabaseNameParams",
    "DeleteDatabaseParams",
    "PidParams",
    "PolicyNameParams",
    "RetentionPolicyParams",
    "disable_feature",
    "enable_feature",
    "list_features",
    "run_action",
]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")
IDENTIFIER_RULE = ("letters, digits, '_' and '-', starting with a letter or '_', "
                   "at most 63 characters")


def _identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a valid database name: use {IDENTIFIER_RULE}")
    return value


Identifier = Annotated[str, AfterValidator(_identifier),
                       Field(description=f"A logical database name: {IDENTIFIER_RULE}.",
                             examples=["custom-db"])]


class DatabaseNameParams(BaseModel):
    """``{"database_name": ...}``"""

    model_config = ConfigDict(extra="forbid", strict=True)

    database_name: Identifier


class DeleteDatabaseParams(DatabaseNameParams):
    """``{"database_name": ..., "force": false}``"""

    force: bool = Field(False, description="PostgreSQL 13+: end the other sessions "
                        "connected to it first (DROP DATABASE ... WITH (FORCE)).")


class PidParams(BaseModel):
    """``{"pid": ...}``"""

    model_config = ConfigDict(extra="forbid", strict=True)

    pid: StrictInt = Field(ge=1, le=2_147_483_647, description="A pid from pg-list-queries.")


_POLICY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
POLICY_RULE = ("letters, digits, '_', '-' and '.', not starting with '-' or '.', "
               "at most 63 characters")
_DURATION = re.compile(r"^(0|INF|[0-9]{1,9}[mhdw])$")


def _policy(value: str) -> str:
    if not _POLICY.match(value):
        raise ValueError(f"{value!r} is not a valid retention policy name: use {POLICY_RULE}")
    return value


def _zero(value: Any) -> Any:
    # ``0`` (infinite) as a number too: the CLI reads ``--param duration=0`` as JSON
    return "0" if type(value) is int and value == 0 else value


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(f"{value!r} is not a duration: \"0\" (infinite) or a whole number "
                         "of m, h, d or w, e.g. \"30d\"")
    return value


PolicyName = Annotated[str, AfterValidator(_policy),
                       Field(description=f"A retention policy name: {POLICY_RULE}.",
                             examples=["30-days"])]


class PolicyNameParams(BaseModel):
    """``{"name": ...}``"""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: PolicyName


class RetentionPolicyParams(PolicyNameParams):
    """``{"name": ..., "duration": ..., "default": false}``"""

    duration: Annotated[str, BeforeValidator(_zero), AfterValidator(_duration)] = Field(
        description="\"0\" for infinite, or a whole number of minutes, hours, days or "
        "weeks: \"90m\", \"12h\", \"30d\", \"2w\" (InfluxDB: at least 1h).",
        examples=["30d"])
    default: bool = Field(False, description="Make it the database's default policy.")


@dataclass(frozen=True)
class _Call:
    ctx: AppContext
    row: DatabaseRecord
    engine: Engine
    adapter: ActionsAdapter


Handler = Callable[[_Call, Any], Awaitable[Any]]


@dataclass(frozen=True)
class ActionSpec:
    """One action: its name, what it does, its params and its handler."""

    name: str
    description: str
    params: type[BaseModel] | str | None
    """A model for an object, ``"sqlmode"`` for the SQL-mode string, None for no params."""
    example: Any
    handler: Handler


# -- params ---------------------------------------------------------------------------


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(["params", *(str(p) for p in loc)])


def _parse_params(spec: ActionSpec, params: Any) -> Any:
    if spec.params is None:
        if params not in (None, {}):
            raise InvalidActionParams(f"params: {spec.name} takes no params (send null or "
                                      "leave them out)", field="params")
        return None
    if spec.params == "sqlmode":
        if not isinstance(params, str):
            raise InvalidActionParams(
                f"params: {spec.name} takes the SQL mode as one string of comma-separated "
                f"modes, e.g. {spec.example!r}", field="params")
        return params
    assert isinstance(spec.params, type)
    if not isinstance(params, dict):
        raise InvalidActionParams(f"params: {spec.name} takes an object: "
                                  f"{json.dumps(spec.example)}", field="params")
    try:
        return spec.params.model_validate(params)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        field = _field(tuple(first.get("loc", ())))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        extra = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidActionParams(f"{field}: {message}{extra}", field=field) from exc


# -- protection -----------------------------------------------------------------------


async def _protected(call: _Call) -> set[str]:
    adapter = call.adapter
    names = set(adapter.system_databases)
    own = adapter.own_database()
    if own:
        names.add(own)
    async with call.ctx.meta.connect() as conn:
        rows = await q.list_databases(conn)
    urls = [call.ctx.secrets.decrypt(r.url_secret) for r in rows]
    meta_url = call.ctx.settings.meta_url
    if meta_url is not None:
        urls.append(meta_url.get_secret_value())
    for raw in urls:
        try:
            url = parse_database_url(raw)
        except DbplaneError:
            continue
        name = adapter.logical_name(url)
        if name:
            names.add(name)
    return names


async def _check_not_protected(call: _Call, name: str, verb: str) -> None:
    if name in await _protected(call):
        raise ProtectedLogicalDatabase(
            f"the database {name!r} is protected (the server's own, the one dbplane is "
            f"registered on, another registered database or the metadata store): it "
            f"cannot be {verb}", database_name=name, field="params.database_name")


# -- handlers -------------------------------------------------------------------------


async def _list_actions(call: _Call, _: None) -> list[dict[str, Any]]:
    return [{"name": spec.name, "description": spec.description, "params": spec.example}
            for spec in ACTIONS.values() if spec.name in call.adapter.supported]


async def _list_databases(call: _Call, _: None) -> list[dict[str, Any]]:
    # the metadata store and the server, at the same time
    protected, names = await asyncio.gather(_protected(call), call.adapter.list_databases())
    return [{"name": name, "protected": name in protected} for name in names]


async def _create_database(call: _Call, params: DatabaseNameParams) -> dict[str, Any]:
    await call.adapter.create_database(params.database_name)
    return {"name": params.database_name,
            "protected": params.database_name in await _protected(call)}


async def _delete_database(call: _Call, params: DeleteDatabaseParams) -> None:
    await _check_not_protected(call, params.database_name, "deleted")
    await call.adapter.delete_database(params.database_name, force=params.force)


async def _reset_database(call: _Call, params: DatabaseNameParams) -> None:
    await _check_not_protected(call, params.database_name, "reset")
    await call.adapter.reset_database(params.database_name)


# an action reaches its handler only when the adapter's `supported` names it
async def _list_extensions(call: _Call, _: None) -> Any:
    return await call.adapter.list_extensions()


async def _pg_list_queries(call: _Call, _: None) -> Any:
    return await call.adapter.list_queries()


async def _pg_cancel_query(call: _Call, params: PidParams) -> None:
    await call.adapter.signal_backend(params.pid, terminate=False)


async def _pg_terminate_query(call: _Call, params: PidParams) -> None:
    await call.adapter.signal_backend(params.pid, terminate=True)


async def _stat_enable(call: _Call, _: None) -> None:
    await call.adapter.stat_statements_enable()


async def _stat_reset(call: _Call, _: None) -> None:
    await call.adapter.stat_statements_reset()


async def _stat_list(call: _Call, _: None) -> Any:
    return await call.adapter.stat_statements_list()


async def _get_sqlmode(call: _Call, _: None) -> Any:
    return await call.adapter.get_sql_mode()


async def _set_sqlmode(call: _Call, params: str) -> None:
    adapter = call.adapter
    modes = [m.strip().upper() for m in params.split(",") if m.strip()]
    accepted: frozenset[str] = await adapter.accepted_sql_modes()
    unknown = [m for m in modes if m not in accepted]
    if unknown:
        raise InvalidActionParams(
            f"params: {unknown[0]!r} is not a SQL mode this server accepts; it accepts: "
            + ",".join(sorted(accepted)), field="params", value=unknown[0])
    await adapter.set_sql_mode(",".join(dict.fromkeys(modes)))


async def _list_policies(call: _Call, _: None) -> Any:
    return await call.adapter.list_retention_policies()


async def _add_policy(call: _Call, params: RetentionPolicyParams) -> None:
    await call.adapter.add_retention_policy(params.name, params.duration, params.default)


async def _del_policy(call: _Call, params: PolicyNameParams) -> None:
    await call.adapter.del_retention_policy(params.name)


_NAME_EXAMPLE = {"database_name": "custom-db"}

ACTIONS: dict[str, ActionSpec] = {spec.name: spec for spec in [
    ActionSpec("list-actions", "List the actions of this database's type", None, None,
               _list_actions),
    ActionSpec("list-databases", "List all logical databases of the database deployment",
               None, None, _list_databases),
    ActionSpec("create-database", "Create a new logical database", DatabaseNameParams,
               _NAME_EXAMPLE, _create_database),
    ActionSpec("delete-database", "Delete a logical database", DeleteDatabaseParams,
               _NAME_EXAMPLE, _delete_database),
    ActionSpec("reset-database", "Delete all data inside a logical database",
               DatabaseNameParams, _NAME_EXAMPLE, _reset_database),
    ActionSpec("list-extensions", "List enabled PostgreSQL extensions and their version",
               None, None, _list_extensions),
    ActionSpec("pg-list-queries", "List running and idle queries of the database", None,
               None, _pg_list_queries),
    ActionSpec("pg-cancel-query", "Ask PostgreSQL to cancel a query (pg_cancel_backend)",
               PidParams, {"pid": 2000}, _pg_cancel_query),
    ActionSpec("pg-terminate-query", "Force stop a running query (pg_terminate_backend)",
               PidParams, {"pid": 2000}, _pg_terminate_query),
    ActionSpec("pg-stat-statements-enable",
               "Enable the collect of stats using the extension pg_stat_statements", None,
               None, _stat_enable),
    ActionSpec("pg-stat-statements-reset", "Reset stats collect", None, None, _stat_reset),
    ActionSpec("pg-stat-statements-list", "List current stats", None, None, _stat_list),
    ActionSpec("get-sqlmode", "Get the current SQL Mode of the database", None, None,
               _get_sqlmode),
    ActionSpec("set-sqlmode", "Set the SQL Mode of the database (GLOBAL)", "sqlmode",
               "NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO", _set_sqlmode),
    ActionSpec("list-retention-policies", "List existing retention policies", None, None,
               _list_policies),
    ActionSpec("add-retention-policy", "Create a new retention policy",
               RetentionPolicyParams, {"name": "30-days", "duration": "30d",
                                       "default": True}, _add_policy),
    ActionSpec("del-retention-policy", "Delete an existing retention policy",
               PolicyNameParams, {"name": "30-days"}, _del_policy),
]}


async def run_action(ctx: AppContext, ref: str, action_name: str, params: Any) -> Any:
    """Run ``action_name`` on the database ``ref`` and answer its result (None for the
    actions whose result is null). Raises DatabaseNotFound, UnknownAction,
    ActionNotSupported, InvalidActionParams, ProtectedLogicalDatabase, or what the
    server's answer means (LogicalDatabaseExists, LogicalDatabaseNotFound,
    LogicalDatabaseInUse, BackendNotFound, StatStatementsUnavailable, ActionRefused,
    ActionServerUnavailable)."""
    row = await resolve_database(ctx, ref)
    engine = await ctx.connections.engine_for(row)
    adapter = actions_for(engine)
    supported = [name for name in ACTIONS if name in adapter.supported]
    spec = ACTIONS.get(action_name)
    if spec is None:
        raise UnknownAction(action=action_name, valid=supported)
    if spec.name not in adapter.supported:
        raise ActionNotSupported(action=action_name, type_name=row.type_name,
                                 valid=supported)
    parsed = _parse_params(spec, params)
    return await spec.handler(_Call(ctx, row, engine, adapter), parsed)


# -- features ---------------------------------------------------------------------------

# the features dbplane can enable and disable itself are its actions adapter's
# (``changeable_features``); the others a database shows (tls, redis-rdb, redis-aof) are
# the server's configuration, read live


async def list_features(ctx: AppContext, ref: str) -> list[dict[str, str]]:
    """The database's features, ``{name, status}``, with what the server really has: on
    PostgreSQL ``pg-stat-statements`` is ACTIVATED only when its view can be queried
    (FAILED when the extension exists but the server does not preload it)."""
    row = await resolve_database(ctx, ref)
    engine = await ctx.connections.engine_for(row)
    adapter = actions_for(engine)
    changeable = adapter.changeable_features
    features = [f for f in await engine.features() if f["name"] not in changeable]
    for index, name in enumerate(changeable):
        status = await adapter.feature_status(name)
        if status is not None:
            features.insert(index, {"name": name, "status": status})
    if row.mode == "managed":
        handle = await managed.handle_for(ctx, row)
        return managed_features.stored(handle.record.features, features)
    return features


async def _changeable(ctx: AppContext, ref: str, name: str,
                      verb: str) -> ActionsAdapter:
    row = await resolve_database(ctx, ref)
    engine = await ctx.connections.engine_for(row)
    adapter = actions_for(engine)
    changeable = adapter.changeable_features
    if name not in changeable:
        can = ", ".join(changeable) or "none"
        raise Unsupported(f"feature: {name!r} cannot be {verb} on a {row.type_name} "
                          f"database by dbplane; the features it can change there: {can}",
                          field="feature", value=name, type_name=row.type_name,
                          valid=list(changeable))
    return adapter


async def enable_feature(ctx: AppContext, ref: str, name: str,
                         created_by: str | None = None) -> dict[str, Any]:
    """Enable a feature (Scalingo's answer: ``{name, status, message}``). Unsupported
    (400) for a feature dbplane cannot change on this type; StatStatementsUnavailable
    (409) when the server does not preload pg_stat_statements (nothing is created). On a
    managed server the features that need the server (settings, a restart) are turned on
    through its configuration and, when needed, a redeploy (``PENDING_TO_ACTIVATE``)."""
    row = await resolve_database(ctx, ref)
    if managed_features.handles(row, name):
        return await managed_features.change_feature(ctx, row, name, True, created_by)
    adapter = await _changeable(ctx, ref, name, "enabled")
    await adapter.enable_feature(name)
    status = await adapter.feature_status(name) or "FAILED"
    return {"name": name, "status": status, "message": f"Feature {name} has been enabled"}


async def disable_feature(ctx: AppContext, ref: str, name: str) -> dict[str, str]:
    """Disable a feature (Scalingo's answer: ``{message}``); Unsupported as for
    enabling. Disabling one that is not enabled changes nothing."""
    row = await resolve_database(ctx, ref)
    if managed_features.handles(row, name):
        answer = await managed_features.change_feature(ctx, row, name, False, None)
        return {"message": answer["message"]}
    adapter = await _changeable(ctx, ref, name, "disabled")
    await adapter.disable_feature(name)
    return {"message": f"Feature {name} has been disabled"}
