"""Every operation type and periodic task a dbplane process runs, registered explicitly
at start-up (``api.app``'s lifespan). A type missing here is refused when started and
never claimed by this process's workers."""

from __future__ import annotations

from dbplane.services import (
    backup_drills,
    backup_scheduler,
    backups,
    deployments,
    managed,
    pitr,
    routines,
    supervisor,
    upgrades,
)
from dbplane.services.operations import OperationRegistry
from dbplane.services.operations.check import check_database

__all__ = ["register_operation_types"]


def register_operation_types(registry: OperationRegistry) -> None:
    """Register dbplane's operation types and periodic tasks in ``registry``."""
    registry.register("database.check", check_database)
    # provisioning and deployments never overlap on one server
    registry.register("managed.provision", managed.run_provision, conflict_group="deploy",
                      cancellable=False)
    registry.register("deployment", deployments.run_deployment, conflict_group="deploy",
                      cancellable=False)
    # a point-in-time restore works on the server as a deployment does (and refuses to
    # start while any operation runs on the database)
    registry.register(pitr.OPERATION_TYPE, pitr.run_pitr_restore, conflict_group="deploy",
                      cancellable=False, urgent=True)
    # an upgrade and its rollback replace the server's cluster: as a deployment does
    registry.register(upgrades.OPERATION_TYPE, upgrades.run_upgrade, conflict_group="deploy",
                      cancellable=False, urgent=True)
    registry.register(upgrades.ROLLBACK_TYPE, upgrades.run_rollback,
                      conflict_group="deploy", cancellable=False, urgent=True)
    # backup and restore never overlap on one database; a restore stopped midway would
    # leave a MySQL or Redis database half restored
    registry.register("backup", backups.run_backup, conflict_group="data", urgent=True)
    registry.register("restore", backups.run_restore, conflict_group="data",
                      cancellable=False, urgent=True)
    # a drill restores into a scratch copy, never the live database: no conflict group
    registry.register(backup_drills.OPERATION_TYPE, backup_drills.run_verify)
    for kind, type_name in routines.OPERATION_TYPES.items():
        registry.register(type_name, routines.run_routine_operation,
                          cancellable=kind in routines.CANCELLABLE_KINDS)
    registry.register_periodic("managed.supervisor", supervisor.supervise,
                               supervisor.INTERVAL_SECONDS)
    registry.register_periodic("pitr.settle", pitr.settle_interrupted,
                               pitr.SETTLE_INTERVAL_SECONDS)
    registry.register_periodic("upgrade.settle", upgrades.settle_interrupted,
                               upgrades.SETTLE_INTERVAL_SECONDS)
    registry.register_periodic("backups.scheduler", backup_scheduler.scheduler_pass,
                               backup_scheduler.SCHEDULER_INTERVAL_SECONDS)
