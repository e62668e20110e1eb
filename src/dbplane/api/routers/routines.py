"""Routines (issue 6): files, migrations, factories and seeders."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["routines"])
