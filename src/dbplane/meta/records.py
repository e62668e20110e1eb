"""Typed records of the metadata store: what the named queries answer and services pass on.

One frozen dataclass per table (databases, backups and the scheduler's claims), its fields
the table's columns in the same order (a test checks that they agree).
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
    "BackupMethod",
    "BackupRecord",
    "BackupSlotRecord",
    "BackupStatus",
    "DatabaseMode",
    "DatabaseRecord",
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

    @classmethod
    def of(cls, row: RowMapping) -> DatabaseRecord:
        return cls(**{**row, "periodic_backups_scheduled_at": tuple(
            row["periodic_backups_scheduled_at"] or ())})

    def __getitem__(self, name: str) -> object:
        """A column by name, as when this record was a dict. Only for the database check
        operation in ``services/operations.py``, which still reads ``row["..."]``: remove
        once it reads attributes. Everything else reads the attribute."""
        return getattr(self, name)









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
