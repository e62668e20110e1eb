"""A managed PostgreSQL server: initdb, ``dbplane.conf`` (included from postgresql.conf),
``postgres -D`` as the unprivileged user, fast shutdown (SIGINT), ``pg_settings``."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from dbplane.engines.managed import ManagedServer, ServerPlan, SettingInfo
from dbplane.engines.postgresql.settings_check import check_value
from dbplane.engines.runtime import ProcessSpec, ServerRuntime
from dbplane.engines.versions import Installation

__all__ = ["ManagedPostgresql", "bin_dir", "data_dir"]

BIN = Path(os.environ.get("DBPLANE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def bin_dir(plan: ServerPlan) -> Path:
    """The directory of the server's binaries (initdb, postgres, pg_ctl…)."""
    return Path(plan.layout.get("bin_dir") or BIN)


def data_dir(plan: ServerPlan) -> Path:
    """The server's data directory (``data/`` in its directory unless moved)."""
    return Path(plan.layout.get("data_dir") or plan.directory / "data")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _libraries(value: str) -> list[str]:
    return [lib.strip().strip('"') for lib in value.split(",") if lib.strip()]


class _Features(ManagedServer):
    """pg-stat-statements (preloaded, then the extension) and wal-archiving (WAL segments
    copied to ``wal-archive/`` in the server's directory, what point-in-time restore will
    read)."""

    features = ("pg-stat-statements", "wal-archiving")

    def feature_reads(self, name: str) -> list[str]:
        return ["shared_preload_libraries"] if name == "pg-stat-statements" else []

    def feature_settings(self, name: str, enable: bool, plan: ServerPlan,
                         current: dict[str, str]) -> dict[str, str]:
        if name == "pg-stat-statements":
            libs = [lib for lib in _libraries(current.get("shared_preload_libraries", ""))
                    if lib != "pg_stat_statements"]
            if enable:
                libs.append("pg_stat_statements")
            return {"shared_preload_libraries": ",".join(libs)}
        archive = plan.directory / "wal-archive"
        if enable:
            archive.mkdir(mode=0o700, exist_ok=True)
            if plan.user is not None:
                import shutil

                shutil.chown(archive, plan.user, plan.user)
            return {"archive_mode": "on", "wal_level": "replica",
                    "archive_command": f"test ! -f {archive}/%f && cp %p {archive}/%f"}
        return {"archive_mode": "off"}

    async def feature_finish(self, url: str, name: str, enable: bool) -> None:
        if name != "pg-stat-statements":
            return
        await _fetch(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" if enable
                     else "DROP EXTENSION IF EXISTS pg_stat_statements")



class ManagedPostgresql(_Features):
    type_name = "postgresql"
    stop_signal = signal.SIGINT  # fast shutdown: SIGTERM would wait for every client

    def installations(self) -> list[Installation]:
        from dbplane.engines.postgresql.versions import find_installations

        return find_installations(BIN)

    def installation_of(self, plan: ServerPlan) -> Installation | None:
        wanted = bin_dir(plan).resolve()
        return next((i for i in self.installations() if i.bin_dir.resolve() == wanted),
                    None)

    def initialise(self, rt: ServerRuntime, plan: ServerPlan) -> None:
        pwfile = plan.directory / "initdb.pw"
        rt.write_config(pwfile, plan.password + "\n", plan.user)
        try:
            rt.run([str(bin_dir(plan) / "initdb"), "-D", str(data_dir(plan)), "-U",
                    "postgres", "--auth-local=peer", "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}", "--no-sync", "--encoding=UTF8", "--locale=C"],
                   plan.user, timeout=120)
        finally:
            pwfile.unlink(missing_ok=True)
        conf = data_dir(plan) / "postgresql.conf"
        with conf.open("a") as f:
            f.write("\ninclude_if_exists = 'dbplane.conf'\n")

    def config_path(self, plan: ServerPlan) -> Path:
        return data_dir(plan) / "dbplane.conf"

    def config_text(self, plan: ServerPlan, settings: dict[str, str]) -> str:
        lines = ["# written by dbplane: change settings through its API",
                 f"port = {plan.port}", "listen_addresses = '127.0.0.1'",
                 f"unix_socket_directories = {_quote(str(plan.directory))}"]
        lines += [f"{name} = {_quote(value)}" for name, value in sorted(settings.items())]
        return "\n".join(lines) + "\n"

    def process(self, plan: ServerPlan) -> ProcessSpec:
        return ProcessSpec(argv=(str(bin_dir(plan) / "postgres"), "-D", str(data_dir(plan))),
                           user=plan.user, log_file=plan.directory / "server.log",
                           marker=self.marker(plan))

    def bootstrap(self, rt: ServerRuntime, plan: ServerPlan) -> None:
        # the name matched ^[a-z0-9][a-z0-9_-]*$ (a resource id): safe between quotes
        rt.run([str(bin_dir(plan) / "psql"), "-h", str(plan.directory), "-p",
                str(plan.port), "-U", "postgres", "-d", "postgres", "-v",
                "ON_ERROR_STOP=1", "-q", "-c",
                f'CREATE DATABASE "{plan.database}"'], plan.user, timeout=60)

    def url(self, plan: ServerPlan) -> str:
        return f"postgresql://postgres:{plan.password}@127.0.0.1:{plan.port}/{plan.database}"

    def ready_url(self, plan: ServerPlan) -> str:
        return f"postgresql://postgres:{plan.password}@127.0.0.1:{plan.port}/postgres"

    async def catalogue(self, url: str, names: list[str]) -> dict[str, SettingInfo]:
        rows = await _fetch(url, "SELECT name, current_setting(name) AS value, context "
                            "FROM pg_settings WHERE name = ANY($1::text[])", names)
        return {r["name"]: SettingInfo(r["name"], r["value"], r["context"] == "postmaster")
                for r in rows}

    async def validate(self, url: str, name: str, value: str) -> str | None:
        rows = await _fetch(url, "SELECT vartype, unit, min_val, max_val, enumvals, context "
                            "FROM pg_settings WHERE name = $1", name)
        if not rows:
            return "unknown"
        r = rows[0]
        if r["context"] == "internal":
            return "it is fixed when the server is built or initialised"
        return check_value(value, vartype=r["vartype"], unit=r["unit"],
                           min_val=r["min_val"], max_val=r["max_val"],
                           enumvals=list(r["enumvals"] or ()))

    async def apply_live(self, url: str, settings: dict[str, str]) -> None:
        # the new values are in dbplane.conf already: a reload applies them
        await _fetch(url, "SELECT pg_reload_conf()")


async def _fetch(url: str, sql: str, *args: object) -> list[dict[str, Any]]:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()

