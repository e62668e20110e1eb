"""Schema as code: the snapshot model (Directus shape), its hash, the differ and the plan.
Pure: no I/O and no driver imports."""

from dbplane.schema.diff import deep_diff, diff, is_empty, parse_apply_body, patch
from dbplane.schema.plan import Change, plan, table_specs
from dbplane.schema.snapshot import (
    FORMAT_VERSION,
    complete,
    empty_snapshot,
    load_document,
    normalize,
    schema_hash,
    to_yaml,
)
from dbplane.schema.types import COLUMN_TYPES, ColumnType, column_type

__all__ = [
    "COLUMN_TYPES",
    "FORMAT_VERSION",
    "Change",
    "ColumnType",
    "column_type",
    "complete",
    "deep_diff",
    "diff",
    "empty_snapshot",
    "is_empty",
    "load_document",
    "normalize",
    "parse_apply_body",
    "patch",
    "plan",
    "schema_hash",
    "table_specs",
    "to_yaml",
]
