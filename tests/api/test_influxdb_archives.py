"""InfluxDB archives checked in full when they enter dbplane (an upload): a shard whose
TSM data is damaged, whose size is not the manifest's, or which holds another path is
refused and nothing changes; a good upload restores in one pass; ``restore=two-pass``
restores through a temporary database."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from typing import Any

import pytest

from tests.api.test_backups import backup, restore
from tests.api.test_influxdb import metrics  # noqa: F401 (the fixture)
from tests.conftest import AppHandle
from tests.fixtures.servers import PrivateInfluxdb
from tests.fixtures.services import unique_name


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()  # type: ignore[union-attr]
                if m.isfile()}


def _tar(members: dict[str, bytes], *, gz: bool = False) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(out.getvalue()) if gz else out.getvalue()


def _shard(members: dict[str, bytes]) -> tuple[str, dict[str, bytes]]:
    name = next(n for n in members if n.endswith(".tar.gz"))
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(members[name]))) as tar:
        inner = {m.name: tar.extractfile(m).read() for m in tar.getmembers()  # type: ignore[union-attr]
                 if m.isfile()}
    return name, inner


def _damaged(members: dict[str, bytes], how: str) -> dict[str, bytes]:
    name, inner = _shard(members)
    out = dict(members)
    if how == "block":
        # a byte of the first TSM block's data, past its checksum, flipped in place:
        # the shard's tar keeps its layout and size, so only the TSM check sees it
        raw = bytearray(gzip.decompress(members[name]))
        with tarfile.open(fileobj=io.BytesIO(bytes(raw))) as tar:
            first = next(m for m in tar.getmembers() if m.isfile())
        raw[first.offset_data + 5 + 4 + 3] ^= 0xFF
        out[name] = gzip.compress(bytes(raw))
    elif how == "path":
        tsm_name, data = next(iter(inner.items()))
        out[name] = _tar({"../../etc/" + tsm_name.rsplit("/", 1)[1]: data}, gz=True)
    elif how == "size":
        manifest_name = next(n for n in members if n.endswith(".manifest"))
        manifest: dict[str, Any] = json.loads(members[manifest_name])
        for entry in manifest["files"]:
            entry["size"] += 512
        out[manifest_name] = json.dumps(manifest).encode()
    return out


@pytest.mark.parametrize("how, said", [
    ("block", "does not match its checksum"),
    ("size", "its manifest declares"),
    ("path", "not a TSM file of one database"),
])
async def test_a_damaged_shard_is_refused_at_upload(
        app_handle: AppHandle, private_influxdb: PrivateInfluxdb, metrics: str,  # noqa: F811
        how: str, said: str) -> None:
    client = app_handle.client
    private_influxdb.write(metrics, "\n".join(f"cpu,host=h{i % 3} v={i} "
                                              f"{1_700_000_000 + i}000000000"
                                              for i in range(300)))
    made = await backup(client, "metrics")
    archive = (await client.get(f"/v1/databases/metrics/backups/{made['id']}/archive")
               ).content
    good = await client.post("/v1/databases/metrics/backups/upload",
                             files={"file": ("good.tar", archive)})
    assert good.status_code == 201, good.text  # the same archive, untouched, is taken
    refused = await client.post("/v1/databases/metrics/backups/upload", files={
        "file": ("bad.tar", _tar(_damaged(_members(archive), how)))})
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "DBP-B201" and said in refused.json()["detail"]
    listed = (await client.get("/v1/databases/metrics/backups")).json()["database_backups"]
    assert len(listed) == 2  # the backup and the good upload: nothing of the bad one
    assert private_influxdb.counts(metrics) == {"autogen.cpu": 300}


async def test_an_uploaded_archive_restores_in_one_pass(
        app_handle: AppHandle, private_influxdb: PrivateInfluxdb, metrics: str  # noqa: F811
        ) -> None:
    client = app_handle.client
    private_influxdb.write(metrics, "cpu v=1 1700000000000000000\ncpu v=2 1700000001000000000")
    made = await backup(client, "metrics")
    archive = (await client.get(f"/v1/databases/metrics/backups/{made['id']}/archive")
               ).content
    uploaded = (await client.post("/v1/databases/metrics/backups/upload",
                                  files={"file": ("up.tar", archive)})
                ).json()["database_backup"]
    private_influxdb.write(metrics, "cpu v=3 1700000002000000000")
    op = await restore(client, "metrics", uploaded["id"])
    assert op["status"] == "done", op
    assert private_influxdb.counts(metrics) == {"autogen.cpu": 2}


async def test_two_pass_restores_through_a_temporary_database(
        app_handle: AppHandle, private_influxdb: PrivateInfluxdb) -> None:
    client = app_handle.client
    name = unique_name("m")
    private_influxdb.query(f'CREATE DATABASE "{name}"')
    try:
        bad = await client.post("/v1/databases", json={
            "resource_id": "careful", "url": private_influxdb.url(name) + "&restore=later"})
        assert bad.status_code == 422 and "restore" in bad.json()["detail"], bad.text
        answer = await client.post("/v1/databases", json={
            "resource_id": "careful",
            "url": private_influxdb.url(name) + "&restore=two-pass"})
        assert answer.status_code == 201, answer.text
        private_influxdb.write(name, "cpu v=1 1700000000000000000")
        made = await backup(client, "careful")
        private_influxdb.write(name, "cpu v=2 1700000001000000000")
        op = await restore(client, "careful", made["id"])
        assert op["status"] == "done", op
        assert private_influxdb.counts(name) == {"autogen.cpu": 1}
        assert not [r for r in private_influxdb.rows("SHOW DATABASES")
                    if "_restore_" in str(r["name"])]
    finally:
        private_influxdb.query(f'DROP DATABASE "{name}"')
