"""Backups (issue 7): manual, periodic, archive download/upload, restore."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["backups"])
