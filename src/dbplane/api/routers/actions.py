"""Actions (issue 7): ``POST /databases/{db}/action``, the Scalingo database actions, and
``GET|POST|DELETE /databases/{db}/features``.

The answers have the seed's exact shapes, not problem details: ``{"ok": 1, "result": ...}``
(200), or ``{"ok": 0, "error": "...", "code": "DBP-..."}`` with the 4xx of the error (the
``code`` lets the client raise the right class). Authentication and admin errors (401,
403) stay problem details, like everywhere else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dbplane.api.deps import AdminDep, ContextDep, enveloped_body, parse_body
from dbplane.api.routers.operations import created_by
from dbplane.errors import DbplaneError
from dbplane.services import actions as svc

router = APIRouter(tags=["actions"])


class ActionRequest(BaseModel):
    """One action and its params, as in the Scalingo API."""

    model_config = ConfigDict(extra="forbid", strict=True)

    action_name: str = Field(min_length=1, max_length=100, examples=["list-databases"],
                             description="An action of this database's type "
                             "(list-actions names them).")
    params: dict[str, Any] | str | None = Field(
        None, description="The action's params: an object (e.g. {\"database_name\": "
        "\"custom-db\"}), a string (set-sqlmode), or null / left out.")


class ActionSuccess(BaseModel):
    """The action ran: its result (null for the actions that return nothing)."""

    ok: Literal[1]
    result: Any = Field(description="The action's result; its shape depends on the action.")


class ActionFailure(BaseModel):
    """The action did not run (or the server refused it): nothing was changed."""

    ok: Literal[0]
    error: str = Field(description="What is wrong, naming the field or value at fault.")
    code: str = Field(description="dbplane's stable error code (docs/errors.md).")


def _failure_content(description: str) -> dict[str, Any]:
    return {"description": description, "model": ActionFailure}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _failure_content("Not a JSON object, an unknown action, or an action this "
                          "database's type does not have"),
    404: _failure_content("No such database, logical database or session (pid)"),
    409: _failure_content("A protected, existing or busy logical database; "
                          "pg_stat_statements not usable; or the server refused the action"),
    422: _failure_content("The params are missing, of the wrong type or not valid"),
    503: _failure_content("The database server did not answer"),
}


def _json(body: Any, status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.post("/databases/{db}/action", response_model=ActionSuccess, responses=_RESPONSES,
             openapi_extra=enveloped_body(ActionRequest))
async def run_action(db: str, request: Request, ctx: ContextDep, _: AdminDep) -> Response:
    """Run one action on the database's server (admin only): ``list-actions``,
    ``list-databases``, ``create-database``, ``delete-database``, ``reset-database``
    (SQL types), ``list-extensions``, ``pg-list-queries``, ``pg-cancel-query``,
    ``pg-terminate-query``, ``pg-stat-statements-enable|reset|list`` (PostgreSQL),
    ``get-sqlmode``, ``set-sqlmode`` (MySQL/MariaDB), ``list-retention-policies``,
    ``add-retention-policy``, ``del-retention-policy`` (InfluxDB). See docs/actions.md."""
    try:
        body = await parse_body(request, ActionRequest)
        result = await svc.run_action(ctx, db, body.action_name, body.params)
    except DbplaneError as err:
        if err.status >= 500 and err.status != 503:
            raise  # a bug: logged and answered as the problem it is
        return _json({"ok": 0, "error": err.detail, "code": err.code}, err.status)
    return _json({"ok": 1, "result": result}, 200)


# -- features -----------------------------------------------------------------------------


class Feature(BaseModel):
    """A feature of the database, as in Scalingo's database object."""

    name: str = Field(examples=["pg-stat-statements"])
    status: Literal["ACTIVATED", "PENDING", "FAILED", "PENDING_TO_ACTIVATE",
                    "PENDING_TO_REMOVE", "REMOVED"]
    message: str | None = Field(None, description="why a feature is pending or failed")


class FeatureList(BaseModel):
    features: list[Feature]


class FeatureName(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=100, examples=["pg-stat-statements"])


class FeatureRequest(BaseModel):
    """``{"feature": {"name": ...}}``, as in Scalingo's API."""

    model_config = ConfigDict(extra="forbid", strict=True)

    feature: FeatureName


class FeatureEnabled(Feature):
    message: str | None = Field(None, examples=["Feature pg-stat-statements has been "
                                                "enabled"])
    deployment_id: str | None = Field(None, description="the redeploy that finishes it "
                                      "(a managed server's setting that needs a restart)")


class FeatureDisabled(BaseModel):
    message: str = Field(examples=["Feature pg-stat-statements has been disabled"])


@router.get("/databases/{db}/features", response_model=FeatureList)
async def list_features(db: str, ctx: ContextDep, _: AdminDep) -> FeatureList:
    """The database's features with their live status (``pg-stat-statements`` is
    ACTIVATED only when its view can be queried, FAILED when the extension exists but the
    server does not preload it; ``tls``, ``redis-rdb``, ``redis-aof`` as the server runs)."""
    features = await svc.list_features(ctx, db)
    return FeatureList(features=[Feature.model_validate(f) for f in features])


@router.post("/databases/{db}/features", response_model=FeatureEnabled,
             response_model_exclude_none=True)
async def enable_feature(db: str, body: FeatureRequest, ctx: ContextDep,
                         principal: AdminDep) -> FeatureEnabled:
    """Enable a feature: ``pg-stat-statements`` on PostgreSQL (409 when the server does
    not preload the library; nothing is created). Another feature, or another type, is a
    400 naming what can be changed."""
    return FeatureEnabled.model_validate(await svc.enable_feature(
        ctx, db, body.feature.name, created_by(principal)))


@router.delete("/databases/{db}/features", response_model=FeatureDisabled)
async def disable_feature(db: str, ctx: ContextDep, _: AdminDep,
                          feature: Annotated[str, Query(min_length=1, max_length=100)],
                          ) -> FeatureDisabled:
    """Disable a feature (``?feature=NAME``): ``pg-stat-statements`` on PostgreSQL drops
    the extension from the database."""
    return FeatureDisabled.model_validate(await svc.disable_feature(ctx, db, feature))
