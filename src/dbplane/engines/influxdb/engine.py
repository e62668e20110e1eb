"""The InfluxDB 1.x engine, over its HTTP API (``/ping``, ``/query``) with httpx.

A URL names the server and one database: ``influxdb://user:password@host:8086/metrics``.
Its query parameters: ``backup_port``, the server's backup RPC port (the top-level
``bind-address`` of its configuration, 8088 unless told), used by backups and restores;
``restore``, ``one-pass`` (default) or ``two-pass`` (``backups.py`` says which to choose).
InfluxQL binds values (``params``) but not identifiers: every name dbplane sends is
checked against a rule first and written as a quoted InfluxQL identifier (:func:`ident`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from dbplane.engines.base import Engine, Health
from dbplane.engines.urls import DatabaseUrl, redact_text
from dbplane.errors import ConnectionCheckFailed, DbplaneError, InvalidDatabaseUrl

if TYPE_CHECKING:  # httpx is imported with the first client
    import httpx

__all__ = ["DEFAULT_BACKUP_PORT", "InfluxQueryError", "InfluxdbEngine", "ident"]

DEFAULT_BACKUP_PORT = 8088
_QUERY_PARAMS = ("backup_port", "restore")
RESTORE_MODES = ("one-pass", "two-pass")
_ACTION_READ_TIMEOUT = 300.0


def ident(name: str) -> str:
    """``name`` as a quoted InfluxQL identifier (backslashes and quotes escaped)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxQueryError(Exception):
    """InfluxDB answered a query with an error (``status`` is its HTTP status)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class InfluxdbEngine(Engine):
    type_name = "influxdb"
    label = "InfluxDB"
    url_schemes = ("influxdb",)
    aliases = ("influx",)
    default_port = 8086
    needs_database_name = True
    parts = {
        "actions": "dbplane.engines.influxdb.actions:InfluxdbActions",
        "backups": "dbplane.engines.influxdb.backups:InfluxdbBackups",
        "managed": "dbplane.engines.influxdb.managed:ManagedInfluxdb",
    }

    def __init__(self, url: DatabaseUrl, *, timeout: float = 3.0) -> None:
        super().__init__(url, timeout=timeout)
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def check_url(cls, url: DatabaseUrl) -> None:
        super().check_url(url)
        unknown = [k for k in url.url.query if k not in _QUERY_PARAMS]
        if unknown:
            raise InvalidDatabaseUrl(
                f"the url's query parameter {unknown[0]!r} is not one an InfluxDB URL "
                "takes; it takes: " + ", ".join(_QUERY_PARAMS), url=url.redacted())
        raw = url.url.query.get("backup_port")
        if raw is not None and not (isinstance(raw, str) and raw.isdigit()
                                    and 1 <= int(raw) <= 65535):
            raise InvalidDatabaseUrl("the url's backup_port must be a port number "
                                     "(1 to 65535)", url=url.redacted())
        mode = url.url.query.get("restore")
        if mode is not None and mode not in RESTORE_MODES:
            raise InvalidDatabaseUrl(f"the url's restore must be one of "
                                     f"{', '.join(RESTORE_MODES)}, not {mode!r}",
                                     url=url.redacted())

    @property
    def restore_mode(self) -> str:
        """``one-pass`` (default) or ``two-pass``: how a backup is restored."""
        mode = self.url.url.query.get("restore")
        return mode if isinstance(mode, str) and mode in RESTORE_MODES else "one-pass"

    @property
    def backup_address(self) -> str:
        """``host:port`` of the server's backup RPC (``influxd backup -host``)."""
        raw = self.url.url.query.get("backup_port")
        port = int(raw) if isinstance(raw, str) else DEFAULT_BACKUP_PORT
        return f"{self.url.host}:{port}"

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            url = self.url.url
            auth = None
            if url.username is not None or url.password is not None:
                auth = httpx.BasicAuth(url.username or "", str(url.password or ""))
            self._client = httpx.AsyncClient(
                base_url=f"http://{url.host}:{self.url.port}", auth=auth,
                timeout=httpx.Timeout(self.timeout, read=_ACTION_READ_TIMEOUT),
                limits=httpx.Limits(max_connections=20))
        return self._client

    # -- InfluxQL ---------------------------------------------------------------------

    async def query(self, q: str, *, database: str | None = None,
                    params: dict[str, Any] | None = None,
                    write: bool = True) -> list[dict[str, Any]]:
        """Run InfluxQL (one or more statements) and answer each statement's result;
        InfluxQueryError for the first error the server reports."""
        import json

        data: dict[str, str] = {"q": q}
        if database is not None:
            data["db"] = database
        if params:
            data["params"] = json.dumps(params)
        if write:
            response = await self.client.post("/query", data=data)
        else:
            response = await self.client.get("/query", params=data)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code >= 400 or "error" in body:
            message = str(body.get("error") or response.reason_phrase)
            raise InfluxQueryError(message, response.status_code)
        results: list[dict[str, Any]] = body.get("results") or []
        for result in results:
            if "error" in result:
                raise InfluxQueryError(str(result["error"]), response.status_code)
        return results

    async def rows(self, q: str, *, database: str | None = None) -> list[dict[str, Any]]:
        """The rows of a one-statement query, each a column → value dict."""
        results = await self.query(q, database=database, write=False)
        out: list[dict[str, Any]] = []
        for series in (results[0].get("series") or []) if results else []:
            columns = series.get("columns") or []
            out.extend(dict(zip(columns, values, strict=False))
                       for values in series.get("values") or [])
        return out

    # -- the engine -------------------------------------------------------------------

    def connect_error(self, exc: BaseException) -> ConnectionCheckFailed | None:
        from dbplane.engines.influxdb import errors

        return errors.connect_error(exc, self.url)

    async def _ping(self) -> str:
        response = await self.client.get("/ping")
        version = response.headers.get("X-Influxdb-Version")
        if response.status_code != 204 or not version:
            from dbplane.engines.influxdb import errors

            raise errors.not_influxdb(self.url, response.status_code)
        return str(version)

    async def connect(self) -> None:
        """``/ping``, then the database's retention policies (the credentials and the
        database checked)."""
        try:
            await asyncio.wait_for(self._ping(), self.timeout)
            await asyncio.wait_for(self.rows(
                f"SHOW RETENTION POLICIES ON {ident(self.url.database or '')}"),
                self.timeout)
        except Exception as exc:
            await self.close()
            if isinstance(exc, ConnectionCheckFailed):
                raise
            known = self.connect_error(exc)
            if known is not None:
                raise known from exc
            raise ConnectionCheckFailed("InfluxDB did not answer: " + redact_text(str(exc)),
                                        field="url") from exc

    async def health(self) -> Health:
        """One query (``/ping`` needs no credentials): the server answers, the URL's
        user is let in and its database exists."""
        try:
            await asyncio.wait_for(self.rows(
                f"SHOW RETENTION POLICIES ON {ident(self.url.database or '')}"),
                self.timeout)
        except Exception as exc:
            known = exc if isinstance(exc, DbplaneError) else self.connect_error(exc)
            return Health("unreachable", known.detail if known else redact_text(str(exc)))
        return Health("running")

    async def version(self) -> str:
        """The server's version, from the ``X-Influxdb-Version`` header of ``/ping``."""
        return await self._ping()

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
