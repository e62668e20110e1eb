"""MySQL / MariaDB backups with ``mariadb-dump`` (or ``mysqldump``) and the client.

The dump is plain SQL taken in one consistent snapshot (``--single-transaction``) with
routines, triggers and events; the connection (and password) goes to the tools through a
defaults file readable by this user only (0600), never their command line. An uploaded
archive may be gzip-compressed SQL. MySQL DDL commits on its own: a restore that fails
midway (which the format and checksum checks made before it make unlikely) can leave some
tables restored and others not.

An archive is untrusted input: restoring it must give its author no more than the
database user's own rights. The client runs it with ``--defaults-file`` (no option file of
the dbplane host is read), ``--local-infile=0`` (``LOAD DATA LOCAL INFILE`` cannot read the
host's files), ``--binary-mode`` (the client's own commands — ``system``, ``source``,
``tee``, ``pager``, ``connect`` — are not parsed: they reach the server as SQL and fail)
and, with MariaDB's client, ``--sandbox`` (any file-system command is refused). What the
SQL can still do is what the URL's user may do on the server (``USE`` another database it
has rights on, ``SELECT ... INTO OUTFILE`` with the FILE privilege): see docs/security.md.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import secrets
import tempfile
import zlib
from collections.abc import Awaitable
from pathlib import Path

from dbplane.engines.backups import (
    ArchiveWriter,
    Progress,
    find_tool,
    private_file,
    read_head,
    read_tail,
    run_tool,
)
from dbplane.engines.base import Engine
from dbplane.errors import ArchiveInvalid, ArchiveTooLarge

__all__ = ["MysqlBackups"]

_GZIP = b"\x1f\x8b"
_HEADS = (b"-- MariaDB dump", b"-- MySQL dump", b"/*M!999999", b"/*!")
_DONE = b"-- Dump completed"
EXPANSION_RATIO = 100
"""A gzip archive may expand to this many times its size (SQL dumps compress 5-20x)…"""
EXPANSION_FLOOR = 64 << 20
"""… or to this many bytes, whichever is more; past it, it is a decompression bomb."""


def expansion_bound(compressed: int) -> int:
    """The most bytes a gzip archive of ``compressed`` bytes may expand to."""
    return max(EXPANSION_FLOOR, EXPANSION_RATIO * compressed)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _defaults(engine: Engine) -> str:
    url = engine.url.url
    lines = ["[client]", f"host={_quote(url.host or 'localhost')}",
             f"port={engine.url.port or 3306}"]
    if url.username:
        lines.append(f"user={_quote(url.username)}")
    if url.password is not None:
        lines.append(f"password={_quote(str(url.password))}")
    if url.host in (None, "localhost"):
        lines.append("protocol=tcp")
    return "\n".join(lines) + "\n"


def _private_dir() -> Path:
    return Path(tempfile.gettempdir())


def _gunzip_tail(path: Path) -> bytes:
    """The last bytes of a gzip file's content (it must be read whole to know them);
    ArchiveTooLarge as soon as it expands past :func:`expansion_bound`."""
    tail = b""
    bound = expansion_bound(path.stat().st_size)
    seen = 0
    with gzip.open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            seen += len(chunk)
            if seen > bound:
                raise _too_large(bound)
            tail = (tail + chunk)[-4096:]
    return tail


def _too_large(bound: int) -> ArchiveTooLarge:
    return ArchiveTooLarge(
        f"the gzip archive expands past {bound} bytes ({EXPANSION_RATIO} times its size, "
        f"at least {EXPANSION_FLOOR}): it is refused and nothing was restored",
        field="archive", format="sql", limit=bound)


class MysqlBackups:
    format = "sql"
    extension = "sql"

    async def backup(self, engine: Engine, writer: ArchiveWriter, progress: Progress) -> None:
        tool = find_tool("mariadb-dump", "mysqldump")
        await progress(0.05, "mariadb-dump --single-transaction")
        async with private_file(_private_dir(), f"dbplane-{secrets.token_hex(8)}.cnf",
                                _defaults(engine)) as cnf:
            await run_tool([tool, f"--defaults-extra-file={cnf}", "--single-transaction",
                            "--routines", "--triggers", "--events", "--hex-blob",
                            "--default-character-set=utf8mb4", "--skip-lock-tables",
                            "--", engine.url.database or ""],
                           stdout=writer.write, what="mariadb-dump")

    async def check(self, path: Path, *, thorough: bool = True) -> None:
        head = await asyncio.to_thread(read_head, path, 64)
        try:
            if head.startswith(_GZIP):
                tail = await asyncio.to_thread(_gunzip_tail, path)
                with gzip.open(path, "rb") as fh:
                    head = fh.read(64)
            else:
                tail = await asyncio.to_thread(read_tail, path, 4096)
        except (OSError, EOFError, zlib.error) as exc:
            raise ArchiveInvalid(f"the gzip archive is damaged: {exc}", field="archive",
                                 format="sql") from exc
        if not head.lstrip().startswith(_HEADS):
            raise ArchiveInvalid("the archive is not a mariadb-dump / mysqldump SQL file "
                                 "(plain or gzip)", field="archive", format="sql")
        if _DONE not in tail:
            raise ArchiveInvalid("the SQL dump is truncated: it does not end with "
                                 "'-- Dump completed'", field="archive", format="sql")

    async def restore(self, engine: Engine, path: Path, progress: Progress,
                      checked: Awaitable[None]) -> None:
        await checked  # nothing is read or changed before
        tool = find_tool("mariadb", "mysql")
        await progress(0.05, "mariadb < archive")
        source = path
        async with private_file(_private_dir(), f"dbplane-{secrets.token_hex(8)}.cnf",
                                _defaults(engine)) as cnf:
            try:
                if read_head(path, 2) == _GZIP:
                    source = path.with_name(path.name + ".sql.tmp")
                    await asyncio.to_thread(_gunzip_to, path, source)
                await run_tool([tool, *restore_options(tool, cnf),
                                f"--database={engine.url.database or ''}"],
                               stdin=source, what="mariadb (restore)")
            finally:
                if source != path:
                    source.unlink(missing_ok=True)


def restore_options(tool: str, cnf: Path) -> list[str]:
    """The client's options for running an untrusted SQL archive (see the module's
    docstring); ``--defaults-file`` must come first."""
    options = [f"--defaults-file={cnf}", "--default-character-set=utf8mb4",
               "--binary-mode", "--local-infile=0", "--batch"]
    if Path(tool).name.startswith("mariadb"):
        options.append("--sandbox")
    return options


def _gunzip_to(path: Path, dest: Path) -> None:
    bound = expansion_bound(path.stat().st_size)
    seen = 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with gzip.open(path, "rb") as src, os.fdopen(fd, "wb") as out:
        while chunk := src.read(1 << 20):
            seen += len(chunk)
            if seen > bound:
                raise _too_large(bound)
            out.write(chunk)
