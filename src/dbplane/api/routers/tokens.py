"""/v1/tokens: admin API tokens, separate from user sessions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from dbplane.api.deps import AdminDep, ContextDep, enveloped_body, parse_body
from dbplane.services import tokens as svc
from dbplane.services.tokens import TokenCreate, TokenCreated, TokenPublic

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=201, response_model=TokenCreated,
             openapi_extra=enveloped_body(TokenCreate))
async def create_token(request: Request, ctx: ContextDep, _: AdminDep) -> TokenCreated:
    """Create an admin API token. The token is in this answer only: store it."""
    return await svc.create_token(ctx, await parse_body(request, TokenCreate))


@router.get("", response_model=list[TokenPublic])
async def list_tokens(ctx: ContextDep, _: AdminDep) -> list[TokenPublic]:
    return await svc.list_tokens(ctx)


@router.delete("/{token_id}", status_code=204, response_class=Response)
async def revoke_token(token_id: str, ctx: ContextDep, _: AdminDep) -> Response:
    """Revoke a token: requests with it are 401 from now on."""
    await svc.revoke_token(ctx, token_id)
    return Response(status_code=204)
