"""Point-in-time restore of a managed PostgreSQL (the ``pitr`` part).

What the server's directory holds once ``wal-archiving`` is on:

- ``wal-archive/``: every completed WAL segment, copied by ``archive_command``;
- ``base-backups/<stamp>/``: ``pg_basebackup -Ft -z -Xs -c fast`` output (``base.tar.gz``,
  ``pg_wal.tar.gz``, ``backup_manifest``) and ``dbplane-base.json``, the manifest dbplane
  reads: start and end time, start and end LSN, timeline, size.

The restorable window is computed from both (:meth:`PostgresqlPitr.window`): a base
backup can be restored from its end on, as far as the archived segments that follow its
end are contiguous; the latest moment is the last transaction (commit or abort) found in
those segments by ``pg_waldump`` (PostgreSQL stops a time-targeted recovery before the
first transaction later than the target: a target after the last one found cannot be
reached and the recovery fails). A missing segment ends the window there.

Methods are synchronous (they run tools); services call them in a worker thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from dbplane.engines.managed import ServerPlan
from dbplane.engines.postgresql.managed import bin_dir
from dbplane.engines.runtime import ServerRuntime

__all__ = ["BaseBackup", "PostgresqlPitr", "Window"]

_SEGMENT = re.compile(r"^[0-9A-F]{24}$")
_XACT = re.compile(r"desc: (?:COMMIT|ABORT) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC")
_MANIFEST = "dbplane-base.json"
_CACHE = "pitr-waldump-cache.json"


def _lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace(
        "+00:00", "Z") if value else None


@dataclass(frozen=True)
class BaseBackup:
    """One base backup, as its manifest says."""

    id: str
    path: Path
    started_at: datetime
    finished_at: datetime
    start_lsn: str
    end_lsn: str
    timeline: int
    size: int

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "started_at": _iso(self.started_at),
                "finished_at": _iso(self.finished_at), "start_lsn": self.start_lsn,
                "end_lsn": self.end_lsn, "timeline": self.timeline, "size": self.size}


@dataclass(frozen=True)
class Range:
    """A stretch of time one base backup and the archive after it can restore to."""

    earliest: datetime
    latest: datetime
    base: BaseBackup

    def public(self) -> dict[str, Any]:
        return {"earliest": _iso(self.earliest), "latest": _iso(self.latest),
                "base_backup": self.base.id}


@dataclass(frozen=True)
class Window:
    """What can really be restored: the ranges (one per run of contiguous WAL after a base
    backup), the newest last; and what the archive looked like."""

    timeline: int | None
    ranges: list[Range]
    base_backups: list[BaseBackup]
    segments: int
    missing: list[str]
    """The first missing segment after each base backup's end whose run stops early."""
    last_segment: str | None
    reason: str | None

    def base_for(self, target: datetime) -> BaseBackup | None:
        """The newest base backup whose range holds ``target``."""
        found = [r for r in self.ranges if r.earliest <= target <= r.latest]
        return max(found, key=lambda r: r.base.finished_at).base if found else None

    def public(self) -> dict[str, Any]:
        newest = max(self.ranges, key=lambda r: r.latest) if self.ranges else None
        return {
            "earliest": _iso(newest.earliest) if newest else None,
            "latest": _iso(newest.latest) if newest else None,
            "timeline": self.timeline,
            "ranges": [r.public() for r in sorted(self.ranges, key=lambda r: r.earliest)],
            "base_backups": [b.public() for b in self.base_backups],
            "archive": {"segments": self.segments, "last_segment": self.last_segment,
                        "missing": self.missing},
            "latest_is": "the last transaction (commit or abort) found by pg_waldump in "
                         "the contiguous archived WAL after the base backup",
            "reason": self.reason,
        }


class PostgresqlPitr:
    """Base backups, the restorable window and the files of a point-in-time recovery."""

    feature: ClassVar[str] = "wal-archiving"
    """The managed server's feature that must be on."""

    # -- where things are ---------------------------------------------------------

    def archive_dir(self, plan: ServerPlan) -> Path:
        return plan.directory / "wal-archive"

    def backups_dir(self, plan: ServerPlan) -> Path:
        return plan.directory / "base-backups"

    # -- base backups --------------------------------------------------------------

    def base_backup(self, rt: ServerRuntime, plan: ServerPlan, keep: int) -> BaseBackup:
        """Take a base backup (``pg_basebackup -Ft -z -Xs -c fast`` over the server's
        socket), keep the newest ``keep`` and the WAL from the oldest kept one on."""
        root = self.backups_dir(plan)
        _mkdir(root, plan.user)
        started = datetime.now(UTC)
        stamp = started.strftime("%Y%m%dT%H%M%S%fZ")
        partial = root / f"{stamp}.partial"
        _mkdir(partial, plan.user)
        try:
            rt.run([str(bin_dir(plan) / "pg_basebackup"), "-h", str(plan.directory),
                    "-p", str(plan.port), "-U", "postgres", "-D", str(partial), "-Ft",
                    "-z", "-Xs", "-c", "fast", "--no-sync"], plan.user, timeout=24 * 3600)
            finished = datetime.now(UTC)
            manifest = json.loads((partial / "backup_manifest").read_text())
            wal = manifest["WAL-Ranges"][-1]
            size = sum(p.stat().st_size for p in partial.iterdir())
            info = {"started_at": _iso(started), "finished_at": _iso(finished),
                    "start_lsn": wal["Start-LSN"], "end_lsn": wal["End-LSN"],
                    "timeline": int(wal["Timeline"]), "size": size}
            (partial / _MANIFEST).write_text(json.dumps(info, indent=1) + "\n")
            final = root / stamp
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        self.prune(plan, keep)
        found = next(b for b in self.base_backups(plan) if b.id == stamp)
        return found

    def base_backups(self, plan: ServerPlan) -> list[BaseBackup]:
        """The finished base backups, oldest first."""
        out = []
        root = self.backups_dir(plan)
        if not root.is_dir():
            return []
        for entry in sorted(root.iterdir()):
            try:
                info = json.loads((entry / _MANIFEST).read_text())
                out.append(BaseBackup(
                    id=entry.name, path=entry,
                    started_at=datetime.fromisoformat(info["started_at"]),
                    finished_at=datetime.fromisoformat(info["finished_at"]),
                    start_lsn=info["start_lsn"], end_lsn=info["end_lsn"],
                    timeline=int(info["timeline"]), size=int(info["size"])))
            except (OSError, ValueError, KeyError):
                continue  # unfinished (.partial) or not dbplane's
        return out

    def prune(self, plan: ServerPlan, keep: int) -> None:
        """Keep the newest ``keep`` base backups and the archived WAL from the oldest kept
        one's start on (history files are kept)."""
        backups = self.base_backups(plan)
        for old in backups[:-keep] if keep > 0 else []:
            shutil.rmtree(old.path, ignore_errors=True)
        kept = backups[-keep:] if keep > 0 else backups
        if not kept:
            return
        archive = self.archive_dir(plan)
        size = _segment_size(archive)
        first = _lsn(kept[0].start_lsn) // size
        for f in _listdir(archive):
            name = f[:24]
            if _SEGMENT.match(name) and f != name + ".history" and \
                    _segno(name, size) < first:
                with contextlib.suppress(FileNotFoundError):
                    (archive / f).unlink()

    # -- the window ---------------------------------------------------------------

    def window(self, plan: ServerPlan, timeline: int | None) -> Window:
        """The restorable window on ``timeline`` (default: the newest base backup's)."""
        backups = self.base_backups(plan)
        archive = self.archive_dir(plan)
        if timeline is None and backups:
            timeline = backups[-1].timeline
        on_line = [b for b in backups if b.timeline == timeline]
        size = _segment_size(archive)
        prefix = f"{timeline or 0:08X}"
        present = {_segno(f, size) for f in _listdir(archive)
                   if _SEGMENT.match(f) and f.startswith(prefix)}
        last = max(present) if present else None
        if not on_line:
            reason = ("no base backup yet: one is taken when wal-archiving is turned on "
                      "and with every backup" if not backups else
                      f"no base backup on the server's timeline {timeline}")
            return Window(timeline, [], backups, len(present), [],
                          _name(timeline or 0, last, size) if last is not None else None,
                          reason)
        cache = _Cache(plan.directory / _CACHE)
        ranges, missing = [], []
        for base in on_line:
            first = _lsn(base.end_lsn) // size
            seg = first
            while seg in present:
                seg += 1
            if seg <= max(present, default=-1) or seg == first:
                missing.append(_name(timeline or 0, seg, size))
            latest = self._last_transaction(plan, archive, timeline or 0, first, seg - 1,
                                            size, cache)
            if latest is not None and latest >= base.finished_at:
                ranges.append(Range(base.finished_at, latest, base))
        cache.save()
        why = None if ranges else (
            "no transaction has been archived since the last base backup ended"
            if not missing else f"the archive misses the segment {missing[-1]}")
        return Window(timeline, ranges, backups, len(present), sorted(set(missing)),
                      _name(timeline or 0, last, size) if last is not None else None,
                      why)

    def _last_transaction(self, plan: ServerPlan, archive: Path, timeline: int,
                          first: int, last: int, size: int,
                          cache: _Cache) -> datetime | None:
        """The time of the last commit or abort in segments ``first..last`` (newest
        first, each read once: archived segments never change)."""
        for seg in range(last, first - 1, -1):
            name = _name(timeline, seg, size)
            found: str | None = cache.get(name)
            if found is None:
                found = self._waldump(plan, archive / name)
                cache.put(name, found)
            if found:
                return datetime.fromisoformat(found)
        return None

    def _waldump(self, plan: ServerPlan, segment: Path) -> str:
        """The last transaction's time in one segment (ISO), '' when it has none."""
        done = subprocess.run(  # noqa: S603 (dbplane's own paths)
            [str(bin_dir(plan) / "pg_waldump"), "--rmgr=Transaction", str(segment),
             str(segment)], capture_output=True, timeout=600, check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": "UTC"})
        stamps = _XACT.findall(done.stdout.decode(errors="replace"))
        if not stamps:
            return ""
        return datetime.fromisoformat(stamps[-1]).replace(tzinfo=UTC).isoformat()

    # -- the recovery --------------------------------------------------------------

    def prepare_recovery(self, rt: ServerRuntime, plan: ServerPlan, base: BaseBackup,
                         target: datetime, new_dir: Path) -> None:
        """A new data directory ``new_dir`` from ``base``, set to recover from the archive
        up to ``target`` and promote (``recovery.signal``)."""
        _mkdir(new_dir, plan.user)
        rt.run(["tar", "-xzf", str(base.path / "base.tar.gz"), "-C", str(new_dir)],
               plan.user, timeout=24 * 3600)
        wal = new_dir / "pg_wal"
        _mkdir(wal, plan.user)
        rt.run(["tar", "-xzf", str(base.path / "pg_wal.tar.gz"), "-C", str(wal)],
               plan.user, timeout=24 * 3600)
        archive = self.archive_dir(plan)
        when = target.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        lines = ["# dbplane: point-in-time recovery (removed once promoted)",
                 f"restore_command = 'cp {archive}/%f %p'",
                 f"recovery_target_time = '{when}'",
                 "recovery_target_action = 'promote'",
                 "recovery_target_timeline = 'current'"]
        auto = new_dir / "postgresql.auto.conf"
        text = auto.read_text() if auto.exists() else ""
        rt.write_config(auto, text + "\n".join(lines) + "\n# dbplane: end\n", plan.user)
        rt.write_config(new_dir / "recovery.signal", "", plan.user)
        (new_dir / "postmaster.pid").unlink(missing_ok=True)

    def finish_recovery(self, rt: ServerRuntime, plan: ServerPlan, new_dir: Path) -> None:
        """Remove the recovery settings written by :meth:`prepare_recovery`."""
        auto = new_dir / "postgresql.auto.conf"
        text = auto.read_text()
        start = text.find("# dbplane: point-in-time recovery")
        end = text.find("# dbplane: end\n")
        if start >= 0 and end >= 0:
            rt.write_config(auto, text[:start] + text[end + len("# dbplane: end\n"):],
                            plan.user)

    async def mark(self, url: str) -> None:
        """A transaction of its own: a commit later than any target up to now, which a
        time-targeted recovery needs to stop at (and which opens the window of a base
        backup just taken of an idle database)."""
        from dbplane.engines.postgresql.managed import _fetch

        await _fetch(url, "SELECT pg_current_xact_id()")

    async def mark_end(self, url: str) -> str:
        """Make the archive reach now: :meth:`mark`, then a WAL switch; the segment that
        must be archived."""
        await self.mark(url)
        return await self.switch_wal(url)

    async def switch_wal(self, url: str) -> str:
        """``pg_switch_wal()``: the segment it closed (to be archived)."""
        from dbplane.engines.postgresql.managed import _fetch

        rows = await _fetch(url, "SELECT pg_walfile_name(pg_switch_wal()) AS segment")
        return str(rows[0]["segment"])

    async def archived(self, url: str, segment: str) -> bool:
        """Whether ``segment`` (and every one before it) is archived."""
        from dbplane.engines.postgresql.managed import _fetch

        rows = await _fetch(url, "SELECT last_archived_wal FROM pg_stat_archiver")
        last = rows[0]["last_archived_wal"] if rows else None
        return bool(last) and str(last)[:24] >= segment

    async def state(self, url: str) -> tuple[bool, int]:
        """(in recovery, the timeline the server writes on)."""
        from dbplane.engines.postgresql.managed import _fetch

        rows = await _fetch(url, "SELECT pg_is_in_recovery() AS r, CASE WHEN "
                            "pg_is_in_recovery() THEN 0 ELSE ('x' || substr("
                            "pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int "
                            "END AS tli")
        return bool(rows[0]["r"]), int(rows[0]["tli"])


class _Cache:
    """The last transaction's time per archived segment, in a small JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.changed = False
        try:
            self.data: dict[str, str] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def get(self, name: str) -> str | None:
        found = self.data.get(name)
        return found if isinstance(found, str) else None

    def put(self, name: str, value: str) -> None:
        self.data[name] = value
        self.changed = True

    def save(self) -> None:
        if self.changed:
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(self.data))
            os.replace(tmp, self.path)


def _mkdir(path: Path, user: str | None) -> None:
    path.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        shutil.chown(path, user, user)


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def _segment_size(archive: Path) -> int:
    for f in _listdir(archive):
        if _SEGMENT.match(f):
            with contextlib.suppress(OSError):
                return (archive / f).stat().st_size or 16 << 20
    return 16 << 20


def _segno(name: str, size: int) -> int:
    per_id = 0x1_0000_0000 // size
    return int(name[8:16], 16) * per_id + int(name[16:24], 16)


def _name(timeline: int, segno: int, size: int) -> str:
    per_id = 0x1_0000_0000 // size
    return f"{timeline:08X}{segno // per_id:08X}{segno % per_id:08X}"
