"""Schema as code (issue 5): snapshot, diff and apply, Directus-compatible."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["schema"])
