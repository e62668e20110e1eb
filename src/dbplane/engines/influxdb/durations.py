"""Retention-policy durations: the Scalingo seed's form (``"0"`` for infinite, ``"30d"``,
``"12h"``, ``"90m"``) to and from InfluxDB's (``INF`` in InfluxQL, ``720h0m0s`` in its
answers)."""

from __future__ import annotations

import re

__all__ = ["MAX_SECONDS", "MIN_SECONDS", "influxql_duration", "seconds_of", "seed_duration"]

MIN_SECONDS = 3600
"""InfluxDB's shortest retention policy (1h)."""
MAX_SECONDS = 36500 * 86400
"""The longest finite duration dbplane accepts (100 years; InfluxDB's own limit is about
292 years of nanoseconds)."""

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6,
          "µs": 1e-6, "ns": 1e-9}
_SEED = re.compile(r"^(?P<n>[0-9]{1,9})(?P<unit>[mhdw])$")
_GO_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h|d|w)")
INFINITE = ("0", "INF", "inf")


def seconds_of(duration: str) -> int | None:
    """The seconds of a duration in the seed's form (``30d``, ``12h``, ``90m``, ``2w``;
    ``"0"`` or ``INF`` for infinite: 0); None when it is not of that form."""
    if duration in INFINITE:
        return 0
    match = _SEED.match(duration)
    if match is None:
        return None
    return int(match["n"]) * int(_UNITS[match["unit"]])


def influxql_duration(seconds: int) -> str:
    """The InfluxQL duration literal of ``seconds`` (``INF`` for 0)."""
    if seconds == 0:
        return "INF"
    for unit in ("d", "h", "m"):
        size = int(_UNITS[unit])
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def seed_duration(go: str) -> str:
    """InfluxDB's duration (``720h0m0s``, ``0s``) in the seed's form: ``"0"`` for
    infinite, whole days as ``"30d"``, otherwise whole hours, minutes or seconds."""
    parts = _GO_PART.findall(go)
    if not parts or "".join(n + u for n, u in parts) != go:
        return go  # not a duration InfluxDB writes: shown as it is
    total = sum(float(n) * _UNITS[u] for n, u in parts)
    seconds = round(total)
    if seconds == 0:
        return "0"
    for unit in ("d", "h", "m"):
        size = int(_UNITS[unit])
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
