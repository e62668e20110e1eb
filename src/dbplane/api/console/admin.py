"""Users, roles and API tokens, for admins: lists, a form to add one, and a confirmation
page naming what a removal loses. Validation errors are the API's (same models)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError

from dbplane.api.console.web import ConsoleRoute, admin_form, caller, context_of, render
from dbplane.api.errors import invalid_from_validation
from dbplane.errors import DbplaneError, EndpointNotFound, MalformedParameter
from dbplane.services import tokens as tokens_svc
from dbplane.services import users as users_svc
from dbplane.services.auth import Principal
from dbplane.services.tokens import TokenCreate
from dbplane.services.users import RoleCreate, UserCreate

__all__ = ["router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


async def _admin(request: Request) -> Principal:
    principal = await caller(request)
    principal.require_admin()
    return principal


def _parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_validation(exc.errors()) from exc


def _grants(text: str) -> list[dict[str, Any]]:
    """``DATABASE:TABLE:ACTIONS`` lines (as ``dbplane roles add --grant``)."""
    grants = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.strip().split(":")
        if len(parts) != 3:
            raise MalformedParameter(f"grant {line.strip()!r}: write DATABASE:TABLE:ACTIONS, "
                                     "e.g. shop:*:read,update", parameter="grants")
        grants.append({"database": parts[0], "table": parts[1],
                       "actions": [a.strip() for a in parts[2].split(",") if a.strip()]})
    return grants


async def _page(request: Request, principal: Principal, error: DbplaneError | None = None,
                status: int = 200, **values: Any) -> Response:
    ctx = context_of(request)
    return render(request, "admin.html", status=status, principal=principal, error=error,
                  users=await users_svc.list_users(ctx),
                  roles=await users_svc.list_roles(ctx),
                  tokens=await tokens_svc.list_tokens(ctx),
                  section=request.url.path.rsplit("/", 1)[-1], **values)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/users")
@router.get("/roles")
@router.get("/tokens")
async def admin_page(request: Request) -> Response:
    return await _page(request, await _admin(request))


@router.post("/users")
async def create_user(request: Request) -> Response:
    principal, form = await admin_form(request)
    data = {k: str(form.get(k) or "") for k in ("name", "email", "password", "role")}
    try:
        await users_svc.create_user(context_of(request), _parse(UserCreate, data))
    except DbplaneError as exc:
        if exc.status >= 500:
            raise
        data.pop("password")
        return await _page(request, principal, exc, exc.status, form_values=data)
    return _see_other("/console/users")


@router.post("/roles")
async def create_role(request: Request) -> Response:
    principal, form = await admin_form(request)
    data = {k: str(form.get(k) or "") for k in ("name", "description", "grants")}
    try:
        body = _parse(RoleCreate, {"name": data["name"], "description": data["description"],
                                   "grants": _grants(data["grants"])})
        await users_svc.create_role(context_of(request), body)
    except DbplaneError as exc:
        if exc.status >= 500:
            raise
        return await _page(request, principal, exc, exc.status, form_values=data)
    return _see_other("/console/roles")


@router.post("/tokens")
async def create_token(request: Request) -> Response:
    principal, form = await admin_form(request)
    name = str(form.get("name") or "")
    try:
        created = await tokens_svc.create_token(context_of(request),
                                                _parse(TokenCreate, {"name": name}))
    except DbplaneError as exc:
        if exc.status >= 500:
            raise
        return await _page(request, principal, exc, exc.status)
    return await _page(request, principal, created=created)


_REMOVALS = {
    "users": ("Delete the user {ref}?", "The user {ref} is deleted and its sessions end: it "
              "can no longer sign in."),
    "roles": ("Remove the role {ref}?", "The role {ref} and its grants are removed (a role "
              "some user still has cannot be)."),
    "tokens": ("Revoke the token {ref}?", "Requests and console sessions with the token "
               "{ref} are refused from now on; whoever uses it loses access."),
}


@router.get("/{kind}/{ref}/delete")
async def confirm_removal(kind: str, ref: str, request: Request) -> Response:
    principal = await _admin(request)
    if kind not in _REMOVALS:
        raise EndpointNotFound()
    title, loss = _REMOVALS[kind]
    return render(request, "confirm.html", principal=principal,
                  title=title.format(ref=ref), loss=loss.format(ref=ref),
                  action=f"/console/{kind}/{ref}/delete", back=f"/console/{kind}",
                  button="Revoke" if kind == "tokens" else "Delete")


@router.post("/{kind}/{ref}/delete")
async def remove(kind: str, ref: str, request: Request) -> Response:
    await admin_form(request)
    ctx = context_of(request)
    if kind == "users":
        await users_svc.delete_user(ctx, ref)
    elif kind == "roles":
        await users_svc.delete_role(ctx, ref)
    elif kind == "tokens":
        await tokens_svc.revoke_token(ctx, ref)
        ctx.principals.clear()
    else:
        raise EndpointNotFound()
    return _see_other(f"/console/{kind}")
