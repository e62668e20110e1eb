"""``db.redeploy()``, ``db.restart()``, ``db.stop()``, ``db.start()``, ``db.deployments``,
``db.status()`` and ``db.config``: the deployments of a database (Qovery's shape) and a
managed server's settings.

A deployment call answers the deployment object (``state``, ``status_details``,
``steps``…); with ``wait=True`` it waits for the operation that runs it and answers the
finished deployment, raising the error it failed with.
"""

from __future__ import annotations

import builtins
from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp, as_list, as_object, path, unwrap
from dbplane.client.operations import AsyncOperation, Operation

__all__ = ["AsyncConfig", "AsyncDeployments", "Config", "Deployments", "async_deploy",
           "deploy"]


def deploy(http: SyncHttp, ref: str, action: str, wait: bool,
           timeout: float | None) -> dict[str, Any]:
    """Start a deployment (redeploy, restart, stop or start); see the module."""
    answer = as_object(http.request("POST", path("databases", ref, action)))
    if not wait:
        return answer
    Operation(http, {"id": answer["operation_id"], "status": "pending"}).wait(
        timeout=timeout, poll=0.1)
    return Deployments(http, ref).get(str(answer["id"]))


async def async_deploy(http: AsyncHttp, ref: str, action: str, wait: bool,
                       timeout: float | None) -> dict[str, Any]:  # noqa: ASYNC109 (the sync twin's)
    answer = as_object(await http.request("POST", path("databases", ref, action)))
    if not wait:
        return answer
    await AsyncOperation(http, {"id": answer["operation_id"], "status": "pending"}).wait(
        timeout=timeout, poll=0.1)
    return await AsyncDeployments(http, ref).get(str(answer["id"]))


class Deployments:
    """The deployments of one database, newest first."""

    def __init__(self, http: SyncHttp, ref: str) -> None:
        self._http = http
        self._ref = ref

    def list(self) -> builtins.list[dict[str, Any]]:
        """Its deployments, newest first, each with its timed ``steps``."""
        return as_list(unwrap(self._http.request(
            "GET", path("databases", self._ref, "deployments")), "results"))

    def get(self, deployment_id: str) -> dict[str, Any]:
        """One deployment; DeploymentNotFound (DBP-M101)."""
        return as_object(self._http.request(
            "GET", path("databases", self._ref, "deployments", deployment_id)))


class AsyncDeployments:
    """:class:`Deployments` on the async client."""

    def __init__(self, http: AsyncHttp, ref: str) -> None:
        self._http = http
        self._ref = ref

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Its deployments, newest first."""
        return as_list(unwrap(await self._http.request(
            "GET", path("databases", self._ref, "deployments")), "results"))

    async def get(self, deployment_id: str) -> dict[str, Any]:
        """One deployment."""
        return as_object(await self._http.request(
            "GET", path("databases", self._ref, "deployments", deployment_id)))


class Config:
    """A managed server's settings."""

    def __init__(self, http: SyncHttp, ref: str) -> None:
        self._http = http
        self._ref = ref

    def show(self) -> dict[str, Any]:
        """``{config, pending_restart_reason, service_deployment_status}``: the live
        values and the settings waiting for a redeploy."""
        db = as_object(unwrap(self._http.request("GET", path("databases", self._ref)),
                              "database"))
        return {k: db.get(k) for k in ("config", "pending_restart_reason",
                                       "service_deployment_status")}

    def set(self, **settings: str | int) -> dict[str, Any]:
        """Set server settings (``db.config.set(max_connections=50)``), validated against
        the server's catalogue; answers what :meth:`show` answers. UnknownSetting or
        InvalidSettingValue name the setting at fault, and nothing changes."""
        body = {"database": {"config": {k: str(v) for k, v in settings.items()}}}
        self._http.request("PATCH", path("databases", self._ref), json=body)
        return self.show()


class AsyncConfig:
    """:class:`Config` on the async client."""

    def __init__(self, http: AsyncHttp, ref: str) -> None:
        self._http = http
        self._ref = ref

    async def show(self) -> dict[str, Any]:
        db = as_object(unwrap(await self._http.request(
            "GET", path("databases", self._ref)), "database"))
        return {k: db.get(k) for k in ("config", "pending_restart_reason",
                                       "service_deployment_status")}

    async def set(self, **settings: str | int) -> dict[str, Any]:
        body = {"database": {"config": {k: str(v) for k, v in settings.items()}}}
        await self._http.request("PATCH", path("databases", self._ref), json=body)
        return await self.show()
