"""The seeds' own paths, served as aliases of dbplane's (docs/api.md, "Seed paths"):

- Scalingo's API lives under ``/api/databases/{id}``: every path below it is the same
  path under ``/v1/databases/{id}`` (``GET``, ``PATCH``, ``PUT``, ``/action``,
  ``/backups``… and whatever lands there later).
- SonicJS serves a table at ``/v1/{table}``: a path ``/v1/{name}`` or
  ``/v1/{name}/{key}`` whose first segment is none of dbplane's own resources is the
  default database's table ``name`` (``/v1/tables/{name}[/{key}]``). dbplane's own names
  take precedence: ``/v1/users`` stays dbplane's users.

The path is rewritten before anything else sees the request, so the aliases behave
exactly as the paths they stand for (auth, errors, the Tables API's front door)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import Scope

__all__ = ["Aliases", "suggestions"]

_SCALINGO = "/api/databases/"
_V1 = "/v1/"


class Aliases:
    """Rewrites the seeds' paths to dbplane's; ``reserved`` are the first segments of
    dbplane's own ``/v1`` paths."""

    def __init__(self) -> None:
        self.reserved: frozenset[str] = frozenset()

    def learn(self, routes: Iterable[BaseRoute]) -> None:
        names = set()
        for path in _paths(routes):
            if path.startswith(_V1):
                first = path[len(_V1):].split("/", 1)[0]
                if first and not first.startswith("{"):
                    names.add(first)
        self.reserved = frozenset(names)

    def rewrite(self, scope: Scope) -> Scope:
        if scope["type"] != "http":
            return scope
        path: str = scope["path"]
        if path.startswith(_SCALINGO):
            return _moved(scope, "/v1/databases/" + path[len(_SCALINGO):])
        if path.startswith(_V1):
            parts = path[len(_V1):].split("/")
            if 1 <= len(parts) <= 2 and all(parts) and parts[0] not in self.reserved:
                return _moved(scope, "/v1/tables/" + path[len(_V1):])
        return scope


def suggestions(path: str, reserved: frozenset[str]) -> list[str]:
    """Where a request to an unknown ``path`` probably meant to go."""
    out: list[str] = []
    rest = path.removeprefix("/v1/") if path.startswith(_V1) else path.lstrip("/")
    parts = rest.split("/")
    first = parts[0]
    if first in reserved and not path.startswith(_V1):
        out.append("/v1/" + rest)
    for close in difflib.get_close_matches(first, sorted(reserved), n=2, cutoff=0.6):
        if close != first:
            out.append("/v1/" + "/".join([close, *parts[1:]]))
    if first not in reserved and len(parts) <= 2:
        tail = "/".join(parts[1:])
        out.append(f"/v1/tables/{first}" + (f"/{tail}" if tail else ""))
    for generic in ("/v1/tables/{table}", "/v1/databases/{db}"):
        if generic not in out:
            out.append(generic)
    return out[:4]


def _paths(routes: Iterable[BaseRoute]) -> Iterable[str]:
    """The full paths of the app's routes (an included router's, with its prefix)."""
    for route in routes:
        contexts: Any = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                yield str(context.path)
        else:
            yield str(getattr(route, "path", ""))


def _moved(scope: Scope, path: str) -> Scope:
    return {**scope, "path": path, "raw_path": path.encode("utf-8")}
