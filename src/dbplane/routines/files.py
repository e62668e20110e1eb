"""The project directory's rules, on names and texts only: which kind a file is, its
stable ``file_id``, its checksum, and how migration files pair up and order.

Layout (relative to the project directory)::

    migrations/0001_create_users.up.sql     with an optional 0001_create_users.down.sql
    migrations/0002_add_score.py            defines upgrade(op) and downgrade(op)
    factories/users.yaml                    (.yml, .json, .py)
    seeders/roles.yaml                      (.yml, .json, .csv, .sql)
    <resource_id>/migrations/...            a database's own folders (see docs/routines.md)
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "FILE_NAMESPACE",
    "KIND_DIRS",
    "FileKind",
    "Migration",
    "MigrationFile",
    "checksum",
    "file_id",
    "file_kind",
    "group_migrations",
    "parse_migration_name",
]

FileKind = Literal["migration", "factory", "seeder"]

KIND_DIRS: dict[str, FileKind] = {"migrations": "migration", "factories": "factory",
                                  "seeders": "seeder"}
_SUFFIXES: dict[FileKind, tuple[str, ...]] = {
    "migration": (".sql", ".py"),
    "factory": (".yaml", ".yml", ".json", ".py"),
    "seeder": (".yaml", ".yml", ".json", ".csv", ".sql"),
}

FILE_NAMESPACE = uuid.UUID("6f1d8a52-3c1e-5b7a-9d4e-0b6c2f8e1a37")
"""The uuid5 namespace of file ids: the same path gives the same id on every replica."""

_MIGRATION_NAME = re.compile(
    r"^(?P<version>\d+)_(?P<name>[A-Za-z0-9_\-]+?)(?:\.(?P<direction>up|down))?"
    r"\.(?P<format>sql|py)$")


def file_id(rel_path: str) -> str:
    """The stable id of a file: a UUID derived from its path relative to the project
    directory (``/`` separated), never random."""
    return str(uuid.uuid5(FILE_NAMESPACE, rel_path.replace("\\", "/").lstrip("/")))


def checksum(data: bytes) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def file_kind(dir_name: str, file_name: str) -> FileKind | None:
    """The kind of ``file_name`` inside a folder named ``dir_name``, if it is one."""
    kind = KIND_DIRS.get(dir_name)
    if kind is None or file_name.startswith((".", "_")):
        return None
    return kind if file_name.lower().endswith(_SUFFIXES[kind]) else None


@dataclass(frozen=True)
class MigrationFile:
    """A migration file's name, read: ``0001_create_users.up.sql``."""

    version: str
    name: str
    direction: Literal["up", "down"]
    format: Literal["sql", "py"]

    @property
    def key(self) -> str:
        """What the applied-migrations table records: ``0001_create_users``."""
        return f"{self.version}_{self.name}"


def parse_migration_name(file_name: str) -> MigrationFile:
    """Read a migration file's name; ValueError says what the name should look like."""
    m = _MIGRATION_NAME.match(file_name)
    if m is None:
        raise ValueError(f"{file_name!r} is not a migration name: use NNNN_name.up.sql, "
                         "NNNN_name.down.sql or NNNN_name.py")
    fmt = m.group("format")
    direction = m.group("direction")
    if fmt == "py" and direction is not None:
        raise ValueError(f"{file_name!r}: a Python migration holds both directions; name it "
                         "NNNN_name.py")
    if fmt == "sql" and direction is None:
        direction = "up"
    return MigrationFile(version=m.group("version"), name=m.group("name"),
                         direction="down" if direction == "down" else "up",
                         format="py" if fmt == "py" else "sql")


@dataclass
class Migration:
    """One migration: its up file (and a down file for SQL), by key."""

    key: str
    version: str
    format: Literal["sql", "py"]
    up: str | None = None
    """The up file's path (relative to the project directory)."""
    down: str | None = None
    errors: list[str] = field(default_factory=list)


def group_migrations(paths: list[str]) -> list[Migration]:
    """Pair up/down files by key and order the migrations by version (numerically), then
    name. A name that cannot be read, a down file without an up file, or two migrations
    with one version are listed in ``errors`` of the migration concerned."""
    by_key: dict[str, Migration] = {}
    for rel in paths:
        name = rel.rsplit("/", 1)[-1]
        try:
            parsed = parse_migration_name(name)
        except ValueError as exc:
            by_key[name] = Migration(key=name, version="", format="sql", errors=[str(exc)])
            continue
        mig = by_key.get(parsed.key)
        if mig is None:
            mig = by_key[parsed.key] = Migration(key=parsed.key, version=parsed.version,
                                                 format=parsed.format)
        elif mig.format != parsed.format:
            mig.errors.append(f"{parsed.key} exists both as SQL and as Python")
        if parsed.direction == "up":
            mig.up = rel
        else:
            mig.down = rel
    versions: dict[int, list[Migration]] = {}
    for mig in by_key.values():
        if mig.version:
            versions.setdefault(int(mig.version), []).append(mig)
        if mig.up is None and not mig.errors:
            mig.errors.append(f"{mig.key} has a down file but no up file")
    for same in versions.values():
        if len(same) > 1:
            keys = ", ".join(sorted(m.key for m in same))
            for mig in same:
                mig.errors.append(f"two migrations share the version {mig.version}: {keys}")
    return sorted(by_key.values(),
                  key=lambda m: (int(m.version) if m.version else -1, m.key))
