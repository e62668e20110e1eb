"""The runtime of a dbplane process: N asyncio workers claim pending operations of the
types registered in the process and run their handlers, with a heartbeat each; a cancel
reaches a handler at its next checkpoint (or its task is cancelled after a grace period);
at start, and every half ``operation_stale_seconds``, operations left running by a dead
process are ended ``error``. Timings come from the process's settings
(``DBPLANE_OPERATION_*``).

Claims are safe with several processes on one store (``FOR UPDATE SKIP LOCKED`` plus a
conditional ``UPDATE`` on PostgreSQL, the conditional ``UPDATE`` alone on SQLite), so no
operation runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

from dbplane.errors import DbplaneError, OperationCanceled, OperationInterrupted
from dbplane.meta import operations_queries as oq
from dbplane.meta.operation_records import OperationRecord
from dbplane.meta.store import STORE_UNAVAILABLE
from dbplane.services.context import AppContext, now_ms
from dbplane.services.operations.operation_context import OperationContext
from dbplane.services.operations.periodic import start_periodic
from dbplane.services.operations.public import error_json, jsonable
from dbplane.services.operations.registry import OperationRegistry, OperationType, registry_of

__all__ = ["Runtime", "process_owner", "recover_interrupted", "runtime_of", "start", "stop"]

log = logging.getLogger("dbplane.operations")

_KEY = "operations"
_HOST = socket.gethostname()
_LIVE_OWNERS: set[str] = set()
"""The owners of the runtimes started in this process (tests run several apps in one)."""
_INTERRUPTED = "the dbplane process running it stopped before it ended; start it again"


def runtime_of(ctx: AppContext) -> Runtime | None:
    """The process's runtime, None when its workers are not started."""
    runtime = ctx.extensions.get(_KEY)
    return runtime if isinstance(runtime, Runtime) else None


def _owner_is_dead(owner: str | None, me: str) -> bool:
    """Whether the process ``owner`` ("host:pid:nonce") is known to be gone: it ran on
    this host and its pid is not alive, or it is this pid in a previous life."""
    if not owner or owner == me or owner in _LIVE_OWNERS:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, _nonce = rest.partition(":")
    if host != _HOST or not pid_text.isdigit():
        return False  # another host: only a stale heartbeat tells
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def recover_interrupted(ctx: AppContext, owner: str | None = None) -> list[str]:
    """End as ``error`` the operations left running by a dead process (one of this host
    whose pid is gone, or any whose heartbeat is older than ``operation_stale_seconds``);
    their ids."""
    me = owner or ""
    async with ctx.meta.connect() as conn:
        owners = await oq.list_running_owners(conn)
    dead = {o for o in owners if o is not None and _owner_is_dead(o, me)}
    now = now_ms()
    error = error_json(OperationInterrupted(_INTERRUPTED))
    stale_ms = round(ctx.settings.operation_stale_seconds * 1000)
    async with ctx.meta.begin() as conn:
        ended = await oq.mark_interrupted(conn, owners=sorted(dead),
                                          stale_before=now - stale_ms, now=now, error=error)
    for op_id in ended:
        log.warning("operation %s was running in a dbplane process that stopped: marked "
                    "error", op_id)
    return ended


@dataclass
class _Running:
    opctx: OperationContext
    task: asyncio.Task[dict[str, Any] | None]
    lost: bool = False
    killer: asyncio.TimerHandle | None = None


@dataclass
class Runtime:
    """The workers of one process and the operations they run."""

    ctx: AppContext
    registry: OperationRegistry
    owner: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # held by the one idle worker that polls the store; the others wait for `wake`
    poll_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    running: dict[str, _Running] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: bool = False
    # the server stops taking requests (it drains before the workers stop): long polls
    # answer now instead of holding the server's graceful stop
    closing: bool = False
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    # set (and replaced) each time an operation run here has ended and its end is
    # written: what a caller waiting for an operation's end waits on between its reads
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def notify_ended(self) -> None:
        """Wake whoever waits for an operation's end (it re-reads the store)."""
        ended, self.ended = self.ended, asyncio.Event()
        ended.set()

    def cancel_local(self, op_id: str) -> None:
        """A cancel was requested for an operation: if it runs here, tell its handler and
        give it ``operation_cancel_grace_seconds`` to reach a checkpoint before
        cancelling its task."""
        run = self.running.get(op_id)
        if run is None or not run.opctx.request_cancel():
            return
        if run.killer is None and not run.task.done():
            run.killer = asyncio.get_running_loop().call_later(
                self.ctx.settings.operation_cancel_grace_seconds, run.task.cancel)

    def lost(self, op_id: str) -> None:
        """Another process ended this operation (it thought this one dead): stop it."""
        run = self.running.get(op_id)
        if run is not None and not run.lost:
            log.warning("operation %s is no longer held by this process: stopping it", op_id)
            run.lost = True
            run.task.cancel()

    async def worker(self, n: int) -> None:
        # worker 0 of several is kept for urgent work (backups, restores): a queue of
        # long checks or routines never leaves a backup waiting for a free worker
        urgent_only = n == 0 and self.ctx.settings.operation_workers > 1
        while not self.stopping:
            self.wake.clear()
            try:
                record = await self.claim(urgent_only=urgent_only)
            except Exception:
                log.exception("operations worker %d could not claim work", n)
                record = None
            if record is None and urgent_only:
                # the other workers poll the store for all types, urgent ones first: this
                # one looks at the poll interval only while they are all busy
                poll = self.ctx.settings.operation_poll_seconds
                others_busy = len(self.running) >= self.ctx.settings.operation_workers - 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), poll if others_busy else 4 * poll)
                continue
            if record is None:
                if self.poll_lock.locked():
                    # another idle worker polls the store (for work queued by other
                    # processes): wait until it, or this process, finds some
                    await self.wake.wait()
                    continue
                async with self.poll_lock:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(),
                                               self.ctx.settings.operation_poll_seconds)
                continue
            if self.stopping:  # claimed while the process began to stop: give it back
                async with self.ctx.meta.begin() as conn:
                    await oq.release_operation(conn, record.id, self.owner)
                return
            self.wake.set()  # there may be more: let another idle worker look
            try:
                await self.run(record)
            except Exception:  # its end could not be written: the sweep will end it
                log.exception("operations worker %d: operation %s", n, record.id)

    async def claim(self, *, urgent_only: bool = False) -> OperationRecord | None:
        """The next pending operation for this process; ``urgent_only``: only of an
        urgent type (the worker kept for work a user waits for)."""
        urgent = self.registry.urgent_names()
        types = urgent if urgent_only else self.registry.type_names()
        async with self.ctx.meta.connect() as conn:
            if not await oq.has_pending(conn, types):
                return None
        async with self.ctx.meta.begin() as conn:
            return await oq.claim_next_operation(conn, types=types, owner=self.owner,
                                                 now=now_ms(), first=urgent)

    async def run(self, record: OperationRecord) -> None:
        op_id = record.id
        optype = self.registry.require(record.type)
        opctx = OperationContext(self, record)

        async def call() -> dict[str, Any] | None:
            return await optype.handler(self.ctx, opctx)

        task = asyncio.create_task(call(), name=f"operation {op_id}")
        run = _Running(opctx, task)
        self.running[op_id] = run
        if opctx.cancel_requested:
            self.cancel_local(op_id)
        beat = asyncio.create_task(self.heartbeat(opctx))
        try:
            await asyncio.wait({task})
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            if run.killer is not None:
                run.killer.cancel()
            self.running.pop(op_id, None)
        await self.finish(run, optype)

    async def heartbeat(self, opctx: OperationContext) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.operation_heartbeat_seconds)
            try:
                await opctx.heartbeat()
            except Exception:
                log.exception("operation %s: heartbeat failed", opctx.id)

    async def finish(self, run: _Running, optype: OperationType) -> None:
        opctx, task = run.opctx, run.task
        op_id = opctx.id
        if run.lost:
            return
        values: dict[str, Any] = {"finished_at": now_ms(), "result": None, "error": None}
        if task.cancelled():
            if opctx.cancel_requested:
                values |= {"status": "canceled", "error": error_json(OperationCanceled(
                    f"operation {op_id} was canceled while it ran"))}
            else:
                values |= {"status": "error",
                           "error": error_json(OperationInterrupted(_INTERRUPTED))}
        else:
            exc = task.exception()
            if isinstance(exc, OperationCanceled):
                values |= {"status": "canceled", "error": error_json(exc)}
            elif isinstance(exc, DbplaneError):
                values |= {"status": "error", "error": error_json(exc)}
            elif exc is not None:
                log.error("operation %s (%s) failed", op_id, optype.name, exc_info=exc)
                values |= {"status": "error", "error": {
                    "code": DbplaneError.code,
                    "message": f"internal error: {type(exc).__name__}: {exc}"}}
            else:
                try:
                    values |= {"status": "done", "result": jsonable(task.result(),
                                                                    "result")}
                except DbplaneError as bad:
                    values |= {"status": "error", "error": error_json(bad)}
        state = opctx.state()
        final = values["status"]
        for step in state["steps"]:
            if step["status"] == "running":
                step["status"] = "canceled" if final == "canceled" else "error"
        if final == "done":
            state["progress"] = 1.0
        values |= state
        for attempt in range(5):
            try:
                if not await self.ctx.meta.write(
                        lambda conn: oq.end_operation(conn, op_id, self.owner, values)):
                    log.warning("operation %s ended here but another process had "
                                "already marked it", op_id)
                self.notify_ended()
                return
            except STORE_UNAVAILABLE:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))

    async def sweep(self) -> None:
        """Look for operations of dead replicas now and then."""
        while not self.stopping:
            await asyncio.sleep(max(self.ctx.settings.operation_stale_seconds / 2, 0.5))
            try:
                await recover_interrupted(self.ctx, self.owner)
            except Exception:
                log.exception("could not look for interrupted operations")

    async def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.notify_ended()  # a long poll answers now: the process is stopping
        if self.running:
            await asyncio.wait([r.task for r in self.running.values()],
                               timeout=self.ctx.settings.operation_stop_grace_seconds)
        for run in list(self.running.values()):
            run.task.cancel()  # ends `error`: the process stopped before it ended
        workers = [t for t in self.tasks if t.get_name().startswith("operations worker")]
        others = [t for t in self.tasks if t not in workers]
        for t in others:
            t.cancel()
        await asyncio.gather(*workers, *others, return_exceptions=True)
        self.stopped.set()


async def start(ctx: AppContext) -> None:
    """Start this process's workers: first end the operations a dead process left
    running, then run pending ones and the periodic tasks until :func:`stop`."""
    if runtime_of(ctx) is not None:
        return
    runtime = Runtime(ctx=ctx, registry=registry_of(ctx),
                      owner=f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}")
    ctx.extensions[_KEY] = runtime
    _LIVE_OWNERS.add(runtime.owner)
    await recover_interrupted(ctx, runtime.owner)
    for n in range(ctx.settings.operation_workers):  # DBPLANE_OPERATION_WORKERS
        runtime.tasks.append(asyncio.create_task(runtime.worker(n),
                                                 name=f"operations worker {n}"))
    runtime.tasks.append(asyncio.create_task(runtime.sweep(), name="operations sweep"))
    runtime.tasks.extend(start_periodic(ctx, lambda: runtime.stopping))


async def stop(ctx: AppContext) -> None:
    """Stop the workers: running operations get ``operation_stop_grace_seconds`` to end,
    then are stopped and marked ``error``; pending ones stay for the next start or a
    replica."""
    runtime = runtime_of(ctx)
    if runtime is None:
        return
    try:
        await runtime.stop()
    finally:
        _LIVE_OWNERS.discard(runtime.owner)
        ctx.extensions.pop(_KEY, None)


def server_closing(ctx: AppContext) -> None:
    """The server has begun to stop taking requests: the requests waiting for an
    operation's end (long polls) answer now, and new ones at once."""
    runtime = runtime_of(ctx)
    if runtime is not None:
        runtime.closing = True
        runtime.notify_ended()


def process_owner(ctx: AppContext) -> str | None:
    """The owner name this process claims operations under (None when not started)."""
    runtime = runtime_of(ctx)
    return runtime.owner if runtime is not None else None
