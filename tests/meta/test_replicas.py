"""Replicas sharing one PostgreSQL metadata store (a SQLite store is one process's file)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from dbplane.meta.store import MetaStore
from tests.conftest import MetaBackend
from tests.meta.test_migrations import _differences

pytestmark = pytest.mark.parametrize("meta_backend", ["postgresql"], indirect=True)


async def test_replicas_starting_together_migrate_once(meta_backend: MetaBackend,
                                                       tmp_path: Path) -> None:
    assert meta_backend.url is not None
    # three processes, as three replicas would be, racing to migrate the same empty store
    script = ("import asyncio, sys\n"
              "from pathlib import Path\n"
              "from dbplane.meta.store import MetaStore\n"
              "async def main():\n"
              "    store = await MetaStore.open(sys.argv[1], Path(sys.argv[2]))\n"
              "    await store.close()\n"
              "asyncio.run(main())\n")
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-c", script,
                                                  meta_backend.url, str(tmp_path / "m.db"),
                                                  stderr=asyncio.subprocess.PIPE)
             for _ in range(3)]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    store = await MetaStore.open(meta_backend.url, tmp_path / "m.db")
    try:
        async with store.connect() as conn:
            assert await conn.run_sync(_differences) == []
    finally:
        await store.close()
