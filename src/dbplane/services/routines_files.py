"""The project directory: every migration, factory and seeder file, with its stable id,
checksum and, for a file that cannot be read, the reason.

Where files are: ``<project_dir>/{migrations,factories,seeders}/`` for every database, and
``<project_dir>/<resource_id>/{migrations,factories,seeders}/`` for one database: when a
database's own ``migrations/`` folder exists, its migrations come from there only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbplane.errors import InvalidRoutineFile, RoutineFileNotFound, WrongFileKind
from dbplane.routines.files import (
    KIND_DIRS,
    FileKind,
    checksum,
    file_id,
    file_kind,
    parse_migration_name,
)
from dbplane.routines.specs import SpecError, parse_factory, parse_seeder
from dbplane.services.context import AppContext

__all__ = ["ProjectFile", "file_format", "find_file", "migration_dir", "scan_files"]


@dataclass(frozen=True)
class ProjectFile:
    file_id: str
    kind: FileKind
    path: str
    """Relative to the project directory, ``/`` separated."""
    absolute: Path
    checksum: str
    text: str | None
    error: str | None
    database: str | None
    """The resource_id whose own folder holds the file (None: the shared folders)."""

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def public(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "kind": self.kind, "path": self.path,
                "name": self.name, "format": file_format(self.name),
                "checksum": self.checksum, "database": self.database,
                "error": self.error}


def file_format(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower()
    return "yaml" if ext == "yml" else ext


def _check(kind: FileKind, name: str, text: str) -> str | None:
    fmt = file_format(name)
    try:
        if fmt == "py":
            compile(text, name, "exec")
        elif kind == "factory":
            parse_factory(text, fmt)
        elif kind == "seeder":
            parse_seeder(text, fmt, name)
    except SpecError as exc:
        return str(exc)
    except SyntaxError as exc:
        return f"Python syntax error: {exc.msg} (line {exc.lineno})"
    if kind == "migration":
        try:
            parse_migration_name(name)
        except ValueError as exc:
            return str(exc)
    return None


def _read(root: Path, path: Path, kind: FileKind, database: str | None) -> ProjectFile:
    rel = path.relative_to(root).as_posix()
    data = path.read_bytes()
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    error = "not UTF-8 text" if text is None else _check(kind, path.name, text)
    return ProjectFile(file_id=file_id(rel), kind=kind, path=rel, absolute=path,
                       checksum=checksum(data), text=text, error=error, database=database)


def _scan(root: Path) -> list[ProjectFile]:
    out: list[ProjectFile] = []
    if not root.is_dir():
        return out
    bases: list[tuple[Path, str | None]] = [(root, None)]
    for child in sorted(root.iterdir()):
        if child.is_dir() and not child.name.startswith(".") and child.name not in KIND_DIRS \
                and any((child / d).is_dir() for d in KIND_DIRS):
            bases.append((child, child.name))
    for base, database in bases:
        for dir_name in KIND_DIRS:
            folder = base / dir_name
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                kind = file_kind(dir_name, path.name)
                if kind is not None and path.is_file():
                    out.append(_read(root, path, kind, database))
    return out


async def scan_files(ctx: AppContext, kind: FileKind | None = None) -> list[ProjectFile]:
    """Every file of the project directory (of one kind), read now."""
    files = await asyncio.to_thread(_scan, ctx.settings.project_dir)
    return [f for f in files if kind is None or f.kind == kind]


def migration_dir(ctx: AppContext, resource_id: str) -> str | None:
    """The database's own folder name when it has its own ``migrations/``, else None."""
    own = ctx.settings.project_dir / resource_id / "migrations"
    return resource_id if own.is_dir() else None


async def find_file(ctx: AppContext, fid: str, expected: FileKind) -> ProjectFile:
    """The file with this id, of the expected kind, readable."""
    for f in await scan_files(ctx):
        if f.file_id == fid or (f.path == fid or f.path == f"{_KIND_DIRS_BY_KIND[expected]}/"
                                f"{fid}"):
            if f.kind != expected:
                raise WrongFileKind(file_id=fid, path=f.path, kind=f.kind, expected=expected)
            if f.error is not None or f.text is None:
                raise InvalidRoutineFile(f.error or "cannot be read", path=f.path,
                                         file_id=f.file_id)
            return f
    raise RoutineFileNotFound(fid, expected)


_KIND_DIRS_BY_KIND: dict[str, str] = {v: k for k, v in KIND_DIRS.items()}
