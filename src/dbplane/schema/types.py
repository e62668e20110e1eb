"""Directus field types and the portable column they stand for.

A field's ``type`` (Directus' own words: ``string``, ``integer``, ``timestamp``…) plus its
``schema`` (``max_length``, ``numeric_precision``, ``numeric_scale``) is the portable
description of a column; each engine turns a :class:`ColumnType` into its own column type
and reads its columns back into one. Plain data: no SQLAlchemy here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALIAS_TYPES",
    "COLUMN_TYPES",
    "DEFAULT_DECIMAL",
    "DEFAULT_STRING_LENGTH",
    "STORED_AS",
    "ColumnType",
    "column_type",
]

DEFAULT_STRING_LENGTH = 255
DEFAULT_DECIMAL = (10, 5)

COLUMN_TYPES = frozenset({
    "string", "text", "integer", "bigInteger", "float", "decimal", "boolean",
    "timestamp", "dateTime", "date", "time", "json", "uuid", "hash", "csv", "binary",
})
"""The Directus field types dbplane can make a column of."""

ALIAS_TYPES = frozenset({"alias"})
"""Fields without a column (Directus' o2m, m2m, presentation fields): kept as metadata."""

STORED_AS = {"hash": "string", "csv": "text"}
"""Directus types stored as another one (the metadata store remembers which)."""


@dataclass(frozen=True)
class ColumnType:
    """The column a field needs: a portable kind and its size."""

    kind: str
    """One of ``COLUMN_TYPES`` minus ``hash``/``csv`` (stored as string/text)."""
    length: int | None = None
    precision: int | None = None
    scale: int | None = None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def column_type(field_type: str, schema: dict[str, Any]) -> ColumnType | None:
    """The column a field of ``field_type`` with this ``schema`` needs (None: not one of
    ``COLUMN_TYPES``)."""
    if field_type not in COLUMN_TYPES:
        return None
    kind = STORED_AS.get(field_type, field_type)
    if kind == "string":
        return ColumnType(kind, length=_int(schema.get("max_length")) or DEFAULT_STRING_LENGTH)
    if kind == "decimal":
        precision = _int(schema.get("numeric_precision")) or DEFAULT_DECIMAL[0]
        scale = _int(schema.get("numeric_scale"))
        return ColumnType(kind, precision=precision,
                          scale=DEFAULT_DECIMAL[1] if scale is None else scale)
    return ColumnType(kind)
