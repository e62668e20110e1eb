"""The metadata store's tables, in SQLAlchemy Core.

The store lives in its own SQLite file (or PostgreSQL database), never inside a database
dbplane serves. Times are epoch milliseconds (BIGINT) so SQLite and PostgreSQL agree.
Its schema is versioned by the Alembic migrations in ``meta/alembic/versions``; a test
checks that they and this module describe the same schema.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

__all__ = ["VERSION_TABLE", "api_tokens", "backup_slots", "backups", "databases", "deployments",
           "managed_servers", "metadata",
           "operations", "roles", "schema_meta", "sessions", "users"]

# Alembic's own table, recording the store's schema revision
VERSION_TABLE = "dbp_alembic_version"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

databases = Table(
    "dbp_databases",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("resource_id", String(63), nullable=False, unique=True),
    Column("app_name", String(255), nullable=False),
    Column("type_name", String(32), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("plan", String(64), nullable=False),
    # the whole connection URL, Fernet-encrypted: it may carry a password
    Column("url_secret", Text, nullable=False),
    Column("protected", Boolean, nullable=False, default=False),
    Column("periodic_backups_enabled", Boolean, nullable=False, default=False),
    Column("periodic_backups_scheduled_at", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # revision 0006: run a restore drill after every periodic backup
    Column("restore_drills_enabled", Boolean, nullable=False, default=False,
           server_default=false()),
)

roles = Table(
    "dbp_roles",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("description", String(255), nullable=False, default=""),
    Column("grants", JSON, nullable=False),
    Column("created_on", BigInteger, nullable=False),
    Column("updated_on", BigInteger, nullable=False),
)

users = Table(
    "dbp_users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(63), ForeignKey("dbp_roles.name"), nullable=False),
    Column("created_on", BigInteger, nullable=False),
    Column("updated_on", BigInteger, nullable=False),
)

sessions = Table(
    "dbp_sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", String(36), ForeignKey("dbp_users.id", ondelete="CASCADE"),
           nullable=False),
    Column("created_on", BigInteger, nullable=False),
    Column("expires_on", BigInteger, nullable=False),
    Index(None, "user_id"),
)

api_tokens = Table(
    "dbp_api_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    # the first characters of the token, to recognise it in a list
    Column("prefix", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("created_on", BigInteger, nullable=False),
)

# --- Operations (issue 7): tables added by revision 0002 ---

# one row per long task; `conflict_slot` is "<database id>:<conflict group>" while the
# operation is pending or running (NULL otherwise), so a unique key refuses a second one
operations = Table(
    "dbp_operations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("database_id", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("conflict_slot", String(128), nullable=True, unique=True),
    Column("params", JSON, nullable=False),
    Column("result", JSON, nullable=True),
    Column("error", JSON, nullable=True),
    Column("steps", JSON, nullable=False),
    Column("log", JSON, nullable=False),
    Column("progress", Float, nullable=False, default=0.0),
    Column("message", Text, nullable=True),
    Column("created_by", String(255), nullable=True),
    # the process that claimed it ("host:pid:nonce") and how many times it was claimed
    Column("owner", String(160), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("heartbeat_at", BigInteger, nullable=True),
    Index(None, "status", "created_at"),
    Index(None, "database_id", "created_at"),
)


# --- Backups (issue 7): tables added by revision 0004 ---

# one row per backup; `archive` is the file's name under the archive directory, set once
# the archive is complete (renamed into place), so a row without one has no good archive
backups = Table(
    "dbp_backups",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("database_id", String(32), ForeignKey("dbp_databases.id", ondelete="CASCADE"),
           nullable=False),
    Column("name", String(255), nullable=False),
    Column("method", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("type_name", String(32), nullable=False),
    Column("format", String(16), nullable=False),
    Column("archive", String(255), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("checksum", String(80), nullable=True),
    Column("operation_id", String(36), nullable=True),
    Column("error", JSON, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    # revision 0006: what the database held when the backup was taken (tables, row counts
    # and content checksums; keys and digests for Redis), and the last restore drill's
    # result ({status: passed|failed, differences: [...]}) and time
    Column("fingerprint", JSON, nullable=True),
    Column("verified_at", BigInteger, nullable=True),
    Column("verification", JSON, nullable=True),
    Index(None, "database_id", "created_at"),
)

# the periodic scheduler's claims: one row per database and scheduled hour (epoch hours,
# UTC); the primary key makes a slot run once however many replicas race for it
backup_slots = Table(
    "dbp_backup_slots",
    metadata,
    Column("database_id", String(32), ForeignKey("dbp_databases.id", ondelete="CASCADE"),
           primary_key=True),
    Column("slot", BigInteger, primary_key=True, autoincrement=False),
    Column("backup_id", String(32), nullable=True),
    Column("claimed_at", BigInteger, nullable=False),
)



# --- Schema as code (issue 5): collection/field metadata, added by revision 0003 ---

# Directus' ``meta`` of collections, fields and relations, kept opaque per database and
# merged into the next snapshot; ``kind`` is collection, field or relation (``field`` is ""
# for a collection). ``alias`` rows are objects without a column (Directus' o2m fields and
# folders): ``body`` is then the whole object.
schema_meta = Table(
    "dbp_schema_meta",
    metadata,
    Column("database_id", String(32), ForeignKey("dbp_databases.id", ondelete="CASCADE"),
           primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("collection", String(255), primary_key=True),
    Column("field", String(255), primary_key=True),
    Column("meta", JSON, nullable=True),
    Column("alias", JSON, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)


# --- Managed servers and deployments (issue 14): tables added by revision 0005 ---

# one row per managed database: where its server lives and what it should be doing.
# `settings` are the values the server runs with (its config file), `pending` those saved
# and waiting for a restart ({name: {old_value, new_value}}). `supervisor` is the replica
# that watches the process until `lease_until` (epoch ms); another takes it over after.
managed_servers = Table(
    "dbp_managed_servers",
    metadata,
    Column("database_id", String(32), ForeignKey("dbp_databases.id", ondelete="CASCADE"),
           primary_key=True),
    Column("type_name", String(32), nullable=False),
    Column("directory", Text, nullable=False),
    Column("port", Integer, nullable=False),
    Column("database_name", String(63), nullable=False),
    Column("pid", Integer, nullable=True),
    Column("desired", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("detail", Text, nullable=True),
    Column("settings", JSON, nullable=False),
    Column("pending", JSON, nullable=False),
    # features asked for: {name: {status, message}} (PENDING_TO_ACTIVATE, ACTIVATED,
    # PENDING_TO_REMOVE, FAILED); a removed one leaves the map
    Column("features", JSON, nullable=False),
    Column("auto_restart", Boolean, nullable=False, default=True),
    Column("restarts", Integer, nullable=False, default=0),
    Column("next_restart_at", BigInteger, nullable=True),
    Column("supervisor", String(160), nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # revision 0006: where the server's files and binaries are when they are not the
    # type's defaults ({version_id, bin_dir, data_dir}), and what an upgrade or a
    # point-in-time restore keeps to go back to ({"upgrade": {...}, "pitr": {...}})
    Column("layout", JSON, nullable=True),
    Column("kept", JSON, nullable=True),
)

# one row per deployment (redeploy, restart, stop, start) of a database, Qovery's shape
deployments = Table(
    "dbp_deployments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("database_id", String(32), ForeignKey("dbp_databases.id", ondelete="CASCADE"),
           nullable=False),
    Column("action", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("operation_id", String(36), nullable=True),
    Column("request_id", String(36), nullable=False),
    Column("steps", JSON, nullable=False),
    Column("error", JSON, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Index(None, "database_id", "created_at"),
)
