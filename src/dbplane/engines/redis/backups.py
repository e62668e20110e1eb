"""Redis backups: an RDB snapshot taken remotely with ``redis-cli --rdb``; restore writes
the keys back.

The archive is the server's own RDB file (every database number of the server, as Redis
snapshots them). dbplane cannot replace an external server's data file, so restore loads
the archive into a private, temporary ``redis-server`` (a Unix socket, no TCP port, no
persistence) — which is also the full check of the archive: a damaged file does not load
and nothing is touched — then empties the database number of the URL (``FLUSHDB``) and
copies every key of that number with ``DUMP`` / ``RESTORE … REPLACE``, keeping TTLs.
It needs a local ``redis-server`` at least as new as the server that made the snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rex

from dbplane.engines.backups import ArchiveWriter, Progress, find_tool, read_head, run_tool
from dbplane.engines.base import Engine
from dbplane.errors import ArchiveInvalid, BackupToolFailed, DbplaneError

__all__ = ["RedisBackups", "loaded"]

_MAGIC = re.compile(rb"^REDIS\d{4}")
_BATCH = 500


def _db_index(engine: Engine) -> int:
    raw = engine.url.database
    return int(raw) if raw and raw.isdigit() else 0


def _cli_args(engine: Engine) -> tuple[list[str], dict[str, str]]:
    url = engine.url.url
    args = ["-h", url.host or "localhost", "-p", str(engine.url.port or 6379)]
    env: dict[str, str] = {}
    if url.username:
        args += ["--user", url.username]
    if url.password is not None:
        env["REDISCLI_AUTH"] = str(url.password)
    if url.drivername == "rediss":
        args.append("--tls")
    return args, env


class RedisBackups:
    format = "rdb"
    extension = "rdb"

    async def backup(self, engine: Engine, writer: ArchiveWriter, progress: Progress) -> None:
        args, env = _cli_args(engine)
        await progress(0.05, "redis-cli --rdb")
        await run_tool([find_tool("redis-cli"), *args, "--rdb", "-"], env=env,
                       stdout=writer.write, what="redis-cli --rdb")
        if writer.size == 0:
            raise BackupToolFailed("redis-cli --rdb wrote nothing: the server did not send "
                                   "a snapshot", tool="redis-cli")

    async def check(self, path: Path, *, thorough: bool = True) -> None:
        head = await asyncio.to_thread(read_head, path, 9)
        if not _MAGIC.match(head):
            raise ArchiveInvalid("the archive is not a Redis RDB file (it does not start "
                                 "with REDIS and a version)", field="archive", format="rdb")
        tool = shutil.which("redis-check-rdb")
        if tool is None or not thorough:
            return  # the temporary server's load at restore is the full check
        try:
            await run_tool([tool, str(path)], stdout=_drop, what="redis-check-rdb")
        except BackupToolFailed as exc:
            raise ArchiveInvalid(f"the RDB archive is damaged: {exc.detail}",
                                 field="archive", format="rdb") from exc

    async def restore(self, engine: Engine, path: Path, progress: Progress,
                      checked: Awaitable[None]) -> None:
        await checked  # nothing is read or changed before
        index = _db_index(engine)
        async with loaded(path, index) as source:
            total = max(1, int(await source.dbsize()))
            await progress(0.1, f"{total} keys to write back")
            target = aioredis.Redis.from_url(engine.url.raw, socket_timeout=120,
                                             socket_connect_timeout=10)
            try:
                await target.flushdb()
                done = 0
                batch: list[bytes] = []
                async for key in source.scan_iter(count=_BATCH):
                    batch.append(key)
                    if len(batch) >= _BATCH:
                        done += await _copy(source, target, batch)
                        batch = []
                        await progress(0.1 + 0.9 * min(1.0, done / total), None)
                if batch:
                    done += await _copy(source, target, batch)
            except rex.RedisError as exc:
                raise DbplaneError(f"writing the keys back failed: {exc}") from exc
            finally:
                await target.aclose()


async def _copy(source: Any, target: Any, keys: list[bytes]) -> int:
    pipe = source.pipeline(transaction=False)
    for key in keys:
        pipe.dump(key)
        pipe.pttl(key)
    answers = await pipe.execute()
    out = target.pipeline(transaction=False)
    count = 0
    for i, key in enumerate(keys):
        payload, ttl = answers[2 * i], answers[2 * i + 1]
        if payload is None or ttl == -2:
            continue
        out.restore(key, max(0, int(ttl)), payload, replace=True)
        count += 1
    await out.execute()
    return count


@contextlib.asynccontextmanager
async def loaded(path: Path, index: int) -> AsyncIterator[Any]:
    """A private redis-server that loaded ``path``, and a client on database ``index``."""
    server = find_tool("redis-server")
    workdir = Path(tempfile.mkdtemp(prefix="dbplane-rdb-"))
    sock = workdir / "redis.sock"
    try:
        (workdir / "dump.rdb").symlink_to(path.resolve())  # noqa: ASYNC240
        proc = await asyncio.create_subprocess_exec(
            server, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--dir", str(workdir), "--dbfilename", "dump.rdb", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--databases", "1024",
            "--logfile", str(workdir / "log"),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        client: Any = None
        try:
            client = await _wait_ready(proc, sock, index, workdir / "log")
            yield client
        finally:
            if client is not None:
                await client.aclose()
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _wait_ready(proc: asyncio.subprocess.Process, sock: Path, index: int,
                      log: Path) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 600
    while loop.time() < deadline:
        if proc.returncode is not None:
            lines = (log.read_text(errors="replace").splitlines()  # noqa: ASYNC240
                     if log.exists() else [])  # noqa: ASYNC240
            reason = " ".join(line.split(" ", 3)[-1] for line in lines[-3:])
            raise ArchiveInvalid(f"the RDB archive does not load in redis-server: {reason}",
                                 field="archive", format="rdb")
        if sock.exists():  # noqa: ASYNC240
            client = aioredis.Redis(unix_socket_path=str(sock), db=index,
                                    socket_timeout=120)
            try:
                await client.ping()
                return client
            except (rex.BusyLoadingError, rex.ConnectionError):
                await client.aclose()
            except BaseException:
                await client.aclose()
                raise
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 0.05)
    raise DbplaneError("the temporary redis-server did not load the archive in time")


def _drop(_chunk: bytes) -> None:
    pass
