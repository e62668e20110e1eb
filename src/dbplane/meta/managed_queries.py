"""Named queries of the managed servers and deployments tables (issue 14). Each takes an
open connection; rows come back as records. ``services/managed.py`` and
``services/deployments.py`` call these and never build SQL themselves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dbplane.meta.records import DeploymentRecord, ManagedServerRecord, columns
from dbplane.meta.tables import deployments, managed_servers

__all__ = [
    "ACTIVE_DEPLOYMENT_STATES",
    "active_deployment",
    "get_deployment",
    "get_managed_server",
    "insert_deployment",
    "insert_managed_server",
    "list_deployments",
    "list_managed_servers",
    "release_supervision",
    "renew_supervision",
    "set_state_if",
    "update_deployment",
    "update_if_unchanged",
    "update_managed_server",
]

Values = dict[str, Any]

ACTIVE_DEPLOYMENT_STATES = ("QUEUED", "DEPLOYMENT_QUEUED", "RESTART_QUEUED", "STOP_QUEUED",
                            "DEPLOYING", "RESTARTING", "STOPPING")


async def insert_managed_server(conn: AsyncConnection, record: ManagedServerRecord) -> None:
    await conn.execute(insert(managed_servers).values(columns(record)))


async def get_managed_server(conn: AsyncConnection,
                             database_id: str) -> ManagedServerRecord | None:
    result = await conn.execute(select(managed_servers).where(
        managed_servers.c.database_id == database_id))
    row = result.mappings().first()
    return ManagedServerRecord.of(row) if row is not None else None


async def list_managed_servers(conn: AsyncConnection) -> list[ManagedServerRecord]:
    result = await conn.execute(select(managed_servers).order_by(
        managed_servers.c.database_id))
    return [ManagedServerRecord.of(r) for r in result.mappings()]


async def update_managed_server(conn: AsyncConnection, database_id: str,
                                values: Values) -> None:
    await conn.execute(update(managed_servers).where(
        managed_servers.c.database_id == database_id).values(**values))


async def update_if_unchanged(conn: AsyncConnection, database_id: str, updated_at: int,
                              values: Values) -> bool:
    """Change a server's row only if no one wrote it since it was read (its
    ``updated_at`` is still ``updated_at``); True when it changed."""
    result = await conn.execute(update(managed_servers).where(and_(
        managed_servers.c.database_id == database_id,
        managed_servers.c.updated_at == updated_at)).values(**values))
    return bool(result.rowcount)


async def renew_supervision(conn: AsyncConnection, database_id: str, owner: str, now: int,
                            until: int) -> bool:
    """Take or keep the lease on supervising a server: True when ``owner`` holds it (no
    one did, it was ``owner``'s, or the holder's lease ran out)."""
    result = await conn.execute(update(managed_servers).where(and_(
        managed_servers.c.database_id == database_id,
        or_(managed_servers.c.supervisor.is_(None), managed_servers.c.supervisor == owner,
            managed_servers.c.lease_until < now))).values(supervisor=owner,
                                                          lease_until=until))
    return bool(result.rowcount)


async def insert_deployment(conn: AsyncConnection, record: DeploymentRecord) -> None:
    await conn.execute(insert(deployments).values(columns(record)))


async def get_deployment(conn: AsyncConnection, database_id: str,
                         deployment_id: str) -> DeploymentRecord | None:
    result = await conn.execute(select(deployments).where(and_(
        deployments.c.id == deployment_id, deployments.c.database_id == database_id)))
    row = result.mappings().first()
    return DeploymentRecord.of(row) if row is not None else None


async def list_deployments(conn: AsyncConnection, database_id: str,
                           limit: int = 100) -> list[DeploymentRecord]:
    """A database's deployments, newest first."""
    result = await conn.execute(select(deployments).where(
        deployments.c.database_id == database_id).order_by(
        deployments.c.created_at.desc(), deployments.c.id.desc()).limit(limit))
    return [DeploymentRecord.of(r) for r in result.mappings()]


async def active_deployment(conn: AsyncConnection,
                            database_id: str) -> DeploymentRecord | None:
    result = await conn.execute(select(deployments).where(and_(
        deployments.c.database_id == database_id,
        deployments.c.state.in_(ACTIVE_DEPLOYMENT_STATES))).order_by(
        deployments.c.created_at).limit(1))
    row = result.mappings().first()
    return DeploymentRecord.of(row) if row is not None else None


async def update_deployment(conn: AsyncConnection, deployment_id: str,
                            values: Values) -> None:
    await conn.execute(update(deployments).where(deployments.c.id == deployment_id)
                       .values(**values))


async def set_state_if(conn: AsyncConnection, database_id: str, *, state: str,
                       pid: int | None, values: Values) -> bool:
    """Change a server's row only if it is still in ``state`` with ``pid`` (a deployment
    may have taken it over in between); True when it changed."""
    pid_is = (managed_servers.c.pid.is_(None) if pid is None
              else managed_servers.c.pid == pid)
    result = await conn.execute(update(managed_servers).where(and_(
        managed_servers.c.database_id == database_id, managed_servers.c.state == state,
        pid_is)).values(**values))
    return bool(result.rowcount)


async def release_supervision(conn: AsyncConnection, owner: str) -> None:
    """Give up every lease ``owner`` holds (a process that stops)."""
    await conn.execute(update(managed_servers).where(managed_servers.c.supervisor == owner)
                       .values(supervisor=None, lease_until=None))
