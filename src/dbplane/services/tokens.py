"""Admin API tokens: separate from user sessions, stored as the SHA-256 of the token.

The token itself is shown once, when it is created.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from dbplane.errors import TokenNotFound
from dbplane.meta import queries as q
from dbplane.meta.records import ApiTokenRecord
from dbplane.services.auth import hash_token, new_token
from dbplane.services.context import AppContext, now_ms

__all__ = ["TokenCreate", "TokenCreated", "TokenPublic", "create_token", "list_tokens",
           "revoke_token"]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=255, examples=["ci"])


class TokenPublic(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="the token's first characters, to recognise it")
    source: str = Field(description="generated (first start), env (DBPLANE_ADMIN_TOKEN) "
                        "or api")
    created_on: int


class TokenCreated(TokenPublic):
    token: str = Field(description="the token itself: shown this once, never again")


def _token_public(row: ApiTokenRecord) -> TokenPublic:
    return TokenPublic(id=row.id, name=row.name, prefix=row.prefix, source=row.source,
                       created_on=row.created_on)


async def create_token(ctx: AppContext, body: TokenCreate) -> TokenCreated:
    token = new_token("dbp")
    row = ApiTokenRecord(id=str(uuid.uuid4()), name=body.name, token_hash=hash_token(token),
                         prefix=token[:8], source="api", created_on=now_ms())
    async with ctx.meta.begin() as conn:
        await q.insert_api_token(conn, row)
    return TokenCreated(token=token, id=row.id, name=row.name, prefix=row.prefix,
                        source=row.source, created_on=row.created_on)


async def list_tokens(ctx: AppContext) -> list[TokenPublic]:
    async with ctx.meta.connect() as conn:
        return [_token_public(r) for r in await q.list_api_tokens(conn)]


async def revoke_token(ctx: AppContext, token_id: str) -> None:
    async with ctx.meta.begin() as conn:
        if not await q.delete_api_token(conn, token_id):
            raise TokenNotFound(token_id)
    ctx.principals.clear()
