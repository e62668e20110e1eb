"""/v1/users and /v1/roles: admin only. Users as in the SonicJS seed (bodies flat or in
``{"data": {...}}``; lists are JSON arrays)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from dbplane.api.deps import AdminDep, ContextDep, enveloped_body, parse_body
from dbplane.services import users as svc
from dbplane.services.users import (
    RoleCreate,
    RolePublic,
    RoleUpdate,
    UserCreate,
    UserPublic,
    UserUpdate,
)

router = APIRouter(tags=["users"])


@router.post("/users", status_code=201, response_model=UserPublic,
             openapi_extra=enveloped_body(UserCreate, "data"))
async def create_user(request: Request, ctx: ContextDep, _: AdminDep) -> UserPublic:
    """Create a user with a name, email, password (hashed with argon2) and an existing
    role."""
    return await svc.create_user(ctx, await parse_body(request, UserCreate, "data"))


@router.get("/users", response_model=list[UserPublic])
async def list_users(ctx: ContextDep, _: AdminDep) -> list[UserPublic]:
    return await svc.list_users(ctx)


@router.get("/users/{user_id}", response_model=UserPublic)
async def get_user(user_id: str, ctx: ContextDep, _: AdminDep) -> UserPublic:
    return await svc.get_user(ctx, user_id)


async def _update_user(user_id: str, request: Request, ctx: ContextDep) -> UserPublic:
    return await svc.update_user(ctx, user_id, await parse_body(request, UserUpdate, "data"))


@router.patch("/users/{user_id}", response_model=UserPublic,
              openapi_extra=enveloped_body(UserUpdate, "data"))
async def patch_user(user_id: str, request: Request, ctx: ContextDep,
                     _: AdminDep) -> UserPublic:
    """Change a user's name, email, password or role."""
    return await _update_user(user_id, request, ctx)


@router.put("/users/{user_id}", response_model=UserPublic,
            openapi_extra=enveloped_body(UserUpdate, "data"))
async def put_user(user_id: str, request: Request, ctx: ContextDep,
                   _: AdminDep) -> UserPublic:
    """Same as PATCH: only the given fields change."""
    return await _update_user(user_id, request, ctx)


@router.delete("/users/{user_id}", status_code=204, response_class=Response)
async def delete_user(user_id: str, ctx: ContextDep, _: AdminDep) -> Response:
    """Delete a user and end its sessions."""
    await svc.delete_user(ctx, user_id)
    return Response(status_code=204)


@router.post("/roles", status_code=201, response_model=RolePublic,
             openapi_extra=enveloped_body(RoleCreate, "role"))
async def create_role(request: Request, ctx: ContextDep, _: AdminDep) -> RolePublic:
    """Create a role with its grants (``*`` for any database or table)."""
    return await svc.create_role(ctx, await parse_body(request, RoleCreate, "role"))


@router.get("/roles", response_model=list[RolePublic])
async def list_roles(ctx: ContextDep, _: AdminDep) -> list[RolePublic]:
    return await svc.list_roles(ctx)


@router.get("/roles/{name}", response_model=RolePublic)
async def get_role(name: str, ctx: ContextDep, _: AdminDep) -> RolePublic:
    return await svc.get_role(ctx, name)


@router.put("/roles/{name}", response_model=RolePublic,
            openapi_extra=enveloped_body(RoleUpdate, "role"))
async def update_role(name: str, request: Request, ctx: ContextDep,
                      _: AdminDep) -> RolePublic:
    """Replace a role's description or grants."""
    return await svc.update_role(ctx, name, await parse_body(request, RoleUpdate, "role"))


@router.delete("/roles/{name}", status_code=204, response_class=Response)
async def delete_role(name: str, ctx: ContextDep, _: AdminDep) -> Response:
    """Remove a role no user has (409 otherwise)."""
    await svc.delete_role(ctx, name)
    return Response(status_code=204)
