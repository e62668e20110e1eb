"""The server versions dbplane can run: one ``Installation`` per set of server binaries
found on this machine (a type's ``managed`` part lists them, ``ManagedServer.installations``).

An installation's id is stable (its type, version and binary directory) and opaque, as
Scalingo's ``version_id``; ``public()`` is the seed's version object (``major``,
``minor``, ``patch``, ``build``, ``features``, ``created_at``, ``id``…).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Installation", "parse_version", "tool_output"]

_NUMBERS = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first ``major[.minor[.patch]]`` in ``text`` (``postgres (PostgreSQL) 16.2``)."""
    found = _NUMBERS.search(text)
    if found is None:
        return None
    major, minor, patch = (int(g) if g else 0 for g in found.groups())
    return major, minor, patch


def tool_output(argv: list[str], timeout: float = 10.0) -> str | None:
    """What a binary prints (``--version``), or None when it cannot run."""
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout,  # noqa: S603
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return (done.stdout or done.stderr).decode(errors="replace").strip()


@dataclass(frozen=True)
class Installation:
    """One server build this machine has."""

    type_name: str
    version: tuple[int, int, int]
    readable: str
    """As the binary reports it (``15.20 (Debian 15.20-0+deb12u1)``)."""
    bin_dir: Path
    source: str
    """Where it was found: ``debian``, ``DBPLANE_POSTGRES_BIN_DIRS``, ``pgserver``, ``PATH``."""
    features: tuple[str, ...]
    """The managed features this build can run (``pg-stat-statements`` needs contrib)."""
    created_at: datetime

    @property
    def id(self) -> str:
        key = f"{self.type_name}:{'.'.join(map(str, self.version))}:{self.bin_dir}"
        return hashlib.sha256(key.encode()).hexdigest()[:24]

    @property
    def label(self) -> str:
        return ".".join(map(str, self.version))

    def public(self, type_id: str) -> dict[str, Any]:
        major, minor, patch = self.version
        stamp = self.created_at.astimezone(UTC).isoformat(timespec="milliseconds")
        return {"id": self.id, "database_type_id": type_id, "major": major, "minor": minor,
                "patch": patch, "build": 1, "release_number": None,
                "features": list(self.features), "allowed_plugins": [],
                "readable_version": self.readable, "source": self.source,
                "bin_dir": str(self.bin_dir), "created_at": stamp, "updated_at": stamp,
                "deleted_at": None, "warning_message": ""}

    @staticmethod
    def created(binary: Path) -> datetime:
        try:
            return datetime.fromtimestamp(binary.stat().st_mtime, tz=UTC)
        except OSError:
            return datetime.now(UTC)


_cache: dict[str, tuple[float, list[Installation]]] = {}
CACHE_SECONDS = 30.0
"""How long a discovery is reused (it runs each build's binary once)."""


def cached(key: str, find: Any) -> list[Installation]:
    """``find()``'s installations, reused for ``CACHE_SECONDS`` under ``key``."""
    import time

    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    found: list[Installation] = find()
    _cache[key] = (now, found)
    return found


def single(type_name: str, binary: str | None, argv: list[str], pattern: str,
           features: tuple[str, ...]) -> list[Installation]:
    """The one build of a type found on the PATH: ``binary argv`` prints its version,
    found by ``pattern``'s first group (``Ver (\\S+)`` for ``mariadbd --version``);
    [] without it."""
    if binary is None:
        return []

    def find() -> list[Installation]:
        text = tool_output([binary, *argv])
        found = re.search(pattern, text or "")
        version = parse_version(found.group(1)) if found else None
        if found is None or version is None:
            return []
        path = Path(binary)
        return [Installation(type_name, version, found.group(1), path.parent, "PATH",
                             features, Installation.created(path))]

    return cached(f"{type_name}:{binary}", find)
