"""The differ: what changes one snapshot into another, in Directus' diff shape, and back.

:func:`diff` compares two normalized snapshots object by object (collections by name,
fields and relations by collection and field) and describes each difference as the
``deep-diff`` entries Directus answers: ``N`` (new), ``D`` (deleted), ``E`` (edited, with
``path``, ``lhs`` and ``rhs``) and ``A`` (a change inside an array, with ``index`` and
``item``). The fields and relations of a deleted collection are left out, as Directus does:
they go with it.

:func:`patch` applies such a diff to a snapshot, giving the target snapshot the apply then
builds (the plan is computed from the two snapshots, never from the entries alone).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dbplane.errors import DiffNotApplicable, SchemaBodyInvalid
from dbplane.schema.snapshot import normalize

__all__ = ["ApplyBody", "deep_diff", "diff", "is_empty", "parse_apply_body", "patch"]

Entry = dict[str, Any]


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) \
        else a == b


def deep_diff(lhs: Any, rhs: Any, path: tuple[str | int, ...] = ()) -> list[Entry]:
    """The deep-diff entries that turn ``lhs`` into ``rhs``."""
    if isinstance(lhs, dict) and isinstance(rhs, dict):
        out: list[Entry] = []
        for key, value in lhs.items():
            if key not in rhs:
                out.append({"kind": "D", "path": [*path, key], "lhs": value})
            else:
                out.extend(deep_diff(value, rhs[key], (*path, key)))
        out.extend({"kind": "N", "path": [*path, key], "rhs": value}
                   for key, value in rhs.items() if key not in lhs)
        return out
    if isinstance(lhs, list) and isinstance(rhs, list):
        out = []
        for i in range(min(len(lhs), len(rhs))):
            out.extend(deep_diff(lhs[i], rhs[i], (*path, i)))
        out.extend({"kind": "A", "path": list(path), "index": i,
                    "item": {"kind": "D", "lhs": lhs[i]}}
                   for i in range(len(lhs) - 1, len(rhs) - 1, -1))
        out.extend({"kind": "A", "path": list(path), "index": i,
                    "item": {"kind": "N", "rhs": rhs[i]}}
                   for i in range(len(lhs), len(rhs)))
        return out
    if _same(lhs, rhs):
        return []
    return [{"kind": "E", "path": list(path), "lhs": lhs, "rhs": rhs}]


def _keyed(items: list[dict[str, Any]], *keys: str) -> dict[tuple[str, ...], dict[str, Any]]:
    return {tuple(item[k] for k in keys): item for item in items}


def _diff_objects(current: list[dict[str, Any]], target: list[dict[str, Any]],
                  keys: tuple[str, ...], skip: set[str],
                  extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    cur, tgt = _keyed(current, *keys), _keyed(target, *keys)
    out = []
    for key in sorted(cur.keys() | tgt.keys()):
        before, after = cur.get(key), tgt.get(key)
        if before is None:
            entries: list[Entry] = [{"kind": "N", "rhs": after}]
        elif after is None:
            if key[0] in skip:
                continue
            entries = [{"kind": "D", "lhs": before}]
        else:
            entries = deep_diff(before, after)
        if entries:
            item: dict[str, Any] = dict(zip(keys, key, strict=True))
            source = after if after is not None else before
            assert source is not None
            item.update({k: source.get(k) for k in extra})
            item["diff"] = entries
            out.append(item)
    return out


def diff(current: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """``{collections, fields, systemFields, relations}``: what turns ``current`` into
    ``target`` (both normalized)."""
    dropped = ({c["collection"] for c in current["collections"]}
               - {c["collection"] for c in target["collections"]})
    return {
        "collections": _diff_objects(current["collections"], target["collections"],
                                     ("collection",), set()),
        "fields": _diff_objects(current["fields"], target["fields"],
                                ("collection", "field"), dropped),
        "systemFields": [],
        "relations": _diff_objects(current["relations"], _named_as(current, target),
                                   ("collection", "field"), set(), ("related_collection",)),
    }


def _named_as(current: dict[str, Any], target: dict[str, Any]) -> list[dict[str, Any]]:
    """The target's relations, a foreign key without a name taking the live one's: a
    snapshot of an unnamed key (SQLite's) accepts whatever name applying it gave, so a
    diff taken right after applying one is empty."""
    live = {(r["collection"], r["field"]): r for r in current["relations"]}
    out = []
    for rel in target["relations"]:
        schema = rel.get("schema")
        other = live.get((rel["collection"], rel["field"]))
        if (isinstance(schema, dict) and schema.get("constraint_name") is None
                and other is not None and isinstance(other.get("schema"), dict)
                and other["schema"].get("constraint_name") is not None):
            rel = {**rel, "schema": {**schema,
                                     "constraint_name": other["schema"]["constraint_name"]}}
        out.append(rel)
    return out


def is_empty(d: dict[str, Any]) -> bool:
    return not (d.get("collections") or d.get("fields") or d.get("relations"))


# -- the apply body ------------------------------------------------------------------------


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["N", "D"]
    lhs: Any = None
    rhs: Any = None


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["N", "D", "E", "A"]
    path: list[str | int] | None = None
    lhs: Any = None
    rhs: Any = None
    index: int | None = None
    item: _Item | None = None


class _CollectionDiff(BaseModel):
    model_config = ConfigDict(extra="allow")
    collection: str = Field(min_length=1)
    diff: list[_Entry] = Field(min_length=1)


class _FieldDiff(BaseModel):
    model_config = ConfigDict(extra="allow")
    collection: str = Field(min_length=1)
    field: str = Field(min_length=1)
    diff: list[_Entry] = Field(min_length=1)


class _Diff(BaseModel):
    model_config = ConfigDict(extra="forbid")
    collections: list[_CollectionDiff] = []
    fields: list[_FieldDiff] = []
    systemFields: list[Any] = []
    relations: list[_FieldDiff] = []


class ApplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hash: str = Field(min_length=1)
    diff: _Diff


def parse_apply_body(data: Any) -> tuple[str, dict[str, Any]]:
    """``(hash, diff)`` of an apply body (``{"data": {...}}`` unwrapped), or
    SchemaBodyInvalid naming the first field at fault."""
    if isinstance(data, dict) and set(data) == {"data"}:
        data = data["data"]
    if not isinstance(data, dict):
        raise SchemaBodyInvalid("the body must be an object {hash, diff}")
    try:
        body = ApplyBody.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise SchemaBodyInvalid(f"{where}: {first['msg']}", field=where,
                                errors=[{"field": ".".join(str(p) for p in e["loc"]),
                                         "message": e["msg"]}
                                        for e in exc.errors()[:20]]) from exc
    return body.hash, body.diff.model_dump(exclude_none=True)


# -- patch ---------------------------------------------------------------------------------


def _walk(obj: Any, path: list[str | int], where: str) -> Any:
    for step in path:
        in_dict = isinstance(obj, dict) and isinstance(step, str) and step in obj
        in_list = isinstance(obj, list) and isinstance(step, int) and 0 <= step < len(obj)
        if in_dict or in_list:
            obj = obj[step]
        else:
            raise DiffNotApplicable(f"{where}: the path {path!r} does not exist", path=path)
    return obj


def _apply_entry(obj: dict[str, Any], entry: Entry, where: str) -> None:
    path = list(entry.get("path") or [])
    kind = entry["kind"]
    if kind == "A":
        container = _walk(obj, path, where)
        index, item = entry.get("index"), entry.get("item") or {}
        if not isinstance(container, list) or not isinstance(index, int):
            raise DiffNotApplicable(f"{where}: {path!r} is not an array", path=path)
        if item.get("kind") == "N":
            if index > len(container):
                raise DiffNotApplicable(f"{where}: index {index} is past the end of "
                                        f"{path!r}", path=path)
            container.insert(index, item.get("rhs"))
        else:
            if not 0 <= index < len(container):
                raise DiffNotApplicable(f"{where}: {path!r} has no index {index}", path=path)
            del container[index]
        return
    if not path:
        raise DiffNotApplicable(f"{where}: an entry of kind {kind} inside an object needs "
                                "a path")
    parent = _walk(obj, path[:-1], where)
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        if kind == "D":
            if last not in parent:
                raise DiffNotApplicable(f"{where}: the path {path!r} does not exist",
                                        path=path)
            del parent[last]
        else:
            parent[last] = entry.get("rhs")
        return
    if isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
        if kind == "D":
            del parent[last]
        else:
            parent[last] = entry.get("rhs")
        return
    raise DiffNotApplicable(f"{where}: the path {path!r} does not exist", path=path)


def _patch_list(items: list[dict[str, Any]], changes: list[dict[str, Any]],
                keys: tuple[str, ...], what: str, section: str,
                gone: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """``gone``: collections dropped by this diff, whose objects went with them (a
    deletion of one of those is already done)."""
    table = _keyed(items, *keys)
    for n, change in enumerate(changes):
        key = tuple(change[k] for k in keys)
        name = ".".join(key)
        where = f"diff.{section}[{n}] ({what} {name!r})"
        entries = change["diff"]
        whole = [e for e in entries if not e.get("path") and e["kind"] in ("N", "D")]
        if whole:
            if len(entries) != 1:
                raise DiffNotApplicable(f"{where}: a whole-object {whole[0]['kind']} entry "
                                        "must be the only entry")
            entry = whole[0]
            if entry["kind"] == "N":
                if key in table:
                    raise DiffNotApplicable(f"{where}: the {what} {name!r} already exists",
                                            **{what: name})
                rhs = entry.get("rhs")
                if not isinstance(rhs, dict):
                    raise DiffNotApplicable(f"{where}: rhs must be the new {what}")
                obj = copy.deepcopy(rhs)
                obj.update(dict(zip(keys, key, strict=True)))
                table[key] = obj
            else:
                if key not in table:
                    if key[0] in gone:
                        continue
                    raise DiffNotApplicable(f"{where}: there is no {what} {name!r}",
                                            **{what: name})
                del table[key]
            continue
        if key not in table:
            raise DiffNotApplicable(f"{where}: there is no {what} {name!r}", **{what: name})
        obj = copy.deepcopy(table[key])
        for entry in entries:
            _apply_entry(obj, entry, where)
        table[key] = obj
    return list(table.values())


def patch(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The snapshot ``changes`` (a diff) makes of ``current``; DiffNotApplicable when an
    entry names something ``current`` does not have, SchemaBodyInvalid when the result is
    not a snapshot."""
    collections = _patch_list(current["collections"], changes.get("collections", []),
                              ("collection",), "collection", "collections")
    names = {c["collection"] for c in collections}
    dropped = {c["collection"] for c in current["collections"]} - names
    fields = [f for f in current["fields"] if f["collection"] not in dropped]
    relations = [r for r in current["relations"] if r["collection"] not in dropped]
    fields = _patch_list(fields, changes.get("fields", []), ("collection", "field"),
                         "field", "fields", frozenset(dropped))
    relations = _patch_list(relations, changes.get("relations", []),
                            ("collection", "field"), "relation", "relations",
                            frozenset(dropped))
    for f in fields:
        if f["collection"] not in names:
            raise DiffNotApplicable(f"the field {f['collection']}.{f['field']} belongs to "
                                    f"no collection", collection=f["collection"])
    for r in relations:
        if r["collection"] not in names:
            raise DiffNotApplicable(f"the relation on {r['collection']}.{r['field']} "
                                    "belongs to no collection", collection=r["collection"])
    target = {**current, "collections": collections, "fields": fields,
              "relations": relations}
    return normalize(target, what="the patched snapshot")
