"""A SQLite database's fingerprint, and a scratch file to restore a drill into.

Every table (``sqlite_master``, internal ``sqlite_%`` tables left out) with its row count
and a content checksum: the sum modulo 2**64 of the first 64 bits of the MD5 of each
row's canonical form (its values' types and bytes), so the order rows come back in does
not matter. Rows are streamed from one cursor in one read transaction: constant memory,
one snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from dbplane.engines.base import Engine
from dbplane.engines.fingerprint import Fingerprint
from dbplane.engines.scratch import engine_at

__all__ = ["archive_fingerprint", "file_fingerprint", "fingerprint", "scratch"]

_MASK = (1 << 64) - 1


def _value(value: Any) -> bytes:
    if value is None:
        return b"n"
    if isinstance(value, bytes):
        return b"b" + str(len(value)).encode() + b":" + value
    if isinstance(value, float):
        return b"f" + value.hex().encode()
    text = str(value).encode("utf-8", "surrogatepass")
    kind = b"i" if isinstance(value, int) else b"t"
    return kind + str(len(text)).encode() + b":" + text


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def file_fingerprint(path: Path) -> Fingerprint:
    """The fingerprint of the SQLite file at ``path`` (read-only; blocking)."""
    con = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True,
                          isolation_level=None)
    try:
        con.execute("BEGIN")
        names = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
        found: Fingerprint = {}
        for name in names:
            rows = total = 0
            # the name comes from the catalog, quoted
            cursor = con.execute(f"SELECT * FROM {_ident(name)}")  # noqa: S608
            while batch := cursor.fetchmany(1000):
                for row in batch:
                    digest = hashlib.md5(b"\x1f".join(map(_value, row)),
                                         usedforsecurity=False).digest()
                    total = (total + int.from_bytes(digest[:8], "big")) & _MASK
                    rows += 1
            found[name] = {"rows": rows, "checksum": str(total)}
        con.execute("COMMIT")
        return found
    finally:
        con.close()


async def fingerprint(engine: Engine) -> Fingerprint:
    """The fingerprint of the engine's database file (the type's ``fingerprint`` part)."""
    return await asyncio.to_thread(file_fingerprint, engine.url.file_path)


async def archive_fingerprint(_engine: Engine, path: Path) -> Fingerprint:
    """The fingerprint of an archive (a SQLite file): exactly what a backup holds."""
    return await asyncio.to_thread(file_fingerprint, path)


@contextlib.asynccontextmanager
async def scratch(engine: Engine) -> AsyncIterator[Engine]:
    """A SQLite engine on a new file in a private temporary directory, removed on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="dbplane-drill-"))
    try:
        target = workdir / "scratch.db"
        sqlite3.connect(target).close()
        yield engine_at(engine, f"sqlite:///{target}")
    finally:
        await asyncio.to_thread(shutil.rmtree, workdir, True)
