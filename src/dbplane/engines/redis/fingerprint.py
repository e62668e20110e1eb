"""A Redis database's fingerprint, and a private redis-server to restore a drill into.

A backup's fingerprint is read from its archive (:func:`archive_fingerprint`): the RDB
loaded into a private redis-server, as a restore does.

One entry per database number (``db<N>``, the URL's: a dbplane Redis database is one
number, and that is what its backup restores): the key count and a digest of every key's
name, type and content, read with the type's own commands (``DEBUG DIGEST`` is off by
default since Redis 7). Keys are walked with ``SCAN`` and large values in slices
(``LRANGE``, ``SSCAN``, ``HSCAN``, ``ZSCAN``, ``XRANGE``): bounded memory. Each key's
digest is an MD5 of its parts; members of sets, hashes and sorted sets are summed (order
free), lists and streams hashed in order; the database's digest is the sum modulo 2**64
of its keys' digests, so the SCAN order does not matter. TTLs are left out (they tick).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from dbplane.engines.backups import find_tool
from dbplane.engines.base import Engine
from dbplane.engines.fingerprint import Fingerprint, fingerprint_error
from dbplane.engines.scratch import engine_at
from dbplane.errors import DbplaneError

__all__ = ["archive_fingerprint", "fingerprint", "scratch"]

_MASK = (1 << 64) - 1
_SLICE = 1000


def _h64(*parts: bytes) -> int:
    digest = hashlib.md5(b"\x1f".join(parts), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big")


def _b(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


async def _content(client: Any, key: bytes, kind: str) -> bytes:
    if kind == "string":
        return _b(await client.get(key) or b"")
    if kind == "list":
        running = hashlib.md5(usedforsecurity=False)
        start = 0
        while items := await client.lrange(key, start, start + _SLICE - 1):
            for item in items:
                running.update(str(len(item)).encode() + b":" + item)
            start += _SLICE
        return running.digest()
    if kind == "stream":
        running = hashlib.md5(usedforsecurity=False)
        last = "-"
        while entries := await client.xrange(key, min=last, count=_SLICE):
            for entry_id, fields in entries:
                running.update(_b(entry_id))
                for field, value in sorted(fields.items()):
                    running.update(_b(field) + b"=" + _b(value) + b";")
            last = "(" + _b(entries[-1][0]).decode()
        return running.digest()
    total = 0
    if kind == "set":
        async for member in client.sscan_iter(key, count=_SLICE):
            total = (total + _h64(member)) & _MASK
    elif kind == "hash":
        async for field, value in client.hscan_iter(key, count=_SLICE):
            total = (total + _h64(field, value)) & _MASK
    elif kind == "zset":
        async for member, score in client.zscan_iter(key, count=_SLICE):
            total = (total + _h64(member, repr(float(score)).encode())) & _MASK
    else:  # a module's type: its DUMP payload (version bytes included)
        return _b(await client.dump(key) or b"")
    return str(total).encode()


async def _read(client: Any, index: int) -> Fingerprint:
    keys = total = 0
    async for key in client.scan_iter(count=_SLICE):
        kind = _b(await client.type(key)).decode()
        if kind == "none":
            continue  # expired or deleted since the SCAN saw it
        total = (total + _h64(key, kind.encode(),
                              await _content(client, key, kind))) & _MASK
        keys += 1
    return {f"db{index}": {"keys": keys, "digest": str(total)}}


def _index(engine: Engine) -> int:
    raw = engine.url.database or ""
    return int(raw) if raw.isdigit() else 0


async def fingerprint(engine: Engine) -> Fingerprint:
    """The fingerprint of the engine's database number (the type's ``fingerprint``)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(engine.url.raw, socket_timeout=120,
                                     socket_connect_timeout=10)
    try:
        return await _read(client, _index(engine))
    except Exception as exc:
        raise fingerprint_error(engine, exc) from exc
    finally:
        await client.aclose()


async def archive_fingerprint(engine: Engine, path: Path) -> Fingerprint:
    """The fingerprint of what an RDB archive holds for the engine's database number,
    read from a private redis-server that loaded it (the one restore uses): exactly what
    the backup holds, however busy the server was while it was taken."""
    from dbplane.engines.redis.backups import loaded

    index = _index(engine)
    async with loaded(path, index) as client:
        return await _read(client, index)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def scratch(engine: Engine) -> AsyncIterator[Engine]:
    """A private redis-server (127.0.0.1, a free port, no persistence, a password of its
    own), stopped and its directory removed on exit; the engine names the same database
    number as ``engine``."""
    import secrets

    import redis.asyncio as aioredis

    server = find_tool("redis-server")
    workdir = Path(tempfile.mkdtemp(prefix="dbplane-drill-"))
    password = secrets.token_hex(16)
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
        "--save", "", "--appendonly", "no", "--daemonize", "no", "--databases", "1024",
        "--requirepass", password, "--logfile", str(workdir / "log"),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    index = engine.url.database if (engine.url.database or "").isdigit() else "0"
    try:
        url = f"redis://:{password}@127.0.0.1:{port}/{index}"
        probe = aioredis.Redis.from_url(url, socket_connect_timeout=1)
        try:
            for _ in range(200):
                if proc.returncode is not None:
                    raise DbplaneError("the scratch redis-server did not start")
                try:
                    await probe.ping()
                    break
                except Exception:
                    await asyncio.sleep(0.05)
            else:
                raise DbplaneError("the scratch redis-server did not answer in time")
        finally:
            await probe.aclose()
        copy = engine_at(engine, url)
        try:
            yield copy
        finally:
            await copy.close()
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        await asyncio.to_thread(shutil.rmtree, workdir, True)
