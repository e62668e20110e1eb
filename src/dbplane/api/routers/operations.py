"""Operations (issue 7): long work as 202 + Location, status, cancel."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["operations"])
