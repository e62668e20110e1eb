"""Retention durations between the Scalingo seed's form and InfluxDB's."""

from __future__ import annotations

import pytest

from dbplane.engines.influxdb import durations
from dbplane.engines.influxdb.engine import ident


@pytest.mark.parametrize(("go", "seed"), [
    ("0s", "0"), ("720h0m0s", "30d"), ("24h0m0s", "1d"), ("1h0m0s", "1h"),
    ("1h30m0s", "90m"), ("336h0m0s", "14d"), ("25h0m0s", "25h"), ("1h0m1s", "3601s"),
    ("1h0m0.4s", "1h"), ("weird", "weird"),
])
def test_influx_durations_are_shown_in_the_seed_form(go: str, seed: str) -> None:
    assert durations.seed_duration(go) == seed


@pytest.mark.parametrize(("seed", "seconds", "influxql"), [
    ("0", 0, "INF"), ("INF", 0, "INF"), ("30d", 2592000, "30d"), ("2w", 1209600, "14d"),
    ("90m", 5400, "90m"), ("120m", 7200, "2h"), ("48h", 172800, "2d"),
])
def test_seed_durations_are_parsed_and_written_back(seed: str, seconds: int,
                                                    influxql: str) -> None:
    assert durations.seconds_of(seed) == seconds
    assert durations.influxql_duration(seconds) == influxql


@pytest.mark.parametrize("bad", ["30x", "-1d", "1.5d", "d", "", "30 d", "1e3h", "30D"])
def test_other_durations_are_not_parsed(bad: str) -> None:
    assert durations.seconds_of(bad) is None


def test_identifiers_are_quoted_with_their_quotes_and_backslashes_escaped() -> None:
    assert ident("30-days") == '"30-days"'
    assert ident('a"b\\c') == '"a\\"b\\\\c"'

