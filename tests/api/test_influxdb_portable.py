"""dbplane's InfluxDB archive is the portable backup ``influxd backup -portable`` makes:
the same metastore file, the same shards and manifest entries (the shards in gzip's
stored mode), and ``influxd restore -portable`` by hand restores it."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

from tests.api.test_backups import backup, restore
from tests.api.test_influxdb import metrics  # noqa: F401 (the fixture)
from tests.conftest import AppHandle
from tests.fixtures.servers import PrivateInfluxdb
from tests.fixtures.services import unique_name


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def _by_suffix(files: dict[str, bytes], suffix: str) -> bytes:
    return next(data for name, data in files.items() if name.endswith(suffix))


def _shard_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


async def test_the_archive_is_influxd_s_portable_backup_and_restores_by_hand(
        app_handle: AppHandle, private_influxdb: PrivateInfluxdb, metrics: str,  # noqa: F811
        tmp_path: Path) -> None:
    server = private_influxdb
    server.query(f'CREATE RETENTION POLICY "one.week" ON "{metrics}" DURATION 7d '
                 "REPLICATION 1")
    server.write(metrics, "\n".join(f"cpu,host=h{i % 7} v={i * 0.5},n={i}i "
                                    f"{1_700_000_000 + i * 3600}000000000"
                                    for i in range(3000)))
    server.write(metrics, "disk v=9", rp="one.week")
    before = server.counts(metrics)
    made = await backup(app_handle.client, "metrics")
    archive = (await app_handle.client.get(
        f"/v1/databases/metrics/backups/{made['id']}/archive")).content
    ours = tmp_path / "ours"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(ours, filter="data")
    influxd = shutil.which("influxd")
    assert influxd is not None
    await asyncio.to_thread(
        subprocess.run, [influxd, "backup", "-portable", "-host",
                         f"{server.host}:{server.backup_port}", "-database", metrics,
                         str(tmp_path / "theirs")], check=True, capture_output=True)
    mine, theirs = _files(ours), _files(tmp_path / "theirs")
    assert _by_suffix(mine, ".meta") == _by_suffix(theirs, ".meta")
    manifests = [json.loads(_by_suffix(files, ".manifest")) for files in (mine, theirs)]
    entries = [sorted((f["database"], f["policy"], f["shardID"], f["size"])
                      for f in manifest["files"]) for manifest in manifests]
    assert entries[0] == entries[1] and len(entries[0]) >= 2
    assert {e[1] for e in entries[0]} == {"autogen", "one.week"}
    assert manifests[0]["meta"]["size"] == manifests[1]["meta"]["size"]
    for shard in manifests[1]["files"]:
        same = next(f for f in manifests[0]["files"] if f["shardID"] == shard["shardID"])
        assert _shard_members(mine[same["fileName"]]) == \
            _shard_members(theirs[shard["fileName"]])
        # stored, not compressed: the bytes and a few per 64 KiB
        assert len(mine[same["fileName"]]) > same["size"]

    # influxd restore -portable, by hand, into a new database: every point is there
    copy = unique_name("copy")
    try:
        done = await asyncio.to_thread(
            subprocess.run, [influxd, "restore", "-portable", "-host",
                             f"{server.host}:{server.backup_port}", "-db", metrics,
                             "-newdb", copy, str(ours)], check=True, capture_output=True,
            text=True)
        assert "error" not in done.stderr.lower(), done.stderr
        assert server.counts(copy) == before
    finally:
        server.query(f'DROP DATABASE "{copy}"')


async def test_a_changed_archive_is_refused_at_restore_and_nothing_is_dropped(
        app_handle: AppHandle, private_influxdb: PrivateInfluxdb, metrics: str,  # noqa: F811
        ) -> None:
    """The archive is extracted and the server asked while its checksum is checked: a
    byte changed on disk stops the restore before the database is dropped."""
    client = app_handle.client
    server = private_influxdb
    server.write(metrics, "\n".join(f"cpu v={i} {1_700_000_000 + i}000000000"
                                    for i in range(2000)))
    made = await backup(client, "metrics")
    server.write(metrics, "cpu v=-1 1800000000000000000")
    archive = next(app_handle.ctx.settings.backups_dir.rglob(f"{made['id']}.tar"))
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside a shard, stored as it is
    archive.write_bytes(bytes(data))
    op = await restore(client, "metrics", made["id"])
    assert op["status"] == "error" and op["error"]["code"] == "DBP-B202", op
    assert [s["name"] for s in op["steps"]][:1] == ["verify"]
    assert server.counts(metrics) == {"autogen.cpu": 2001}  # not dropped, not restored
