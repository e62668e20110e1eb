"""The routines page: the project's files, the database's migrations (run them, or
pretend and read the SQL), a factory with a row count and a seeder, each started as an
operation whose progress the page follows. Admin only, as the routines endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from dbplane.api.console.web import ConsoleRoute, admin_form, caller, context_of, render
from dbplane.errors import DbplaneError, MalformedParameter
from dbplane.services import databases as databases_svc
from dbplane.services import operations as operations_svc
from dbplane.services import routines as routines_svc
from dbplane.services.auth import Principal

__all__ = ["router"]

router = APIRouter(prefix="/console/databases/{db}/routines", route_class=ConsoleRoute,
                   include_in_schema=False)

_TYPES = tuple(routines_svc.OPERATION_TYPES.values())


def _created_by(principal: Principal) -> str:
    if principal.kind == "session" and principal.user_id:
        return f"user:{principal.user_id}"
    return f"token:{principal.token_hash[:12]}"


async def _page(request: Request, principal: Principal, db: str, status: int = 200,
                **values: Any) -> Response:
    ctx = context_of(request)
    database = await databases_svc.get_database(ctx, principal, db)
    files = await routines_svc.list_files(ctx)
    migrations: dict[str, Any] = {"migrations": [], "pending": 0}
    try:
        migrations = await routines_svc.list_migrations(ctx, db)
    except DbplaneError as exc:
        if exc.status >= 500:
            raise
        values.setdefault("error", exc)
    ops = await operations_svc.list_operations(ctx, database_id=database.id, limit=30)
    operations = [operations_svc.public_operation(op) for op in ops if op.type in _TYPES]
    return render(request, "routines.html", status=status, principal=principal,
                  db=database, files=files, migrations=migrations, operations=operations[:8],
                  ended=("done", "error", "canceled"), **values)


@router.get("")
async def routines_page(db: str, request: Request) -> Response:
    principal = await caller(request)
    principal.require_admin()
    return await _page(request, principal, db)


@router.post("/{kind}")
async def start(db: str, kind: str, request: Request) -> Response:
    principal, form = await admin_form(request)
    ctx = context_of(request)
    try:
        if kind == "pretend":
            answer = await routines_svc.run_migrations(ctx, db, pretend=True)
            return await _page(request, principal, db, pretend=answer)
        params: dict[str, Any] = {}
        if kind in ("factory", "seeder"):
            params["file_id"] = str(form.get("file_id") or "")
        if kind == "factory":
            count = str(form.get("count") or "").strip()
            if count:
                if not count.isdigit() or int(count) < 1:
                    raise MalformedParameter(f"count must be a positive whole number, not "
                                             f"{count!r}", parameter="count")
                params["count"] = int(count)
        if kind not in ("migrate", "factory", "seeder"):
            raise MalformedParameter(f"no routine {kind!r}: migrate, pretend, factory or "
                                     "seeder", parameter="kind")
        await routines_svc.start_routine(ctx, kind, db, params,  # type: ignore[arg-type]
                                         created_by=_created_by(principal))
    except DbplaneError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        return await _page(request, principal, db, status=exc.status, error=exc)
    return RedirectResponse(f"/console/databases/{db}/routines#operations", status_code=303)
