"""A managed InfluxDB 1.x server: ``influxdb.conf`` in its directory (its own meta, data
and WAL directories, the HTTP API and the backup RPC on loopback ports, reporting off,
authentication on), ``influxd run -config`` as the unprivileged user, and an admin user
with the generated password created on the first start.

The backup RPC needs a second port: it is chosen at provisioning (``new_options``) and kept
in the database's URL as ``backup_port``, where backups read it. InfluxDB 1.x has no
catalogue of its settings over its API and applies none live, so its configuration is
dbplane's own: ``config`` refuses every name (documented in docs/influxdb.md)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from dbplane.engines.managed import ManagedServer, ServerPlan, SettingInfo
from dbplane.engines.runtime import ProcessSpec, ServerRuntime
from dbplane.engines.versions import Installation, single
from dbplane.errors import ManagedServerFailed

__all__ = ["ManagedInfluxdb"]

ADMIN = "admin"


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(value: str) -> str:
    """An InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ManagedInfluxdb(ManagedServer):
    type_name = "influxdb"

    def new_options(self, free_port: Callable[[], int]) -> dict[str, str]:
        return {"backup_port": str(free_port())}

    def _backup_port(self, plan: ServerPlan) -> int:
        raw = plan.options.get("backup_port")
        if raw is None or not raw.isdigit():
            raise ManagedServerFailed("the server's URL lost its backup_port")
        return int(raw)

    def initialise(self, rt: ServerRuntime, plan: ServerPlan) -> None:
        """Nothing to create: influxd makes its meta, data and WAL directories itself."""

    def config_path(self, plan: ServerPlan) -> Path:
        return plan.directory / "influxdb.conf"

    def config_text(self, plan: ServerPlan, settings: dict[str, str]) -> str:
        d = plan.directory
        return "\n".join([
            "# written by dbplane: its settings are dbplane's own",
            "reporting-disabled = true",
            f"bind-address = {_toml(f'127.0.0.1:{self._backup_port(plan)}')}",
            "[meta]", f"  dir = {_toml(str(d / 'meta'))}", "  logging-enabled = false",
            "[data]", f"  dir = {_toml(str(d / 'data'))}",
            f"  wal-dir = {_toml(str(d / 'wal'))}", "  query-log-enabled = false",
            "[monitor]", "  store-enabled = false",
            "[http]", "  enabled = true", f"  bind-address = {_toml(f'127.0.0.1:{plan.port}')}",
            "  auth-enabled = true", "  log-enabled = false",
            "[ifql]", "  enabled = false",
            "[continuous_queries]", "  log-enabled = false",
            "[logging]", '  level = "warn"',
        ]) + "\n"

    def installations(self) -> list[Installation]:
        return single(self.type_name, shutil.which("influxd"), ["version"],
                      r"InfluxDB v(\S+)", self.features)

    def process(self, plan: ServerPlan) -> ProcessSpec:
        binary = shutil.which("influxd") or "influxd"
        return ProcessSpec(argv=(binary, "run", "-config", str(self.config_path(plan))),
                           user=plan.user, log_file=plan.directory / "server.log",
                           marker=self.marker(plan))

    def marker(self, plan: ServerPlan) -> str:
        return str(self.config_path(plan))

    def bootstrap(self, rt: ServerRuntime, plan: ServerPlan) -> None:
        """The admin user (a server with authentication on and no user yet takes this one
        statement unauthenticated), then the first database."""
        import httpx

        base = f"http://127.0.0.1:{plan.port}/query"
        auth = (ADMIN, plan.password)
        try:
            with httpx.Client(timeout=10) as client:
                created = client.post(base, data={"q": (
                    f'CREATE USER "{ADMIN}" WITH PASSWORD {_literal(plan.password)} '
                    "WITH ALL PRIVILEGES")})
                # 401/403: a try before this one created it; the next call proves it
                if created.status_code not in (200, 401, 403) or "error" in created.json():
                    raise ManagedServerFailed(f"InfluxDB refused its admin user: "
                                              f"{created.text[:300]}")
                # the name matched ^[a-z0-9][a-z0-9_-]*$ (a resource id): safe quoted
                made = client.post(base, auth=auth,
                                   data={"q": f'CREATE DATABASE "{plan.database}"'})
        except (httpx.HTTPError, ValueError) as exc:
            raise ManagedServerFailed(f"InfluxDB did not answer: {exc}") from exc
        if made.status_code != 200 or "error" in made.text:
            raise ManagedServerFailed(f"InfluxDB did not create the database "
                                      f"{plan.database!r}: {made.text[:300]}")

    def url(self, plan: ServerPlan) -> str:
        return (f"influxdb://{ADMIN}:{plan.password}@127.0.0.1:{plan.port}/{plan.database}"
                f"?backup_port={self._backup_port(plan)}")

    async def catalogue(self, url: str, names: list[str]) -> dict[str, SettingInfo]:
        return {}  # none can be set: every name is refused as unknown
