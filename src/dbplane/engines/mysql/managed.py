"""A managed MariaDB server: mariadb-install-db, its own ``my.cnf`` read first and alone
(``--defaults-file``: the machine's global configuration is ignored), ``SHOW VARIABLES``
and ``SET GLOBAL`` for what applies live."""

from __future__ import annotations

import shutil
from pathlib import Path

from dbplane.engines.managed import ManagedServer, ServerPlan, SettingInfo
from dbplane.engines.runtime import ProcessSpec, ServerRuntime
from dbplane.engines.versions import Installation, single

__all__ = ["ManagedMysql"]


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
        if found:
            return found
    return names[0]


class ManagedMysql(ManagedServer):
    type_name = "mysql"

    def initialise(self, rt: ServerRuntime, plan: ServerPlan) -> None:
        rt.run([_tool("mariadb-install-db", "mysql_install_db"), "--no-defaults",
                f"--datadir={plan.directory / 'data'}",
                "--auth-root-authentication-method=normal", "--skip-test-db",
                "--skip-name-resolve"], plan.user, timeout=180)

    def config_path(self, plan: ServerPlan) -> Path:
        return plan.directory / "my.cnf"

    def config_text(self, plan: ServerPlan, settings: dict[str, str]) -> str:
        d = plan.directory
        lines = ["# written by dbplane: change settings through its API", "[mysqld]",
                 f"datadir = {d / 'data'}", f"port = {plan.port}",
                 "bind-address = 127.0.0.1", f"socket = {d / 'mysqld.sock'}",
                 f"pid-file = {d / 'mysqld.pid'}", f"log-error = {d / 'server.log'}",
                 "skip-name-resolve"]
        lines += [f"{name} = {value}" for name, value in sorted(settings.items())]
        return "\n".join(lines) + "\n"

    def installations(self) -> list[Installation]:
        found = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
        return single(self.type_name, found, ["--version"], r"Ver (\S+)", self.features)

    def process(self, plan: ServerPlan) -> ProcessSpec:
        return ProcessSpec(argv=(_tool("mariadbd", "mysqld"),
                                 f"--defaults-file={self.config_path(plan)}"),
                           user=plan.user, log_file=plan.directory / "server.log",
                           marker=self.marker(plan))

    def bootstrap(self, rt: ServerRuntime, plan: ServerPlan) -> None:
        # the database name is a resource id (^[a-z0-9][a-z0-9_-]*$) and the password a
        # URL-safe token: neither can leave its quotes
        sql = (f"CREATE DATABASE `{plan.database}`; "
               f"CREATE USER 'dbplane'@'%' IDENTIFIED BY '{plan.password}'; "
               "GRANT ALL PRIVILEGES ON *.* TO 'dbplane'@'%' WITH GRANT OPTION; "
               f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{plan.password}';")
        rt.run([_tool("mariadb", "mysql"), "--no-defaults", "-S",
                str(plan.directory / "mysqld.sock"), "-u", "root", "-e", sql],
               plan.user, timeout=60)

    def url(self, plan: ServerPlan) -> str:
        return f"mysql://dbplane:{plan.password}@127.0.0.1:{plan.port}/{plan.database}"

    def ready_url(self, plan: ServerPlan) -> str:
        return f"mysql://root@127.0.0.1:{plan.port}/mysql"

    def marker(self, plan: ServerPlan) -> str:
        return str(self.config_path(plan))

    async def catalogue(self, url: str, names: list[str]) -> dict[str, SettingInfo]:
        found: dict[str, SettingInfo] = {}
        async with _connect(url) as cur:
            for name in names:
                await cur.execute("SELECT VARIABLE_NAME, GLOBAL_VALUE, READ_ONLY FROM "
                                  "information_schema.SYSTEM_VARIABLES WHERE "
                                  "VARIABLE_NAME = %s", (name.replace("-", "_").upper(),))
                row = await cur.fetchone()
                if row is not None:
                    found[name] = SettingInfo(name, str(row[1] or ""), row[2] == "YES")
        return found

    async def validate(self, url: str, name: str, value: str) -> str | None:
        async with _connect(url) as cur:
            await cur.execute("SELECT VARIABLE_TYPE, NUMERIC_MIN_VALUE, NUMERIC_MAX_VALUE, "
                              "ENUM_VALUE_LIST, READ_ONLY FROM "
                              "information_schema.SYSTEM_VARIABLES WHERE VARIABLE_NAME = %s",
                              (name.replace("-", "_").upper(),))
            row = await cur.fetchone()
        if row is None:
            return "unknown"
        vtype, low, high, enums = str(row[0]), row[1], row[2], row[3]
        if vtype.startswith(("INT", "BIGINT")):
            if not value.lstrip("-").isdigit():
                return "an integer is expected"
            if low is not None and int(value) < int(low):
                return f"the least value is {low}"
            if high is not None and int(value) > int(high):
                return f"the greatest value is {high}"
        elif vtype in ("ENUM", "BOOLEAN"):
            allowed = [e.upper() for e in str(enums or "").split(",") if e]
            if vtype == "BOOLEAN":
                allowed += ["0", "1"]
            if value.upper() not in allowed:
                return "one of " + ", ".join(allowed) + " is expected"
        elif vtype == "SET":
            allowed = [e.upper() for e in str(enums or "").split(",") if e]
            bad = [v for v in value.upper().split(",") if v and v not in allowed]
            if bad:
                return f"{bad[0]} is not one of " + ", ".join(allowed)
        return None

    async def apply_live(self, url: str, settings: dict[str, str]) -> None:
        from dbplane.errors import InvalidSettingValue

        async with _connect(url) as cur:
            for name, value in settings.items():
                # SET GLOBAL takes no parameter for the name: it was found in the
                # server's catalogue; the value is bound
                try:
                    await cur.execute(f"SET GLOBAL {name.replace('-', '_')} = %s",
                                      (int(value) if value.lstrip("-").isdigit()
                                       else value,))
                except Exception as exc:  # the driver's error: the server refused it
                    raise InvalidSettingValue(
                        f"MariaDB refused {name} = {value!r}: {exc}", field=f"config.{name}",
                        setting=name, value=value) from exc


class _connect:
    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self.url = make_url(url)

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        import asyncmy

        u = self.url
        self.conn = await asyncmy.connect(host=u.host, port=u.port, user=u.username,
                                          password=u.password or "", db=u.database,
                                          connect_timeout=5)
        self.cur = self.conn.cursor()
        return self.cur

    async def __aexit__(self, *exc: object) -> None:
        await self.cur.close()
        self.conn.close()
