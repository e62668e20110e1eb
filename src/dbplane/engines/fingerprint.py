"""What a database holds, reduced to what a restore must bring back: a fingerprint.

A type's ``fingerprint`` part (a module of its package) answers
``async def fingerprint(engine) -> Fingerprint``: one entry per table (SQL types) or per
database number (Redis), each a small mapping such as ``{"rows": 3, "checksum": "…"}``.
A backup records the fingerprint of what it archived; a restore drill (and an upgrade's
check) compares the copy's with :func:`compare`, which names every entry that differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dbplane.errors import DbplaneError

if TYPE_CHECKING:
    from dbplane.engines.base import Engine

__all__ = ["Fingerprint", "compare", "fingerprint_error"]

Fingerprint = dict[str, dict[str, Any]]
"""Entry name (``public.items``, ``db0``) → what it holds (``rows``, ``checksum``…)."""


def compare(recorded: Fingerprint, found: Fingerprint) -> list[dict[str, Any]]:
    """The differences between a recorded fingerprint and one found now, one per entry:
    ``{"name", "problem": missing|unexpected|different, "expected", "found"}``; empty when
    they agree."""
    differences: list[dict[str, Any]] = []
    for name in sorted(set(recorded) | set(found)):
        want, got = recorded.get(name), found.get(name)
        if want == got:
            continue
        problem = "missing" if got is None else "unexpected" if want is None else "different"
        differences.append({"name": name, "problem": problem, "expected": want,
                            "found": got})
    return differences


def fingerprint_error(engine: Engine, exc: Exception) -> DbplaneError:
    """The dbplane error for a driver's failure while fingerprinting (the type's
    ``fingerprint`` module calls it): a connection failure named as such, else the
    server's message."""
    if isinstance(exc, DbplaneError):
        return exc
    known = engine.connect_error(exc)
    if known is not None:
        return known
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return DbplaneError(f"reading the database's fingerprint failed: {first}")
