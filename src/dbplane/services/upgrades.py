"""Upgrades of a managed server to a newer build (Scalingo's ``POST .../upgrade``), for a
type with the ``upgrade`` part (PostgreSQL), and their rollback.

``managed.upgrade`` works beside the running server until the last moment:

1. a backup of the database (listed with its backups, restorable like any other);
2. a new cluster of the target build in a new data directory, started on a free port;
3. the current server is restarted on another free port nobody else knows: from here
   until step 6, clients are refused (the unavailability the operation reports);
4. its data moved into the new cluster (``pg_dumpall | psql`` with the current build's
   client tools);
5. verified: both servers' fingerprints (roles, databases, every table's row count and
   content checksum) must be equal;
6. switched over: the new cluster takes the server's port, its ``layout`` (binaries,
   data directory, version) is saved, and the previous data directory, binaries and WAL
   archive are kept in ``kept["upgrade"]``.

A failure at any step stops what was started, removes the new directory and starts the
previous server again on its port: it serves as before. The server's state is
``updating`` meanwhile (supervision leaves it alone) and the database's status is
``upgrading``. ``managed.upgrade_rollback`` switches back to the kept version (what was
written since the upgrade is lost: the CLI asks first); ``remove_previous`` deletes it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbplane.engines import engine_class
from dbplane.engines.fingerprint import compare
from dbplane.engines.parts import has_part, part
from dbplane.engines.registry import types_with
from dbplane.engines.runtime import ProcessSpec
from dbplane.engines.versions import Installation
from dbplane.errors import (
    DbplaneError,
    ManagedServerFailed,
    NoNewerVersion,
    NoPreviousVersion,
    NotManaged,
    OperationConflict,
    PreviousVersionKept,
    ServerNotRunning,
    UnknownVersion,
    UpgradeFailed,
    UpgradeIneligible,
)
from dbplane.meta import managed_queries as mq
from dbplane.meta import queries as q
from dbplane.services import backups, managed
from dbplane.services import tables as tables_svc
from dbplane.services.context import AppContext, now_ms
from dbplane.services.databases import resolve_database, type_id_of
from dbplane.services.operations import (
    OperationContext,
    OperationRecord,
    active_operations,
    get_operation,
    start_operation,
)
from dbplane.services.versions import next_of, survey

__all__ = ["OPERATION_TYPE", "ROLLBACK_TYPE", "SETTLE_INTERVAL_SECONDS", "remove_previous",
           "run_rollback", "run_upgrade", "settle_interrupted", "start_rollback",
           "start_upgrade", "versions"]

OPERATION_TYPE = "managed.upgrade"
ROLLBACK_TYPE = "managed.upgrade_rollback"
SETTLE_INTERVAL_SECONDS = 5.0
"""How often an upgrade interrupted by a stop of dbplane is looked for."""


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _activated(handle: managed.ManagedHandle) -> list[str]:
    return sorted(name for name, state in (handle.record.features or {}).items()
                  if (state or {}).get("status") == "ACTIVATED")


async def _handle(ctx: AppContext, ref: str, what: str) -> managed.ManagedHandle:
    row = await resolve_database(ctx, ref)
    if row.mode != "managed":
        raise NotManaged(f"{what} needs a managed database (dbplane runs its server); "
                         f"{row.resource_id!r} is {row.mode}", database=row.resource_id)
    return await managed.handle_for(ctx, row)


def _previous(handle: managed.ManagedHandle) -> dict[str, Any] | None:
    found = (handle.record.kept or {}).get("upgrade")
    return found if isinstance(found, dict) else None


def _previous_public(prev: dict[str, Any] | None) -> dict[str, Any] | None:
    if prev is None:
        return None
    return {"version_id": prev["version_id"], "readable_version": prev["readable"],
            "data_dir": prev["data_dir"], "upgraded_at": _iso(int(prev["upgraded_at"])),
            "operation_id": prev["operation_id"]}


async def versions(ctx: AppContext, ref: str) -> dict[str, Any]:
    """``GET .../versions``: the build the server runs, the newer ones it can move to
    (``next_version_id`` first among them) and the previous one kept by an upgrade."""
    row = await resolve_database(ctx, ref)
    type_id = type_id_of(row.type_name)
    if row.mode != "managed":
        return {"database_id": row.id, "current": None, "versions": [],
                "next_version_id": None, "previous": None,
                "reason": f"{row.resource_id!r} is {row.mode}: dbplane does not run its "
                          "server, so it cannot upgrade it"}
    handle = await managed.handle_for(ctx, row)
    current, newer = await survey(handle.server, handle.plan)
    following = next_of(current, newer) if current else None
    return {"database_id": row.id,
            "current": current.public(type_id) if current else None,
            "versions": [i.public(type_id) for i in newer],
            "next_version_id": following.id if following else None,
            "previous": _previous_public(_previous(handle)),
            "reason": None if newer else _no_newer(handle, current)}


def _no_newer(handle: managed.ManagedHandle, current: Installation | None) -> str:
    label = engine_class(handle.row.type_name).label or handle.row.type_name
    if not has_part(engine_class(handle.row.type_name), "upgrade"):
        return (f"dbplane upgrades managed {', '.join(types_with('upgrade'))} servers; "
                f"{label} has no newer version available here")
    running = current.readable if current else "the running build"
    return f"no newer version of {label} than {running} is available on this machine"


async def _refuse_busy(ctx: AppContext, handle: managed.ManagedHandle, what: str) -> None:
    for op in await active_operations(ctx, handle.row.id):
        raise OperationConflict(f"operation {op.id} ({op.type}) is {op.status} on "
                                f"{handle.row.resource_id!r}; the {what} must wait until "
                                "it ends", operation_id=op.id, operation_type=op.type,
                                database=handle.row.resource_id)


def _require_running(ctx: AppContext, handle: managed.ManagedHandle, what: str) -> None:
    if handle.record.state != "running" or managed.runtime_of(ctx).status(
            handle.record.pid, handle.server.marker(handle.plan)) != "running":
        raise ServerNotRunning(f"the server of {handle.row.resource_id!r} is "
                               f"{handle.record.state}: start it before the {what}",
                               database=handle.row.resource_id, state=handle.record.state)


async def _check_settings(handle: managed.ManagedHandle, target: Installation) -> None:
    names = list(handle.record.settings or {})
    unknown = await asyncio.to_thread(_upgrade_part(handle).unknown_settings, target,
                                      names) if names else []
    if unknown:
        raise UpgradeIneligible(
            f"{target.readable} does not know the setting(s) {', '.join(unknown)} set on "
            f"{handle.row.resource_id!r}: remove them first (PATCH .../config)",
            database=handle.row.resource_id, settings=unknown, version_id=target.id)


def _upgrade_part(handle: managed.ManagedHandle) -> Any:
    return part(engine_class(handle.row.type_name), "upgrade")()


async def start_upgrade(ctx: AppContext, ref: str, version_id: str | None, *,
                        created_by: str | None) -> tuple[OperationRecord, Installation]:
    """Check eligibility, then start ``managed.upgrade``: the operation and the target.
    NotManaged (400), UnknownVersion (422), NoNewerVersion / UpgradeIneligible /
    PreviousVersionKept / ServerNotRunning / OperationConflict (409): nothing changes."""
    handle = await _handle(ctx, ref, "an upgrade")
    row = handle.row
    current, newer = await survey(handle.server, handle.plan)
    if current is None or not newer:
        found = await asyncio.to_thread(handle.server.installations)
        raise NoNewerVersion(_no_newer(handle, current), database=row.resource_id,
                             current=current.readable if current else None,
                             found=[i.readable for i in found])
    if version_id is None:
        target = next_of(current, newer)
        assert target is not None
    else:
        match = [i for i in newer if i.id == version_id]
        if not match:
            raise UnknownVersion(f"version_id: {version_id!r} is not a version "
                                 f"{row.resource_id!r} can move to (GET "
                                 f"/v1/databases/{row.resource_id}/versions lists them)",
                                 field="version_id", value=version_id,
                                 versions=[i.id for i in newer])
        target = match[0]
    lacking = [f for f in _activated(handle) if f not in target.features]
    if lacking:
        raise UpgradeIneligible(
            f"{row.resource_id!r} has the feature(s) {', '.join(lacking)} activated, which "
            f"{target.readable} ({target.bin_dir}) cannot run: deactivate them first or "
            "install a build that has them", database=row.resource_id, features=lacking,
            version_id=target.id)
    await _check_settings(handle, target)
    prev = _previous(handle)
    if prev is not None:
        raise PreviousVersionKept(
            f"the version before the last upgrade ({prev['readable']}) is still kept: "
            f"roll back to it or remove it first (DELETE /v1/databases/{row.resource_id}"
            "/upgrade/previous)", database=row.resource_id)
    await _refuse_busy(ctx, handle, "upgrade")
    _require_running(ctx, handle, "upgrade")
    op = await start_operation(ctx, OPERATION_TYPE, database_id=row.id, params={
        "version_id": target.id, "from_version_id": current.id,
        "target": target.readable, "from": current.readable}, created_by=created_by)
    return op, target


# -- the upgrade ----------------------------------------------------------------------


async def _stop_pid(ctx: AppContext, handle: managed.ManagedHandle, pid: int | None) -> None:
    rt = managed.runtime_of(ctx)
    if pid is not None and rt.status(pid, handle.server.marker(handle.plan)) == "running":
        await asyncio.to_thread(rt.stop, pid, 60.0, handle.server.stop_signal)


async def _start_ready(ctx: AppContext, handle: managed.ManagedHandle, spec: ProcessSpec,
                       url: str, log: Path) -> int:
    """Start ``spec`` logging to ``log`` of its own (the clusters of an upgrade run side by
    side) and wait until it answers at ``url``; a failure quotes that log's end."""
    rt = managed.runtime_of(ctx)
    spec = replace(spec, log_file=log)
    pid: int = await asyncio.to_thread(rt.start, spec)
    try:
        await managed.wait_ready(ctx, handle, pid, url=url)
    except ManagedServerFailed as exc:
        await _stop_pid(ctx, handle, pid)
        tail = await asyncio.to_thread(_tail, log)
        raise ManagedServerFailed(f"{exc.detail.split(':', 1)[0]}: {tail or 'no log'}",
                                  database=handle.row.resource_id) from exc
    except BaseException:
        await _stop_pid(ctx, handle, pid)
        raise
    return pid


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-600:].strip()
    except OSError:
        return ""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def run_upgrade(ctx: AppContext, op: OperationContext) -> dict[str, Any]:
    """``managed.upgrade``: see the module's docstring."""
    async with ctx.meta.connect() as conn:
        row = await q.get_database_by_ref(conn, op.database_id or "")
    if row is None:
        raise UpgradeFailed("the database is gone", database=op.database_id)
    handle = await managed.handle_for(ctx, row)
    up, server, rt = _upgrade_part(handle), handle.server, managed.runtime_of(ctx)
    found = await asyncio.to_thread(server.installations)
    target = next((i for i in found if i.id == op.params["version_id"]), None)
    current = await asyncio.to_thread(server.installation_of, handle.plan)
    if target is None or current is None:
        raise UpgradeFailed(f"the build {op.params.get('target')} is no longer installed",
                            database=row.resource_id)
    settings = dict(handle.record.settings or {})
    kept = dict(handle.record.kept or {})
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    new_dir = handle.plan.directory / f"data-{target.version[0]}-{stamp}"
    loading = managed.ManagedHandle(row, handle.record, server, up.target_plan(
        handle.plan, target, new_dir, _free_port()))
    final = managed.ManagedHandle(row, handle.record, server,
                                  replace(loading.plan, port=handle.plan.port))
    private_port = _free_port()
    private_url = up.admin_url(replace(handle.plan, port=private_port))
    suffix = f"-{current.label}-{stamp}"
    run: dict[str, Any] = {"operation_id": op.id, "new_data_dir": str(new_dir),
                           "since": now_ms(), "suffix": suffix, "aside": []}
    await managed.save_server(ctx, handle, state="updating",
                              kept={**kept, "upgrade_run": run})
    pids: dict[str, int | None] = {"loading": None, "private": None, "final": None}
    down_since: float | None = None
    backup: dict[str, Any] = {}
    try:
        async with op.step("backup"):
            backup = await backups.backup_within(ctx, op, row, share=0.3)
            await op.log(f"backup {backup['backup_id']} ({backup['size']} bytes)")
        async with op.step("initialise the new cluster"):
            await asyncio.to_thread(server.initialise, rt, loading.plan)
            await managed.write_config(ctx, loading, up.loading_settings(settings))
            pids["loading"] = await _start_ready(
                ctx, loading, server.process(loading.plan), up.admin_url(loading.plan),
                handle.plan.directory / f"upgrade-{stamp}-new.log")
            await _record_run(ctx, handle, kept, run, pids)
            await op.log(f"{target.readable} started on port {loading.plan.port}")
            await op.progress(0.35, "new cluster started")
        async with op.step("stop client connections"):
            down_since = time.monotonic()
            await managed.stop_process(ctx, handle)
            await managed.save_server(ctx, handle, pid=None)
            pids["private"] = await _start_ready(
                ctx, handle, up.private_process(handle.plan, private_port), private_url,
                handle.plan.directory / f"upgrade-{stamp}-current.log")
            await _record_run(ctx, handle, kept, run, pids)
        async with op.step("move the data"):
            await asyncio.to_thread(up.move, rt, handle.plan, private_port, loading.plan)
            await op.progress(0.75, "data moved")
        async with op.step("verify"):
            before, after = await asyncio.gather(up.fingerprint(private_url),
                                                 up.fingerprint(up.admin_url(loading.plan)))
            differences = compare(before, after)
            if differences:
                raise UpgradeFailed(
                    f"the new cluster differs from the current one in {len(differences)} "
                    f"place(s), e.g. {differences[:3]}", database=row.resource_id,
                    differences=differences[:20])
            await op.log(f"verified: {len(before)} roles, databases and tables equal")
        async with op.step("switch over"):
            await _stop_pid(ctx, handle, pids["private"])
            pids["private"] = None
            await _stop_pid(ctx, loading, pids["loading"])
            pids["loading"] = None
            run["aside"] = await asyncio.to_thread(up.set_aside, handle.plan, suffix)
            run["switching"] = True
            await _record_run(ctx, handle, kept, run, pids)
            await managed.write_config(ctx, final, settings)
            pid = pids["final"] = await managed.start_process(ctx, final)
            await managed.wait_ready(ctx, final, pid)
            unavailable = time.monotonic() - down_since
            await op.log(f"{target.readable} serves; clients were refused for "
                         f"{unavailable:.2f} s")
    except BaseException as exc:
        await _undo(ctx, handle, [(loading, pids["loading"]), (handle, pids["private"]),
                                  (final, pids["final"])], new_dir, run, kept, exc)
        if isinstance(exc, UpgradeFailed):
            raise
        reason = exc.detail if isinstance(exc, DbplaneError) else repr(exc)
        raise UpgradeFailed(f"the upgrade to {target.readable} failed ({reason}); "
                            f"{current.readable} serves as before",
                            database=row.resource_id) from exc
    previous = {"version_id": current.id, "readable": current.readable,
                "layout": dict(handle.plan.layout),
                "data_dir": str(_data_dir(handle)), "suffix": suffix, "aside": run["aside"],
                "upgraded_at": now_ms(), "operation_id": op.id,
                "to_data_dir": str(new_dir)}
    await managed.save_server(ctx, final, state="running", detail=None, restarts=0,
                              layout=dict(final.plan.layout),
                              kept={**kept, "upgrade": previous})
    await ctx.connections.drop(row.id)
    tables_svc.forget_database(ctx, row.id)
    await _after_switch(ctx, final, op)
    return {"database_id": row.id, "from": current.readable, "to": target.readable,
            "version_id": target.id, "previous_version_id": current.id,
            "backup_id": backup.get("backup_id"), "unavailable_seconds": round(unavailable, 3),
            "data_dir": str(new_dir), "previous_data_dir": previous["data_dir"]}


async def _record_run(ctx: AppContext, handle: managed.ManagedHandle, kept: dict[str, Any],
                      run: dict[str, Any], pids: dict[str, int | None]) -> None:
    """What a settle after a stop of dbplane midway needs: the processes started."""
    run["pids"] = [pid for pid in pids.values() if pid is not None]
    await managed.save_server(ctx, handle, kept={**kept, "upgrade_run": run})


async def settle_interrupted(ctx: AppContext) -> None:
    """The ``upgrade.settle`` periodic task: a server left ``updating`` with
    ``kept["upgrade_run"]`` whose operation has ended without finishing it (dbplane was
    stopped midway) is undone as a failed upgrade is: what the upgrade started is
    stopped, the new cluster removed, the previous server started again on its port."""
    async with ctx.meta.connect() as conn:
        records = await mq.list_managed_servers(conn)
    for record in records:
        run = (record.kept or {}).get("upgrade_run")
        if record.state != "updating" or not isinstance(run, dict):
            continue
        try:
            op = await get_operation(ctx, str(run.get("operation_id")))
            if op.status in ("pending", "running"):
                continue
        except DbplaneError:
            pass  # the operation is gone: nothing will finish the upgrade
        async with ctx.meta.connect() as conn:
            row = await q.get_database_by_ref(conn, record.database_id)
        if row is None or not await managed.claim_interrupted(ctx, record, "upgrade_run"):
            continue  # gone, or another task or process undoes it
        handle = await managed.handle_for(ctx, row)
        kept = {k: v for k, v in (record.kept or {}).items() if k != "upgrade_run"}
        started: list[tuple[managed.ManagedHandle, int | None]] = [
            (handle, int(pid)) for pid in run.get("pids") or []]
        if run.get("switching"):
            started.append((handle, record.pid))  # the new cluster on the server's port
        interrupted = UpgradeFailed("the upgrade was interrupted (dbplane stopped while it "
                                    "ran)", database=row.resource_id)
        await _undo(ctx, handle, started, Path(str(run.get("new_data_dir"))), run, kept,
                    interrupted)


def _data_dir(handle: managed.ManagedHandle) -> Path:
    return Path(handle.plan.layout.get("data_dir") or handle.plan.directory / "data")


async def _after_switch(ctx: AppContext, handle: managed.ManagedHandle,
                        op: OperationContext) -> None:
    """A new base backup when point-in-time restore is on (the window starts again)."""
    from dbplane.services import pitr

    if not has_part(engine_class(handle.row.type_name), "pitr"):
        return
    pitr_part = part(engine_class(handle.row.type_name), "pitr")()
    if pitr_part.feature not in _activated(handle):
        return
    async with op.step("base backup"):
        try:
            base = await pitr.take_base_backup(ctx, handle, pitr_part)
            await op.log(f"base backup {base['id']}: point-in-time restore starts again")
        except DbplaneError as exc:
            await op.log(f"base backup failed: {exc.detail} (the window starts at the "
                         "next backup)")


async def _undo(ctx: AppContext, old: managed.ManagedHandle,
                started: list[tuple[managed.ManagedHandle, int | None]], new_dir: Path,
                run: dict[str, Any], kept: dict[str, Any], exc: BaseException) -> None:
    """Stop what the upgrade started, remove the new cluster, start the previous server
    on its port again."""
    reason = exc.detail if isinstance(exc, DbplaneError) else repr(exc)
    for handle, pid in started:
        await _stop_pid(ctx, handle, pid)
    up = _upgrade_part(old)
    if run.get("aside"):
        await asyncio.to_thread(up.put_back, old.plan, run["suffix"], run["aside"])
    await asyncio.to_thread(shutil.rmtree, new_dir, True)
    try:
        if managed.runtime_of(ctx).status(old.record.pid, old.server.marker(old.plan)) \
                != "running":
            await managed.write_config(ctx, old, dict(old.record.settings or {}))
            pid = await managed.start_process(ctx, old)
            await managed.wait_ready(ctx, old, pid)
        await managed.save_server(ctx, old, state="running", kept=kept, detail=(
            f"the last upgrade failed and was rolled back: {reason}")[:2000])
    except DbplaneError as again:
        await managed.save_server(ctx, old, state="error", kept=kept, detail=(
            f"the upgrade failed ({reason}) and the previous server did not start "
            f"again: {again.detail}")[:2000])
    await ctx.connections.drop(old.row.id)


# -- rollback and removal ------------------------------------------------------------


async def start_rollback(ctx: AppContext, ref: str, *,
                         created_by: str | None) -> OperationRecord:
    """Start ``managed.upgrade_rollback``; NoPreviousVersion / OperationConflict (409),
    NotManaged (400) or UpgradeIneligible (a setting the previous build lacks)."""
    handle = await _handle(ctx, ref, "a rollback")
    prev = _previous(handle)
    if prev is None:
        raise NoPreviousVersion(f"no previous version of {handle.row.resource_id!r} is kept: "
                                "there is nothing to roll back to",
                                database=handle.row.resource_id)
    found = await asyncio.to_thread(handle.server.installations)
    build = next((i for i in found if i.id == prev["version_id"]), None)
    if build is None:
        raise NoPreviousVersion(f"the previous version {prev['readable']} is no longer "
                                "installed", database=handle.row.resource_id)
    await _check_settings(handle, build)
    await _refuse_busy(ctx, handle, "rollback")
    return await start_operation(ctx, ROLLBACK_TYPE, database_id=handle.row.id, params={
        "version_id": prev["version_id"], "target": prev["readable"]},
        created_by=created_by)


async def run_rollback(ctx: AppContext, op: OperationContext) -> dict[str, Any]:
    """``managed.upgrade_rollback``: stop the upgraded server, start the kept one on its
    data directory and binaries, then remove the upgraded cluster and its archive."""
    async with ctx.meta.connect() as conn:
        row = await q.get_database_by_ref(conn, op.database_id or "")
    if row is None:
        raise UpgradeFailed("the database is gone", database=op.database_id)
    handle = await managed.handle_for(ctx, row)
    prev = _previous(handle)
    if prev is None:
        raise NoPreviousVersion("no previous version is kept", database=row.resource_id)
    up = _upgrade_part(handle)
    kept = {k: v for k, v in (handle.record.kept or {}).items() if k != "upgrade"}
    old = managed.ManagedHandle(row, handle.record, handle.server,
                                replace(handle.plan, layout=dict(prev["layout"])))
    settings = dict(handle.record.settings or {})
    upgraded_dir = _data_dir(handle)
    await managed.save_server(ctx, handle, state="updating")
    aside: list[str] = []
    async with op.step("stop the upgraded server"):
        await managed.stop_process(ctx, handle)
    try:
        async with op.step("start the previous version"):
            aside = await asyncio.to_thread(up.set_aside, handle.plan, "-rollback")
            await asyncio.to_thread(up.put_back, handle.plan, prev["suffix"], prev["aside"])
            await managed.write_config(ctx, old, settings)
            pid = await managed.start_process(ctx, old)
            await managed.wait_ready(ctx, old, pid)
    except BaseException as exc:
        await asyncio.to_thread(up.set_aside, handle.plan, prev["suffix"])
        await asyncio.to_thread(up.put_back, handle.plan, "-rollback", aside)
        await _stop_pid(ctx, old, old.record.pid)
        await managed.write_config(ctx, handle, settings)
        pid = await managed.start_process(ctx, handle)
        await managed.wait_ready(ctx, handle, pid)
        await managed.save_server(ctx, handle, state="running")
        reason = exc.detail if isinstance(exc, DbplaneError) else repr(exc)
        raise UpgradeFailed(f"the rollback failed ({reason}); the upgraded server serves "
                            "again", database=row.resource_id) from exc
    await managed.save_server(ctx, old, state="running", detail=None, restarts=0,
                              layout=dict(prev["layout"]), kept=kept)
    await ctx.connections.drop(row.id)
    tables_svc.forget_database(ctx, row.id)
    async with op.step("remove the upgraded cluster"):
        await asyncio.to_thread(shutil.rmtree, upgraded_dir, True)
        await asyncio.to_thread(up.remove_aside, handle.plan, "-rollback", aside)
    await _after_switch(ctx, old, op)
    return {"database_id": row.id, "version_id": prev["version_id"],
            "readable_version": prev["readable"], "data_dir": prev["data_dir"],
            "removed_data_dir": str(upgraded_dir)}


async def remove_previous(ctx: AppContext, ref: str) -> dict[str, Any]:
    """``DELETE .../upgrade/previous``: delete the version kept by the last upgrade (its
    data directory and WAL archive); rollback is no longer possible."""
    handle = await _handle(ctx, ref, "removing a previous version")
    prev = _previous(handle)
    if prev is None:
        raise NoPreviousVersion(f"no previous version of {handle.row.resource_id!r} is "
                                "kept", database=handle.row.resource_id)
    await _refuse_busy(ctx, handle, "removal of the previous version")
    up = _upgrade_part(handle)
    await asyncio.to_thread(shutil.rmtree, prev["data_dir"], True)
    await asyncio.to_thread(up.remove_aside, handle.plan, prev["suffix"], prev["aside"])
    kept = {k: v for k, v in (handle.record.kept or {}).items() if k != "upgrade"}
    await managed.save_server(ctx, handle, kept=kept)
    return {"database_id": handle.row.id, "removed": _previous_public(prev)}
