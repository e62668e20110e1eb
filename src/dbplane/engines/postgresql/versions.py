"""The PostgreSQL builds this machine has, for managed servers and their upgrades.

Looked for, in this order (a directory found twice counts once):

- the build managed servers run by default (``DBPLANE_PG_BIN``, Debian's 15 here);
- Debian's ``/usr/lib/postgresql/*/bin``;
- each directory in ``DBPLANE_POSTGRES_BIN_DIRS`` (``:``-separated);
- the server binaries an installed Python package carries (``pgserver``'s
  ``pginstall/bin``, PostgreSQL 16 without contrib).

A directory counts when it holds ``initdb``, ``postgres``, ``pg_ctl`` and ``psql`` and
``postgres --version`` answers. Its features: ``wal-archiving`` always;
``pg-stat-statements`` when the extension's control file is in its share directory
(``pg_config --sharedir``, or ``../share/postgresql`` beside ``bin``).
"""

from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path

from dbplane.engines.versions import Installation, cached, parse_version, tool_output

__all__ = ["find_installations", "known_settings"]

_TOOLS = ("initdb", "postgres", "pg_ctl", "psql")
_PACKAGES = ("pgserver",)


def _candidates(default: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = [
        (default, "debian" if str(default).startswith("/usr/lib/postgresql/")
         else "DBPLANE_PG_BIN")]
    out += [(Path(p), "debian") for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"))]
    listed = os.environ.get("DBPLANE_POSTGRES_BIN_DIRS", "")
    out += [(Path(p), "DBPLANE_POSTGRES_BIN_DIRS") for p in listed.split(":") if p.strip()]
    for name in _PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        for location in (spec.submodule_search_locations or []) if spec else []:
            out.append((Path(location) / "pginstall" / "bin", name))
    return out


def _share_dir(bin_dir: Path) -> Path | None:
    text = tool_output([str(bin_dir / "pg_config"), "--sharedir"])
    if text:
        return Path(text.splitlines()[0])
    beside = bin_dir.parent / "share" / "postgresql"
    return beside if beside.is_dir() else None


def _inspect(bin_dir: Path, source: str) -> Installation | None:
    if not all((bin_dir / tool).is_file() for tool in _TOOLS):
        return None
    text = tool_output([str(bin_dir / "postgres"), "--version"])
    _, marker, readable = (text or "").partition("(PostgreSQL) ")
    version = parse_version(readable) if marker else None
    if version is None:
        return None
    share = _share_dir(bin_dir)
    features = ["wal-archiving"]
    if share is not None and (share / "extension" / "pg_stat_statements.control").is_file():
        features.insert(0, "pg-stat-statements")
    return Installation("postgresql", version, readable.strip(), bin_dir, source, tuple(features),
                        Installation.created(bin_dir / "postgres"))


def find_installations(default: Path) -> list[Installation]:
    """Every PostgreSQL build found, oldest version first (see the module's docstring)."""
    key = f"postgresql:{default}:{os.environ.get('DBPLANE_POSTGRES_BIN_DIRS', '')}"

    def find() -> list[Installation]:
        seen: set[Path] = set()
        found: list[Installation] = []
        for path, source in _candidates(default):
            try:
                real = path.resolve()
            except OSError:
                continue
            if real in seen:
                continue
            seen.add(real)
            inst = _inspect(path, source)
            if inst is not None:
                found.append(inst)
        return sorted(found, key=lambda i: i.version)

    return cached(key, find)


def known_settings(inst: Installation) -> set[str] | None:
    """The setting names a build knows (``postgres --describe-config``); None when it
    cannot tell."""
    text = tool_output([str(inst.bin_dir / "postgres"), "--describe-config"], timeout=20)
    if text is None:
        return None
    return {line.split("\t", 1)[0] for line in text.splitlines() if "\t" in line}
