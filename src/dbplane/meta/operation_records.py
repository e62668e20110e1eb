"""Typed rows of the operations table (``dbp_operations``), as the named queries of
``operations_queries`` answer them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["OperationRecord"]


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """One operation as stored. JSON columns come back as JSON values; the columns with a
    default (``progress``, ``attempts``, ``cancel_requested``) and the JSON lists and
    objects are never None."""

    id: str
    type: str
    database_id: str | None
    status: str
    conflict_slot: str | None
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    steps: list[dict[str, Any]]
    log: list[str]
    progress: float
    message: str | None
    created_by: str | None
    owner: str | None
    """The process that claimed it (``host:pid:nonce``)."""
    attempts: int
    """How many times a worker claimed it (0 or 1)."""
    cancel_requested: bool
    # epoch milliseconds
    created_at: int
    started_at: int | None
    finished_at: int | None
    heartbeat_at: int | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> OperationRecord:
        """The record of a row of ``dbp_operations`` (all its columns)."""
        return cls(
            id=row["id"], type=row["type"], database_id=row["database_id"],
            status=row["status"], conflict_slot=row["conflict_slot"],
            params=row["params"] or {}, result=row["result"], error=row["error"],
            steps=list(row["steps"] or []), log=list(row["log"] or []),
            progress=float(row["progress"] or 0.0), message=row["message"],
            created_by=row["created_by"], owner=row["owner"],
            attempts=int(row["attempts"] or 0),
            cancel_requested=bool(row["cancel_requested"]),
            created_at=row["created_at"], started_at=row["started_at"],
            finished_at=row["finished_at"], heartbeat_at=row["heartbeat_at"])

    def values(self) -> dict[str, Any]:
        """The record's columns, to insert it."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
