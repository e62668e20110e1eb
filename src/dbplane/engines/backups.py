"""Backup and restore of one database: the archive, its checksum, and the tools that make
and read it.

An archive is written to a temporary file next to its final name, hashed (SHA-256) as it
is written, fsynced and renamed: a backup that fails or is killed never leaves a file
under the final name. Restore verifies the checksum and the archive's format before it
touches the database. The external tools (``pg_dump``, ``mariadb-dump``, ``redis-cli``…)
run as subprocesses without a shell; passwords go through their environment or a 0600
defaults file, never the command line, and a cancelled backup kills its tool.

Each type's package implements :class:`BackupAdapter` (``<type>/backups.py``, the
``backups`` part of its engine); ``adapter_for`` finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from dbplane.engines.base import Engine
from dbplane.engines.parts import has_part, part
from dbplane.engines.registry import engine_class, types_with
from dbplane.engines.urls import redact_text
from dbplane.errors import (
    ArchiveChecksumMismatch,
    ArchiveInvalid,
    BackupToolFailed,
    BackupToolMissing,
    Unsupported,
)

__all__ = [
    "Archive",
    "ArchiveWriter",
    "BackupAdapter",
    "Progress",
    "adapter_for",
    "check_archive",
    "checked_already",
    "file_sha256",
    "find_tool",
    "make_backup",
    "restore_archive",
    "run_tool",
    "verify_checksum",
]

CHUNK = 1 << 20
Progress = Callable[[float, str | None], Awaitable[None]]
"""An async callback told the fraction done (0..1) and a message."""


@dataclass(frozen=True)
class Archive:
    """A finished archive: where it is, how big, its checksum and format."""

    path: Path
    size: int
    sha256: str
    format: str

    @property
    def checksum(self) -> str:
        return f"sha256:{self.sha256}"


class BackupAdapter(Protocol):
    """Backup and restore for one database type."""

    format: str
    """The archive's format name (``sqlite``, ``pg-custom``, ``sql``, ``rdb``)."""
    extension: str

    async def backup(self, engine: Engine, writer: ArchiveWriter,
                     progress: Progress) -> None:
        """Write the database's content to ``writer`` (not yet committed)."""

    async def check(self, path: Path, *, thorough: bool = True) -> None:
        """Raise ArchiveInvalid if ``path`` is not an archive this type can restore.
        ``thorough=False`` (an archive whose recorded checksum was just verified: it is
        the file dbplane checked when it was made or uploaded) skips reading it whole."""

    async def restore(self, engine: Engine, path: Path, progress: Progress,
                      checked: Awaitable[None]) -> None:
        """Replace the database's content with the archive's. ``checked`` ends when the
        archive has passed its checks (its checksum, its format) and raises when it has
        not: it is awaited before anything is changed, and what comes before it (reading
        the archive, asking the server) runs while the checks run."""


def checked_already() -> asyncio.Future[None]:
    """The ``checked`` of an archive whose checks have passed already."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


def adapter_for(engine: Engine | type[Engine] | str) -> BackupAdapter:
    """The backup adapter of a database type (an engine, its class or its name);
    Unsupported for a type without one."""
    if isinstance(engine, str):
        engine = engine_class(engine)
    if not has_part(engine, "backups"):
        raise Unsupported(f"a {engine.type_name} database cannot be backed up; backups exist "
                          "for " + ", ".join(sorted(types_with("backups"))),
                          type_name=engine.type_name)
    adapter: BackupAdapter = part(engine, "backups")()
    return adapter


# -- archives ------------------------------------------------------------------------


class ArchiveWriter:
    """A temporary file that becomes ``final`` only by :meth:`commit` (fsync, rename).

    Bytes written through :meth:`write` are hashed on the way; an adapter that lets a tool
    or a library write the file itself calls :meth:`rehash` before commit. Used as an
    async context manager it removes the temporary file unless committed."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.temp = final.with_name(final.name + ".tmp")
        final.parent.mkdir(parents=True, exist_ok=True)
        self._hash = hashlib.sha256()
        self._size = 0
        self._fh: IO[bytes] | None = open(self.temp, "wb")  # noqa: SIM115
        self.committed = False

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        assert self._fh is not None
        self._fh.write(data)
        self._hash.update(data)
        self._size += len(data)

    def close_file(self) -> None:
        """Close the temporary file (for adapters that write it themselves by name)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def rehash(self) -> None:
        """Hash the temporary file as it is now (written by someone else)."""
        self.close_file()
        with open(self.temp, "rb") as fh:
            # hashlib's own loop (readinto a reused buffer): about 25% faster per GB
            self._hash = hashlib.file_digest(fh, "sha256")
            self._size = os.fstat(fh.fileno()).st_size

    def commit(self, format_name: str) -> Archive:
        """fsync the file and its directory, then rename it to its final name."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self.close_file()
        else:
            fd = os.open(self.temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(self.temp, self.final)
        _fsync_dir(self.final.parent)
        self.committed = True
        return Archive(self.final, self._size, self._hash.hexdigest(), format_name)

    def discard(self) -> None:
        self.close_file()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()

    async def __aenter__(self) -> ArchiveWriter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self.committed:
            self.discard()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


async def verify_checksum(path: Path, checksum: str) -> None:
    """Raise ArchiveChecksumMismatch unless the file's SHA-256 is ``checksum``
    (``sha256:<hex>``); ArchiveInvalid when the file is missing."""
    if not path.is_file():  # noqa: ASYNC240
        raise ArchiveInvalid(f"the archive file {path.name!r} is missing", field="archive")
    expected = checksum.removeprefix("sha256:")
    actual = await asyncio.to_thread(file_sha256, path)
    if actual != expected:
        raise ArchiveChecksumMismatch(
            f"the archive's SHA-256 is {actual}, not the recorded {expected}: it was "
            "changed or truncated after the backup; nothing was restored",
            expected=f"sha256:{expected}", actual=f"sha256:{actual}")


def read_head(path: Path, n: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def read_tail(path: Path, n: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - n))
        return fh.read()


# -- tools -----------------------------------------------------------------------------


def find_tool(*names: str) -> str:
    """The path of the first of ``names`` installed; BackupToolMissing otherwise."""
    for name in names:
        found = shutil.which(name)
        if found is not None:
            return found
    raise BackupToolMissing(f"{names[0]} is not installed on the dbplane host; it is "
                            "needed to back up and restore this type of database",
                            tool=names[0])


async def _pump(stream: asyncio.StreamReader, sink: Callable[[bytes], None]) -> None:
    while chunk := await stream.read(CHUNK):
        sink(chunk)


async def _feed(stdin: asyncio.StreamWriter, path: Path) -> None:
    try:
        with open(path, "rb") as fh:  # noqa: ASYNC230 (1 MiB reads between drains)
            while chunk := fh.read(CHUNK):
                stdin.write(chunk)
                await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the tool stopped reading: its exit status says why
    finally:
        stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await stdin.wait_closed()


async def run_tool(args: Sequence[str], *, env: Mapping[str, str] | None = None,
                   stdout: Callable[[bytes], None] | None = None,
                   stdin: Path | None = None, what: str) -> str:
    """Run a tool (no shell) to its end and answer its stderr. Its stdout goes to
    ``stdout`` chunk by chunk, ``stdin`` is fed from a file. A non-zero exit status is a
    BackupToolFailed quoting the end of stderr (passwords redacted). Cancelled, the tool
    is killed and waited for before the cancellation goes on."""
    full_env = {**os.environ, **(env or {})}
    proc = await asyncio.create_subprocess_exec(
        *args, env=full_env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE if stdout is not None else asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    err = bytearray()

    def keep(chunk: bytes) -> None:
        err.extend(chunk)
        del err[:-16384]

    tasks = [_pump(proc.stderr, keep)] if proc.stderr is not None else []
    if stdout is not None and proc.stdout is not None:
        tasks.append(_pump(proc.stdout, stdout))
    if stdin is not None and proc.stdin is not None:
        tasks.append(_feed(proc.stdin, stdin))
    try:
        await asyncio.gather(*tasks)
        code = await proc.wait()
    except BaseException:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.shield(proc.wait())
        raise
    text = redact_text(err.decode("utf-8", "replace")).strip()
    if code != 0:
        tail = "\n".join(text.splitlines()[-5:]) or f"exit status {code}"
        raise BackupToolFailed(f"{what} failed: {tail}", tool=Path(args[0]).name,
                               exit_status=code)
    return text


@contextlib.asynccontextmanager
async def private_file(directory: Path, name: str, content: str) -> AsyncIterator[Path]:
    """A file readable by this user only (0600), removed afterwards: defaults files with a
    password in them."""
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# -- the two entry points ------------------------------------------------------------------


async def _no_progress(_fraction: float, _message: str | None) -> None:
    return None


async def make_backup(engine: Engine, final: Path,
                      progress: Progress = _no_progress) -> Archive:
    """Back up ``engine``'s database to ``final`` (temp file, SHA-256, fsync, rename). On
    any failure or cancellation the temporary file is removed and ``final`` never
    exists."""
    adapter = adapter_for(engine)
    async with ArchiveWriter(final) as writer:
        await adapter.backup(engine, writer, progress)
        return await asyncio.to_thread(writer.commit, adapter.format)


async def check_archive(type_name: str, path: Path) -> None:
    """Raise ArchiveInvalid unless ``path`` is an archive a ``type_name`` database can
    restore."""
    await adapter_for(type_name).check(path)


async def restore_archive(engine: Engine, path: Path, checksum: str | None,
                          progress: Progress = _no_progress) -> None:
    """Restore ``path`` into ``engine``'s database: the checksum (when given) and the
    format are verified first, and a refused archive changes nothing."""
    adapter = adapter_for(engine)
    if checksum is not None:
        await verify_checksum(path, checksum)
    await adapter.check(path, thorough=checksum is None)
    await adapter.restore(engine, path, progress, checked_already())
