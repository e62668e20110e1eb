"""Typed records of the metadata store: what the named queries answer and services pass on.

One frozen dataclass per table, its fields the table's columns in the same order (a test
checks that they agree), plus the answers of the bearer-token lookup, which joins tables.
Only the query modules build them from rows (``of``) and turn them back into column
values for an insert (``columns``); a service that needs a changed copy uses
``dataclasses.replace``.

Times are epoch milliseconds, as stored. A database's connection URL stays encrypted
(``url_secret``): services decrypt it where they connect or show it. JSON columns whose
shape dbplane fixes are typed with it (a list of hours is a tuple of ints); a JSON list
comes back as a tuple so that a record never changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import RowMapping

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "ApiTokenRecord",
    "BackupMethod",
    "BackupRecord",
    "BackupSlotRecord",
    "BackupStatus",
    "DatabaseMode",
    "DatabaseRecord",
    "DeploymentRecord",
    "ManagedServerRecord",
    "PrincipalRecord",
    "RoleRecord",
    "SessionPrincipalRecord",
    "SessionRecord",
    "TokenPrincipalRecord",
    "UserRecord",
    "columns",
]

DatabaseMode = Literal["embedded", "external", "managed"]
BackupStatus = Literal["pending", "running", "done", "error"]
BackupMethod = Literal["manual", "periodic", "upload"]


def columns(record: DataclassInstance) -> dict[str, Any]:
    """A record's column values, for an insert (tuples as the JSON lists they store)."""
    values: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        values[f.name] = list(value) if isinstance(value, tuple) else value
    return values


@dataclass(frozen=True, slots=True)
class DatabaseRecord:
    """A database dbplane serves (``dbp_databases``)."""

    id: str
    resource_id: str
    app_name: str
    type_name: str
    mode: DatabaseMode
    plan: str
    url_secret: str = field(repr=False)
    """The whole connection URL, Fernet-encrypted (it may carry a password)."""
    protected: bool
    periodic_backups_enabled: bool
    periodic_backups_scheduled_at: tuple[int, ...]
    """Hours of the day (0-23, UTC), sorted."""
    created_at: int
    updated_at: int
    restore_drills_enabled: bool = False

    @classmethod
    def of(cls, row: RowMapping) -> DatabaseRecord:
        return cls(**{**row, "periodic_backups_scheduled_at": tuple(
            row["periodic_backups_scheduled_at"] or ())})


@dataclass(frozen=True, slots=True)
class RoleRecord:
    """A role and its grants (``dbp_roles``)."""

    name: str
    description: str
    grants: tuple[dict[str, Any], ...]
    """JSON objects ``{database, table, actions}``, as ``services.auth.Grant`` dumps them."""
    created_on: int
    updated_on: int

    @classmethod
    def of(cls, row: RowMapping) -> RoleRecord:
        return cls(**{**row, "grants": tuple(row["grants"] or ())})


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user (``dbp_users``); never shown with its password hash."""

    id: str
    name: str
    email: str
    password_hash: str = field(repr=False)
    role: str
    created_on: int
    updated_on: int

    @classmethod
    def of(cls, row: RowMapping) -> UserRecord:
        return cls(**row)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A user's session (``dbp_sessions``): its token is stored as its SHA-256."""

    id: str
    token_hash: str = field(repr=False)
    user_id: str
    created_on: int
    expires_on: int

    @classmethod
    def of(cls, row: RowMapping) -> SessionRecord:
        return cls(**row)


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    """An admin API token (``dbp_api_tokens``), stored as its SHA-256."""

    id: str
    name: str
    token_hash: str = field(repr=False)
    prefix: str
    """The token's first characters, to recognise it in a list."""
    source: str
    """``generated`` (first start), ``env`` (DBPLANE_ADMIN_TOKEN) or ``api``."""
    created_on: int

    @classmethod
    def of(cls, row: RowMapping) -> ApiTokenRecord:
        return cls(**row)


@dataclass(frozen=True, slots=True)
class TokenPrincipalRecord:
    """What a bearer token is when it is an API token."""

    token_id: str
    name: str


@dataclass(frozen=True, slots=True)
class SessionPrincipalRecord:
    """What a bearer token is when it is a session: its user, role and grants."""

    session_id: str
    expires_on: int
    user_id: str
    role: str
    grants: tuple[dict[str, Any], ...]
    """The role's grants, as in ``RoleRecord``."""

    @classmethod
    def of(cls, row: RowMapping) -> SessionPrincipalRecord:
        return cls(**{**row, "grants": tuple(row["grants"] or ())})


PrincipalRecord = TokenPrincipalRecord | SessionPrincipalRecord


@dataclass(frozen=True, slots=True)
class BackupRecord:
    """A backup of a database (``dbp_backups``). ``archive`` is the file's name under
    the database's directory of the archive directory, set once the archive is complete;
    ``size`` and ``checksum`` (``sha256:<hex>``) with it."""

    id: str
    database_id: str
    name: str
    method: BackupMethod
    status: BackupStatus
    type_name: str
    format: str
    archive: str | None
    size: int | None
    checksum: str | None
    operation_id: str | None
    error: dict[str, Any] | None
    """JSON ``{code, message}`` of a backup that ended in ``error``."""
    created_at: int
    started_at: int | None
    finished_at: int | None
    fingerprint: dict[str, Any] | None = None
    """What the database held when the backup was taken (a restore drill compares)."""
    verified_at: int | None = None
    verification: dict[str, Any] | None = None
    """The last restore drill: ``{status: passed|failed, differences: [...]}``."""

    @classmethod
    def of(cls, row: RowMapping) -> BackupRecord:
        return cls(**row)


@dataclass(frozen=True, slots=True)
class BackupSlotRecord:
    """The periodic scheduler's claim of one database's scheduled hour
    (``dbp_backup_slots``; ``slot`` in epoch hours, UTC)."""

    database_id: str
    slot: int
    backup_id: str | None
    claimed_at: int

    @classmethod
    def of(cls, row: RowMapping) -> BackupSlotRecord:
        return cls(**row)


@dataclass(frozen=True, slots=True)
class ManagedServerRecord:
    """A server dbplane runs for a managed database (``dbp_managed_servers``)."""

    database_id: str
    type_name: str
    directory: str
    port: int
    database_name: str
    pid: int | None
    desired: str
    """``running`` or ``stopped``: what the supervisor keeps it at."""
    state: str
    """creating, running, updating, stopped, crashed or error."""
    detail: str | None
    settings: dict[str, str]
    """The settings in the server's configuration file."""
    pending: dict[str, dict[str, str | None]]
    """Saved settings waiting for a restart: ``{name: {old_value, new_value}}``."""
    features: dict[str, dict[str, str | None]]
    """Features asked for: ``{name: {status, message}}``."""
    auto_restart: bool
    restarts: int
    next_restart_at: int | None
    supervisor: str | None
    lease_until: int | None
    created_at: int
    updated_at: int
    layout: dict[str, str] | None = None
    """Where the files and binaries are when not the type's defaults:
    ``{version_id, bin_dir, data_dir}`` (``ServerPlan.layout``)."""
    kept: dict[str, Any] | None = None
    """What an upgrade or a point-in-time restore keeps to go back to."""

    @classmethod
    def of(cls, row: RowMapping) -> ManagedServerRecord:
        return cls(**{**row, "settings": dict(row["settings"] or {}),
                      "pending": dict(row["pending"] or {}),
                      "features": dict(row["features"] or {})})


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """One deployment (redeploy, restart, stop, start) of a database
    (``dbp_deployments``)."""

    id: str
    database_id: str
    action: str
    """DEPLOY, RESTART or STOP (Qovery's ``status_details.action``)."""
    state: str
    operation_id: str | None
    request_id: str
    steps: tuple[dict[str, Any], ...]
    error: dict[str, Any] | None
    created_at: int
    started_at: int | None
    finished_at: int | None

    @classmethod
    def of(cls, row: RowMapping) -> DeploymentRecord:
        return cls(**{**row, "steps": tuple(row["steps"] or ())})
