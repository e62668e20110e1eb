"""Reading a PostgreSQL database's schema (see ``dbplane.engines.sql.catalog``).

The catalog query reads pg_catalog for the relations of the current schema: the type as
``format_type`` writes it (the Tables API's) and whether the database makes the value (an
identity, or a ``nextval(`` default); a full read (the snapshot's) adds what
``information_schema.columns`` would say (``data_type``, sizes, default), computed with
information_schema's own expressions on the same rows: the view itself costs more, and
the Tables API's reading does without it.

The schema version is an md5 over the catalog rows that make a ``TableInfo`` of the
current schema (relations and kinds, columns, types, NOT NULL, defaults, identity,
primary, unique and foreign keys); one query over pg_catalog. ``max(xmin)`` over the
catalog would be cheaper but is not reliable (freezing and wraparound rewrite xmin).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import Connection

from dbplane.engines.sql.catalog import CatalogColumn, CatalogDialect, int_or_none

__all__ = ["PostgresCatalog"]

# the columns of the relations of the current schema: the Tables API's type and whether
# the database makes the value, then (a full read, for the snapshot) what
# information_schema.columns says as data_type, character_maximum_length,
# numeric_precision, numeric_scale, column_default, is_identity and udt_name, computed as
# its definition computes them, and whether it shows the column (relation kinds and
# privileges)
_SELECT = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%'
"""
_TRUE_TYPE = "CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END"
_TRUE_TYPMOD = "CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END"
_SNAPSHOT = f"""
     , CASE WHEN t.typtype = 'd' THEN
              CASE WHEN bt.typelem <> 0 AND bt.typlen = -1 THEN 'ARRAY'
                   WHEN nbt.nspname = 'pg_catalog' THEN format_type(t.typbasetype, NULL)
                   ELSE 'USER-DEFINED' END
            ELSE
              CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN 'ARRAY'
                   WHEN nt.nspname = 'pg_catalog' THEN format_type(a.atttypid, NULL)
                   ELSE 'USER-DEFINED' END
       END,
       information_schema._pg_char_max_length({_TRUE_TYPE}, {_TRUE_TYPMOD}),
       information_schema._pg_numeric_precision({_TRUE_TYPE}, {_TRUE_TYPMOD}),
       information_schema._pg_numeric_scale({_TRUE_TYPE}, {_TRUE_TYPMOD}),
       pg_get_expr(d.adbin, d.adrelid),
       a.attidentity IN ('a', 'd'),
       coalesce(bt.typname, t.typname),
       c.relkind IN ('r', 'v', 'f', 'p')
         AND (pg_has_role(c.relowner, 'USAGE')
              OR has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES'))
"""
_FROM = """
FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
"""
_SNAPSHOT_FROM = """
JOIN pg_type AS t ON t.oid = a.atttypid
JOIN pg_namespace AS nt ON nt.oid = t.typnamespace
LEFT JOIN (pg_type AS bt JOIN pg_namespace AS nbt ON nbt.oid = bt.typnamespace)
  ON t.typtype = 'd' AND t.typbasetype = bt.oid
"""
_WHERE = """
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped
"""
_COLUMNS = _SELECT + _FROM + _WHERE
_ALL_COLUMNS = _SELECT + _SNAPSHOT + _FROM + _SNAPSHOT_FROM + _WHERE

_VERSION = """
SELECT md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) FROM (
  SELECT concat_ws(':', c.relname, c.relkind, a.attnum, a.attname,
                   format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                   pg_get_expr(d.adbin, d.adrelid)) AS x
  FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT concat_ws(':', c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid))
  FROM pg_constraint AS con JOIN pg_class AS c ON c.oid = con.conrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
  WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f')
) AS q
"""

_CAST = re.compile(r"^(.*?)::[A-Za-z_ ]+(?:\(\d+(?:,\d+)?\))?(?:\[\])?$", re.S)


class PostgresCatalog(CatalogDialect):
    version_sql = _VERSION

    def read_columns(self, conn: Connection, *, views: bool = True,
                     full: bool = False) -> dict[tuple[str, str], CatalogColumn]:
        out: dict[tuple[str, str], CatalogColumn] = {}
        if not full:
            for table, column, type_sql, auto in conn.exec_driver_sql(_COLUMNS).all():
                out[(table, column)] = CatalogColumn(type_sql, None, bool(auto))
            return out
        for (table, column, type_sql, auto, data_type, length, precision, scale, default,
             identity, udt, visible) in conn.exec_driver_sql(_ALL_COLUMNS).all():
            if not visible:  # not in information_schema: the snapshot knows nothing more
                out[(table, column)] = CatalogColumn(type_sql, None, bool(auto))
                continue
            data_type = str(data_type)
            if data_type == "ARRAY" or data_type == "USER-DEFINED":
                data_type = str(udt)
            out[(table, column)] = CatalogColumn(
                type_sql, None, bool(auto), data_type=data_type,
                max_length=int_or_none(length), precision=int_or_none(precision),
                scale=int_or_none(scale), default=default,
                has_auto_increment=bool(identity) or str(default or "").startswith(
                    "nextval("),
                json=data_type in ("json", "jsonb"), boolean=data_type == "boolean",
                uuid=data_type == "uuid")
        return out

    def holds_instant(self, t: Any) -> bool:
        return bool(t.timezone)

    def default_text(self, text: str) -> str | None:
        while text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        m = _CAST.match(text)
        if m is not None and not text.startswith("nextval("):
            text = m.group(1).strip()
            while text.startswith("(") and text.endswith(")"):
                text = text[1:-1].strip()
        return None if text.upper() == "NULL" else text
