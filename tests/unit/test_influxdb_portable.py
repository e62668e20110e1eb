"""The portable files dbplane writes from ``influxd backup``'s legacy download
(``engines/influxdb/portable.py``): gzip's stored mode read back by gzip, the metastore
message, and what is refused."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import struct
import tarfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbplane.engines.influxdb.portable import (
    META_MAGIC,
    metastore,
    portable_meta,
    stored_gzip,
    stored_gzip_size,
    write_portable,
)
from dbplane.errors import BackupToolFailed

_BLOCK = 65535


@pytest.mark.parametrize("size", [0, 1, _BLOCK - 1, _BLOCK, _BLOCK + 1, 16 * _BLOCK,
                                  16 * _BLOCK + 1, 3 * 16 * _BLOCK + 7])
def test_stored_gzip_is_read_back_by_gzip(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "shard").write_bytes(data)
    out = b"".join(stored_gzip(tmp_path / "shard"))
    assert len(out) == stored_gzip_size(size)
    assert gzip.decompress(out) == data
    # stored blocks: the data is there as it is, framed (nothing was compressed)
    assert data[:1000] in out
    assert struct.unpack("<II", out[-8:]) == (zlib.crc32(data), size)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=3 * _BLOCK))
def test_stored_gzip_of_any_bytes(tmp_path_factory: pytest.TempPathFactory,
                                  data: bytes) -> None:
    path = tmp_path_factory.mktemp("gz") / "shard"
    path.write_bytes(data)
    out = b"".join(stored_gzip(path))
    assert len(out) == stored_gzip_size(len(data)) and gzip.decompress(out) == data


def test_a_shard_that_shrinks_while_it_is_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "shard"
    path.write_bytes(os.urandom(20 * _BLOCK))
    pieces = stored_gzip(path)
    next(pieces)  # the header: the size is known from here
    path.write_bytes(b"short")
    with pytest.raises(BackupToolFailed, match="changed while it was read"):
        list(pieces)


def _meta00(data: bytes, node: bytes = b'{"id":1}') -> bytes:
    return (struct.pack(">QQ", META_MAGIC, len(data)) + data
            + struct.pack(">Q", len(node)) + node)


def test_the_metastore_message() -> None:
    data = bytes(range(256)) * 3  # a length that takes two bytes of varint
    meta = portable_meta(metastore(_meta00(data)))
    assert meta == b"\x0a" + bytes([len(data) & 0x7F | 0x80, len(data) >> 7]) + data + \
        b"\x10\x00"
    with pytest.raises(BackupToolFailed, match="wrong magic number"):
        metastore(b"\x00" * 8 + _meta00(data)[8:])
    with pytest.raises(BackupToolFailed, match="wrong magic number or length"):
        metastore(_meta00(data)[:100])
    with pytest.raises(BackupToolFailed, match="metastore of 3 bytes"):
        metastore(b"abc")


def _legacy(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir()
    (directory / "meta.00").write_bytes(_meta00(b"the metastore"))
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


class _Sink:
    def __init__(self) -> None:
        self.out = io.BytesIO()

    def write(self, data: bytes) -> None:
        self.out.write(data)


def test_write_portable_names_every_shard_in_its_manifest(tmp_path: Path) -> None:
    shards = {"my.db.one.week.00002.00": os.urandom(70_000),
              "my.db.autogen.00010.00": os.urandom(10)}
    sink = _Sink()
    manifest = write_portable(_legacy(tmp_path / "b", shards), "my.db", sink)
    with tarfile.open(fileobj=io.BytesIO(sink.out.getvalue())) as tar:
        members = {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                   for m in tar.getmembers()}
    base = manifest["meta"]["fileName"].removesuffix(".meta")
    assert sorted(members) == sorted([f"{base}.meta", f"{base}.manifest",
                                      f"{base}.s2.tar.gz", f"{base}.s10.tar.gz"])
    assert json.loads(members[f"{base}.manifest"]) == manifest
    assert manifest["meta"]["size"] == len(b"the metastore")
    assert [(f["database"], f["policy"], f["shardID"], f["size"])
            for f in manifest["files"]] == [("my.db", "one.week", 2, 70_000),
                                           ("my.db", "autogen", 10, 10)]
    assert gzip.decompress(members[f"{base}.s2.tar.gz"]) == \
        shards["my.db.one.week.00002.00"]


@pytest.mark.parametrize("name", ["other.autogen.00001.00", "my.db.autogen.00001.01",
                                  "my.db.autogen.x.00", "my.db.00001.00"])
def test_a_file_that_is_not_a_shard_of_the_database_is_refused(tmp_path: Path,
                                                               name: str) -> None:
    with pytest.raises(BackupToolFailed, match=re.escape("which is not a shard of 'my.db'")):
        write_portable(_legacy(tmp_path / "b", {name: b"x"}), "my.db", _Sink())


def test_a_download_without_its_metastore_is_refused(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    with pytest.raises(BackupToolFailed, match="no metastore"):
        write_portable(tmp_path / "b", "db", _Sink())
