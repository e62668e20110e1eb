"""Features of a managed server that need the server itself (``pg-stat-statements``,
``wal-archiving``, ``redis-rdb``, ``redis-aof``): each is a set of settings (the type's
``feature_settings``) applied as any config change, then what follows once they are live
(``feature_finish``: an extension to create). A feature whose settings need a restart is
``PENDING_TO_ACTIVATE`` (or ``PENDING_TO_REMOVE``) while a redeploy started for it runs,
then ``ACTIVATED`` (or gone), or ``FAILED`` with the reason."""

from __future__ import annotations

from typing import Any

from dbplane.errors import ServerNotRunning, Unsupported
from dbplane.meta.records import DatabaseRecord
from dbplane.services import managed, managed_config
from dbplane.services.context import AppContext

__all__ = ["change_feature", "fail_features", "finish_features", "handles", "stored"]


def handles(row: DatabaseRecord, name: str) -> bool:
    """Whether ``name`` is a feature of ``row``'s managed server."""
    return row.mode == "managed" and name in managed.server_class(row.type_name).features


async def change_feature(ctx: AppContext, row: DatabaseRecord, name: str, enable: bool,
                         created_by: str | None) -> dict[str, Any]:
    """Turn a feature on or off; Scalingo's ``{name, status, message}`` (and the
    ``deployment_id`` of the redeploy that finishes it, when one is needed)."""
    handle = await managed.handle_for(ctx, row)
    server = handle.server
    if name not in server.features:
        raise Unsupported(f"feature: {name!r} is not one a managed {row.type_name} server "
                          "has; it has " + ", ".join(server.features), field="feature",
                          value=name, valid=list(server.features))
    view = await managed.managed_view(ctx, row)
    if view is None or view.state != "running":
        raise ServerNotRunning(f"the server of {row.resource_id!r} is not running",
                               database=row.resource_id)
    reads = server.feature_reads(name)
    current = {k: v.value for k, v in (await server.catalogue(handle.url, reads)).items()}
    settings = server.feature_settings(name, enable, handle.plan, current)
    await managed_config.set_config(ctx, row, settings)
    handle = await managed.handle_for(ctx, row)
    features = dict(handle.record.features)
    if any(n in handle.record.pending for n in settings):
        from dbplane.services.deployments import start_deployment

        status = "PENDING_TO_ACTIVATE" if enable else "PENDING_TO_REMOVE"
        features[name] = {"status": status, "message": "waiting for the redeploy that "
                          "restarts the server"}
        await managed.save_server(ctx, handle, features=features)
        deployment = await start_deployment(ctx, row.id, "redeploy", created_by)
        message = (f"Feature {name} will be {'enabled' if enable else 'disabled'} by "
                   f"deployment {deployment['id']}")
        return {"name": name, "status": status, "message": message,
                "deployment_id": deployment["id"]}
    await server.feature_finish(handle.url, name, enable)
    if enable:
        features[name] = {"status": "ACTIVATED", "message": None}
    else:
        features.pop(name, None)
    await managed.save_server(ctx, handle, features=features)
    verb = "enabled" if enable else "disabled"
    return {"name": name, "status": "ACTIVATED" if enable else "REMOVED",
            "message": f"Feature {name} has been {verb}"}


async def finish_features(ctx: AppContext, handle: managed.ManagedHandle) -> list[str]:
    """After a redeploy: finish the pending features; the names finished."""
    features = dict(handle.record.features)
    done = []
    for name, state in list(features.items()):
        if state.get("status") == "PENDING_TO_ACTIVATE":
            await handle.server.feature_finish(handle.url, name, True)
            features[name] = {"status": "ACTIVATED", "message": None}
            done.append(name)
        elif state.get("status") == "PENDING_TO_REMOVE":
            await handle.server.feature_finish(handle.url, name, False)
            features.pop(name)
            done.append(name)
    if done:
        await managed.save_server(ctx, handle, features=features)
        from dbplane.services import pitr  # the first base backup of a new PITR window

        await pitr.after_features(ctx, handle, done)
    return done


async def fail_features(ctx: AppContext, handle: managed.ManagedHandle, reason: str) -> None:
    """After a failed redeploy: its pending features are FAILED with the reason."""
    features = {name: ({"status": "FAILED", "message": reason}
                       if str(state.get("status") or "").startswith("PENDING") else state)
                for name, state in handle.record.features.items()}
    if features != handle.record.features:
        await managed.save_server(ctx, handle, features=features)


def stored(row_features: dict[str, dict[str, str | None]],
           live: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The features to show: what the server has live, with the pending and failed ones
    asked for through dbplane in front."""
    live_names = {f["name"] for f in live}
    out: list[dict[str, Any]] = [
        {"name": n, "status": s["status"], "message": s.get("message")}
        for n, s in row_features.items()
        if s.get("status") != "ACTIVATED" or n not in live_names]
    names = {f["name"] for f in out}
    out += [f for f in live if f["name"] not in names]
    return out
