"""MySQL / MariaDB backups with ``mariadb-dump`` (or ``mysqldump``) and the client.

The dump is plain SQL taken in one consistent snapshot (``--single-transaction``) with
routines, triggers and events; the connection (and password) goes to the tools through a
defaults file readable by this user only (0600), never their command line. An uploaded
archive may be gzip-compressed SQL. MySQL DDL commits on its own: a restore that fails
midway (which the format and checksum checks made before it make unlikely) can leave some
tables restored and others not.
"""

from __future__ import annotations

import asyncio
import gzip
import secrets
import tempfile
import zlib
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
from dbplane.errors import ArchiveInvalid

__all__ = ["MysqlBackups"]

_GZIP = b"\x1f\x8b"
_HEADS = (b"-- MariaDB dump", b"-- MySQL dump", b"/*M!999999", b"/*!")
_DONE = b"-- Dump completed"


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
    """The last bytes of a gzip file's content (it must be read whole to know them)."""
    tail = b""
    with gzip.open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            tail = (tail + chunk)[-4096:]
    return tail


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

    async def restore(self, engine: Engine, path: Path, progress: Progress) -> None:
        tool = find_tool("mariadb", "mysql")
        await progress(0.05, "mariadb < archive")
        source = path
        async with private_file(_private_dir(), f"dbplane-{secrets.token_hex(8)}.cnf",
                                _defaults(engine)) as cnf:
            if read_head(path, 2) == _GZIP:
                source = path.with_name(path.name + ".sql.tmp")
                await asyncio.to_thread(_gunzip_to, path, source)
            try:
                await run_tool([tool, f"--defaults-extra-file={cnf}",
                                "--default-character-set=utf8mb4", "--binary-mode",
                                f"--database={engine.url.database or ''}"],
                               stdin=source, what="mariadb (restore)")
            finally:
                if source != path:
                    source.unlink(missing_ok=True)


def _gunzip_to(path: Path, dest: Path) -> None:
    with gzip.open(path, "rb") as src, open(dest, "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
