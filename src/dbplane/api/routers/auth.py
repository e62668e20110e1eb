"""Sessions, as in the SonicJS seed: log in, log out, and the current user."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dbplane.api.deps import ContextDep, PrincipalDep, enveloped_body, parse_body
from dbplane.errors import NotAUserSession
from dbplane.services import auth as svc
from dbplane.services import users as users_svc
from dbplane.services.users import UserPublic

router = APIRouter(tags=["auth"])


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024, repr=False)


class LoginPublic(BaseModel):
    token: str = Field(description="the session token, for 'Authorization: Bearer'")
    expires_on: int = Field(description="epoch milliseconds")
    expires_at: str = Field(description="RFC 3339")
    user: UserPublic


@router.post("/auth/login", response_model=LoginPublic,
             openapi_extra=enveloped_body(LoginRequest))
async def login(request: Request, ctx: ContextDep) -> LoginPublic:
    """Open a session with an email and password (no token needed)."""
    body = await parse_body(request, LoginRequest)
    token, expires, row = await svc.login(ctx, body.email, body.password)
    return LoginPublic(
        token=token, expires_on=expires,
        expires_at=datetime.fromtimestamp(expires / 1000, UTC).isoformat(
            timespec="milliseconds"),
        user=users_svc.user_public(row))


@router.post("/auth/logout", status_code=204, response_class=Response)
async def logout(ctx: ContextDep, principal: PrincipalDep) -> Response:
    """End the session whose token is in the Authorization header."""
    await svc.logout(ctx, principal)
    return Response(status_code=204)


@router.get("/user", response_model=UserPublic)
async def current_user(ctx: ContextDep, principal: PrincipalDep) -> UserPublic:
    """The user of the session token (404 for an API token, which has no user)."""
    if principal.user_id is None:
        raise NotAUserSession()
    return await users_svc.get_user(ctx, principal.user_id)
