"""Value conversion per column kind, from the query string and from a JSON body."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbplane.errors import InvalidValue
from dbplane.query.convert import (
    INT64_MAX,
    INT64_MIN,
    KIND_NAMES,
    convert_json_value,
    convert_query_value,
)
from dbplane.query.model import ColumnInfo, ColumnKind

UTC = dt.UTC
PLUS_ONE = dt.timezone(dt.timedelta(hours=1))
UUID = "9d370085-c116-47c9-9b22-7f33061ec7b1"


def col(kind: ColumnKind) -> ColumnInfo:
    return ColumnInfo(name=f"c_{kind}", kind=kind, type_sql=kind.upper())


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("integer", "42", 42),
        ("integer", "-7", -7),
        ("integer", "007", 7),
        ("integer", str(INT64_MAX), INT64_MAX),
        ("integer", str(INT64_MIN), INT64_MIN),
        ("float", "1.5", 1.5),
        ("float", "-2", -2.0),
        ("float", ".5", 0.5),
        ("float", "1e3", 1000.0),
        ("float", "3.", 3.0),
        ("decimal", "12.50", Decimal("12.50")),
        ("decimal", "-0.1", Decimal("-0.1")),
        ("decimal", "1e-3", Decimal("0.001")),
        ("text", "", ""),
        ("text", "héllo, wörld", "héllo, wörld"),
        ("text", "'; DROP TABLE users; --", "'; DROP TABLE users; --"),
        ("other", "10.0.0.1/8", "10.0.0.1/8"),
        ("boolean", "true", True),
        ("boolean", "TRUE", True),
        ("boolean", "1", True),
        ("boolean", "false", False),
        ("boolean", "False", False),
        ("boolean", "0", False),
        ("date", "2024-02-29", dt.date(2024, 2, 29)),
        ("datetime", "2024-05-01T12:30:00", dt.datetime(2024, 5, 1, 12, 30)),
        ("datetime", "2024-05-01 12:30", dt.datetime(2024, 5, 1, 12, 30)),
        ("datetime", "2024-05-01T12:30:00Z", dt.datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("datetime", "2024-05-01T12:30:00z", dt.datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("datetime", "2024-05-01T12:30:00.25+01:00",
         dt.datetime(2024, 5, 1, 12, 30, 0, 250000, tzinfo=PLUS_ONE)),
        ("datetime", "2024-05-01T12:30:00.123456789",
         dt.datetime(2024, 5, 1, 12, 30, 0, 123456)),
        ("datetime", "2024-05-01", dt.datetime(2024, 5, 1)),
        ("time", "12:30", dt.time(12, 30)),
        ("time", "12:30:15.5", dt.time(12, 30, 15, 500000)),
        ("time", "23:59:59Z", dt.time(23, 59, 59, tzinfo=UTC)),
        ("uuid", UUID, UUID),
        ("uuid", UUID.upper(), UUID),
        ("uuid", UUID.replace("-", ""), UUID),
        ("binary", "", b""),
        ("binary", "00ff10", b"\x00\xff\x10"),
        ("binary", "DEADbeef", b"\xde\xad\xbe\xef"),
    ],
)
def test_query_value_by_kind(kind: ColumnKind, raw: str, expected: Any) -> None:
    value = convert_query_value(col(kind), raw, "filters[c][$eq]")
    assert value == expected
    assert type(value) is type(expected)
    if isinstance(expected, dt.datetime | dt.time):
        assert value.tzinfo == expected.tzinfo


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("integer", ""), ("integer", "1.0"), ("integer", "1e3"), ("integer", "+1"),
        ("integer", " 1"), ("integer", "1_000"), ("integer", "0x10"), ("integer", "\uff11"),
        ("integer", "\u0661"), ("integer", str(INT64_MAX + 1)), ("integer", "9" * 5000),
        ("integer", "true"),
        ("float", ""), ("float", "nan"), ("float", "inf"), ("float", "-Infinity"),
        ("float", "1e999"), ("float", "1,5"), ("float", "1e"), ("float", "."),
        ("decimal", "NaN"), ("decimal", "Infinity"), ("decimal", "1e99999"), ("decimal", "x"),
        ("boolean", "yes"), ("boolean", ""), ("boolean", "2"), ("boolean", "t"),
        ("date", "2024-02-30"), ("date", "2024-1-1"), ("date", "20240101"),
        ("date", "2024-W01-1"), ("date", "2024-05-01T00:00"), ("date", ""),
        ("datetime", "yesterday"), ("datetime", "2024-05-01T25:00"),
        ("datetime", "2024-05-01T12"), ("datetime", "1714566600"), ("datetime", "2024-05-01X1"),
        ("time", "25:00"), ("time", "1230"), ("time", "12"), ("time", ""),
        ("uuid", "not-a-uuid"), ("uuid", UUID[:-1]), ("uuid", "{" + UUID + "}"),
        ("uuid", "urn:uuid:" + UUID),
        ("binary", "abc"), ("binary", "zz"), ("binary", "\\x00"), ("binary", "00 ff"),
        ("json", "{}"), ("json", "1"),
    ],
)
def test_query_value_refused(kind: ColumnKind, raw: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        convert_query_value(col(kind), raw, "filters[c][$eq]")
    assert exc.value.fields == {"column": f"c_{kind}", "value": raw,
                                "expected": KIND_NAMES[kind], "parameter": "filters[c][$eq]"}
    assert "filters[c][$eq]: " in exc.value.detail
    assert f"c_{kind}" in exc.value.detail


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("integer", 42, 42),
        ("integer", -(2**63), -(2**63)),
        ("float", 1.5, 1.5),
        ("float", 2, 2.0),
        ("float", Decimal("0.5"), 0.5),
        ("decimal", "12.50", Decimal("12.50")),
        ("decimal", 12, Decimal(12)),
        ("decimal", 0.1, Decimal("0.1")),
        ("decimal", Decimal("3.14"), Decimal("3.14")),
        ("text", "x", "x"),
        ("text", "", ""),
        ("other", "x", "x"),
        ("boolean", True, True),
        ("boolean", False, False),
        ("boolean", 1, True),
        ("boolean", 0, False),
        ("date", "2024-02-29", dt.date(2024, 2, 29)),
        ("datetime", "2024-05-01T12:30:00Z", dt.datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("time", "08:00", dt.time(8, 0)),
        ("uuid", UUID.upper(), UUID),
        ("binary", "00ff", b"\x00\xff"),
        ("json", {"a": [1, None, "x"]}, {"a": [1, None, "x"]}),
        ("json", [1, 2], [1, 2]),
        ("json", "text", "text"),
        ("json", 3.5, 3.5),
        ("json", False, False),
    ],
)
def test_json_value_by_kind(kind: ColumnKind, value: Any, expected: Any) -> None:
    out = convert_json_value(col(kind), value, "data.c")
    assert out == expected
    assert type(out) is type(expected)


@pytest.mark.parametrize("kind", sorted(KIND_NAMES))
def test_json_null_stays_none(kind: ColumnKind) -> None:
    assert convert_json_value(col(kind), None, "data.c") is None


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("integer", "42"), ("integer", True), ("integer", False), ("integer", 3.0),
        ("integer", 2**63), ("integer", [1]), ("integer", {"a": 1}),
        ("float", "1.5"), ("float", True), ("float", 10**400), ("float", math.inf),
        ("float", math.nan), ("float", Decimal("NaN")),
        ("decimal", True), ("decimal", "abc"), ("decimal", math.nan), ("decimal", math.inf),
        ("decimal", Decimal("Infinity")), ("decimal", [1]),
        ("text", 5), ("text", True), ("text", ["a"]), ("text", {"a": "b"}),
        ("other", 5),
        ("boolean", "true"), ("boolean", 2), ("boolean", 1.0), ("boolean", "1"),
        ("date", 20240101), ("date", "01/02/2024"),
        ("datetime", 1688780261122), ("datetime", "nope"),
        ("time", 12), ("uuid", 1), ("uuid", "x"), ("binary", [0, 1]), ("binary", "xyz"),
    ],
)
def test_json_value_refused(kind: ColumnKind, value: Any) -> None:
    with pytest.raises(InvalidValue) as exc:
        convert_json_value(col(kind), value, "data[2].c")
    assert exc.value.fields["column"] == f"c_{kind}"
    assert exc.value.fields["parameter"] == "data[2].c"
    assert exc.value.fields["expected"] == KIND_NAMES[kind]
    assert exc.value.detail.startswith("data[2].c: ")


@given(st.integers(INT64_MIN, INT64_MAX))
def test_integers_round_trip(n: int) -> None:
    assert convert_query_value(col("integer"), str(n), "p") == n
    assert convert_json_value(col("integer"), json.loads(json.dumps(n)), "p") == n


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_floats_round_trip(x: float) -> None:
    assert convert_query_value(col("float"), repr(x), "p") == x
    assert convert_query_value(col("decimal"), repr(x), "p") == Decimal(repr(x))


@given(st.binary())
def test_binary_round_trips_as_hex(b: bytes) -> None:
    assert convert_query_value(col("binary"), b.hex(), "p") == b


@given(st.uuids())
def test_uuids_come_out_canonical(u: Any) -> None:
    assert convert_query_value(col("uuid"), str(u).upper(), "p") == str(u)


_OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m)))


@given(st.datetimes(timezones=st.none() | _OFFSETS))
def test_iso_datetimes_round_trip(moment: dt.datetime) -> None:
    out = convert_query_value(col("datetime"), moment.isoformat(), "p")
    assert out == moment
    assert out.utcoffset() == moment.utcoffset()
    spaced = convert_query_value(col("datetime"), moment.isoformat(sep=" "), "p")
    assert spaced == out


@given(st.text())
def test_text_from_the_query_is_kept_as_is(s: str) -> None:
    assert convert_query_value(col("text"), s, "p") == s


@given(st.sampled_from(sorted(KIND_NAMES)), st.text())
def test_query_conversion_raises_only_invalid_value(kind: ColumnKind, raw: str) -> None:
    with contextlib.suppress(InvalidValue):
        convert_query_value(col(kind), raw, "p")
