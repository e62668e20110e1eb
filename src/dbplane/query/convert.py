"""Values from a request, converted to what a column of a given kind holds.

Pure: no I/O. Two sources, two sets of rules:

- ``convert_query_value``: a string from the query string or the path (every value there
  is text), read by the column's kind: ``42`` for an integer, ``true`` for a boolean,
  ``2024-05-01`` for a date.
- ``convert_json_value``: a value of the JSON body, whose JSON type must fit the kind (a
  string is not an integer, ``true`` is not an integer, ``3.0`` is not an integer);
  ``null`` stays None (the planner checks NOT NULL).

What each kind becomes (engines bind these as parameters):

========  ==================================================  ===========================
kind      accepted                                            Python value
========  ==================================================  ===========================
integer   ``-?[0-9]+`` in the signed 64-bit range             int
float     a decimal number, finite                            float
decimal   a decimal number (JSON: number or string)           decimal.Decimal
text      any string                                          str
boolean   ``true false 1 0`` (any case); JSON true/false/0/1  bool
date      ``YYYY-MM-DD``                                      datetime.date
datetime  ``YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH:MM]``     datetime.datetime (tz kept)
time      ``HH:MM[:SS[.fff]][Z|±HH:MM]``                      datetime.time
uuid      32 hex digits, with or without the four hyphens     str, canonical lower-case
json      JSON body: any JSON value; query: refused           the value as parsed
binary    hex digits, an even number of them                  bytes
other     any string                                          str
========  ==================================================  ===========================

A failure is ``InvalidValue(column=, value=, expected=, parameter=)``; ``expected`` is the
human name of the kind (``KIND_NAMES``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from dbplane.errors import InvalidValue
from dbplane.query.model import ColumnInfo, ColumnKind

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "KIND_NAMES",
    "convert_json_value",
    "convert_query_value",
    "parse_bool",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

KIND_NAMES: dict[ColumnKind, str] = {
    "integer": "integer",
    "float": "number",
    "decimal": "decimal number",
    "text": "string",
    "boolean": "boolean (true, false, 1 or 0)",
    "date": "date (YYYY-MM-DD)",
    "datetime": "date and time (ISO 8601, e.g. 2024-05-01T12:30:00Z)",
    "time": "time (HH:MM[:SS])",
    "json": "JSON value (a JSON column can only be tested with $null / $notNull)",
    "binary": "hex string",
    "uuid": "UUID",
    "other": "string",
}

# ASCII only: \d would accept other scripts' digits, which int() and the databases read
# differently. Exponents are bounded so a decimal cannot ask for 10**(10**9).
_INT = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TZ = r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)"
_TIME = r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
_DATETIME = re.compile(rf"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}(?:[Tt ]{_TIME}{_TZ}?)?")
_TIME_RE = re.compile(rf"{_TIME}{_TZ}?")
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_MAX_DIGITS = 40
"""Longer integer text is refused before int() reads it (it is out of range anyway)."""


def _fail(column: ColumnInfo, value: Any, parameter: str | None) -> NoReturn:
    raise InvalidValue(column=column.name, value=value, expected=KIND_NAMES[column.kind],
                       parameter=parameter)


def parse_bool(raw: str) -> bool | None:
    """``true``/``1`` → True, ``false``/``0`` → False (any case), anything else None."""
    low = raw.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    return None


def _integer(raw: str) -> int | None:
    if len(raw) > _MAX_DIGITS or not _INT.fullmatch(raw):
        return None
    value = int(raw)
    return value if INT64_MIN <= value <= INT64_MAX else None


def _float(raw: str) -> float | None:
    if not _NUMBER.fullmatch(raw):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


def _decimal(raw: str) -> Decimal | None:
    if not _NUMBER.fullmatch(raw):
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return None


def _date(raw: str) -> dt.date | None:
    if not _DATE.fullmatch(raw):
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def _fraction_to_micro(raw: str) -> str:
    # fromisoformat reads at most microseconds on every 3.11 build: cut nanoseconds
    return re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", raw)


def _datetime(raw: str) -> dt.datetime | None:
    if not _DATETIME.fullmatch(raw):
        return None
    try:
        return dt.datetime.fromisoformat(_fraction_to_micro(raw.replace("z", "Z")))
    except ValueError:
        return None


def _time(raw: str) -> dt.time | None:
    if not _TIME_RE.fullmatch(raw):
        return None
    try:
        return dt.time.fromisoformat(_fraction_to_micro(raw.replace("z", "Z")))
    except ValueError:
        return None


def _uuid(raw: str) -> str | None:
    if not _UUID.fullmatch(raw):
        return None
    return str(uuid.UUID(raw))


def _binary(raw: str) -> bytes | None:
    if not _HEX.fullmatch(raw):
        return None
    return bytes.fromhex(raw)


def _boolean(raw: str) -> bool | None:
    return parse_bool(raw)


def _text(raw: str) -> str:
    return raw


_FROM_TEXT: dict[ColumnKind, Callable[[str], Any]] = {
    "integer": _integer,
    "float": _float,
    "decimal": _decimal,
    "text": _text,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "time": _time,
    "uuid": _uuid,
    "binary": _binary,
    "other": _text,
}


def convert_query_value(column: ColumnInfo, raw: str, parameter: str) -> Any:
    """The value of a query-string (or path) parameter as the column's kind holds it;
    InvalidValue naming the column, the value and ``parameter`` if it cannot be. A JSON
    column takes no value from the query string."""
    reader = _FROM_TEXT.get(column.kind)
    if reader is None:
        _fail(column, raw, parameter)
    value = reader(raw)
    if value is None:
        _fail(column, raw, parameter)
    return value


def convert_json_value(column: ColumnInfo, value: Any, parameter: str) -> Any:
    """A value of the JSON body as the column's kind holds it (None stays None);
    InvalidValue naming the column, the value and ``parameter`` if its JSON type does not
    fit. Decimal columns also take a string (``"12.50"``), so exact values survive clients
    whose JSON numbers are doubles."""
    if value is None:
        return None
    kind = column.kind
    out: Any = None
    if kind == "json":
        return value
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool) \
                and INT64_MIN <= value <= INT64_MAX:
            out = value
    elif kind == "float":
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            out = number if math.isfinite(number) else None
    elif kind == "decimal":
        if isinstance(value, str):
            out = _decimal(value)
        elif isinstance(value, Decimal):
            out = value if value.is_finite() else None
        elif isinstance(value, int) and not isinstance(value, bool):
            out = Decimal(value)
        elif isinstance(value, float) and math.isfinite(value):
            out = Decimal(repr(value))  # 0.1 stays 0.1, not its binary expansion
    elif kind == "boolean":
        if isinstance(value, bool):
            out = value
        elif isinstance(value, int) and value in (0, 1):
            out = bool(value)
    elif isinstance(value, str):
        reader = _FROM_TEXT[kind]
        out = reader(value)
    if out is None:
        _fail(column, value, parameter)
    return out
