"""PostgreSQL ORDER BY: NULLS FIRST/LAST only where a NULL can be in the answer."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from dbplane.engines.postgresql.tables import PostgresTables
from dbplane.engines.sql.compile import compiled_read
from dbplane.query.model import ColumnInfo, SchemaInfo, TableInfo
from dbplane.query.params import parse_table_params
from dbplane.query.plan import plan_read

ITEMS = TableInfo(name="items", kind="table", primary_key=("id",), columns=(
    ColumnInfo("id", "integer", "INTEGER", nullable=False, primary_key=True),
    ColumnInfo("score", "integer", "INTEGER", nullable=True),
))
SCHEMA = SchemaInfo(tables={"items": ITEMS})


def _sql(*params: tuple[str, str]) -> str:
    plan = plan_read(parse_table_params(list(params)), ITEMS, SCHEMA, default_limit=50,
                     max_limit=100)
    return compiled_read(PostgresTables(), asyncpg_dialect(), plan)[0].sql


def test_a_nullable_sort_column_gets_the_nulls_clause() -> None:
    assert "NULLS LAST" in _sql(("sort", "score:desc"))
    assert "NULLS FIRST" in _sql(("sort", "score"))


def test_filters_that_keep_nulls_out_drop_it_so_an_index_can_serve_the_order() -> None:
    assert "NULLS" not in _sql(("filters[score][$gt]", "500"), ("sort", "score:desc"))
    assert "NULLS" not in _sql(("filters[score][$notNull]", "true"), ("sort", "score"))
    # an $or may keep NULL rows: the clause stays
    assert "NULLS LAST" in _sql(("filters[$or][0][score][$gt]", "5"),
                                ("filters[$or][1][id][$eq]", "1"), ("sort", "score:desc"))
    # $ne keeps NULLs (IS DISTINCT FROM)
    assert "NULLS LAST" in _sql(("filters[score][$ne]", "5"), ("sort", "score:desc"))
