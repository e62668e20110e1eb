"""The one error tree of dbplane.

Every error a user can cause is a subclass of one of the families below; ``api/errors.py``
maps a family to an HTTP status in one place and the client maps a ``code`` back to the
class. Imports nothing from dbplane.

    DbplaneError                    500  a bug, logged
    ├── Invalid                     422  the request is well formed but wrong
    │   ├── InvalidField                 a field has a value it cannot have
    │   ├── InvalidDatabaseUrl           a database URL that cannot be used
    │   ├── ConnectionCheckFailed        the URL does not lead to a working database
    │   │   ├── DatabaseHostUnknown      … the host name does not resolve
    │   │   ├── DatabaseUnreachable      … nothing answers at host:port
    │   │   ├── DatabaseAuthFailed       … the server refused the user or password
    │   │   └── DatabaseMissing          … the server has no database of that name
    │   ├── MalformedBody           400  the body is not JSON, or not the expected shape
    │   ├── MethodNotAllowed        405  the endpoint does not accept this method
    │   └── Unsupported             400  the database type cannot do this
    ├── Unauthorized                401  no token, or one that is not valid
    │   ├── MissingToken / InvalidToken / InvalidCredentials
    ├── Forbidden                   403  the caller may not do this
    │   ├── AdminRequired / NotGranted
    ├── NotFound                    404  EndpointNotFound, DatabaseNotFound, UserNotFound,
    │                                    RoleNotFound, TokenNotFound, NotAUserSession
    ├── Conflict                    409  DatabaseExists, ProtectedDatabase, UserExists,
    │                                    RoleExists, RoleInUse, BuiltinRole
    ├── Unavailable                 503  a server dbplane needs does not answer
    └── (tables API) TableNotFound, RecordNotFound 404; UnknownColumn, UnknownOperator,
        InvalidValue, MalformedParameter, UnknownRelation 400; ReadOnlyTable 405;
        ConstraintViolation 409 (NotNull, Unique, ForeignKey, Check)

Codes are stable: a retired code is never reused. Reserved outside this module:
DBP-S101 (the client's ConnectionFailed: the server could not be reached).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ActionNotSupported",
    "ActionRefused",
    "ActionServerUnavailable",
    "AdminRequired",
    "ArchiveChecksumMismatch",
    "ArchiveInvalid",
    "ArchiveTooLarge",
    "BackendNotFound",
    "BackupInUse",
    "BackupNotFound",
    "BackupNotReady",
    "BackupToolFailed",
    "BackupToolMissing",
    "BodyTooLarge",
    "BuiltinRole",
    "CheckViolation",
    "Conflict",
    "ConnectionCheckFailed",
    "ConstraintViolation",
    "CsrfFailed",
    "DatabaseAuthFailed",
    "DatabaseExists",
    "DatabaseHostUnknown",
    "DatabaseLocked",
    "DatabaseMissing",
    "DatabaseNotFound",
    "DatabaseServerUnavailable",
    "DatabaseUnreachable",
    "DbplaneError",
    "DeploymentConflict",
    "DeploymentNotFound",
    "DiffNotApplicable",
    "DrillScratchUnavailable",
    "EmptyReference",
    "EndpointNotFound",
    "Forbidden",
    "ForeignKeyViolation",
    "Invalid",
    "InvalidActionParams",
    "InvalidCredentials",
    "InvalidDatabaseUrl",
    "InvalidField",
    "InvalidRoutineFile",
    "InvalidSettingValue",
    "InvalidToken",
    "InvalidValue",
    "LogicalDatabaseExists",
    "LogicalDatabaseInUse",
    "LogicalDatabaseNotFound",
    "MalformedBody",
    "MalformedParameter",
    "ManagedDirUnusable",
    "ManagedServerFailed",
    "MethodNotAllowed",
    "MigrationChanged",
    "MigrationFailed",
    "MigrationFileMissing",
    "MigrationsLocked",
    "MissingGenerator",
    "MissingToken",
    "NoDownMigration",
    "NoNewerVersion",
    "NoPreviousVersion",
    "NotAUserSession",
    "NotFound",
    "NotGranted",
    "NotManaged",
    "NotNullViolation",
    "OperationCanceled",
    "OperationConflict",
    "OperationInterrupted",
    "OperationNotCancellable",
    "OperationNotFound",
    "PitrNotEnabled",
    "PitrRestoreFailed",
    "PreviousVersionKept",
    "ProtectedDatabase",
    "ProtectedLogicalDatabase",
    "ReadOnlyTable",
    "RecordNotFound",
    "RestoreTimeInvalid",
    "RestoreTimeOutsideWindow",
    "RetentionPolicyExists",
    "RetentionPolicyNotFound",
    "RoleExists",
    "RoleInUse",
    "RoleNotFound",
    "RoutineFileNotFound",
    "RoutineRowRejected",
    "RoutineTableNotFound",
    "RoutineUnknownColumn",
    "SchemaApplyFailed",
    "SchemaBodyInvalid",
    "SchemaChanged",
    "SchemaParameterInvalid",
    "ServerNotRunning",
    "SnapshotMismatch",
    "StaleSchemaHash",
    "StatStatementsUnavailable",
    "TableNotFound",
    "TokenNotFound",
    "TooManyAffected",
    "TooManyRows",
    "Unauthorized",
    "Unavailable",
    "UniqueViolation",
    "UnknownAction",
    "UnknownColumn",
    "UnknownOperator",
    "UnknownProvider",
    "UnknownRelation",
    "UnknownSetting",
    "UnknownVersion",
    "Unsupported",
    "UnsupportedFieldType",
    "UpgradeFailed",
    "UpgradeIneligible",
    "UserExists",
    "UserNotFound",
    "ValueRejected",
    "ValueTooLarge",
    "WrongFileKind",
    "error_class_for_code",
]


class DbplaneError(Exception):
    """An unexpected error inside dbplane."""

    code: ClassVar[str] = "DBP-E000"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    retry_after: ClassVar[int | None] = None
    """Seconds to wait before trying again (the answer's ``Retry-After``), if any."""
    status_code: int | None = None
    """The HTTP status of the answer this error was rebuilt from (set by the client)."""

    def __init__(self, detail: str | None = None, **fields: Any) -> None:
        self.detail = detail or (self.__doc__ or self.title).strip().splitlines()[0]
        self.fields = {k: v for k, v in fields.items() if v is not None}
        super().__init__(self.detail)

    @classmethod
    def from_problem(cls, body: dict[str, Any]) -> DbplaneError:
        """Rebuild the error a server answered as problem details (used by the client)."""
        err = cls.__new__(cls)
        err.detail = str(body.get("detail") or cls.title)
        skip = {"type", "title", "status", "detail", "code"}
        err.fields = {k: v for k, v in body.items() if k not in skip}
        Exception.__init__(err, err.detail)
        return err

    def to_dict(self) -> dict[str, Any]:
        """The RFC 9457 problem-details body for this error."""
        # a field never overwrites a core member (``status`` is always the HTTP status,
        # a number)
        body: dict[str, Any] = {
            "type": f"urn:dbplane:error:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        body.update((k, v) for k, v in self.fields.items() if k not in body)
        return body


# -- families -------------------------------------------------------------------------


class Invalid(DbplaneError):
    """The request is well formed but asks for something that cannot be."""

    code = "DBP-V000"
    status = 422
    title = "Invalid request"


class Unauthorized(DbplaneError):
    """The request needs a valid bearer token."""

    code = "DBP-A000"
    status = 401
    title = "Unauthorized"


class Forbidden(DbplaneError):
    """The caller may not do this."""

    code = "DBP-A200"
    status = 403
    title = "Forbidden"


class NotFound(DbplaneError):
    """There is nothing here."""

    code = "DBP-N000"
    status = 404
    title = "Not found"


class Conflict(DbplaneError):
    """The request conflicts with the current state."""

    code = "DBP-C000"
    status = 409
    title = "Conflict"


class Unavailable(DbplaneError):
    """A server dbplane needs does not answer."""

    code = "DBP-S000"
    status = 503
    title = "Service unavailable"


class DatabaseLocked(Unavailable):
    """The database is locked by another connection past the busy timeout; try again
    (the answer's ``Retry-After`` says when)."""

    code = "DBP-S201"
    retry_after: ClassVar[int | None] = 1


class DatabaseServerUnavailable(Unavailable):
    """The database server takes no connections now (stopped, starting or shutting down)."""

    code = "DBP-S202"


# -- invalid --------------------------------------------------------------------------


class InvalidField(Invalid):
    """A field has a value it cannot have."""

    code = "DBP-V100"

    def __init__(self, detail: str | None = None, *, field: str, value: Any = None,
                 **fields: Any) -> None:
        super().__init__(detail or f"invalid value for {field!r}: {value!r}", field=field,
                         value=value, **fields)


class MalformedBody(Invalid):
    """The request body is not JSON, or not of the expected shape."""

    code = "DBP-V101"
    status = 400


class BodyTooLarge(Invalid):
    """The request body is larger than the server accepts (``limit`` bytes)."""

    code = "DBP-V413"
    status = 413
    title = "Content too large"


class MethodNotAllowed(Invalid):
    """This endpoint does not accept this method."""

    code = "DBP-V405"
    status = 405
    title = "Method not allowed"


class Unsupported(Invalid):
    """The database type cannot do this."""

    code = "DBP-V102"
    status = 400


class InvalidDatabaseUrl(Invalid):
    """The database URL cannot be used."""

    code = "DBP-D201"

    def __init__(self, detail: str, *, url: str | None = None, **fields: Any) -> None:
        super().__init__(detail, field="url", url=url, **fields)


class ConnectionCheckFailed(Invalid):
    """The database URL does not lead to a working database."""

    code = "DBP-D300"


class DatabaseHostUnknown(ConnectionCheckFailed):
    """The database host name does not resolve."""

    code = "DBP-D301"


class DatabaseUnreachable(ConnectionCheckFailed):
    """Nothing answers at the database's host and port."""

    code = "DBP-D302"


class DatabaseAuthFailed(ConnectionCheckFailed):
    """The database server refused the user name or password."""

    code = "DBP-D303"


class DatabaseMissing(ConnectionCheckFailed):
    """The database server has no database of that name."""

    code = "DBP-D304"


# -- unauthorized / forbidden ---------------------------------------------------------


class MissingToken(Unauthorized):
    """This endpoint needs an `Authorization: Bearer <token>` header."""

    code = "DBP-A101"


class InvalidToken(Unauthorized):
    """The bearer token is not valid: unknown, revoked or expired."""

    code = "DBP-A102"


class InvalidCredentials(Unauthorized):
    """The email or the password is wrong."""

    code = "DBP-A103"


class AdminRequired(Forbidden):
    """Only an admin may do this."""

    code = "DBP-A201"


class NotGranted(Forbidden):
    """The caller's role does not grant this action."""

    code = "DBP-A202"


class CsrfFailed(Forbidden):
    """The form's CSRF token does not match the session: reload the page and send it again."""

    code = "DBP-A210"


# -- not found ------------------------------------------------------------------------


class EndpointNotFound(NotFound):
    """There is no such endpoint."""

    code = "DBP-N001"


class DatabaseNotFound(NotFound):
    """No database has this id or resource_id."""

    code = "DBP-D101"

    def __init__(self, database: str) -> None:
        super().__init__(f"no database has the id or resource_id {database!r}",
                         database=database)


class UserNotFound(NotFound):
    """No user has this id."""

    code = "DBP-U101"

    def __init__(self, user: str) -> None:
        super().__init__(f"no user has the id {user!r}", user=user)


class RoleNotFound(NotFound):
    """No role has this name."""

    code = "DBP-U201"

    def __init__(self, role: str) -> None:
        super().__init__(f"no role is named {role!r}", field="role", value=role)


class TokenNotFound(NotFound):
    """No API token has this id."""

    code = "DBP-A301"

    def __init__(self, token_id: str) -> None:
        super().__init__(f"no API token has the id {token_id!r}", token_id=token_id)


class NotAUserSession(NotFound):
    """This bearer token is an API token, not a user session: it has no current user."""

    code = "DBP-A104"


# -- conflict -------------------------------------------------------------------------


class DatabaseExists(Conflict):
    """A database with this resource_id is already registered."""

    code = "DBP-D401"

    def __init__(self, resource_id: str) -> None:
        super().__init__(f"a database with the resource_id {resource_id!r} already exists",
                         field="resource_id", value=resource_id)


class ProtectedDatabase(Conflict):
    """This database is protected and cannot be removed."""

    code = "DBP-D402"


class UserExists(Conflict):
    """A user with this email already exists."""

    code = "DBP-U301"

    def __init__(self, email: str) -> None:
        super().__init__(f"a user with the email {email!r} already exists", field="email",
                         value=email)


class RoleExists(Conflict):
    """A role with this name already exists."""

    code = "DBP-U302"

    def __init__(self, role: str) -> None:
        super().__init__(f"a role named {role!r} already exists", field="name", value=role)


class BuiltinRole(Conflict):
    """The admin role is built in: it may do everything and cannot be changed or removed."""

    code = "DBP-U304"


class RoleInUse(Conflict):
    """The role is given to users and cannot be removed."""

    code = "DBP-U303"


# -- tables API -----------------------------------------------------------------------


class TableNotFound(NotFound):
    """The database has no table or view of this name (or the caller may not see it)."""

    code = "DBP-Q101"

    def __init__(self, table: str, database: str | None = None) -> None:
        super().__init__(f"there is no table or view named {table!r}", table=table,
                         database=database)


class UnknownColumn(Invalid):
    """The request names a column the table does not have."""

    code = "DBP-Q102"
    status = 400

    def __init__(self, *, table: str, column: str, parameter: str) -> None:
        super().__init__(f"{parameter}: the table {table!r} has no column {column!r}",
                         table=table, column=column, parameter=parameter)


class UnknownOperator(Invalid):
    """The filter names an operator that does not exist."""

    code = "DBP-Q103"
    status = 400

    def __init__(self, *, operator: str, column: str, valid: list[str],
                 detail: str | None = None) -> None:
        super().__init__(detail or f"filters[{column}]: {operator!r} is not an operator; use "
                         "one of " + " ".join(valid), operator=operator, column=column,
                         valid=valid)


class RecordNotFound(NotFound):
    """No record of the table has this primary key."""

    code = "DBP-Q104"

    def __init__(self, *, table: str, key: str) -> None:
        super().__init__(f"the table {table!r} has no record {key!r}", table=table, key=key)


class InvalidValue(Invalid):
    """A value cannot be converted to its column's type."""

    code = "DBP-Q105"
    status = 400

    def __init__(self, *, column: str, value: Any, expected: str,
                 parameter: str | None = None) -> None:
        where = f"{parameter}: " if parameter else ""
        super().__init__(f"{where}{value!r} is not a valid {expected} for the column "
                         f"{column!r}", column=column, value=value, expected=expected,
                         parameter=parameter)


class MalformedParameter(Invalid):
    """A query parameter is not of the form the Tables API reads."""

    code = "DBP-Q106"
    status = 400

    def __init__(self, detail: str, *, parameter: str) -> None:
        super().__init__(detail, parameter=parameter)


class UnknownRelation(Invalid):
    """``include`` names no relation of the table."""

    code = "DBP-Q107"
    status = 400

    def __init__(self, *, table: str, include: str, valid: list[str]) -> None:
        listed = ", ".join(valid) if valid else "none"
        super().__init__(f"include: the table {table!r} has no relation {include!r} "
                         f"(its relations: {listed})", table=table, include=include,
                         valid=valid)


class ValueTooLarge(Invalid):
    """A value (or a statement) is larger than the database server accepts (``limit``)."""

    code = "DBP-Q110"
    status = 413


class ReadOnlyTable(Invalid):
    """This is a view, or a table without a primary key: it can be listed, not written."""

    code = "DBP-Q108"
    status = 405


class ValueRejected(Invalid):
    """The database refused a value (too long, out of range for the column's type)."""

    code = "DBP-Q109"
    status = 400


class TooManyRows(Invalid):
    """The write has more rows than one request may carry (DBPLANE_TABLES_MAX_WRITE_ROWS)."""

    code = "DBP-Q120"
    status = 413


class TooManyAffected(Invalid):
    """The bulk update or delete would touch more rows than Prefer: max-affected allows."""

    code = "DBP-Q121"
    status = 400


class ConstraintViolation(Conflict):
    """The write breaks a constraint of the table; nothing was written."""

    code = "DBP-Q200"


class NotNullViolation(ConstraintViolation):
    """A column that cannot be null was given no value; nothing was written."""

    code = "DBP-Q201"


class UniqueViolation(ConstraintViolation):
    """The write would duplicate a unique value; nothing was written."""

    code = "DBP-Q202"


class ForeignKeyViolation(ConstraintViolation):
    """The write names a row that does not exist, or removes one still referred to."""

    code = "DBP-Q203"


class CheckViolation(ConstraintViolation):
    """The write breaks a check constraint; nothing was written."""

    code = "DBP-Q204"


class SchemaChanged(Conflict):
    """The table changed while the request ran (behind dbplane's back): nothing was done."""

    code = "DBP-Q301"


# --- Schema as code (issue 5): codes DBP-H1xx..H4xx ---


class SchemaBodyInvalid(MalformedBody):
    """The body is not a schema snapshot or diff (not JSON or YAML, or not its shape)."""

    code = "DBP-H101"


class SnapshotMismatch(Invalid):
    """The snapshot comes from another vendor or version; ``?force=true`` diffs it anyway."""

    code = "DBP-H102"
    status = 400


class SchemaParameterInvalid(Invalid):
    """A query parameter of the schema endpoints has a value they do not accept."""

    code = "DBP-H103"
    status = 400


class UnsupportedFieldType(Invalid):
    """A field's type has no column type on this database."""

    code = "DBP-H104"


class DiffNotApplicable(Invalid):
    """The diff names a collection, field or relation the schema does not have (or one it
    already has), or a path its objects do not have."""

    code = "DBP-H105"


class StaleSchemaHash(Conflict):
    """The schema changed since the diff was computed: diff again, then apply."""

    code = "DBP-H401"


class SchemaApplyFailed(Conflict):
    """The database refused a statement of the apply; the error says what was applied."""

    code = "DBP-H402"


# --- Routines (issue 6): codes DBP-R1xx..R4xx ---


class RoutineFileNotFound(NotFound):
    """No file of the project directory has this file_id."""

    code = "DBP-R101"

    def __init__(self, file_id: str, kind: str | None = None) -> None:
        what = f"{kind} file" if kind else "file"
        super().__init__(f"no {what} of the project directory has the file_id {file_id!r}",
                         field="file_id", value=file_id, kind=kind)


class WrongFileKind(Invalid):
    """The file_id names a file of another kind (a migration where a factory is asked)."""

    code = "DBP-R102"

    def __init__(self, *, file_id: str, path: str, kind: str, expected: str) -> None:
        super().__init__(f"the file {path!r} is a {kind}, not a {expected}", field="file_id",
                         value=file_id, path=path, kind=kind, expected=expected)


class InvalidRoutineFile(Invalid):
    """A migration, factory or seeder file cannot be read or does not fit its format."""

    code = "DBP-R103"

    def __init__(self, detail: str, *, path: str, **fields: Any) -> None:
        super().__init__(f"{path}: {detail}", path=path, **fields)


class RoutineTableNotFound(Invalid):
    """The factory or seeder names a table the database does not have."""

    code = "DBP-R104"

    def __init__(self, *, path: str, table: str) -> None:
        super().__init__(f"{path}: the database has no table {table!r}", path=path,
                         table=table)


class RoutineUnknownColumn(Invalid):
    """The factory or seeder names a column its table does not have."""

    code = "DBP-R105"

    def __init__(self, *, path: str, table: str, column: str) -> None:
        super().__init__(f"{path}: the table {table!r} has no column {column!r}", path=path,
                         table=table, column=column)


class UnknownProvider(Invalid):
    """A factory column names a Faker provider that does not exist."""

    code = "DBP-R106"

    def __init__(self, *, path: str, column: str, provider: str) -> None:
        super().__init__(f"{path}: columns.{column}: Faker has no provider {provider!r}",
                         path=path, column=column, provider=provider)


class MissingGenerator(Invalid):
    """A NOT NULL column without a default has no generator in the factory."""

    code = "DBP-R107"

    def __init__(self, *, path: str, table: str, columns: list[str]) -> None:
        super().__init__(f"{path}: the column(s) {', '.join(columns)} of {table!r} cannot be "
                         "null and have no default: give each a generator", path=path,
                         table=table, columns=columns)


class EmptyReference(Invalid):
    """A factory column refers to a table that has no rows to refer to."""

    code = "DBP-R108"

    def __init__(self, *, path: str, column: str, ref: str) -> None:
        super().__init__(f"{path}: columns.{column}: {ref} has no rows to refer to",
                         path=path, column=column, ref=ref)


class NoDownMigration(Invalid):
    """A migration to roll back has no down file (or no downgrade function)."""

    code = "DBP-R201"

    def __init__(self, *, migration: str) -> None:
        super().__init__(f"the migration {migration!r} cannot be rolled back: it has no "
                         "down file or downgrade(op)", migration=migration)


class MigrationFailed(Invalid):
    """A migration statement failed; ``applied`` says what the run left applied."""

    code = "DBP-R202"


class MigrationChanged(Conflict):
    """An applied migration's file changed since; run again with ``allow_changed``."""

    code = "DBP-R301"

    def __init__(self, *, migrations: list[str]) -> None:
        super().__init__(f"applied migration(s) changed since they ran: {', '.join(migrations)}"
                         "; restore the files, or run with allow_changed to go on",
                         migrations=migrations)


class MigrationsLocked(Conflict):
    """Another run holds this database's migration lock; try again when it has finished."""

    code = "DBP-R302"


class MigrationFileMissing(Conflict):
    """An applied migration to roll back has no file in the project directory any more."""

    code = "DBP-R303"

    def __init__(self, *, migration: str) -> None:
        super().__init__(f"the applied migration {migration!r} has no file in the project "
                         "directory: it cannot be rolled back", migration=migration)


class RoutineRowRejected(Conflict):
    """The database refused a row of a factory or seeder; nothing was written."""

    code = "DBP-R401"



# --- Operations and backups (issue 7): codes DBP-O1xx..O4xx, DBP-B1xx..B4xx ---


class OperationNotFound(NotFound):
    """No operation has this id."""

    code = "DBP-O101"

    def __init__(self, operation: str) -> None:
        super().__init__(f"no operation has the id {operation!r}", operation=operation)


class OperationConflict(Conflict):
    """Another operation of the same kind is pending or running on this database."""

    code = "DBP-O301"


class OperationNotCancellable(Conflict):
    """This operation cannot be canceled: it has ended, or its type cannot stop midway."""

    code = "DBP-O302"


class OperationCanceled(DbplaneError):
    """The operation was canceled before it ended."""

    code = "DBP-O401"
    status = 409
    title = "Operation canceled"


class OperationInterrupted(DbplaneError):
    """The dbplane process running the operation stopped before it ended."""

    code = "DBP-O402"
    status = 503
    title = "Operation interrupted"



# -- backups (issue 7): DBP-B1xx..B4xx ------------------------------------------------


class BackupNotFound(NotFound):
    """This database has no backup with this id."""

    code = "DBP-B101"

    def __init__(self, backup: str, database: str | None = None) -> None:
        super().__init__(f"the database has no backup with the id {backup!r}",
                         backup=backup, database=database)


class BackupToolMissing(Unsupported):
    """A tool needed to back up or restore this type of database is not installed."""

    code = "DBP-B102"


class ArchiveInvalid(Invalid):
    """The archive is not one this type of database can restore (wrong or damaged format)."""

    code = "DBP-B201"


class ArchiveChecksumMismatch(Invalid):
    """The archive's SHA-256 is not the one recorded: it was changed or truncated."""

    code = "DBP-B202"


class ArchiveTooLarge(ArchiveInvalid):
    """The archive expands past the bound dbplane accepts (a decompression bomb)."""

    code = "DBP-B203"
    status = 413


class BackupNotReady(Conflict):
    """The backup is not done (pending, running or failed): it has no archive to use."""

    code = "DBP-B301"


class BackupInUse(Conflict):
    """The backup is being made or restored right now; try again when that has ended."""

    code = "DBP-B302"


class BackupToolFailed(Unavailable):
    """The backup or restore tool stopped with an error."""

    code = "DBP-B401"


class DrillScratchUnavailable(Unavailable):
    """A restore drill found no scratch place to restore into (the role may not create a
    database); the live database was not touched."""

    code = "DBP-B402"


# --- Actions (issue 7): codes DBP-X1xx..X4xx ---


class UnknownAction(Invalid):
    """The action endpoint names no action dbplane knows."""

    code = "DBP-X101"
    status = 400

    def __init__(self, *, action: str, valid: list[str]) -> None:
        super().__init__(f"action_name: {action!r} is not an action; this database has: "
                         + ", ".join(valid), field="action_name", value=action, valid=valid)


class ActionNotSupported(Unsupported):
    """The action exists, but not for this database's type."""

    code = "DBP-X102"
    status = 400

    def __init__(self, *, action: str, type_name: str, valid: list[str]) -> None:
        super().__init__(f"action_name: {action!r} is not an action of {type_name} "
                         "databases; they have: " + ", ".join(valid), field="action_name",
                         value=action, type_name=type_name, valid=valid)


class InvalidActionParams(Invalid):
    """The action's params are missing, of the wrong type, or not a valid name."""

    code = "DBP-X103"
    status = 422


class LogicalDatabaseNotFound(NotFound):
    """The database server has no logical database of this name."""

    code = "DBP-X201"


class BackendNotFound(NotFound):
    """No connection of this database has this pid."""

    code = "DBP-X202"


class RetentionPolicyNotFound(NotFound):
    """InfluxDB: the database has no retention policy of this name."""

    code = "DBP-X203"


class LogicalDatabaseExists(Conflict):
    """The database server already has a logical database of this name."""

    code = "DBP-X301"


class ProtectedLogicalDatabase(Conflict):
    """This logical database is protected: it cannot be deleted or reset."""

    code = "DBP-X302"


class LogicalDatabaseInUse(Conflict):
    """Other sessions are connected to this logical database."""

    code = "DBP-X303"


class StatStatementsUnavailable(Conflict):
    """pg_stat_statements cannot be used on this server as it runs now."""

    code = "DBP-X304"


class RetentionPolicyExists(Conflict):
    """InfluxDB: the database already has a retention policy of this name."""

    code = "DBP-X305"


class ActionRefused(Conflict):
    """The database server refused the action."""

    code = "DBP-X401"


class ActionServerUnavailable(Unavailable):
    """The database server did not answer the action."""

    code = "DBP-X402"



# --- Managed servers and deployments (issue 14) ---

class DeploymentNotFound(NotFound):
    """No deployment with this id on this database."""

    code = "DBP-M101"


class NotManaged(Unsupported):
    """Only a managed database (a server dbplane runs) can do this."""

    code = "DBP-M102"


class UnknownSetting(Invalid):
    """The server has no setting of this name."""

    code = "DBP-M201"


class InvalidSettingValue(Invalid):
    """The server's catalogue refuses this value for the setting."""

    code = "DBP-M202"


class DeploymentConflict(Conflict):
    """Another deployment of this database is queued or running."""

    code = "DBP-M301"


class ServerNotRunning(Conflict):
    """The managed server is not running (start it first)."""

    code = "DBP-M302"


class ManagedServerFailed(Unavailable):
    """The managed server could not be initialised, started or stopped."""

    code = "DBP-M401"


class ManagedDirUnusable(Unavailable):
    """The directory for managed servers cannot be used by the server's user."""

    code = "DBP-M402"


# -- point-in-time restore ------------------------------------------------------------


class RestoreTimeInvalid(Invalid):
    """restore_time is not an RFC 3339 time with its offset."""

    code = "DBP-P101"


class RestoreTimeOutsideWindow(Invalid):
    """restore_time is outside the restorable window."""

    code = "DBP-P102"


class PitrNotEnabled(Conflict):
    """Point-in-time restore needs the wal-archiving feature on."""

    code = "DBP-P301"


class PitrRestoreFailed(Unavailable):
    """The point-in-time restore failed; the previous data directory serves again."""

    code = "DBP-P401"



# -- upgrades -------------------------------------------------------------------------


class UnknownVersion(Invalid):
    """version_id names no build this database can move to."""

    code = "DBP-G101"


class NoNewerVersion(Conflict):
    """No build newer than the running one is installed."""

    code = "DBP-G301"


class UpgradeIneligible(Conflict):
    """The target build lacks an activated feature or a setting the server uses."""

    code = "DBP-G302"


class NoPreviousVersion(Conflict):
    """No previous version is kept to roll back to or remove."""

    code = "DBP-G303"


class PreviousVersionKept(Conflict):
    """The version before the last upgrade is still kept: remove it first."""

    code = "DBP-G304"


class UpgradeFailed(Unavailable):
    """The upgrade (or its rollback) failed; the server serves as before it began."""

    code = "DBP-G401"

def _all_subclasses(cls: type[DbplaneError]) -> list[type[DbplaneError]]:
    out: list[type[DbplaneError]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def error_class_for_code(code: str) -> type[DbplaneError]:
    """The error class with this stable code (DbplaneError for an unknown one)."""
    classes: list[type[DbplaneError]] = [DbplaneError, *_all_subclasses(DbplaneError)]
    for cls in classes:
        if cls.code == code:
            return cls
    return DbplaneError
