"""The records of ``meta/records.py``: each has its table's columns in order, and what a
query answers is the record that was inserted, on both metadata stores."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Table

from dbplane.meta import backups_queries as bq
from dbplane.meta import queries as q
from dbplane.meta import tables
from dbplane.meta.records import (
    ApiTokenRecord,
    BackupRecord,
    BackupSlotRecord,
    DatabaseRecord,
    DeploymentRecord,
    ManagedServerRecord,
    RoleRecord,
    SessionPrincipalRecord,
    SessionRecord,
    TokenPrincipalRecord,
    UserRecord,
)
from dbplane.meta.store import MetaStore

RECORDS: list[tuple[type[object], Table]] = [
    (DatabaseRecord, tables.databases),
    (RoleRecord, tables.roles),
    (UserRecord, tables.users),
    (SessionRecord, tables.sessions),
    (ApiTokenRecord, tables.api_tokens),
    (BackupRecord, tables.backups),
    (BackupSlotRecord, tables.backup_slots),
    (ManagedServerRecord, tables.managed_servers),
    (DeploymentRecord, tables.deployments),
]
# tables whose rows no query answers as a record: the operations (their own module) and
# the schema metadata (read where it is merged, in services/schema.py)
WITHOUT_RECORD = {tables.operations.name, tables.schema_meta.name}


@pytest.mark.parametrize(("record", "table"), RECORDS, ids=[t.name for _, t in RECORDS])
def test_a_record_has_its_tables_columns_in_order(record: type[object], table: Table) -> None:
    assert dataclasses.is_dataclass(record)
    assert [f.name for f in dataclasses.fields(record)] == [c.name for c in table.columns]
    params = record.__dataclass_params__
    assert params.frozen and hasattr(record, "__slots__")


def test_every_table_has_a_record() -> None:
    covered = {t.name for _, t in RECORDS}
    assert covered | WITHOUT_RECORD == set(tables.metadata.tables)


def test_a_record_hides_its_secrets_from_repr() -> None:
    db = _database()
    assert "url_secret" not in repr(db) and db.url_secret not in repr(db)
    assert "password_hash" not in repr(_user())


def _database() -> DatabaseRecord:
    return DatabaseRecord(
        id="d" * 24, resource_id="shop", app_name="shop", type_name="sqlite",
        mode="embedded", plan="embedded", url_secret="gAAAA-encrypted", protected=False,
        periodic_backups_enabled=True, periodic_backups_scheduled_at=(3, 15),
        created_at=1_700_000_000_000, updated_at=1_700_000_000_001)


def _user() -> UserRecord:
    return UserRecord(id="u1", name="Kate", email="kate@example.com",
                      password_hash="$argon2id$v=19$secret", role="reader",
                      created_on=1, updated_on=2)


@pytest.mark.parametrize("meta_backend", ["sqlite", "postgresql"], indirect=True)
async def test_queries_answer_the_records_inserted(store: MetaStore) -> None:
    db = _database()
    role = RoleRecord(name="reader", description="reads",
                      grants=({"database": "*", "table": "items", "actions": ["read"]},),
                      created_on=1, updated_on=2)
    user = _user()
    session = SessionRecord(id="s1", token_hash="h" * 64, user_id="u1", created_on=3,
                            expires_on=4)
    token = ApiTokenRecord(id="t1", name="ci", token_hash="t" * 64, prefix="dbp_abcd",
                           source="api", created_on=5)
    backup = BackupRecord(
        id="b" * 24, database_id=db.id, name="20231114221320_shop", method="manual",
        status="error", type_name="sqlite", format="sqlite", archive=None, size=None,
        checksum=None, operation_id="op", error={"code": "DBP-X", "message": "no"},
        created_at=10, started_at=11, finished_at=None)
    async with store.begin() as conn:
        await q.insert_database(conn, db)
        await q.insert_role(conn, role)
        await q.insert_user(conn, user)
        await q.insert_session(conn, session)
        await q.insert_api_token(conn, token)
        await bq.insert_backup(conn, backup)
        assert await bq.claim_backup_slot(conn, db.id, 42, 99)
    async with store.connect() as conn:
        assert await q.get_database_by_ref(conn, "shop") == db
        assert await q.list_databases(conn) == [db]
        assert await bq.list_scheduled_databases(conn) == [db]
        assert await q.get_role(conn, "reader") == role
        assert await q.get_user_by_email(conn, user.email) == user
        assert await q.list_users(conn) == [user]
        assert await q.list_api_tokens(conn) == [token]
        assert await q.find_principal_by_token_hash(conn, token.token_hash) == \
            TokenPrincipalRecord(token_id="t1", name="ci")
        assert await q.find_principal_by_token_hash(conn, session.token_hash) == \
            SessionPrincipalRecord(session_id="s1", expires_on=4, user_id="u1",
                                   role="reader", grants=role.grants)
        assert await bq.get_backup(conn, db.id, backup.id) == backup
        assert await bq.get_backup_slot(conn, db.id, 42) == BackupSlotRecord(
            database_id=db.id, slot=42, backup_id=None, claimed_at=99)
