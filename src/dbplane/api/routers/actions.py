"""Actions (issue 7): POST /databases/{db}/action, the Scalingo actions."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["actions"])
