"""Where managed servers run: the one small interface between what a server is (its
engine package's ``managed`` part) and where its process lives.

``ServerRuntime`` is everything services and engine parts may ask of a place that runs
servers: a data directory, configuration files, starting a described process, stopping
and signalling it, its status, and adopting one that already runs. ``LocalRuntime`` is
the only implementation: processes on this machine, in their own session so that they
outlive a dbplane restart (and are adopted, not started twice). A later runtime (for
example Kubernetes resources) implements the same methods; nothing above it changes.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from dbplane.errors import ManagedDirUnusable, ManagedServerFailed

__all__ = [
    "LocalRuntime",
    "ProcessSpec",
    "ProcessStatus",
    "ServerRuntime",
    "check_traversable",
]

_SIGTERM = signal.SIGTERM

ProcessStatus = Literal["running", "exited", "missing"]


@dataclass(frozen=True)
class ProcessSpec:
    """A server process to start: its command line, as which user, where it logs."""

    argv: tuple[str, ...]
    user: str | None = None
    """Run as this (unprivileged) user; None: as dbplane's own user."""
    log_file: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    marker: str = ""
    """A string of the command line that identifies the server (its data directory), so
    an adopted pid is checked to be that server and not a reused pid."""


class ServerRuntime(Protocol):
    """Where managed servers run (see the module's docstring)."""

    def data_dir(self, server_id: str) -> Path:
        """The server's own directory (created, owned by ``user`` when given)."""
        ...

    def prepare(self, server_id: str, user: str | None) -> Path: ...

    def write_config(self, path: Path, text: str, user: str | None) -> None:
        """Write one configuration file of a server (atomically)."""
        ...

    def run(self, argv: list[str], user: str | None, timeout: float) -> str:
        """Run a one-off command (initialisation); its output, or ManagedServerFailed."""
        ...

    def start(self, spec: ProcessSpec) -> int:
        """Start the server process; its pid."""
        ...

    def signal(self, pid: int, signum: int) -> None: ...

    def stop(self, pid: int, timeout: float, signum: int = _SIGTERM) -> None:
        """Stop the process: ``signum``, then SIGKILL after ``timeout`` seconds."""
        ...

    def status(self, pid: int | None, marker: str) -> ProcessStatus: ...

    def adopt(self, pid: int, marker: str) -> bool:
        """Whether ``pid`` is the running server ``marker`` names (after a restart)."""
        ...

    def remove(self, server_id: str) -> None:
        """Delete the server's directory and everything in it."""
        ...


def check_traversable(path: Path, user: str | None) -> None:
    """ManagedDirUnusable naming the first directory above ``path`` that ``user`` cannot
    enter (PostgreSQL refuses a data directory it cannot reach)."""
    if user is None:
        return
    info = pwd.getpwnam(user)
    for parent in reversed(path.resolve().parents):
        try:
            st = parent.stat()
        except FileNotFoundError:
            break
        if st.st_uid == info.pw_uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid == info.pw_gid or info.pw_name in _group_members(st.st_gid):
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            raise ManagedDirUnusable(
                f"the user {user!r} that runs managed servers cannot enter {parent} "
                f"(mode {stat.filemode(st.st_mode)}); give it o+x or set "
                "DBPLANE_MANAGED_DIR to a directory it can reach", path=str(parent),
                user=user)


def _group_members(gid: int) -> list[str]:
    import grp
    try:
        return list(grp.getgrgid(gid).gr_mem)
    except KeyError:
        return []


class LocalRuntime:
    """Managed servers as processes on this machine, under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def data_dir(self, server_id: str) -> Path:
        return self.root / server_id

    def prepare(self, server_id: str, user: str | None) -> Path:
        """Create the server's directory, owned by ``user``; ManagedDirUnusable when the
        user cannot reach it."""
        self.root.mkdir(parents=True, exist_ok=True)
        check_traversable(self.root / "x", user)
        path = self.data_dir(server_id)
        path.mkdir(mode=0o700, exist_ok=True)
        if user is not None:
            shutil.chown(path, user, pwd.getpwnam(user).pw_gid)
        return path

    def write_config(self, path: Path, text: str, user: str | None) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        if user is not None:
            shutil.chown(tmp, user, pwd.getpwnam(user).pw_gid)
        os.replace(tmp, path)

    def run(self, argv: list[str], user: str | None, timeout: float) -> str:
        try:
            # argv is built by the type's managed part from dbplane's own paths
            done = subprocess.run(  # noqa: S603
                argv, user=user, group=_group(user), capture_output=True, timeout=timeout,
                check=False, cwd="/")
        except FileNotFoundError as exc:
            raise ManagedServerFailed(f"{argv[0]} is not installed", tool=argv[0]) from exc
        except subprocess.TimeoutExpired as exc:
            raise ManagedServerFailed(f"{Path(argv[0]).name} did not finish in "
                                      f"{timeout:.0f} s", tool=argv[0]) from exc
        out = (done.stdout + done.stderr).decode(errors="replace")
        if done.returncode != 0:
            raise ManagedServerFailed(f"{Path(argv[0]).name} failed: {out.strip()[-800:]}",
                                      tool=argv[0])
        return out

    def start(self, spec: ProcessSpec) -> int:
        log = open(spec.log_file, "ab") if spec.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            proc = subprocess.Popen(  # noqa: S603
                list(spec.argv), user=spec.user, group=_group(spec.user),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/",
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **spec.env},
                start_new_session=True)  # outlives dbplane: adopted on its next start
        except FileNotFoundError as exc:
            raise ManagedServerFailed(f"{spec.argv[0]} is not installed",
                                      tool=spec.argv[0]) from exc
        finally:
            if not isinstance(log, int):
                log.close()
        self._children[proc.pid] = proc
        return proc.pid

    def signal(self, pid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def stop(self, pid: int, timeout: float, signum: int = _SIGTERM) -> None:
        self.signal(pid, signum)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(pid):
                return
            time.sleep(0.02)
        self.signal(pid, signal.SIGKILL)
        while self._alive(pid) and time.monotonic() < deadline + 5:
            time.sleep(0.02)

    def status(self, pid: int | None, marker: str) -> ProcessStatus:
        if pid is None:
            return "missing"
        if not self._alive(pid):
            return "exited"
        return "running" if self.adopt(pid, marker) else "missing"

    def adopt(self, pid: int, marker: str) -> bool:
        if not self._alive(pid):
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            return False
        return marker.encode() in cmdline

    def remove(self, server_id: str) -> None:
        shutil.rmtree(self.data_dir(server_id), ignore_errors=True)

    def _alive(self, pid: int) -> bool:
        child = self._children.get(pid)
        if child is not None:  # our own child: reap it, or it stays a zombie
            if child.poll() is None:
                return True
            self._children.pop(pid, None)
            return False
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")


def _group(user: str | None) -> int | None:
    return pwd.getpwnam(user).pw_gid if user is not None else None
