"""The upgrade of a managed PostgreSQL to another build (the ``upgrade`` part).

A major upgrade moves the data logically: a new cluster is initialised with the target
build beside the current one (``data-<major>-<stamp>/`` in the server's directory), and
``pg_dumpall`` of the current server is piped into ``psql`` against the new one, both
the current build's client tools (a newer server reads an older dump; ``pg_upgrade``
needs matching build options, which Debian's 15 and a packaged 16 do not have). Roles,
databases, owners, grants and rows are carried; the ``postgres`` role exists already in
the new cluster and keeps its new password (dbplane's).

Methods are synchronous (they run tools); services call them in a worker thread.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

from dbplane.engines.fingerprint import Fingerprint
from dbplane.engines.managed import ServerPlan
from dbplane.engines.postgresql.managed import bin_dir, data_dir
from dbplane.engines.postgresql.versions import known_settings
from dbplane.engines.runtime import ProcessSpec, ServerRuntime
from dbplane.engines.versions import Installation

__all__ = ["PostgresqlUpgrade"]

MOVE_TIMEOUT_SECONDS = 24 * 3600.0
_OFF_WHILE_LOADING = {"archive_mode": "off"}
"""Settings the new cluster runs with while the data is loaded: it must not archive WAL
into the current server's archive (the timelines would collide)."""


class PostgresqlUpgrade:
    """What an upgrade of a managed PostgreSQL needs from the type."""

    def target_plan(self, plan: ServerPlan, target: Installation, new_dir: Path,
                    port: int) -> ServerPlan:
        """``plan`` on the target build, in ``new_dir``, on ``port``."""
        return replace(plan, port=port, layout={
            **plan.layout, "bin_dir": str(target.bin_dir), "data_dir": str(new_dir),
            "version_id": target.id})

    def unknown_settings(self, target: Installation, names: list[str]) -> list[str] | None:
        """The names among ``names`` the target build does not know (None: cannot tell)."""
        known = known_settings(target)
        return None if known is None else sorted(n for n in names if n not in known)

    def loading_settings(self, settings: dict[str, str]) -> dict[str, str]:
        """The user's settings, as the new cluster runs them while the data is loaded."""
        return {**settings, **_OFF_WHILE_LOADING} if "archive_mode" in settings \
            else dict(settings)

    def private_process(self, plan: ServerPlan, port: int) -> ProcessSpec:
        """The current server on another ``port`` nobody else knows, for the move: what
        clients use is refused until the new one serves."""
        return ProcessSpec(argv=(str(bin_dir(plan) / "postgres"), "-D", str(data_dir(plan)),
                                 "-c", f"port={port}"), user=plan.user,
                           log_file=plan.directory / "server.log",
                           marker=str(plan.directory))

    def move(self, rt: ServerRuntime, source: ServerPlan, source_port: int,
             target: ServerPlan) -> str:
        """``pg_dumpall`` of the server at ``source`` (on ``source_port``) into ``target``
        (its own port), through the socket directory they share; psql's output."""
        tools = bin_dir(source)
        socket = str(source.directory)
        dump = [str(tools / "pg_dumpall"), "-h", socket, "-p", str(source_port),
                "-U", "postgres", "--no-sync"]
        load = [str(tools / "psql"), "-h", socket, "-p", str(target.port), "-U", "postgres",
                "-d", "postgres", "-q", "-X", "-v", "ON_ERROR_STOP=1"]
        # the dump's first statement creates the role postgres, which every new cluster
        # has: that one line is dropped (the first match only, in the roles section)
        script = (f"{shlex.join(dump)} | sed -e '0,/^CREATE ROLE postgres;$/{{//d}}' | "
                  f"PGOPTIONS='-c synchronous_commit=off' {shlex.join(load)}")
        return rt.run(["bash", "-o", "pipefail", "-c", script], source.user,
                      timeout=MOVE_TIMEOUT_SECONDS)

    def admin_url(self, plan: ServerPlan) -> str:
        """The superuser's URL on ``plan``'s port (the ``postgres`` database: the
        server's first database may not exist yet)."""
        return f"postgresql://postgres:{plan.password}@127.0.0.1:{plan.port}/postgres"

    async def fingerprint(self, url: str) -> Fingerprint:
        """The whole server's fingerprint (roles, databases, every table's rows and
        checksum), as a restore drill compares."""
        from dbplane.engines.postgresql.fingerprint import cluster_fingerprint

        return await cluster_fingerprint(url)

    # -- what belongs to one cluster and is set aside with it -------------------------

    _BESIDE = ("wal-archive", "base-backups", "pitr-waldump-cache.json")
    """The WAL archive and base backups (point-in-time restore) are the current
    cluster's: the new one starts its own, on timeline 1 again."""

    def set_aside(self, plan: ServerPlan, suffix: str) -> list[str]:
        """Rename the cluster's archive files with ``suffix`` (empty directories take
        their place, owned as they were); the names moved."""
        import shutil

        moved = []
        for name in self._BESIDE:
            path = plan.directory / name
            if not path.exists():
                continue
            path.rename(plan.directory / f"{name}{suffix}")
            moved.append(name)
            if name != "pitr-waldump-cache.json":
                path.mkdir(mode=0o700)
                if plan.user is not None:
                    shutil.chown(path, plan.user, plan.user)
        return moved

    def put_back(self, plan: ServerPlan, suffix: str, names: list[str]) -> None:
        """Undo :meth:`set_aside`: what the other cluster made meanwhile is removed."""
        import shutil

        for name in names:
            path = plan.directory / name
            aside = plan.directory / f"{name}{suffix}"
            if not aside.exists():
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            aside.rename(path)

    def remove_aside(self, plan: ServerPlan, suffix: str, names: list[str]) -> None:
        import shutil

        for name in names:
            aside = plan.directory / f"{name}{suffix}"
            if aside.is_dir():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                aside.unlink(missing_ok=True)
