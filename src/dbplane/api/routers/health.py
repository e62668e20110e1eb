"""GET /v1/health: answers without a token."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from dbplane import __version__
from dbplane.api.deps import ContextDep
from dbplane.services import health as svc

router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    status: str
    version: str
    metadata_store: str


@router.get("/health", response_model=HealthPublic)
async def health(ctx: ContextDep) -> HealthPublic:
    """Whether dbplane and its metadata store answer (503 when the store does not)."""
    await svc.check_metadata_store(ctx)
    return HealthPublic(status="ok", version=__version__, metadata_store=ctx.meta.dialect)
