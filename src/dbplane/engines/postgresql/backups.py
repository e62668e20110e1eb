"""PostgreSQL backups with ``pg_dump --format=custom`` and ``pg_restore``.

The connection is given to the tools through libpq's environment (PGHOST, PGUSER,
PGPASSWORD…), never on their command line. pg_dump takes one consistent snapshot (a
repeatable-read transaction). Restore runs ``pg_restore --clean --if-exists
--single-transaction``: the objects of the archive are dropped and recreated in one
transaction, so a restore that fails leaves the database as it was. Objects created after
the backup, which the archive does not name, are left in place.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from contextvars import ContextVar
from pathlib import Path

from dbplane.engines.backups import ArchiveWriter, Progress, find_tool, read_head, run_tool
from dbplane.engines.base import Engine
from dbplane.errors import ArchiveInvalid, BackupToolFailed

__all__ = ["SNAPSHOT", "PostgresqlBackups", "libpq_env"]

SNAPSHOT: ContextVar[str | None] = ContextVar("dbplane_pg_snapshot", default=None)
"""An exported snapshot pg_dump dumps (``--snapshot``), set by the fingerprint's
``around_dump`` so that the archive and its recorded fingerprint are the same moment."""

_MAGIC = b"PGDMP"
# URL query parameters that libpq reads from the environment
_QUERY_ENV = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
              "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
              "application_name": "PGAPPNAME", "options": "PGOPTIONS"}


def libpq_env(engine: Engine) -> dict[str, str]:
    """libpq's environment for the engine's database (the password included)."""
    url = engine.url.url
    env = {"PGHOST": url.host or "localhost", "PGPORT": str(engine.url.port or 5432),
           "PGDATABASE": url.database or "", "PGCONNECT_TIMEOUT": "10"}
    if url.username:
        env["PGUSER"] = url.username
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    for key, var in _QUERY_ENV.items():
        value = url.query.get(key)
        if isinstance(value, str):
            env[var] = value
    return env


class PostgresqlBackups:
    format = "pg-custom"
    extension = "dump"

    async def backup(self, engine: Engine, writer: ArchiveWriter, progress: Progress) -> None:
        tool = find_tool("pg_dump")
        await progress(0.05, "pg_dump --format=custom")
        snapshot = SNAPSHOT.get()
        extra = [f"--snapshot={snapshot}"] if snapshot else []
        await run_tool([tool, "--format=custom", "--no-password", *extra],
                       env=libpq_env(engine),
                       stdout=writer.write, what="pg_dump")

    async def check(self, path: Path, *, thorough: bool = True) -> None:
        head = await asyncio.to_thread(read_head, path, len(_MAGIC))
        if head != _MAGIC:
            raise ArchiveInvalid("the archive is not a pg_dump custom-format archive (it "
                                 "does not start with PGDMP); make one with "
                                 "pg_dump --format=custom", field="archive",
                                 format="pg-custom")
        # --list reads the table of contents only (at the start: a truncated archive
        # passes it); thorough, every data block is read and written to nowhere
        args = (["--list"] if not thorough else [f"--file={os.devnull}"])
        try:
            await run_tool([find_tool("pg_restore"), *args, str(path)], stdout=_drop,
                           what="pg_restore " + args[0].split("=")[0])
        except BackupToolFailed as exc:
            raise ArchiveInvalid(f"the pg_dump archive cannot be read: {exc.detail}",
                                 field="archive", format="pg-custom") from exc

    async def restore(self, engine: Engine, path: Path, progress: Progress,
                      checked: Awaitable[None]) -> None:
        await checked  # nothing is read or changed before
        env = libpq_env(engine)
        await progress(0.05, "pg_restore --clean --single-transaction")
        await run_tool([find_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
                        "--single-transaction", "--exit-on-error", "--no-password",
                        f"--dbname={env['PGDATABASE']}", str(path)],
                       env=env, what="pg_restore")


def _drop(_chunk: bytes) -> None:
    pass
