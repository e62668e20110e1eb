"""The databases API's request and response models (Scalingo's database object)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from dbplane.engines import resolve_type, type_names

__all__ = [
    "DEFAULT_RESOURCE_ID",
    "DatabaseCreate",
    "DatabasePublic",
    "DatabaseUpdate",
    "FeaturePublic",
    "InstancePublic",
    "LastVerifiedBackup",
    "ManagedPublic",
    "hours",
]

DEFAULT_RESOURCE_ID = "default"

ResourceId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
                                  description="Lower-case letters, digits, '-' and '_', "
                                  "1-63 characters.", examples=["my-db-123"])]
Hours = StrictInt | list[StrictInt]


def hours(value: int | list[int] | None) -> list[int] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, int) else value
    for hour in values:
        if not 0 <= hour <= 23:
            raise ValueError(f"{hour} is not an hour of the day (0-23, UTC)")
    return sorted(set(values))


def _type_name(value: str | None) -> str | None:
    if value is None:
        return None
    name = resolve_type(value)
    if name is None:
        raise ValueError(f"{value!r} is not a type dbplane serves; use one of "
                         + ", ".join(type_names()))
    return name


class DatabaseCreate(BaseModel):
    """Register an external database by URL, or create an embedded SQLite database."""

    model_config = ConfigDict(extra="forbid", strict=True)

    resource_id: ResourceId
    type_name: str | None = Field(None, description="sqlite, postgresql, mysql or redis; "
                                  "read from the url when omitted.")
    url: str | None = Field(None, repr=False, description="Connection URL of an external "
                            "database, or sqlite:////absolute/path.db to serve an existing "
                            "SQLite file. Omit it to create an embedded SQLite database.")
    mode: Literal["embedded", "external", "managed"] | None = Field(
        None, description="managed: dbplane runs a server of its own for it (postgresql, "
        "mysql, redis; answers 202 with the provisioning operation). Default: external "
        "with a url, embedded without.")
    app_name: str | None = Field(None, max_length=255)
    periodic_backups_enabled: bool = False
    periodic_backups_scheduled_at: Hours | None = Field(
        None, description="One hour or a list of hours (0-23, UTC).")
    restore_drills_enabled: bool = Field(False, description="Run a restore drill "
                                         "(backups/{id}/verify) after every periodic backup.")

    _check_type = field_validator("type_name")(_type_name)
    _check_hours = field_validator("periodic_backups_scheduled_at")(hours)


class DatabaseUpdate(BaseModel):
    """Settings that can change on a registered database."""

    model_config = ConfigDict(extra="forbid", strict=True)

    app_name: str | None = Field(None, max_length=255)
    url: str | None = Field(None, repr=False, description="A new connection URL (e.g. a "
                            "rotated password); checked before it is saved.")
    periodic_backups_enabled: bool | None = None
    periodic_backups_scheduled_at: Hours | None = Field(
        None, description="One hour or a list of hours (0-23, UTC).")
    restore_drills_enabled: bool | None = Field(None, description="Run a restore drill "
                                                "after every periodic backup.")
    config: dict[str, str | StrictInt] | None = Field(
        None, description="A managed server's settings ({name: value}), checked against "
        "its catalogue; those that need a restart stay pending until a redeploy.")
    auto_restart: bool | None = Field(None, description="A managed server: restart it "
                                      "when it dies (with a back-off; default on).")

    _check_hours = field_validator("periodic_backups_scheduled_at")(hours)


class InstancePublic(BaseModel):
    id: str
    hostname: str
    port: int | None = Field(description="null for an embedded SQLite file")
    status: str
    type: Literal["db-node", "gateway"]


class FeaturePublic(BaseModel):
    name: str
    status: Literal["ACTIVATED", "PENDING", "FAILED", "PENDING_TO_ACTIVATE",
                    "PENDING_TO_REMOVE"]
    message: str | None = None


class ManagedPublic(BaseModel):
    data_directory: str
    port: int
    pid: int | None
    auto_restart: bool
    restarts: int


class LastVerifiedBackup(BaseModel):
    """The backup a restore drill verified last, when, and how it went."""

    id: str
    verified_at: str = Field(description="RFC 3339, UTC")
    status: Literal["passed", "failed"]


class DatabasePublic(BaseModel):
    """A database, with every attribute of the Scalingo database object."""

    id: str
    resource_id: str
    app_name: str
    created_at: str = Field(description="RFC 3339 with milliseconds")
    encryption_at_rest: bool
    plan: str
    status: Literal["running", "unreachable", "backing-up", "restoring", "upgrading",
                    "creating", "updating", "stopped", "crashed", "error"] = Field(
        description="running or unreachable, from a health check; backing-up or restoring "
        "while such an operation runs on it; a managed server's process state otherwise "
        "(creating, updating, stopped, crashed, error); upgrading while an upgrade or its "
        "rollback runs")
    type_id: str
    type_name: str
    version_id: str | None = Field(description="the build the server runs (a managed "
                                   "server's installation; else derived from its version)")
    next_version_id: str | None = Field(None, description="the version an upgrade moves "
                                        "to (GET .../versions lists every one)")
    readable_version: str | None = Field(description="as the server reports it; null "
                                         "while it is unreachable")
    instances: list[InstancePublic]
    features: list[FeaturePublic]
    periodic_backups_enabled: bool
    periodic_backups_scheduled_at: list[int]
    restore_drills_enabled: bool = False
    last_verified_backup: LastVerifiedBackup | None = Field(
        None, description="the backup most recently verified by a restore drill")
    mode: Literal["embedded", "external", "managed"]
    url: str = Field(description="the connection URL with its password replaced by ***")
    status_detail: str | None = Field(None, description="why the database is unreachable")
    managed: ManagedPublic | None = Field(None, description="the server dbplane runs (a "
                                          "managed database only)")
    config: dict[str, str] | None = Field(None, description="a managed server's settings "
                                          "set through dbplane, as the server reports "
                                          "them now")
    pending_restart_reason: dict[str, dict[str, str | None]] | None = Field(
        None, description="settings saved but waiting for a redeploy: {name: {old_value, "
        "new_value}}")
    service_deployment_status: str | None = Field(
        None, description="NEVER_DEPLOYED, OUT_OF_DATE (settings pending) or UP_TO_DATE")
