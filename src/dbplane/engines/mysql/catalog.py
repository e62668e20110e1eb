"""Reading a MariaDB (MySQL) database's schema (see ``dbplane.engines.sql.catalog``).

The catalog query reads information_schema.COLUMNS (``COLUMN_TYPE``: ``tinyint(1)`` is a
boolean; ``auto_increment``; the UUID type; a character set other than utf8mb4, added to
the Tables API's type: comparisons depend on it; on a full read, the sizes and default of
the snapshot) and, in the same statement, the ``json_valid`` checks of CHECK_CONSTRAINTS:
a JSON column is an alias of LONGTEXT with such a check. MariaDB opens each table's
definition to answer information_schema.COLUMNS: that is most of the read's cost, paid
once.

The schema version is an MD5 over information_schema (TABLES, COLUMNS, KEY_COLUMN_USAGE
and the checks) of the current database; one query.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from dbplane.engines.sql.catalog import JSON_VALID, CatalogColumn, CatalogDialect, int_or_none
from dbplane.query.model import ColumnKind

__all__ = ["MariadbCatalog"]

# a row per column ('c'), then a row per check ('k': its clause as the fourth value); a
# full read (the snapshot's) adds the sizes and the default
_SNAPSHOT = ", CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, COLUMN_DEFAULT"
_COLUMNS = """
SELECT 'c', TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, EXTRA, CHARACTER_SET_NAME{0}
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
UNION ALL
SELECT 'k', TABLE_NAME, NULL, CHECK_CLAUSE, NULL, NULL, NULL{1}
FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()
"""
_TABLES_COLUMNS = _COLUMNS.format("", "")
_ALL_COLUMNS = _COLUMNS.format(_SNAPSHOT, ", NULL, NULL, NULL, NULL")

_VERSION = """
SELECT MD5(CONCAT_WS('|',
  (SELECT GROUP_CONCAT(CONCAT_WS(':', TABLE_NAME, TABLE_TYPE)
          ORDER BY TABLE_NAME SEPARATOR '\\n')
   FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()),
  (SELECT GROUP_CONCAT(CONCAT_WS(':', TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE,
                                 IS_NULLABLE, IFNULL(COLUMN_DEFAULT, '-'), EXTRA,
                                 IFNULL(CHARACTER_SET_NAME, '-'))
          ORDER BY TABLE_NAME, ORDINAL_POSITION SEPARATOR '\\n')
   FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()),
  (SELECT GROUP_CONCAT(CONCAT_WS(':', TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION,
                                 COLUMN_NAME, IFNULL(REFERENCED_TABLE_NAME, '-'),
                                 IFNULL(REFERENCED_COLUMN_NAME, '-'))
          ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION SEPARATOR '\\n')
   FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE()),
  (SELECT GROUP_CONCAT(CONCAT_WS(':', TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE)
          ORDER BY TABLE_NAME, CONSTRAINT_NAME SEPARATOR '\\n')
   FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE())))
"""

_KINDS: dict[str, ColumnKind] = {
    "uuid": "uuid",
    "json": "json",
    "inet4": "other",
    "inet6": "other",
    "year": "integer",
}


class MariadbCatalog(CatalogDialect):
    version_sql = _VERSION
    foreign_keys_make_indexes = True

    def read_columns(self, conn: Connection, *, views: bool = True,
                     full: bool = False) -> dict[tuple[str, str], CatalogColumn]:
        rows = conn.exec_driver_sql(_ALL_COLUMNS if full else _TABLES_COLUMNS).all()
        json_columns: set[tuple[str, str]] = set()
        for row in rows:
            if row[0] == "k":
                match = JSON_VALID.fullmatch(str(row[3]).strip())
                if match is not None:
                    json_columns.add((row[1], match.group(1).replace("``", "`")))
        out: dict[tuple[str, str], CatalogColumn] = {}
        for tag, table, column, column_type, data_type, extra, charset, *sizes in rows:
            if tag != "c":
                continue
            type_sql = str(column_type)
            if charset is not None and charset != "utf8mb4":
                type_sql += f" character set {charset}"
            lower = str(data_type).lower()
            is_json = (table, column) in json_columns
            is_boolean = type_sql.lower().startswith("tinyint(1)")
            kind: ColumnKind | None = _KINDS.get(lower)
            if is_json:
                kind = "json"
            elif is_boolean:
                kind = "boolean"
            auto = "auto_increment" in str(extra).lower()
            if not full:
                out[(table, column)] = CatalogColumn(type_sql, kind, auto)
                continue
            length, precision, scale, default = sizes
            out[(table, column)] = CatalogColumn(
                type_sql, kind, auto, data_type="json" if is_json else lower,
                max_length=int_or_none(length), precision=int_or_none(precision),
                scale=int_or_none(scale), default=default, has_auto_increment=auto,
                json=is_json, boolean=is_boolean, uuid=lower == "uuid")
        return out

    def default_text(self, text: str) -> str | None:
        # MariaDB quotes literals in information_schema: an unquoted default is an
        # expression (current_timestamp()), or NULL
        return None if text.upper() == "NULL" else text
