"""The ASGI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import Receive, Scope, Send

from dbplane import __version__
from dbplane.api import console
from dbplane.api.aliases import Aliases
from dbplane.api.deps import EXTRA_SCHEMAS
from dbplane.api.docs import install_docs
from dbplane.api.errors import PROBLEM_RESPONSES, Problem, install_error_handlers
from dbplane.api.fast import FrontDoor
from dbplane.api.limits import problem_on_413
from dbplane.api.routers import (
    actions,
    auth,
    backups,
    databases,
    deployments,
    health,
    operations,
    pitr,
    routines,
    schema,
    tables,
    tokens,
    upgrades,
    users,
)
from dbplane.services import operations as operations_service
from dbplane.services import supervisor
from dbplane.services.auth import ensure_admin_token, ensure_builtin_roles
from dbplane.services.context import AppContext
from dbplane.services.databases import ensure_default_database
from dbplane.services.operation_types import register_operation_types
from dbplane.settings import Settings

__all__ = ["DbplaneApp", "create_app"]

DESCRIPTION = """One HTTP API to run your databases.

Every endpoint but `GET /v1/health` and `POST /v1/auth/login` needs
`Authorization: Bearer <token>`: an admin API token, or a session token from login.
Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`.
"""


class DbplaneApp(FastAPI):
    """The FastAPI app, with the Tables API's row and record GETs answered at its door
    (``api.fast``), before its middleware stack and router."""

    front_door: FrontDoor
    aliases: Aliases

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = self.aliases.rewrite(scope)
        target = self.front_door.takes(scope)
        if target is not None:
            await self.front_door.serve(target, scope, receive, send)
            return
        await super().__call__(scope, receive, problem_on_413(scope, send))

    def server_closing(self) -> None:
        """The server has begun its graceful stop (it waits for open requests before the
        app's shutdown): requests waiting for an operation's end answer now."""
        ctx = getattr(self.state, "ctx", None)
        if ctx is not None:
            operations_service.server_closing(ctx)


def create_app(settings: Settings | None = None,
               on_admin_token: Callable[[str], None] | None = None) -> FastAPI:
    """Build the app. At start-up it migrates the metadata store, creates the default
    database and, on first start, an admin token handed to ``on_admin_token``."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = await AppContext.open(settings)
        try:
            await ensure_builtin_roles(ctx)
            await ensure_default_database(ctx)
            token = await ensure_admin_token(ctx)
            ctx.generated_admin_token = token
            if token is not None and on_admin_token is not None:
                on_admin_token(token)
            app.state.ctx = ctx
            aliases.learn(app.routes)  # every route is there by now
            front_door.ctx = ctx
            register_operation_types(operations_service.registry_of(ctx))
            await operations_service.start(ctx)
            # what start-up built (modules, metadata, pools) lives as long as the process:
            # keep it out of the cyclic GC's full collections, which otherwise scan it all
            # and pause the event loop for tens of milliseconds
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                front_door.ctx = None
                owner = supervisor.owner_of(ctx)
                await operations_service.stop(ctx)
                await supervisor.release(ctx, owner)
        finally:
            front_door.ctx = None
            await ctx.close()

    front_door = FrontDoor()
    app = DbplaneApp(title="dbplane", version=__version__, description=DESCRIPTION,
                     lifespan=lifespan, docs_url=None, redoc_url=None,
                     max_body_size=settings.max_upload_bytes)
    app.front_door = front_door
    aliases = app.aliases = Aliases()
    install_error_handlers(app)
    app.include_router(health.router, prefix="/v1",
                       responses={503: PROBLEM_RESPONSES[500] | {
                           "description": "The metadata store does not answer"}})
    for module in (auth, databases, tables, users, tokens, schema, routines, operations,
                   backups, actions, deployments, pitr, upgrades):
        app.include_router(module.router, prefix="/v1", responses=PROBLEM_RESPONSES)
    console.install(app)
    install_docs(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["Problem"] = Problem.model_json_schema()
            for name, sub in EXTRA_SCHEMAS.items():
                components.setdefault(name, sub)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
