"""Operations (issue 7): one model for every long task.

A long task is persisted in the metadata store as a *pending* operation (``queue``) and
run by one of the workers inside a dbplane process (``runtime``), which claim only the
types registered in the process's :class:`OperationRegistry` (``registry``). The types
dbplane runs are registered explicitly at start-up by
``dbplane.services.operation_types.register_operation_types``::

    registry.register("backup", run_backup, conflict_group="data")

Services start operations with :func:`start_operation`; the handler receives an
:class:`OperationContext` to record steps, progress and log lines and to notice a
cancel. ``periodic`` runs the registered periodic tasks; ``check`` is the
``database.check`` handler.
"""

from dbplane.meta.operation_records import OperationRecord
from dbplane.services.operations.operation_context import OperationContext
from dbplane.services.operations.public import public_operation
from dbplane.services.operations.queue import (
    STATUSES,
    active_operations,
    cancel_operation,
    get_operation,
    list_operations,
    operation_when_ended,
    start_operation,
    wait_operation,
)
from dbplane.services.operations.registry import (
    OperationHandler,
    OperationRegistry,
    PeriodicTask,
    registry_of,
)
from dbplane.services.operations.runtime import (
    process_owner,
    recover_interrupted,
    server_closing,
    start,
    stop,
)

__all__ = [
    "STATUSES",
    "OperationContext",
    "OperationHandler",
    "OperationRecord",
    "OperationRegistry",
    "PeriodicTask",
    "active_operations",
    "cancel_operation",
    "get_operation",
    "list_operations",
    "operation_when_ended",
    "process_owner",
    "public_operation",
    "recover_interrupted",
    "registry_of",
    "server_closing",
    "start",
    "start_operation",
    "stop",
    "wait_operation",
]
