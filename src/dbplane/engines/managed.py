"""What every type's managed server (its engine package's ``managed`` part) answers.

A ``ManagedServer`` describes one kind of server and never keeps a process itself: how
its files are initialised, its configuration file, the process to start, how it is
stopped, the first logical database and the connection URL. Where the process runs is a
``ServerRuntime`` (``engines/runtime.py``) handed to each call. The methods are
synchronous (they run tools); services call them in a worker thread.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from dbplane.engines.runtime import ProcessSpec, ServerRuntime
from dbplane.engines.versions import Installation

__all__ = ["ManagedServer", "ServerPlan", "SettingInfo"]


@dataclass(frozen=True)
class ServerPlan:
    """One managed server's place: directory, port, password, first database, user."""

    directory: Path
    port: int
    password: str
    database: str
    user: str | None
    options: Mapping[str, str] = field(default_factory=dict)
    """What else the server was given at provisioning (a second port), kept in its URL's
    query (``ManagedServer.new_options``)."""
    layout: Mapping[str, str] = field(default_factory=dict)
    """Where this server's binaries and data are when they are not the type's defaults
    (``bin_dir``, ``data_dir``, ``version_id``): an upgrade or a point-in-time restore
    moves a server to a new data directory or another version's binaries."""


@dataclass(frozen=True)
class SettingInfo:
    """One setting in a server's catalogue, with its live value."""

    name: str
    value: str
    restart: bool
    """Whether a change takes effect only after a restart."""


class ManagedServer:
    """The base of a type's managed server; subclasses fill in every method."""

    type_name: ClassVar[str]
    stop_signal: ClassVar[int] = signal.SIGTERM
    start_timeout: ClassVar[float] = 30.0

    def new_options(self, free_port: Callable[[], int]) -> dict[str, str]:
        """What a new server needs beyond its port and password (another port): chosen
        once at provisioning, kept as query parameters of its URL."""
        return {}

    def initialise(self, rt: ServerRuntime, plan: ServerPlan) -> None:
        """Create the server's data files (initdb and the like)."""
        raise NotImplementedError

    def config_path(self, plan: ServerPlan) -> Path:
        raise NotImplementedError

    def config_text(self, plan: ServerPlan, settings: dict[str, str]) -> str:
        """The configuration file dbplane owns, with the user's ``settings``."""
        raise NotImplementedError

    def process(self, plan: ServerPlan) -> ProcessSpec:
        raise NotImplementedError

    def bootstrap(self, rt: ServerRuntime, plan: ServerPlan) -> None:
        """On the first start: the password, the first logical database."""

    def url(self, plan: ServerPlan) -> str:
        raise NotImplementedError

    def marker(self, plan: ServerPlan) -> str:
        """What the running process's command line shows (its data directory)."""
        return str(plan.directory)

    def log_tail(self, plan: ServerPlan, chars: int = 600) -> str:
        log = plan.directory / "server.log"
        try:
            return log.read_text(errors="replace")[-chars:].strip()
        except OSError:
            return ""

    async def catalogue(self, url: str, names: list[str]) -> dict[str, SettingInfo]:
        """The live value of each of ``names`` the server knows (absent: unknown)."""
        raise NotImplementedError

    async def validate(self, url: str, name: str, value: str) -> str | None:
        """Why the server would refuse ``value`` for ``name``; None when it is valid."""
        return None

    async def apply_live(self, url: str, settings: dict[str, str]) -> None:
        """Apply settings that need no restart to the running server."""

    features: ClassVar[tuple[str, ...]] = ()
    """The features a managed server of this type can turn on (``POST .../features``)."""

    def feature_settings(self, name: str, enable: bool, plan: ServerPlan,
                         current: dict[str, str]) -> dict[str, str]:
        """The settings that turn feature ``name`` on or off, given the ``current``
        live values of the settings it touches (``feature_reads``)."""
        raise NotImplementedError

    def feature_reads(self, name: str) -> list[str]:
        """The settings ``feature_settings`` needs the live value of."""
        return []

    async def feature_finish(self, url: str, name: str, enable: bool) -> None:
        """What follows the settings once they are live (create an extension…)."""

    def installations(self) -> list[Installation]:
        """The builds of this type's server found on this machine, oldest first."""
        return []

    def installation_of(self, plan: ServerPlan) -> Installation | None:
        """The build ``plan``'s server runs (the type's only one unless it has several)."""
        found = self.installations()
        return found[-1] if found else None
