"""The shards of an InfluxDB portable backup, checked without a server: what an archive
that enters dbplane (an upload) goes through before it is kept, so that a restore can go
in one pass.

Each shard file (``<stamp>.s<id>.tar.gz``) is a gzip'ed tar of TSM files
(``<db>/<rp>/<shard>/<gen>-<seq>.tsm``); the manifest gives each one's tar size. A shard
is read to its end (gzip's CRC checked), its tar size must be the manifest's (reading
stops past it: the expansion is bounded by what the manifest declares, and that by
``MAX_EXPANSION`` times the file), its members must be regular ``.tsm`` files under one
relative directory, and every block of every TSM file must carry the CRC-32 of its data,
as ``influx_inspect verify`` checks (Debian's package does not ship ``influx_inspect``):

- a TSM file starts with the magic ``16 D1 16 D1`` and version 1 and ends with the
  8-byte offset of its index;
- the index is a run of entries: key length (2 bytes), key, block type (1), count (2),
  then ``count`` times min time (8), max time (8), offset (8) and size (4);
- a block at ``offset`` is ``size`` bytes: a big-endian CRC-32 and the data it covers.
"""

from __future__ import annotations

import struct
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from dbplane.errors import ArchiveInvalid

__all__ = ["MAX_EXPANSION", "check_shards", "check_tsm"]

FORMAT = "influxdb-portable"
MAX_EXPANSION = 200
"""A shard's tar may be at most this many times its gzip'ed file (TSM compresses a few
times at most: already compressed blocks)."""
_MAGIC = b"\x16\xd1\x16\xd1\x01"
_CHUNK = 1 << 20


def _invalid(message: str) -> ArchiveInvalid:
    return ArchiveInvalid(message, field="archive", format=FORMAT)


def check_tsm(fh: BinaryIO, size: int, name: str) -> int:
    """Check one TSM file (``size`` bytes from ``fh``): its header, index and every
    block's CRC-32; the number of blocks."""
    if size < len(_MAGIC) + 8:
        raise _invalid(f"{name} is too short to be a TSM file")
    fh.seek(0)
    if fh.read(len(_MAGIC)) != _MAGIC:
        raise _invalid(f"{name} is not a TSM file (no magic number and version 1)")
    fh.seek(size - 8)
    (index_at,) = struct.unpack(">Q", fh.read(8))
    if not len(_MAGIC) <= index_at <= size - 8:
        raise _invalid(f"{name}: its index offset {index_at} is outside the file")
    fh.seek(index_at)
    index = fh.read(size - 8 - index_at)
    pos, blocks = 0, 0
    try:
        while pos < len(index):
            (key_len,) = struct.unpack_from(">H", index, pos)
            pos += 2 + key_len + 1
            (count,) = struct.unpack_from(">H", index, pos)
            pos += 2
            for _ in range(count):
                _, _, offset, length = struct.unpack_from(">qqqI", index, pos)
                pos += 28
                if length < 4 or offset < len(_MAGIC) or offset + length > index_at:
                    raise _invalid(f"{name}: a block at {offset} of {length} bytes is "
                                   "outside the data")
                fh.seek(offset)
                block = fh.read(length)
                (crc,) = struct.unpack_from(">I", block)
                if zlib.crc32(block[4:]) != crc:
                    raise _invalid(f"{name}: the block at offset {offset} does not match "
                                   "its checksum (the data is damaged)")
                blocks += 1
    except struct.error as exc:
        raise _invalid(f"{name}: its index is cut short") from exc
    return blocks


def _check_member(member: tarfile.TarInfo, prefix: list[PurePosixPath]) -> None:
    path = PurePosixPath(member.name)
    if not member.isfile() or path.is_absolute() or ".." in path.parts \
            or len(path.parts) != 4 or path.suffix != ".tsm":
        raise _invalid(f"a shard holds {member.name!r}, which is not a TSM file of one "
                       "database, retention policy and shard")
    if prefix and path.parent != prefix[0]:
        raise _invalid(f"a shard holds files of two directories: {prefix[0]} and "
                       f"{path.parent}")
    prefix.append(path.parent)


class _Counted:
    """The shard's gzip stream, counting the tar bytes read and stopping past a bound."""

    def __init__(self, fh: BinaryIO, limit: int, name: str) -> None:
        self.fh, self.limit, self.name, self.read_bytes = fh, limit, name, 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n if n >= 0 else _CHUNK)
        self.read_bytes += len(data)
        if self.read_bytes > self.limit:
            raise _invalid(f"{self.name} expands past the size its manifest declares")
        return data


def _check_shard(path: Path, declared: int, work: Path) -> int:
    limit = min(declared, max(path.stat().st_size, 1) * MAX_EXPANSION)
    if declared > limit:
        raise _invalid(f"{path.name}: its manifest declares {declared} bytes, more than "
                       f"{MAX_EXPANSION} times the file")
    import gzip

    blocks = 0
    prefix: list[PurePosixPath] = []
    with gzip.open(path, "rb") as raw:
        # reads come in tar records: a record's slack past the bound, then the exact
        # size is compared at the end
        stream = _Counted(raw, limit + _CHUNK, path.name)  # type: ignore[arg-type]
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                _check_member(member, prefix)
                src = tar.extractfile(member)
                assert src is not None
                with tempfile.TemporaryFile(dir=work) as copy:
                    while chunk := src.read(_CHUNK):
                        copy.write(chunk)
                    blocks += check_tsm(copy, member.size, f"{path.name}:{member.name}")
        while stream.read(_CHUNK):  # the tar's end blocks, and gzip's CRC at the end
            pass
    if stream.read_bytes != declared:
        raise _invalid(f"{path.name} holds {stream.read_bytes} bytes of tar, its manifest "
                       f"declares {declared}")
    return blocks


def check_shards(directory: Path, manifest: dict[str, Any]) -> int:
    """Check every shard the manifest names in the extracted backup ``directory``; the
    number of TSM blocks checked. ArchiveInvalid names the first damage found."""
    blocks = 0
    with tempfile.TemporaryDirectory(prefix="dbplane-influx-check-") as work:
        for entry in manifest.get("files") or []:
            name = str(entry.get("fileName"))
            try:
                declared = int(entry.get("size"))
                blocks += _check_shard(directory / name, declared, Path(work))
            except (OSError, EOFError, tarfile.TarError, zlib.error, ValueError,
                    TypeError) as exc:
                raise _invalid(f"the shard {name!r} cannot be read: {exc}") from exc
    return blocks
