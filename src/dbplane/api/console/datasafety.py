"""The console's data-safety panels on a database's page: the version a managed server
runs with its upgrade, rollback and removal of the kept version; point-in-time restore;
restore drills (verify a backup, drills after every periodic backup). Destructive work
goes through a confirmation page naming what is lost; each form carries the CSRF token.
The services are called as the API's routers call them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from dbplane.api.console.web import ConsoleRoute, admin_form, caller, context_of, render
from dbplane.errors import DbplaneError, Unsupported
from dbplane.services import backup_drills as drills_svc
from dbplane.services import databases as databases_svc
from dbplane.services import pitr as pitr_svc
from dbplane.services import upgrades as upgrades_svc
from dbplane.services.auth import Principal

__all__ = ["panels", "router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


def _created_by(principal: Principal) -> str:
    if principal.kind == "session" and principal.user_id:
        return f"user:{principal.user_id}"
    return f"token:{principal.token_hash[:12]}"


def _see_other(target: str) -> Response:
    return RedirectResponse(target, status_code=303)


async def panels(request: Request, db: Any) -> dict[str, Any]:
    """What the database page shows of its versions and point-in-time restore (admins;
    managed servers only): ``versions`` and ``pitr``, or None each."""
    ctx = context_of(request)
    found: dict[str, Any] = {"versions": None, "pitr": None, "pitr_error": None}
    if db.mode != "managed":
        return found
    try:
        found["versions"] = await upgrades_svc.versions(ctx, db.id)
    except DbplaneError as exc:
        found["versions"] = {"reason": exc.detail}
    try:
        found["pitr"] = await pitr_svc.window(ctx, db.id)
    except Unsupported:
        pass  # a type without point-in-time restore: no panel
    except DbplaneError as exc:
        found["pitr_error"] = exc  # wal-archiving off: the panel says so
    return found


def _back(db: str, anchor: str) -> str:
    return f"/console/databases/{db}#{anchor}"


# -- upgrades ---------------------------------------------------------------------------


@router.get("/databases/{db}/upgrade")
async def confirm_upgrade(db: str, request: Request,
                          version_id: str | None = None) -> Response:
    """The confirmation of an upgrade: what it does, and to what."""
    principal = await caller(request)
    principal.require_admin()
    ctx = context_of(request)
    database = await databases_svc.get_database(ctx, principal, db)
    found = await upgrades_svc.versions(ctx, database.id)
    target = next((v for v in found["versions"]
                   if v["id"] == (version_id or found["next_version_id"])), None)
    label = target["readable_version"] if target else "the next version"
    return render(request, "confirm.html", principal=principal,
                  title=f"Upgrade {database.resource_id} to {label}?",
                  loss=("A backup is taken first, then a new server of that version is "
                        "built beside the running one and the data moved into it and "
                        "checked. Clients are refused while the data moves (about as long "
                        "as a dump and restore of the database). The running version is "
                        "kept for a rollback until you remove it."),
                  action=f"/console/databases/{db}/upgrade", button="Upgrade",
                  hidden={"version_id": version_id} if version_id else {},
                  back=_back(db, "version"))


@router.post("/databases/{db}/upgrade")
async def start_upgrade(db: str, request: Request) -> Response:
    principal, form = await admin_form(request)
    version_id = str(form.get("version_id") or "") or None
    op, _ = await upgrades_svc.start_upgrade(context_of(request), db, version_id,
                                             created_by=_created_by(principal))
    return _see_other(f"/console/databases/{db}?operation={op.id}#operations")


@router.get("/databases/{db}/upgrade/rollback")
async def confirm_rollback(db: str, request: Request) -> Response:
    principal = await caller(request)
    principal.require_admin()
    ctx = context_of(request)
    database = await databases_svc.get_database(ctx, principal, db)
    previous = (await upgrades_svc.versions(ctx, database.id)).get("previous") or {}
    return render(request, "confirm.html", principal=principal,
                  title=f"Roll {database.resource_id} back to "
                        f"{previous.get('readable_version', 'its previous version')}?",
                  loss=("The server goes back to the data it had when it was upgraded: "
                        "everything written to it since the upgrade is lost, and the "
                        "upgraded server is deleted."),
                  action=f"/console/databases/{db}/upgrade/rollback", button="Roll back",
                  back=_back(db, "version"))


@router.post("/databases/{db}/upgrade/rollback")
async def start_rollback(db: str, request: Request) -> Response:
    principal, _ = await admin_form(request)
    op = await upgrades_svc.start_rollback(context_of(request), db,
                                           created_by=_created_by(principal))
    return _see_other(f"/console/databases/{db}?operation={op.id}#operations")


@router.get("/databases/{db}/upgrade/previous")
async def confirm_remove_previous(db: str, request: Request) -> Response:
    principal = await caller(request)
    principal.require_admin()
    ctx = context_of(request)
    database = await databases_svc.get_database(ctx, principal, db)
    previous = (await upgrades_svc.versions(ctx, database.id)).get("previous") or {}
    label = previous.get("readable_version", "the previous version")
    return render(request, "confirm.html", principal=principal,
                  title=f"Delete the previous version of {database.resource_id}?",
                  loss=(f"The data directory of {label} "
                        f"({previous.get('data_dir', '?')}) is deleted: no rollback is "
                        "possible after this."),
                  action=f"/console/databases/{db}/upgrade/previous", button="Delete",
                  back=_back(db, "version"))


@router.post("/databases/{db}/upgrade/previous")
async def remove_previous(db: str, request: Request) -> Response:
    await admin_form(request)
    await upgrades_svc.remove_previous(context_of(request), db)
    return _see_other(_back(db, "version"))


# -- point-in-time restore ----------------------------------------------------------------


@router.post("/databases/{db}/pitr")
async def pitr_restore(db: str, request: Request) -> Response:
    """The restore time is checked first (a time outside the window is refused on its
    own page); then the confirmation; then the restore."""
    principal, form = await admin_form(request)
    ctx = context_of(request)
    when = str(form.get("restore_time") or "").strip()
    if form.get("confirmed") != "yes":
        pitr_svc.parse_restore_time(when)  # a malformed time is refused before asking
        database = await databases_svc.get_database(ctx, principal, db)
        return render(request, "confirm.html", principal=principal,
                      title=f"Restore {database.resource_id} to {when}?",
                      loss=("The database goes back to that moment, in place: every "
                            "change made to it after that moment is lost."),
                      action=f"/console/databases/{db}/pitr", button="Restore",
                      hidden={"restore_time": when, "confirmed": "yes"},
                      back=_back(db, "pitr"))
    op = await pitr_svc.start_pitr_restore(ctx, db, when, created_by=_created_by(principal))
    return _see_other(f"/console/databases/{db}?operation={op.id}#operations")


# -- restore drills -----------------------------------------------------------------------


@router.post("/databases/{db}/backups/{backup_id}/verify")
async def verify_backup(db: str, backup_id: str, request: Request) -> Response:
    """A restore drill of the backup (into a scratch copy: the database is not touched)."""
    principal, _ = await admin_form(request)
    op = await drills_svc.verify_backup(context_of(request), db, backup_id,
                                        created_by=_created_by(principal))
    return _see_other(f"/console/databases/{db}?operation={op.id}#operations")


@router.post("/databases/{db}/restore-drills")
async def set_restore_drills(db: str, request: Request) -> Response:
    """Turn the drill after every periodic backup on or off."""
    _, form = await admin_form(request)
    enabled = form.get("enabled") == "on"
    await databases_svc.update_database(context_of(request), db,
                                        databases_svc.DatabaseUpdate(
                                            restore_drills_enabled=enabled))
    return _see_other(_back(db, "backups"))
