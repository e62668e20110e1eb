"""The operation types and periodic tasks a dbplane process runs.

Each process (each :class:`AppContext`) has one :class:`OperationRegistry`, filled at
start-up by ``dbplane.services.operation_types.register_operation_types``. Its workers
claim only the types registered there; starting an operation of another type is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dbplane.errors import DbplaneError
from dbplane.services.context import AppContext
from dbplane.services.operations.operation_context import OperationContext

__all__ = [
    "OperationHandler",
    "OperationRegistry",
    "OperationType",
    "Periodic",
    "PeriodicTask",
    "registry_of",
]

OperationHandler = Callable[[AppContext, OperationContext], Awaitable[dict[str, Any] | None]]
"""Runs one operation; answers its result (JSON) or None."""
PeriodicTask = Callable[[AppContext], Awaitable[None]]


@dataclass(frozen=True)
class OperationType:
    name: str
    handler: OperationHandler
    conflict_group: str | None
    cancellable: bool
    urgent: bool = False


@dataclass(frozen=True)
class Periodic:
    name: str
    fn: PeriodicTask
    interval_seconds: float


class OperationRegistry:
    """Operation types by name, and periodic tasks."""

    def __init__(self) -> None:
        self._types: dict[str, OperationType] = {}
        self._periodic: dict[str, Periodic] = {}

    def register(self, type_name: str, handler: OperationHandler, *,
                 conflict_group: str | None = None, cancellable: bool = True,
                 urgent: bool = False) -> None:
        """Make ``type_name`` runnable by this process's workers.

        Operations of one database in the same ``conflict_group`` never overlap: starting
        one while another of the group is pending or running raises OperationConflict
        (409) whose message names the running operation's id and type. A type registered
        ``cancellable=False`` refuses a cancel while it runs. An ``urgent`` type (work a
        user waits for: backups, restores) is claimed before the others whatever their
        age, and one worker of a process with several is kept for it, so a queue of
        other work never starves it. Registering a name again replaces it."""
        if not type_name or len(type_name) > 64:
            raise ValueError(f"an operation type name has 1 to 64 characters: {type_name!r}")
        self._types[type_name] = OperationType(type_name, handler, conflict_group,
                                               cancellable, urgent)

    def register_periodic(self, name: str, fn: PeriodicTask,
                          interval_seconds: float) -> None:
        """A task the worker loop runs every ``interval_seconds`` inside each dbplane
        process (it must itself be safe with several replicas). Its errors are logged,
        never fatal."""
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        self._periodic[name] = Periodic(name, fn, interval_seconds)

    def get(self, type_name: str) -> OperationType | None:
        return self._types.get(type_name)

    def require(self, type_name: str) -> OperationType:
        """The type; DbplaneError when it is not registered."""
        optype = self._types.get(type_name)
        if optype is None:
            raise DbplaneError(f"no operation type {type_name!r} is registered")
        return optype

    def type_names(self) -> list[str]:
        """The operation types this process can run."""
        return sorted(self._types)

    def urgent_names(self) -> list[str]:
        """The urgent operation types (see :meth:`register`)."""
        return sorted(name for name, t in self._types.items() if t.urgent)

    def periodic(self) -> list[Periodic]:
        return list(self._periodic.values())


_KEY = "operations.registry"


def registry_of(ctx: AppContext) -> OperationRegistry:
    """The registry of a process (empty until its start-up registers the types)."""
    registry = ctx.extensions.get(_KEY)
    if not isinstance(registry, OperationRegistry):
        registry = ctx.extensions[_KEY] = OperationRegistry()
    return registry
