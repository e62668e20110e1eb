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
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["VERSION_TABLE", "api_tokens", "databases", "metadata", "roles", "sessions",
           "users"]

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


# --- Backups (issue 7): tables added by revision 0004 ---


# --- Schema as code (issue 5): collection/field metadata, added by revision 0003 ---
