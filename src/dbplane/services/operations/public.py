"""The JSON of operations: the API's operation object of a record, and the JSON an
operation stores (its params, result and error)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from dbplane.errors import DbplaneError
from dbplane.meta.operation_records import OperationRecord

__all__ = ["error_json", "jsonable", "public_operation"]


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def public_operation(op: OperationRecord) -> dict[str, Any]:
    """The API's operation object of a record."""
    return {
        "id": op.id,
        "type": op.type,
        "database_id": op.database_id,
        "status": op.status,
        "created_at": _iso(op.created_at),
        "started_at": _iso(op.started_at),
        "finished_at": _iso(op.finished_at),
        "progress": op.progress,
        "message": op.message,
        "steps": [{"name": s["name"], "status": s["status"],
                   "started_at": _iso(s.get("started_at")),
                   "duration_ms": s.get("duration_ms")} for s in op.steps],
        "log": list(op.log),
        "params": op.params,
        "result": op.result,
        "error": op.error,
        "created_by": op.created_by,
        "cancel_requested": op.cancel_requested,
        "owner": op.owner,
        "attempts": op.attempts,
    }


def error_json(exc: DbplaneError) -> dict[str, Any]:
    """How an operation records the error it ended with."""
    return {"code": exc.code, "message": exc.detail}


def jsonable(value: Any, what: str) -> Any:
    """``value`` as it reads back from a JSON column; DbplaneError if it is not JSON."""
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError as exc:
        raise DbplaneError(f"the operation's {what} is not JSON: {exc}") from exc
