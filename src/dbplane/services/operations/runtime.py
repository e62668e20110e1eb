"""Operations (issue 7): one model for every long task.

A long task is persisted in the metadata store as a *pending* operation and run by one of
the workers inside a dbplane process: N asyncio workers per process claim pending
operations (``FOR UPDATE SKIP LOCKED`` plus a conditional ``UPDATE`` on PostgreSQL, the
conditional ``UPDATE`` alone on SQLite), so several processes sharing one store never run
the same operation twice. A running operation has a heartbeat; one left ``running`` by a
dead process (a previous life of this one, or a replica whose heartbeat is stale) ends
``error`` with the reason at the next start, or at the next sweep of any live replica.

Handler modules register their types at import time::

    register_operation_type("backup", run_backup, conflict_group="data")

and services start operations with :func:`start_operation`; the handler receives an
:class:`OperationContext` to record steps, progress and log lines and to notice a cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.exc import DBAPIError

from dbplane.errors import (
    DatabaseNotFound,
    DatabaseUnreachable,
    DbplaneError,
    OperationCanceled,
    OperationConflict,
    OperationInterrupted,
    OperationNotCancellable,
    OperationNotFound,
)
from dbplane.meta import operations_queries as oq
from dbplane.meta import queries as mq
from dbplane.services.context import AppContext, now_ms

__all__ = [
    "CONFIG",
    "STATUSES",
    "OperationContext",
    "OperationHandler",
    "OperationsConfig",
    "active_operations",
    "cancel_operation",
    "get_operation",
    "list_operations",
    "operation_types",
    "public_operation",
    "recover_interrupted",
    "register_operation_type",
    "register_periodic",
    "start",
    "start_operation",
    "stop",
    "wait_operation",
]

log = logging.getLogger("dbplane.operations")

STATUSES = ("pending", "running", "done", "error", "canceled")
LOG_LINES = 50
LOG_LINE_CHARS = 1000


@dataclass
class OperationsConfig:
    """How the workers of this process behave (tests may change the module's CONFIG
    before an app starts)."""

    poll_seconds: float = 0.5
    """How often an idle worker looks for work queued by another process."""
    heartbeat_seconds: float = 1.0
    """How often a running operation records that it is alive (and sees a cancel)."""
    stale_seconds: float = 30.0
    """A running operation without a heartbeat for this long belongs to a dead process."""
    progress_every_seconds: float = 0.5
    """Progress and log lines are written at most this often."""
    cancel_grace_seconds: float = 2.0
    """After a cancel, how long a handler has to reach a checkpoint before its task is
    cancelled (a handler waiting on I/O)."""
    stop_grace_seconds: float = 3.0
    """At shutdown, how long running operations have to end before they are stopped."""


CONFIG = OperationsConfig()


# -- registry -------------------------------------------------------------------------


class OperationContext:
    """What a running operation's handler receives."""

    def __init__(self, runtime: _Runtime, row: dict[str, Any]) -> None:
        self.id: str = row["id"]
        self.type: str = row["type"]
        self.database_id: str | None = row["database_id"]
        self.params: dict[str, Any] = dict(row["params"] or {})
        self._runtime = runtime
        self._steps: list[dict[str, Any]] = list(row["steps"] or [])
        self._log: list[str] = list(row["log"] or [])
        self._progress: float = float(row["progress"] or 0.0)
        self._message: str | None = row["message"]
        self._cancel = bool(row["cancel_requested"])
        self._dirty = False
        self._last_write = 0.0
        self._write_lock = asyncio.Lock()

    # -- what handlers call --

    def step(self, name: str) -> AbstractAsyncContextManager[None]:
        """A named step: recorded running, then done (with duration) or error (written
        with the progress, at most every ``progress_every_seconds``, and at the end)."""
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
        ``progress_every_seconds``."""
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

    # -- what the worker uses --

    def state(self) -> dict[str, Any]:
        return {"steps": [dict(s) for s in self._steps], "log": list(self._log),
                "progress": self._progress, "message": self._message}

    async def _write(self, *, force: bool = False, heartbeat: bool = False) -> None:
        """Persist the state (and heartbeat) if due; notices a cancel or a lost claim."""
        now = time.monotonic()
        due = self._dirty and (now - self._last_write >= CONFIG.progress_every_seconds)
        if not (force or heartbeat or due):
            return
        async with self._write_lock:
            values: dict[str, Any] = {"heartbeat_at": now_ms()}
            if self._dirty or force:
                values |= self.state()
                self._dirty = False
            self._last_write = now
            try:
                async with self._runtime.ctx.meta.begin() as conn:
                    answer = await oq.heartbeat_operation(conn, self.id,
                                                          self._runtime.owner, values)
            except DBAPIError as exc:  # a busy store: the next write carries the state
                log.warning("operation %s: could not record its state: %s", self.id, exc)
                self._dirty = True
                return
        if answer is None:
            self._runtime.lost(self.id)
        elif answer and not self._cancel:
            self._runtime.cancel_local(self.id)


OperationHandler = Callable[[AppContext, OperationContext], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class _OperationType:
    name: str
    handler: OperationHandler
    conflict_group: str | None
    cancellable: bool


@dataclass(frozen=True)
class _Periodic:
    name: str
    fn: Callable[[AppContext], Awaitable[None]]
    interval_seconds: float


_TYPES: dict[str, _OperationType] = {}
_PERIODIC: dict[str, _Periodic] = {}


def register_operation_type(type_name: str, handler: OperationHandler, *,
                            conflict_group: str | None = None,
                            cancellable: bool = True) -> None:
    """Make ``type_name`` runnable by this process's workers.

    Operations of one database in the same ``conflict_group`` never overlap: starting one
    while another of the group is pending or running raises OperationConflict (409) whose
    message names the running operation's id and type. Registering a name again replaces
    its handler (a module reloaded by tests)."""
    if not type_name or len(type_name) > 64:
        raise ValueError(f"an operation type name has 1 to 64 characters: {type_name!r}")
    _TYPES[type_name] = _OperationType(type_name, handler, conflict_group, cancellable)


def operation_types() -> list[str]:
    """The operation types this process can run."""
    return sorted(_TYPES)


def register_periodic(name: str, fn: Callable[[AppContext], Awaitable[None]],
                      interval_seconds: float) -> None:
    """A task the worker loop runs every ``interval_seconds`` inside each dbplane process
    (it must itself be safe with several replicas). Its errors are logged, never fatal."""
    if interval_seconds <= 0:
        raise ValueError("interval_seconds must be positive")
    _PERIODIC[name] = _Periodic(name, fn, interval_seconds)


# -- the public operation object ------------------------------------------------------


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def public_operation(row: dict[str, Any]) -> dict[str, Any]:
    """The API's operation object of a metadata row."""
    return {
        "id": row["id"],
        "type": row["type"],
        "database_id": row["database_id"],
        "status": row["status"],
        "created_at": _iso(row["created_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "progress": float(row["progress"] or 0.0),
        "message": row["message"],
        "steps": [{"name": s["name"], "status": s["status"],
                   "started_at": _iso(s.get("started_at")),
                   "duration_ms": s.get("duration_ms")} for s in row["steps"] or []],
        "log": list(row["log"] or []),
        "params": row["params"] or {},
        "result": row["result"],
        "error": row["error"],
        "created_by": row["created_by"],
        "cancel_requested": bool(row["cancel_requested"]),
        "owner": row["owner"],
        "attempts": int(row["attempts"] or 0),
    }


def _error(exc: DbplaneError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.detail}


def _jsonable(value: Any, what: str) -> Any:
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError as exc:
        raise DbplaneError(f"the operation's {what} is not JSON: {exc}") from exc


# -- starting, reading, cancelling ----------------------------------------------------


async def start_operation(ctx: AppContext, type_name: str, *, database_id: str | None,
                          params: dict[str, Any], created_by: str | None) -> dict[str, Any]:
    """Persist a pending operation and wake a worker; answers the public operation object.

    OperationConflict (409) when an operation of the same conflict group is pending or
    running on the database."""
    optype = _TYPES.get(type_name)
    if optype is None:
        raise DbplaneError(f"no operation type {type_name!r} is registered")
    slot = (f"{database_id or '-'}:{optype.conflict_group}"
            if optype.conflict_group else None)
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()), "type": type_name, "database_id": database_id,
        "status": "pending", "conflict_slot": slot,
        "params": _jsonable(params, "params"), "result": None, "error": None,
        "steps": [], "log": [], "progress": 0.0, "message": None,
        "created_by": created_by, "owner": None, "attempts": 0,
        "cancel_requested": False, "created_at": now_ms(), "started_at": None,
        "finished_at": None, "heartbeat_at": None,
    }
    for _ in range(3):
        try:
            async with ctx.meta.begin() as conn:
                await oq.insert_operation(conn, row)
        except oq.SlotTaken:
            assert slot is not None
            async with ctx.meta.connect() as conn:
                holder = await oq.get_active_in_slot(conn, slot)
            if holder is None:  # it ended in between: try again
                continue
            raise OperationConflict(
                f"operation {holder['id']} ({holder['type']}) is {holder['status']} on "
                f"this database; {type_name} must wait until it ends (or cancel it)",
                operation_id=holder["id"], operation_type=holder["type"],
                database=database_id) from None
        else:
            break
    else:
        raise OperationConflict(f"operations of the group {optype.conflict_group!r} keep "
                                "starting on this database; try again",
                                database=database_id)
    runtime = _runtime_of(ctx)
    if runtime is not None:
        runtime.wake.set()
    return public_operation(row)


async def _row(ctx: AppContext, op_id: str) -> dict[str, Any]:
    async with ctx.meta.connect() as conn:
        row = await oq.get_operation(conn, op_id)
    if row is None:
        raise OperationNotFound(op_id)
    return row


async def get_operation(ctx: AppContext, op_id: str) -> dict[str, Any]:
    """The public operation object; OperationNotFound (404)."""
    return public_operation(await _row(ctx, op_id))


async def list_operations(ctx: AppContext, *, database_id: str | None = None,
                          status: str | None = None, type_name: str | None = None,
                          limit: int = 100) -> list[dict[str, Any]]:
    """Operations, newest first, filtered by database id, status and type."""
    async with ctx.meta.connect() as conn:
        rows = await oq.list_operations(conn, database_id=database_id, status=status,
                                        type_name=type_name, limit=limit)
    return [public_operation(r) for r in rows]


async def active_operations(ctx: AppContext, database_id: str) -> list[dict[str, Any]]:
    """The pending and running operations of a database, oldest first."""
    async with ctx.meta.connect() as conn:
        rows = await oq.list_active_for_database(conn, database_id)
    return [public_operation(r) for r in rows]


async def cancel_operation(ctx: AppContext, op_id: str) -> dict[str, Any]:
    """Cancel an operation: a pending one ends ``canceled`` at once; a running one is
    asked to stop (it ends ``canceled`` once its handler has cleaned up).

    OperationNotFound (404); OperationNotCancellable (409) when it has ended or its type
    cannot stop midway."""
    for _ in range(3):
        row = await _row(ctx, op_id)
        status = row["status"]
        if status == "pending":
            error = _error(OperationCanceled(f"operation {op_id} was canceled before it "
                                             "started"))
            async with ctx.meta.begin() as conn:
                canceled = await oq.cancel_pending(conn, op_id, now_ms(), error)
            if canceled:
                return await get_operation(ctx, op_id)
            continue  # a worker claimed it in between
        if status == "running":
            optype = _TYPES.get(row["type"])
            if optype is not None and not optype.cancellable:
                raise OperationNotCancellable(
                    f"operation {op_id} ({row['type']}) cannot be canceled while it "
                    "runs: stopping it midway would leave the database half changed",
                    operation_id=op_id, operation_type=row["type"])
            async with ctx.meta.begin() as conn:
                if not await oq.request_cancel(conn, op_id):
                    continue  # it ended in between
            runtime = _runtime_of(ctx)
            if runtime is not None:
                runtime.cancel_local(op_id)
            return await get_operation(ctx, op_id)
        raise OperationNotCancellable(f"operation {op_id} has already ended ({status})",
                                      operation_id=op_id, status=status)
    return await get_operation(ctx, op_id)


async def wait_operation(ctx: AppContext, op_id: str, within: float | None = None,
                         poll: float = 0.1) -> dict[str, Any]:
    """Poll until the operation has ended (for services and tests); TimeoutError after
    ``within`` seconds."""
    deadline = None if within is None else time.monotonic() + within
    while True:
        op = await get_operation(ctx, op_id)
        if op["status"] not in oq.ACTIVE:
            return op
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"operation {op_id} is still {op['status']}")
        await asyncio.sleep(poll)


# -- the workers ----------------------------------------------------------------------

_KEY = "operations"
_HOST = socket.gethostname()
_LIVE_OWNERS: set[str] = set()
"""The owners of the runtimes started in this process (tests run several apps in one)."""


def _runtime_of(ctx: AppContext) -> _Runtime | None:
    runtime = ctx.extensions.get(_KEY)
    return runtime if isinstance(runtime, _Runtime) else None


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
    """End as ``error`` the operations left running by a dead process; their ids."""
    me = owner or ""
    async with ctx.meta.connect() as conn:
        running = await oq.list_running_operations(conn)
    dead = {r["owner"] for r in running if _owner_is_dead(r["owner"], me)}
    now = now_ms()
    error = _error(OperationInterrupted(
        "the dbplane process running it stopped before it ended; start it again"))
    async with ctx.meta.begin() as conn:
        ended = await oq.mark_interrupted(
            conn, owners=sorted(dead),
            stale_before=now - round(CONFIG.stale_seconds * 1000), now=now, error=error)
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
class _Runtime:
    ctx: AppContext
    owner: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # held by the one idle worker that polls the store; the others wait for `wake`
    poll_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    running: dict[str, _Running] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: bool = False
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    def cancel_local(self, op_id: str) -> None:
        """A cancel was requested for an operation: if it runs here, tell its handler and
        give it ``cancel_grace_seconds`` to reach a checkpoint before cancelling its task."""
        run = self.running.get(op_id)
        if run is None or run.opctx._cancel:
            return
        run.opctx._cancel = True
        if run.killer is None and not run.task.done():
            run.killer = asyncio.get_running_loop().call_later(
                CONFIG.cancel_grace_seconds, run.task.cancel)

    def lost(self, op_id: str) -> None:
        """Another process ended this operation (it thought this one dead): stop it."""
        run = self.running.get(op_id)
        if run is not None and not run.lost:
            log.warning("operation %s is no longer held by this process: stopping it", op_id)
            run.lost = True
            run.task.cancel()

    async def worker(self, n: int) -> None:
        while not self.stopping:
            self.wake.clear()
            try:
                row = await self.claim()
            except Exception:
                log.exception("operations worker %d could not claim work", n)
                row = None
            if row is None:
                if self.poll_lock.locked():
                    # another idle worker polls the store (for work queued by other
                    # processes): wait until it, or this process, finds some
                    await self.wake.wait()
                    continue
                async with self.poll_lock:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), CONFIG.poll_seconds)
                continue
            if self.stopping:  # claimed while the process began to stop: give it back
                async with self.ctx.meta.begin() as conn:
                    await oq.release_operation(conn, row["id"], self.owner)
                return
            self.wake.set()  # there may be more: let another idle worker look
            try:
                await self.run(row)
            except Exception:  # its end could not be written: the sweep will end it
                log.exception("operations worker %d: operation %s", n, row["id"])

    async def claim(self) -> dict[str, Any] | None:
        types = list(_TYPES)
        async with self.ctx.meta.connect() as conn:
            if not await oq.has_pending(conn, types):
                return None
        async with self.ctx.meta.begin() as conn:
            return await oq.claim_next_operation(conn, types=types, owner=self.owner,
                                                 now=now_ms())

    async def run(self, row: dict[str, Any]) -> None:
        op_id = row["id"]
        optype = _TYPES[row["type"]]
        opctx = OperationContext(self, row)

        async def call() -> dict[str, Any] | None:
            return await optype.handler(self.ctx, opctx)

        task = asyncio.create_task(call(), name=f"operation {op_id}")
        run = _Running(opctx, task)
        self.running[op_id] = run
        if opctx._cancel:
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
            await asyncio.sleep(CONFIG.heartbeat_seconds)
            try:
                await opctx._write(heartbeat=True)
            except Exception:
                log.exception("operation %s: heartbeat failed", opctx.id)

    async def finish(self, run: _Running, optype: _OperationType) -> None:
        opctx, task = run.opctx, run.task
        op_id = opctx.id
        if run.lost:
            return
        values: dict[str, Any] = {"finished_at": now_ms(), "result": None, "error": None}
        if task.cancelled():
            if opctx._cancel:
                values |= {"status": "canceled", "error": _error(OperationCanceled(
                    f"operation {op_id} was canceled while it ran"))}
            else:
                values |= {"status": "error", "error": _error(OperationInterrupted(
                    "the dbplane process running it stopped before it ended; start it "
                    "again"))}
        else:
            exc = task.exception()
            if isinstance(exc, OperationCanceled):
                values |= {"status": "canceled", "error": _error(exc)}
            elif isinstance(exc, DbplaneError):
                values |= {"status": "error", "error": _error(exc)}
            elif exc is not None:
                log.error("operation %s (%s) failed", op_id, optype.name, exc_info=exc)
                values |= {"status": "error", "error": {
                    "code": DbplaneError.code,
                    "message": f"internal error: {type(exc).__name__}: {exc}"}}
            else:
                try:
                    values |= {"status": "done", "result": _jsonable(task.result(),
                                                                     "result")}
                except DbplaneError as bad:
                    values |= {"status": "error", "error": _error(bad)}
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
                async with self.ctx.meta.begin() as conn:
                    if not await oq.end_operation(conn, op_id, self.owner, values):
                        log.warning("operation %s ended here but another process had "
                                    "already marked it", op_id)
                return
            except DBAPIError:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))

    async def periodic(self, job: _Periodic) -> None:
        while not self.stopping:
            try:
                await job.fn(self.ctx)
            except Exception:
                log.exception("periodic task %s failed", job.name)
            await asyncio.sleep(job.interval_seconds)

    async def sweep(self) -> None:
        """Look for operations of dead replicas now and then."""
        while not self.stopping:
            await asyncio.sleep(max(CONFIG.stale_seconds / 2, 0.5))
            try:
                await recover_interrupted(self.ctx, self.owner)
            except Exception:
                log.exception("could not look for interrupted operations")

    async def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        if self.running:
            await asyncio.wait([r.task for r in self.running.values()],
                               timeout=CONFIG.stop_grace_seconds)
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
    if _runtime_of(ctx) is not None:
        return
    runtime = _Runtime(ctx=ctx, owner=f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}")
    ctx.extensions[_KEY] = runtime
    _LIVE_OWNERS.add(runtime.owner)
    await recover_interrupted(ctx, runtime.owner)
    for n in range(ctx.settings.operation_workers):  # DBPLANE_OPERATION_WORKERS
        runtime.tasks.append(asyncio.create_task(runtime.worker(n),
                                                 name=f"operations worker {n}"))
    runtime.tasks.append(asyncio.create_task(runtime.sweep(), name="operations sweep"))
    for job in _PERIODIC.values():
        runtime.tasks.append(asyncio.create_task(runtime.periodic(job),
                                                 name=f"periodic {job.name}"))


async def stop(ctx: AppContext) -> None:
    """Stop the workers: running operations get ``stop_grace_seconds`` to end, then are
    stopped and marked ``error``; pending ones stay for the next start or a replica."""
    runtime = _runtime_of(ctx)
    if runtime is None:
        return
    try:
        await runtime.stop()
    finally:
        _LIVE_OWNERS.discard(runtime.owner)
        ctx.extensions.pop(_KEY, None)


def process_owner(ctx: AppContext) -> str | None:
    """The owner name this process claims operations under (None when not started)."""
    runtime = _runtime_of(ctx)
    return runtime.owner if runtime is not None else None


# -- a real operation type: database.check --------------------------------------------


async def _check_database(ctx: AppContext, op: OperationContext) -> dict[str, Any]:
    """A health round trip of a database: reachable or not, the engine's version and the
    latency of ``samples`` round trips, ``interval_ms`` apart."""

    samples = int(op.params.get("samples", 3))
    interval = float(op.params.get("interval_ms", 0)) / 1000
    async with ctx.meta.connect() as conn:
        row = await mq.get_database_by_ref(conn, op.database_id or "")
    if row is None:
        raise DatabaseNotFound(op.database_id or "")
    async with op.step("connect"):
        engine = await ctx.connections.engine_for(row)
        health = await engine.health()
        await op.log(f"{row['resource_id']} ({row['type_name']}): {health.status}")
    if not health.ok:
        return {"reachable": False, "status": health.status, "detail": health.detail,
                "version": None, "samples": 0, "latency_ms": None}
    async with op.step("version"):
        version = await engine.version()
        await op.log(f"version {version}")
    latencies: list[float] = []
    async with op.step("latency"):
        for n in range(samples):
            await op.checkpoint()
            started = time.perf_counter()
            health = await engine.health()
            latencies.append((time.perf_counter() - started) * 1000)
            if not health.ok:
                raise DatabaseUnreachable(f"the database stopped answering during the "
                                          f"check: {health.detail}")
            await op.progress((n + 1) / samples, f"round trip {n + 1}/{samples}")
            if interval and n + 1 < samples:
                await asyncio.sleep(interval)
    await op.log(f"{samples} round trips, average "
                 f"{sum(latencies) / len(latencies):.2f} ms")
    return {"reachable": True, "status": health.status, "detail": None, "version": version,
            "samples": samples,
            "latency_ms": {"min": round(min(latencies), 3), "max": round(max(latencies), 3),
                           "avg": round(sum(latencies) / len(latencies), 3)}}


register_operation_type("database.check", _check_database, conflict_group=None)
