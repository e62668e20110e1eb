"""Point-in-time restore of a managed database whose type has a ``pitr`` part
(PostgreSQL with ``wal-archiving`` on): base backups, the restorable window and the
``managed.pitr_restore`` operation.

Base backups are taken when the feature is activated (so a window exists at once), with
every backup of the database (manual or periodic), and right after a point-in-time
restore (the window starts again on the new timeline). The newest ``KEEP_BASE_BACKUPS``
are kept, and the archived WAL from the oldest of them on.

The restore works on the server in place: the current data directory is left where it
is and recorded in ``kept["pitr"]``; a new one is built from the newest base backup
before the target, recovers from the archive to the target and promotes (a new
timeline). Only once it serves is the server's ``layout["data_dir"]`` switched to it and
the previous directory removed. A failure at any step stops the new server, removes its
directory and starts the previous one again: it serves as before. The server's state is
``updating`` meanwhile, so supervision leaves it alone, and the database's status is
``restoring``.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbplane.engines import engine_class
from dbplane.engines.managed import ServerPlan
from dbplane.engines.parts import has_part, part
from dbplane.engines.registry import types_with
from dbplane.errors import (
    DbplaneError,
    NotManaged,
    OperationConflict,
    PitrNotEnabled,
    PitrRestoreFailed,
    RestoreTimeInvalid,
    RestoreTimeOutsideWindow,
    Unsupported,
)
from dbplane.meta import managed_queries as mq
from dbplane.meta import queries as q
from dbplane.meta.records import DatabaseRecord
from dbplane.services import managed
from dbplane.services import tables as tables_svc
from dbplane.services.context import AppContext, now_ms
from dbplane.services.databases import resolve_database
from dbplane.services.operations import (
    OperationContext,
    OperationRecord,
    active_operations,
    get_operation,
    start_operation,
)

__all__ = [
    "KEEP_BASE_BACKUPS",
    "OPERATION_TYPE",
    "after_backup",
    "after_features",
    "parse_restore_time",
    "run_pitr_restore",
    "settle_interrupted",
    "start_pitr_restore",
    "take_base_backup",
    "window",
]

KEEP_BASE_BACKUPS = 3
"""Base backups kept per database (the window reaches back to the oldest)."""
OPERATION_TYPE = "managed.pitr_restore"
ARCHIVE_WAIT_SECONDS = 30.0
"""How long the archiver may take to copy the segment a WAL switch closed."""
SETTLE_INTERVAL_SECONDS = 5.0
"""How often a restore interrupted by a stop of dbplane is looked for."""
RECOVERY_TIMEOUT_SECONDS = 6 * 3600.0
"""How long a recovery may replay WAL (the server's process is watched meanwhile)."""

_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)$")


def parse_restore_time(value: object) -> datetime:
    """An RFC 3339 time with its offset (``2019-07-18T23:00:00Z``), as UTC;
    RestoreTimeInvalid (422) naming the value otherwise."""
    text = value if isinstance(value, str) else None
    if text is None or not _RFC3339.match(text):
        raise RestoreTimeInvalid(f"restore_time: {value!r} is not an RFC 3339 time with an "
                                 "offset, such as 2019-07-18T23:00:00Z",
                                 field="restore_time", value=value)
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction.group(1)) > 6:  # Python keeps microseconds
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6])
    try:
        return datetime.fromisoformat(text.replace("z", "Z")).astimezone(UTC)
    except ValueError:
        raise RestoreTimeInvalid(f"restore_time: {value!r} is not a valid date and time",
                                 field="restore_time", value=value) from None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _pitr_of(row: DatabaseRecord) -> Any:
    cls = engine_class(row.type_name)
    if not has_part(cls, "pitr"):
        supported = types_with("pitr")
        raise Unsupported(f"point-in-time restore is for managed {', '.join(supported)} "
                          f"databases; {row.resource_id!r} is {row.type_name}",
                          database=row.resource_id, type_name=row.type_name,
                          supported=supported)
    return part(cls, "pitr")()


async def _target(ctx: AppContext, ref: str) -> tuple[managed.ManagedHandle, Any]:
    """The managed server and its ``pitr`` part; 4xx naming why not."""
    row = await resolve_database(ctx, ref)
    if row.mode != "managed":
        _pitr_of(row)  # a type without the part is told that first
        raise NotManaged(f"point-in-time restore needs a managed database (dbplane runs "
                         f"its server and archives its WAL); {row.resource_id!r} is "
                         f"{row.mode}", database=row.resource_id)
    pitr = _pitr_of(row)
    handle = await managed.handle_for(ctx, row)
    return handle, pitr


def _enabled(handle: managed.ManagedHandle, pitr: Any) -> bool:
    state = handle.record.features.get(pitr.feature) or {}
    return state.get("status") == "ACTIVATED"


def _require_enabled(handle: managed.ManagedHandle, pitr: Any) -> None:
    if not _enabled(handle, pitr):
        raise PitrNotEnabled(
            f"point-in-time restore of {handle.row.resource_id!r} needs the feature "
            f"{pitr.feature} (POST /v1/databases/{handle.row.resource_id}/features "
            f'{{"feature": {{"name": "{pitr.feature}"}}}})', database=handle.row.resource_id,
            feature=pitr.feature)


def _running(ctx: AppContext, handle: managed.ManagedHandle) -> bool:
    return handle.record.state == "running" and managed.runtime_of(ctx).status(
        handle.record.pid, handle.server.marker(handle.plan)) == "running"


async def _archive_now(ctx: AppContext, handle: managed.ManagedHandle, pitr: Any,
                       *, mark: bool) -> None:
    """Switch to a new WAL segment (after a transaction when ``mark``) and wait until
    the archiver has copied the closed one."""
    segment = await (pitr.mark_end(handle.url) if mark else pitr.switch_wal(handle.url))
    deadline = time.monotonic() + ARCHIVE_WAIT_SECONDS
    while not await pitr.archived(handle.url, segment):
        if time.monotonic() > deadline:
            raise PitrRestoreFailed(
                f"the WAL segment {segment} was not archived within "
                f"{ARCHIVE_WAIT_SECONDS:.0f} s: the archive cannot reach now "
                f"({handle.server.log_tail(handle.plan, 300)})",
                database=handle.row.resource_id)
        await asyncio.sleep(0.05)


async def _window(ctx: AppContext, handle: managed.ManagedHandle, pitr: Any) -> Any:
    timeline = None
    if _running(ctx, handle):
        try:
            await _archive_now(ctx, handle, pitr, mark=False)
            timeline = (await pitr.state(handle.url))[1] or None
        except (DbplaneError, OSError):
            timeline = None  # the window is then what the archive has now
    return await asyncio.to_thread(pitr.window, handle.plan, timeline)


async def window(ctx: AppContext, ref: str) -> dict[str, Any]:
    """``GET .../pitr``: the restorable window (``earliest``, ``latest``, RFC 3339), its
    ranges, the base backups and the archive's state."""
    handle, pitr = await _target(ctx, ref)
    _require_enabled(handle, pitr)
    found = await _window(ctx, handle, pitr)
    return {"database_id": handle.row.id, "feature": pitr.feature, **found.public(),
            "base_backups_kept": KEEP_BASE_BACKUPS}


async def start_pitr_restore(ctx: AppContext, ref: str, restore_time: object, *,
                             created_by: str | None) -> OperationRecord:
    """Check everything, then start ``managed.pitr_restore``; answers the operation.
    NotManaged / Unsupported (400), RestoreTimeInvalid / RestoreTimeOutsideWindow (422),
    PitrNotEnabled / OperationConflict (409): nothing changes."""
    handle, pitr = await _target(ctx, ref)
    target = parse_restore_time(restore_time)
    _require_enabled(handle, pitr)
    row = handle.row
    for op in await active_operations(ctx, row.id):
        raise OperationConflict(f"operation {op.id} ({op.type}) is {op.status} on "
                                f"{row.resource_id!r}; the point-in-time restore must wait "
                                "until it ends", operation_id=op.id, operation_type=op.type,
                                database=row.resource_id)
    if not _running(ctx, handle):
        raise PitrNotEnabled(f"the server of {row.resource_id!r} is "
                             f"{handle.record.state}: start it first (the restore checks "
                             "the archive against it)", database=row.resource_id,
                             state=handle.record.state)
    found = await _window(ctx, handle, pitr)
    base = found.base_for(target)
    if base is None:
        shown = found.public()
        where = (f"the restorable window is {shown['earliest']} to {shown['latest']}"
                 if shown["earliest"] else f"nothing can be restored yet: {found.reason}")
        raise RestoreTimeOutsideWindow(
            f"restore_time {_iso(target)} is outside the window of {row.resource_id!r}: "
            f"{where}", field="restore_time", value=_iso(target),
            earliest=shown["earliest"], latest=shown["latest"],
            ranges=shown["ranges"])
    return await start_operation(ctx, OPERATION_TYPE, database_id=row.id, params={
        "restore_time": _iso(target), "base_backup": base.id}, created_by=created_by)


# -- base backups --------------------------------------------------------------------


async def take_base_backup(ctx: AppContext, handle: managed.ManagedHandle,
                           pitr: Any) -> dict[str, Any]:
    """A base backup of the running server (pruning the old ones); its manifest."""
    rt = managed.runtime_of(ctx)
    base = await asyncio.to_thread(pitr.base_backup, rt, handle.plan, KEEP_BASE_BACKUPS)
    await pitr.mark(handle.url)  # its window opens at once, even on an idle database
    public: dict[str, Any] = base.public()
    return public


async def after_backup(ctx: AppContext, row: DatabaseRecord, op: OperationContext) -> None:
    """With a backup (manual or periodic): a base backup too, when point-in-time restore
    is on. Its failure is logged in the backup's operation, which it does not fail."""
    if row.mode != "managed" or not has_part(engine_class(row.type_name), "pitr"):
        return
    handle, pitr = await _target(ctx, row.id)
    if not _enabled(handle, pitr) or not _running(ctx, handle):
        return
    async with op.step("base backup"):
        try:
            base = await take_base_backup(ctx, handle, pitr)
            await op.log(f"base backup {base['id']} for point-in-time restore "
                         f"({base['size']} bytes)")
        except DbplaneError as exc:
            await op.log(f"base backup for point-in-time restore failed: {exc.detail}")


async def after_features(ctx: AppContext, handle: managed.ManagedHandle,
                         names: list[str]) -> None:
    """Once features are finished: the first base backup when the one point-in-time
    restore needs was turned on (so a window exists at once)."""
    if not has_part(engine_class(handle.row.type_name), "pitr"):
        return
    pitr = _pitr_of(handle.row)
    if pitr.feature in names and _enabled(handle, pitr):
        await take_base_backup(ctx, handle, pitr)


# -- the restore ---------------------------------------------------------------------


def _with_data_dir(handle: managed.ManagedHandle, data: Path) -> managed.ManagedHandle:
    plan = replace(handle.plan, layout={**handle.plan.layout, "data_dir": str(data)})
    return managed.ManagedHandle(handle.row, handle.record, handle.server, plan)


def _data_dir(plan: ServerPlan) -> Path:
    return Path(plan.layout.get("data_dir") or plan.directory / "data")


async def run_pitr_restore(ctx: AppContext, op: OperationContext) -> dict[str, Any]:
    """``managed.pitr_restore``: see the module's docstring."""
    async with ctx.meta.connect() as conn:
        row = await q.get_database_by_ref(conn, op.database_id or "")
    if row is None:
        raise PitrRestoreFailed("the database is gone", database=op.database_id)
    target = parse_restore_time(op.params["restore_time"])
    handle, pitr = await _target(ctx, row.id)
    rt = managed.runtime_of(ctx)
    old_dir = _data_dir(handle.plan)
    new_dir = handle.plan.directory / f"data-pitr-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
    new = _with_data_dir(handle, new_dir)
    kept = dict(handle.record.kept or {})
    was_running = _running(ctx, handle)
    state_before = handle.record.state
    await managed.save_server(ctx, handle, state="updating", kept={**kept, "pitr": {
        "data_dir": str(old_dir), "new_data_dir": str(new_dir), "operation_id": op.id,
        "restore_time": _iso(target), "since": now_ms()}})
    new_pid: int | None = None
    stopped = False
    try:
        async with op.step("check the window"):
            _require_enabled(handle, pitr)
            timeline = None
            if was_running:
                await _archive_now(ctx, handle, pitr, mark=True)
                timeline = (await pitr.state(handle.url))[1] or None
            found = await asyncio.to_thread(pitr.window, handle.plan, timeline)
            base = found.base_for(target)
            if base is None:
                shown = found.public()
                raise RestoreTimeOutsideWindow(
                    f"restore_time {_iso(target)} is no longer in the window "
                    f"({shown['earliest']} to {shown['latest']})",
                    field="restore_time", value=_iso(target))
            await op.log(f"base backup {base.id} (ended {base.finished_at.isoformat()}), "
                         f"WAL up to {found.last_segment}")
            await op.progress(0.1, "window checked")
        async with op.step("stop the server"):
            await managed.stop_process(ctx, handle)
            stopped = True
            await managed.save_server(ctx, handle, pid=None)
        async with op.step("extract the base backup"):
            await asyncio.to_thread(pitr.prepare_recovery, rt, handle.plan, base, target,
                                    new_dir)
            await managed.write_config(ctx, new, dict(handle.record.settings))
            await op.progress(0.3, "base backup extracted")
        async with op.step("recover to the target"):
            new_pid = await managed.start_process(ctx, new)
            await _wait_promoted(ctx, new, pitr, new_pid, base.timeline, op)
            await op.progress(0.8, "promoted")
        async with op.step("verify"):
            await managed.wait_ready(ctx, new, new_pid)
            in_recovery, timeline = await pitr.state(new.url)
            if in_recovery or timeline <= base.timeline:
                raise PitrRestoreFailed(f"the restored server is on timeline {timeline}, "
                                        "not a new one", database=row.resource_id)
            await asyncio.to_thread(pitr.finish_recovery, rt, new.plan, new_dir)
            await op.log(f"serving on timeline {timeline}")
    except BaseException as exc:
        await _roll_back(ctx, handle, new, new_pid, new_dir, kept, stopped and was_running,
                         "running" if was_running else state_before, exc)
        if isinstance(exc, DbplaneError) and not isinstance(exc, PitrRestoreFailed):
            raise PitrRestoreFailed(f"the point-in-time restore failed ({exc.detail}); the "
                                    "previous data directory serves as before",
                                    database=row.resource_id) from exc
        raise
    async with op.step("switch the data directory"):
        await managed.save_server(ctx, new, state="running", detail=None, restarts=0,
                                  layout={**handle.plan.layout, "data_dir": str(new_dir)})
        await ctx.connections.drop(row.id)
        tables_svc.forget_database(ctx, row.id)
    async with op.step("remove the previous data directory"):
        await asyncio.to_thread(shutil.rmtree, old_dir, True)
        await managed.save_server(ctx, new, kept=kept)
    base_after: dict[str, Any] | None = None
    async with op.step("base backup on the new timeline"):
        try:
            base_after = await take_base_backup(ctx, new, pitr)
        except DbplaneError as exc:
            await op.log(f"base backup failed: {exc.detail} (the window starts at the "
                         "next backup)")
    return {"database_id": row.id, "restore_time": _iso(target), "base_backup": base.id,
            "timeline": timeline, "data_dir": str(new_dir),
            "new_base_backup": base_after["id"] if base_after else None}


async def _wait_promoted(ctx: AppContext, handle: managed.ManagedHandle, pitr: Any,
                         pid: int, old_timeline: int, op: OperationContext) -> None:
    rt = managed.runtime_of(ctx)
    deadline = time.monotonic() + RECOVERY_TIMEOUT_SECONDS
    while True:
        if rt.status(pid, handle.server.marker(handle.plan)) != "running":
            raise PitrRestoreFailed(
                "the recovering server exited: "
                f"{handle.server.log_tail(handle.plan, 600) or 'no log'}",
                database=handle.row.resource_id)
        try:
            in_recovery, timeline = await pitr.state(handle.url)
            if not in_recovery and timeline > old_timeline:
                return
        except (TimeoutError, OSError, DbplaneError):
            pass
        except Exception as exc:  # the driver's "starting up": not ready yet
            if "starting up" not in str(exc) and "shutting down" not in str(exc) \
                    and "recovery" not in str(exc):
                await op.log(f"waiting for the recovery: {exc}")
        if time.monotonic() > deadline:
            raise PitrRestoreFailed(f"the recovery did not end within "
                                    f"{RECOVERY_TIMEOUT_SECONDS:.0f} s",
                                    database=handle.row.resource_id)
        await asyncio.sleep(0.05)


async def _roll_back(ctx: AppContext, old: managed.ManagedHandle,
                     new: managed.ManagedHandle, new_pid: int | None, new_dir: Path,
                     kept: dict[str, Any], restart: bool, state: str,
                     exc: BaseException) -> None:
    """Stop the new server, remove its directory, start the previous one again."""
    rt = managed.runtime_of(ctx)
    reason = exc.detail if isinstance(exc, DbplaneError) else repr(exc)
    if new_pid is not None and rt.status(new_pid, new.server.marker(new.plan)) == "running":
        await asyncio.to_thread(rt.stop, new_pid, 30.0, new.server.stop_signal)
    await asyncio.to_thread(shutil.rmtree, new_dir, True)
    try:
        if restart:
            pid = await managed.start_process(ctx, old)
            await managed.wait_ready(ctx, old, pid)
        await managed.save_server(
            ctx, old, state=state, kept=kept,
            detail=f"the last point-in-time restore failed and was rolled back: "
                   f"{reason}"[:2000])
    except DbplaneError as again:
        await managed.save_server(ctx, old, state="error", kept=kept,
                                  detail=f"the point-in-time restore failed ({reason}) and "
                                  f"the previous server did not start again: "
                                  f"{again.detail}"[:2000])
    await ctx.connections.drop(old.row.id)


async def settle_interrupted(ctx: AppContext) -> None:
    """The ``pitr.settle`` periodic task: a server left ``updating`` with ``kept["pitr"]``
    whose restore operation has ended without finishing it (dbplane was stopped or
    killed midway) is rolled back as a failed restore is: the new server stopped, its
    directory removed, the previous one started again."""
    async with ctx.meta.connect() as conn:
        records = await mq.list_managed_servers(conn)
    for record in records:
        info = (record.kept or {}).get("pitr")
        if record.state != "updating" or not isinstance(info, dict):
            continue
        try:
            op = await get_operation(ctx, str(info.get("operation_id")))
            if op.status in ("pending", "running"):
                continue
        except DbplaneError:
            pass  # the operation is gone: nothing will finish the restore
        async with ctx.meta.connect() as conn:
            row = await q.get_database_by_ref(conn, record.database_id)
        if row is None or not await managed.claim_interrupted(ctx, record, "pitr"):
            continue  # gone, or another task or process undoes it
        handle = await managed.handle_for(ctx, row)
        kept = {k: v for k, v in (record.kept or {}).items() if k != "pitr"}
        new_dir = Path(str(info.get("new_data_dir")))
        if _data_dir(handle.plan) == new_dir:  # it had switched: only the record is left
            await managed.save_server(ctx, handle, state="running", kept=kept)
            continue
        interrupted = PitrRestoreFailed("the point-in-time restore was interrupted (dbplane "
                                        "stopped while it ran)", database=row.resource_id)
        await _roll_back(ctx, handle, _with_data_dir(handle, new_dir), record.pid, new_dir,
                         kept, True, "running", interrupted)
