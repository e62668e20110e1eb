"""Schema as code on SQL engines: read a database's schema as a snapshot, and apply a plan.

Reading: the one reflection of the database (``sql.reflect``: SQLAlchemy reflection and
the type's catalog query, with indexes, unique constraints and checks), as the snapshot's
collections, fields and relations (``LiveSchema``).

Applying: Alembic's ``Operations`` on the live connection, each change through the
type's ``DdlDialect`` (``sql.ddl``), which also chooses the apply's strategy: SQLite
rebuilds a table in batch mode (rows and indexes kept) inside one transaction, with foreign
keys checked before the commit; PostgreSQL runs the whole plan in one transaction; MariaDB
commits every DDL statement, so the plan runs in order and stops at the first failure,
saying what was and was not applied. Every apply holds the database's own lock (the
routines' migration lock) and reads the schema again under it, so applies from several
replicas run one after the other and a plan made for a schema changed meanwhile is
refused. ``render_sql`` answers the statements without changing anything.
"""

from __future__ import annotations

import io
from functools import partial
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from dbplane.engines.base import exception_chain, network_error
from dbplane.engines.sql.catalog import CatalogDialect
from dbplane.engines.sql.ddl import DdlDialect, PlanRefused
from dbplane.engines.sql.engine import SqlEngine
from dbplane.engines.sql.lock import DatabaseLock, LockBusy, lock_of
from dbplane.engines.sql.reflect import LiveSchema, live_schema, reflect
from dbplane.errors import SchemaApplyFailed, StaleSchemaHash, Unavailable
from dbplane.schema.plan import Change

__all__ = ["LOCK_WAIT", "LiveSchema", "apply_plan", "read_schema", "render_sql"]

LOCK_WAIT = 30.0
"""Seconds an apply waits for another apply (or migration run) to release the lock."""


# -- reading ----------------------------------------------------------------------------


def _read(conn: Connection, catalog: CatalogDialect) -> LiveSchema:
    return live_schema(reflect(conn, catalog, views=False, full=True), catalog)


def _unreachable(engine: SqlEngine, exc: BaseException) -> Unavailable | None:
    """503 for a database that cannot be reached (host, port, credentials, a database
    dropped behind dbplane's back), as the engine reads its driver's errors."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return Unavailable("the connection to the database was lost; retry")
    known = network_error(exc, engine.url) or engine.connect_error(exc)
    if known is None:
        return None
    return Unavailable(f"the database does not answer: {known.detail}")


async def read_schema(engine: SqlEngine) -> LiveSchema:
    """The database's tables, columns, keys, indexes, checks and foreign keys.
    Unavailable (503) when the database does not answer."""
    catalog = engine.catalog_dialect
    try:
        return await catalog.run_read(engine, partial(_read, catalog=catalog))
    except Exception as exc:
        down = _unreachable(engine, exc)
        if down is None:
            raise
        raise down from exc


# -- applying ---------------------------------------------------------------------------
#
# An apply holds the database's own lock from before it reads the schema again to the end,
# so applies from several dbplane processes (replicas) sharing a database run one after
# the other, and one that waited finds the schema changed (StaleSchemaHash) instead of
# running a plan made for the old one. The lock is the one the routines' migration runs
# take (sql/routines.py), so a migration run and a schema apply exclude each other too.


def _run_units(conn: Connection, ddl: DdlDialect, changes: list[Change], live: LiveSchema,
               done: list[str], failing: list[str]) -> None:
    """Run the changes unit by unit; ``done`` collects the changes of the units that ran,
    ``failing`` names those of the unit running (empty once all ran)."""
    run = ddl.start(Operations(MigrationContext.configure(connection=conn)), live, changes)
    for unit in ddl.units(changes):
        failing[:] = [c.describe() for c in unit]
        ddl.run_unit(run, unit)
        done.extend(failing)
    failing.clear()


def _unchanged(conn: Connection, catalog: CatalogDialect, live: LiveSchema) -> None:
    """Under the lock: the schema is still the one the plan (and the hash) was made
    from, or StaleSchemaHash."""
    if _read(conn, catalog) != live:
        raise StaleSchemaHash("the schema changed while this apply waited for another one "
                              "to finish (its hash is not the current one): diff again, "
                              "then apply; nothing was applied")


def _apply(conn: Connection, catalog: CatalogDialect, ddl: DdlDialect, lock: DatabaseLock,
           wait: float, changes: list[Change], live: LiveSchema, done: list[str],
           failing: list[str]) -> None:
    ddl.run_locked(conn, lock, wait, check=lambda: _unchanged(conn, catalog, live),
                   run=lambda: _run_units(conn, ddl, changes, live, done, failing))


def _first_line(exc: BaseException) -> str:
    for cur in exception_chain(exc):
        orig = getattr(cur, "orig", None)
        if orig is not None:
            args: tuple[Any, ...] = getattr(orig, "args", ())
            if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
                return f"{args[1]} ({args[0]})"  # a driver's (errno, message): MariaDB's
            text = str(orig).strip().splitlines()
            return text[0] if text else type(orig).__name__
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


async def apply_plan(engine: SqlEngine, changes: list[Change], live: LiveSchema) -> None:
    """Run the changes: all or nothing where the type's DDL is transactional (SQLite,
    PostgreSQL); in order, stopping at the first failure, where it is not (MariaDB).
    SchemaApplyFailed says which change failed and why, and (MariaDB) which ones were
    applied before it."""
    if not changes:
        return
    catalog, ddl = engine.catalog_dialect, engine.ddl_dialect
    lock = lock_of(engine)
    done: list[str] = []
    failing: list[str] = []
    try:
        async with ddl.connect(engine) as conn:
            await conn.run_sync(_apply, catalog, ddl, lock, LOCK_WAIT, changes, live, done,
                                failing)
    except LockBusy as exc:
        raise SchemaApplyFailed(
            f"another schema apply or migration run has held this database's lock ({exc}) "
            f"for more than {LOCK_WAIT:g} s; nothing was applied: try again",
            failed=None, reason="locked", applied=[],
            not_applied=[c.describe() for c in changes]) from exc
    except (sa.exc.DBAPIError, PlanRefused, OSError) as exc:
        applied = ddl.applied(done)
        down = _unreachable(engine, exc)
        if down is not None:
            down.fields.update(applied=applied)
            raise down from exc
        if isinstance(exc, OSError):
            raise
        # a SQLite rebuild fails as a whole: `failing` then names every change in it
        failed = "; ".join(failing) or "the foreign key check before the commit"
        ordered = [c.describe() for unit in ddl.units(changes) for c in unit]
        rest = ordered[len(done) + len(failing):]
        reason = str(exc) if isinstance(exc, PlanRefused) else _first_line(exc)
        not_applied = done[len(applied):] + failing + rest
        raise SchemaApplyFailed(ddl.refused(failed, reason, applied, not_applied),
                                failed=failed, reason=reason, applied=applied,
                                not_applied=not_applied) from exc


async def render_sql(engine: SqlEngine, changes: list[Change], live: LiveSchema) -> str:
    """The SQL the apply would run, one statement per line block; changes nothing."""
    if not changes:
        return ""
    ddl = engine.ddl_dialect

    def offline() -> str:
        buffer = io.StringIO()
        ops = Operations(MigrationContext.configure(
            dialect_name=engine.sa_engine.dialect.name,
            opts={"as_sql": True, "output_buffer": buffer, "literal_binds": True}))
        run = ddl.start(ops, live, changes)
        for change in changes:
            ddl.run(run, change)
        return buffer.getvalue()

    return await ddl.render(engine, partial(_run_units, ddl=ddl, changes=changes, live=live,
                                            done=[], failing=[]), offline)
