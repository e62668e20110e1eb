"""InfluxDB backups: a portable backup of the URL's database through the server's backup
RPC port, kept as one tar file; restore with ``influxd restore -portable``.

The archive is an uncompressed tar of the files ``influxd backup -portable`` writes (a
``.manifest``, a ``.meta`` and one ``.tar.gz`` per shard), made from what ``influxd
backup`` downloads without ``-portable`` (``portable.py``: the shards in gzip's stored
mode, which saves the tool's gzip pass, 85% of its time). InfluxDB cannot restore into an
existing database and cannot rename one.

An archive is checked in full when it enters dbplane from outside (an upload:
``check(thorough=True)``): the manifest names exactly its files, and every shard is read
to its end, its size as declared, its members TSM files whose every block carries its
CRC-32 (``shards.py``). A backup dbplane made is what ``influxd backup`` wrote. Either
way its checksum is recorded, and a restore first checks the archive against it, so
what is restored is what was checked. The restore then goes in **one pass**: the
registered database is dropped and the archive restored under its name (its retention
policies, shards and points as they were in the backup), then the grants non-admin users
had on it and its continuous queries (which a portable backup does not carry) are given
back. Should ``influxd restore`` fail after the drop (the server stopped, its disk full),
the error says so: the archive is intact, restore it again.

With ``restore=two-pass`` in the URL, the archive is first restored into a new database
of the server (``<name>_restore_<hex>``) and only then is the registered database
dropped and the archive restored again under its name: a refused archive leaves the
database untouched even when the server fails, at about twice the time. If the second
restore fails, the temporary database is kept and the error names it.

An archive of a database without any shard (no point was ever written) cannot go through
``influxd restore`` (it refuses the metadata): restoring it drops every series instead.
The backup RPC of InfluxDB 1.x has no authentication: it must be reachable from dbplane's
host (``backup_port`` in the URL, 8088 unless told).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import tarfile
import tempfile
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from dbplane.engines.backups import CHUNK, ArchiveWriter, Progress, find_tool, run_tool
from dbplane.engines.base import Engine
from dbplane.engines.influxdb.engine import InfluxdbEngine, InfluxQueryError, ident
from dbplane.engines.influxdb.portable import write_portable
from dbplane.engines.influxdb.shards import check_shards
from dbplane.errors import ArchiveInvalid, BackupToolFailed, DbplaneError, Unsupported

__all__ = ["InfluxdbBackups"]

FORMAT = "influxdb-portable"
_FAILED = ("error",)


def _members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members = tar.getmembers()
    bad = [m.name for m in members
           if not m.isfile() or "/" in m.name or m.name.startswith(".")]
    if bad:
        raise ArchiveInvalid(f"the archive holds {bad[0]!r}, which an InfluxDB portable "
                             "backup does not", field="archive", format=FORMAT)
    return {m.name: m for m in members}


def _read_manifest(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo],
                   ) -> dict[str, Any]:
    """The archive's manifest, once it is checked that every file it names is there."""
    manifests = sorted(name for name in members if name.endswith(".manifest"))
    if len(manifests) != 1:
        raise ArchiveInvalid("the archive is not an InfluxDB portable backup (it holds "
                             f"{len(manifests)} .manifest files, not one)", field="archive",
                             format=FORMAT)
    try:
        fh = tar.extractfile(members[manifests[0]])
        manifest = json.loads(fh.read() if fh is not None else b"")
        if not isinstance(manifest, dict):
            raise TypeError("not an object")
        files = [manifest["meta"]["fileName"],
                 *(f["fileName"] for f in manifest["files"] or [])]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveInvalid(f"the archive's manifest {manifests[0]!r} is not an "
                             "InfluxDB portable manifest", field="archive",
                             format=FORMAT) from exc
    missing = [name for name in files if str(name) not in members]
    if missing:
        raise ArchiveInvalid(f"the archive lacks {missing[0]!r}, named by its manifest",
                             field="archive", format=FORMAT)
    return manifest


def _inspect(path: Path, extract_to: Path | None = None) -> dict[str, Any]:
    """The manifest of the archive at ``path`` (its member list and manifest checked;
    extracted into ``extract_to`` when given); ArchiveInvalid when it is not a portable
    backup."""
    try:
        # 1 MiB copies: tarfile's default 16 KiB ones take half again as long
        with tarfile.TarFile(path, mode="r", copybufsize=CHUNK) as tar:
            members = _members(tar)
            manifest = _read_manifest(tar, members)
            if extract_to is not None:
                tar.extractall(extract_to, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveInvalid(f"the archive is not a tar file: {exc}", field="archive",
                             format=FORMAT) from exc
    return manifest


def _source_database(manifest: dict[str, Any]) -> str | None:
    names = {str(f.get("database")) for f in manifest.get("files") or []}
    return names.pop() if len(names) == 1 else None


def _check_output(text: str, what: str) -> None:
    # influxd restore answers exit status 0 when the meta update is refused
    for line in text.splitlines():
        lowered = line.lower()
        if lowered.startswith("restore:") or any(w in lowered for w in _FAILED):
            raise BackupToolFailed(f"{what} failed: {line.strip()}", tool="influxd")


async def _backup_port_answers(engine: InfluxdbEngine) -> None:
    """Raise BackupToolFailed unless the backup RPC port accepts a connection
    (``influxd backup`` and ``restore`` retry a closed port without end)."""
    host, _, port = engine.backup_address.rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)),
                                           engine.timeout)
    except (TimeoutError, OSError) as exc:
        raise BackupToolFailed(
            f"nothing answers at {engine.backup_address}, the InfluxDB backup port "
            "(the url's backup_port, 8088 unless given; the server's top-level "
            f"bind-address): {exc or type(exc).__name__}", tool="influxd") from exc
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


class InfluxdbBackups:
    format = FORMAT
    extension = "tar"

    async def backup(self, engine: Engine, writer: ArchiveWriter, progress: Progress) -> None:
        assert isinstance(engine, InfluxdbEngine)
        influxd = find_tool("influxd")
        work = Path(tempfile.mkdtemp(prefix="dbplane-influx-"))
        try:
            await _backup_port_answers(engine)
            await progress(0.05, "influxd backup")
            out = work / "backup"
            database = engine.url.database or ""
            await run_tool([influxd, "backup", "-host", engine.backup_address,
                            "-database", database, str(out)], what="influxd backup")
            await progress(0.5, "writing the portable archive")
            await asyncio.to_thread(write_portable, out, database, writer)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def check(self, path: Path, *, thorough: bool = True) -> None:
        if not thorough:
            manifest = await asyncio.to_thread(_inspect, path)
        else:
            work = Path(tempfile.mkdtemp(prefix="dbplane-influx-"))
            try:
                manifest = await asyncio.to_thread(_inspect, path, work)
                await asyncio.to_thread(check_shards, work, manifest)
            finally:
                await asyncio.to_thread(shutil.rmtree, work, True)
        if manifest.get("files") and _source_database(manifest) is None:
            raise ArchiveInvalid("the archive holds shards of more than one database",
                                 field="archive", format=FORMAT)

    async def restore(self, engine: Engine, path: Path, progress: Progress,
                      checked: Awaitable[None]) -> None:
        assert isinstance(engine, InfluxdbEngine)
        influxd = find_tool("influxd")
        target = engine.url.database or ""
        work = Path(tempfile.mkdtemp(prefix="dbplane-influx-"))
        try:
            # while the archive's checks run, it is extracted and the server is asked
            # what a restore loses; nothing is changed before the checks have passed
            extracted = asyncio.ensure_future(
                asyncio.to_thread(_inspect, path, work / "backup"))
            try:
                await _backup_port_answers(engine)
                grants = await _grants(engine, target)  # an admin is needed: asked first
                queries = await _continuous_queries(engine, target)
            except BaseException:
                await asyncio.wait([extracted])  # its files are removed below, not after
                if not extracted.cancelled():
                    extracted.exception()  # this error is the one told
                raise
            manifest = await extracted
            await checked
            if not manifest.get("files"):
                # a database without a shard: influxd restore refuses its metadata
                await progress(0.1, "the archive holds no point: every series is dropped")
                await engine.query("DROP SERIES FROM /.*/", database=target)
                return
            source = _source_database(manifest) or target
            temporary = f"{target}_restore_{secrets.token_hex(4)}"

            async def restore_as(name: str) -> None:
                text = await run_tool(
                    [influxd, "restore", "-portable", "-host", engine.backup_address,
                     "-db", source, "-newdb", name, str(work / "backup")],
                    what=f"influxd restore into {name!r}")
                _check_output(text, f"influxd restore into {name!r}")

            if engine.restore_mode == "two-pass":
                await progress(0.05, f"restoring into the temporary database {temporary!r}")
                try:
                    await restore_as(temporary)
                    await progress(0.5, f"replacing {target!r}")
                    await engine.query(f"DROP DATABASE {ident(target)}")
                except BaseException:
                    with contextlib.suppress(Exception):
                        await engine.query(f"DROP DATABASE {ident(temporary)}")
                    raise
                kept = f"the backup's data is kept in the database {temporary!r}"
            else:
                await progress(0.05, f"replacing {target!r}")
                await engine.query(f"DROP DATABASE {ident(target)}")
                kept = ("the archive is intact and was checked: restore it again once "
                        "the server can take it")
            try:
                await restore_as(target)
                for user, privilege in grants:
                    await engine.query(f"GRANT {privilege} ON {ident(target)} "
                                       f"TO {ident(user)}")
                for query in queries:  # InfluxDB's own rendering of each, as it was
                    await engine.query(query)
            except DbplaneError as exc:
                exc.detail += f"; {target!r} was dropped before; {kept}"
                exc.args = (exc.detail,)
                raise
            except (InfluxQueryError, OSError) as exc:
                raise DbplaneError(
                    f"restoring {target!r} failed after it was dropped: {exc}; "
                    f"{kept}") from exc
            if engine.restore_mode == "two-pass":
                try:
                    await engine.query(f"DROP DATABASE {ident(temporary)}")
                except InfluxQueryError as exc:
                    raise DbplaneError(f"{target!r} was restored, but the temporary "
                                       f"database {temporary!r} could not be dropped: "
                                       f"{exc}") from exc
        except InfluxQueryError as exc:  # before the registered database was dropped
            raise BackupToolFailed(f"InfluxDB refused the restore: {exc}; the database "
                                   "was not changed", tool="influxd") from exc
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)


_PRIVILEGES = {"READ", "WRITE", "ALL", "ALL PRIVILEGES"}


async def _continuous_queries(engine: InfluxdbEngine, database: str) -> list[str]:
    """The ``CREATE CONTINUOUS QUERY`` statements of ``database`` (a portable backup
    does not carry them)."""
    results = await engine.query("SHOW CONTINUOUS QUERIES", write=False)
    out: list[str] = []
    for series in (results[0].get("series") or []) if results else []:
        if series.get("name") == database:
            out.extend(str(values[1]) for values in series.get("values") or [])
    return out


async def _grants(engine: InfluxdbEngine, database: str) -> list[tuple[str, str]]:
    """The (user, privilege) grants of non-admin users on ``database``."""
    out: list[tuple[str, str]] = []
    try:
        users = await engine.rows("SHOW USERS")
    except InfluxQueryError as exc:
        raise Unsupported(
            "restoring an InfluxDB database drops and recreates it, which needs an admin "
            f"user in its url (InfluxDB answered: {exc}); nothing was changed",
            field="url") from exc
    for user in users:
        if user.get("admin"):
            continue
        name = str(user["user"])
        for grant in await engine.rows(f"SHOW GRANTS FOR {ident(name)}"):
            privilege = str(grant.get("privilege", "")).upper()
            if grant.get("database") == database and privilege in _PRIVILEGES:
                out.append((name, "ALL" if privilege.startswith("ALL") else privilege))
    return out
