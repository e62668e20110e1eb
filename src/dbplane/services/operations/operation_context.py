"""What a running operation's handler receives: steps, progress, log lines and cancel
checkpoints, written to the metadata store at most every
``settings.operation_progress_every_seconds`` (and at each heartbeat and at the end)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from dbplane.errors import OperationCanceled
from dbplane.meta import operations_queries as oq
from dbplane.meta.operation_records import OperationRecord
from dbplane.meta.store import STORE_UNAVAILABLE
from dbplane.services.context import now_ms

if TYPE_CHECKING:
    from dbplane.services.operations.runtime import Runtime

__all__ = ["LOG_LINES", "LOG_LINE_CHARS", "OperationContext"]

log = logging.getLogger("dbplane.operations")

LOG_LINES = 50
LOG_LINE_CHARS = 1000


class OperationContext:
    """What a running operation's handler receives."""

    def __init__(self, runtime: Runtime, record: OperationRecord) -> None:
        self.id: str = record.id
        self.type: str = record.type
        self.database_id: str | None = record.database_id
        self.params: dict[str, Any] = dict(record.params)
        self._runtime = runtime
        self._steps: list[dict[str, Any]] = list(record.steps)
        self._log: list[str] = list(record.log)
        self._progress: float = record.progress
        self._message: str | None = record.message
        self._cancel = record.cancel_requested
        self._dirty = False
        self._last_write = 0.0
        self._write_lock = asyncio.Lock()

    # -- what handlers call --

    def step(self, name: str) -> AbstractAsyncContextManager[None]:
        """A named step: recorded running, then done (with duration) or error (written
        with the progress, at most every ``operation_progress_every_seconds``, and at the
        end)."""
        return self._step(name)

    @asynccontextmanager
    async def _step(self, name: str) -> AsyncIterator[None]:
        entry: dict[str, Any] = {"name": name, "status": "running",
                                 "started_at": now_ms(), "duration_ms": None}
        self._steps.append(entry)
        self._message = name
        self._dirty = True
        await self._write()
        started = time.monotonic()
        try:
            yield
        except BaseException as exc:
            entry["duration_ms"] = round((time.monotonic() - started) * 1000)
            entry["status"] = ("canceled" if isinstance(
                exc, OperationCanceled | asyncio.CancelledError) else "error")
            self._dirty = True  # written with the operation's end
            raise
        entry["duration_ms"] = round((time.monotonic() - started) * 1000)
        entry["status"] = "done"
        self._dirty = True
        await self._write()

    async def progress(self, fraction: float, message: str | None = None) -> None:
        """Record how far the operation is (0.0..1.0); written at most every
        ``operation_progress_every_seconds``."""
        self._progress = min(1.0, max(0.0, float(fraction)))
        if message is not None:
            self._message = message
        self._dirty = True
        await self._write()

    async def log(self, line: str) -> None:
        """Add a line to the operation's short log (the last 50 lines are kept)."""
        for part in str(line).splitlines() or [""]:
            self._log.append(part[:LOG_LINE_CHARS])
        del self._log[:-LOG_LINES]
        self._dirty = True
        await self._write()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel

    async def checkpoint(self) -> None:
        """Raise OperationCanceled if a cancel was requested."""
        if self._cancel:
            raise OperationCanceled(f"operation {self.id} was canceled")
        await asyncio.sleep(0)

    # -- what the runtime uses --

    def request_cancel(self) -> bool:
        """Note a cancel for the next checkpoint; False if one was already noted."""
        if self._cancel:
            return False
        self._cancel = True
        return True

    def state(self) -> dict[str, Any]:
        return {"steps": [dict(s) for s in self._steps], "log": list(self._log),
                "progress": self._progress, "message": self._message}

    async def heartbeat(self) -> None:
        """Record that the operation is alive, with its state if it changed."""
        await self._write(heartbeat=True)

    async def _write(self, *, force: bool = False, heartbeat: bool = False) -> None:
        """Persist the state (and heartbeat) if due; notices a cancel or a lost claim."""
        runtime = self._runtime
        now = time.monotonic()
        every = runtime.ctx.settings.operation_progress_every_seconds
        due = self._dirty and (now - self._last_write >= every)
        if not (force or heartbeat or due):
            return
        async with self._write_lock:
            values: dict[str, Any] = {"heartbeat_at": now_ms()}
            if self._dirty or force:
                values |= self.state()
                self._dirty = False
            self._last_write = now
            try:
                # ends even if this task is cancelled meanwhile (it is raised after)
                answer = await runtime.ctx.meta.write(
                    lambda conn: oq.heartbeat_operation(conn, self.id, runtime.owner,
                                                        values))
            except STORE_UNAVAILABLE as exc:  # a busy store: the next write carries the state
                log.warning("operation %s: could not record its state: %s", self.id, exc)
                self._dirty = True
                return
        if answer is None:
            runtime.lost(self.id)
        elif answer and not self._cancel:
            runtime.cancel_local(self.id)
