"""Pure: whether a value is one ``pg_settings`` accepts for a setting (its type, unit,
bounds and enum values), so that a bad value is refused before anything changes."""

from __future__ import annotations

import re

__all__ = ["check_value"]

_MEMORY = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_BOOL = {"on", "off", "true", "false", "yes", "no", "1", "0", "t", "f", "y", "n"}


def _base(unit: str | None) -> tuple[dict[str, float], float] | None:
    """The unit table and the size of one unit of the setting (``8kB`` → 8192)."""
    if not unit:
        return None
    m = re.match(r"^(\d*)(\w+)$", unit)
    if m is None:
        return None
    count = int(m.group(1) or 1)
    for table in (_MEMORY, _TIME):
        if m.group(2) in table:
            return {k: float(v) for k, v in table.items()}, count * table[m.group(2)]
    return None


def check_value(value: str, *, vartype: str, unit: str | None, min_val: str | None,
                max_val: str | None, enumvals: list[str]) -> str | None:
    """Why PostgreSQL would refuse ``value``; None when it is acceptable."""
    if vartype == "bool":
        return None if value.lower() in _BOOL else "a boolean (on or off) is expected"
    if vartype == "enum":
        return None if value.lower() in [e.lower() for e in enumvals] else (
            "one of " + ", ".join(enumvals) + " is expected")
    if vartype not in ("integer", "real"):
        return None
    m = _NUMBER.match(value)
    if m is None:
        return "a number" + (f" (in {unit}, or with a unit)" if unit else "") + \
            " is expected"
    number, suffix = float(m.group(1)), m.group(2)
    base = _base(unit)
    if suffix:
        if base is None or suffix not in base[0]:
            return f"{suffix!r} is not a unit this setting takes"
        number = number * base[0][suffix] / base[1]
    if vartype == "integer" and not suffix and "." in m.group(1):
        return "an integer is expected"
    if min_val is not None and number < float(min_val):
        return f"the least value is {min_val}" + (f" ({unit})" if unit else "")
    if max_val is not None and number > float(max_val):
        return f"the greatest value is {max_val}" + (f" ({unit})" if unit else "")
    return None
