"""The snapshot: a database's schema in Directus' shape, read from a body, normalized, hashed.

A snapshot is plain JSON data::

    {"version": 1, "dbplane": "0.1.0", "vendor": "postgres",
     "collections": [{"collection", "meta",
                      "schema": {"name", "indexes", "checks"}}],
     "fields": [{"collection", "field", "type", "meta", "schema": {...column...}}],
     "systemFields": [],
     "relations": [{"collection", "field", "related_collection", "meta", "schema": {...}}]}

``indexes`` (several columns; one column is the field's ``is_unique``/``is_indexed``) and
``checks`` are dbplane's additions, left out when there are none. :func:`normalize` gives
every object every key (a snapshot exported by Directus lacks some), so two snapshots
compare key by key.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import yaml

from dbplane.errors import SchemaBodyInvalid

__all__ = [
    "FIELD_SCHEMA_KEYS",
    "FORMAT_VERSION",
    "RELATION_SCHEMA_KEYS",
    "complete",
    "empty_snapshot",
    "load_document",
    "normalize",
    "schema_hash",
    "to_yaml",
]

FORMAT_VERSION = 1

FIELD_SCHEMA_KEYS: dict[str, Any] = {
    "name": None, "table": None, "data_type": None, "default_value": None,
    "max_length": None, "numeric_precision": None, "numeric_scale": None,
    "is_nullable": True, "is_unique": False, "is_indexed": False, "is_primary_key": False,
    "is_generated": False, "generation_expression": None, "has_auto_increment": False,
    "foreign_key_table": None, "foreign_key_column": None,
}
"""Every key of a field's ``schema`` and its value when a snapshot leaves it out."""

RELATION_SCHEMA_KEYS: dict[str, Any] = {
    "table": None, "column": None, "foreign_key_table": None, "foreign_key_column": None,
    "constraint_name": None, "on_update": "NO ACTION", "on_delete": "NO ACTION",
}


def empty_snapshot(vendor: str, version: str) -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "dbplane": version, "vendor": vendor,
            "collections": [], "fields": [], "systemFields": [], "relations": []}


def load_document(raw: bytes | str, *, what: str = "the body") -> Any:
    """JSON, or else YAML (a superset of JSON): the parsed value, or SchemaBodyInvalid."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode()
        except UnicodeDecodeError as exc:
            raise SchemaBodyInvalid(f"{what} is not UTF-8 text") from exc
    else:
        text = raw
    if not text.strip():
        raise SchemaBodyInvalid(f"{what} is empty")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    loader: _PlainLoader | None = None
    try:
        loader = _PlainLoader(text)  # its reader refuses control characters at once
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise SchemaBodyInvalid(f"{what} is neither JSON nor YAML: "
                                f"{str(exc).splitlines()[0]}") from exc
    finally:
        if loader is not None:
            loader.dispose()


MAX_DEPTH = 64
"""How deep an uploaded document may nest (a snapshot nests 5 levels)."""


class _PlainLoader(yaml.SafeLoader):
    """YAML without anchors, aliases or deep nesting: an alias can make a few KB expand
    to gigabytes (a "billion laughs"), and the composer recurses once per level."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.YAMLError(f"YAML aliases (*{event.anchor}) are not accepted, at "
                                 f"line {event.start_mark.line + 1}")
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if getattr(event, "anchor", None) is not None:
            raise yaml.YAMLError(f"YAML anchors (&{event.anchor}) are not accepted, at "
                                 f"line {event.start_mark.line + 1}")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"the document nests deeper than {MAX_DEPTH} levels, "
                                     f"at line {event.start_mark.line + 1}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def to_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _fail(where: str, message: str) -> SchemaBodyInvalid:
    return SchemaBodyInvalid(f"{where}: {message}", field=where)


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "must be an object")
    return value


def _str(obj: dict[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise _fail(f"{where}.{key}", "must be a non-empty string")
    return value


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(f"{where}{key}", "must be an array")
    return value


def _schema_obj(obj: dict[str, Any], where: str) -> dict[str, Any] | None:
    value = obj.get("schema")
    if value is None:
        return None
    return _obj(value, f"{where}.schema")


def _index(value: Any, where: str) -> dict[str, Any]:
    idx = _obj(value, where)
    columns = idx.get("columns")
    if not isinstance(columns, list) or not columns or not all(
            isinstance(c, str) and c for c in columns):
        raise _fail(f"{where}.columns", "must be a non-empty array of column names")
    unique = idx.get("unique", False)
    if not isinstance(unique, bool):
        raise _fail(f"{where}.unique", "must be true or false")
    return {"columns": list(columns), "unique": unique}


def _check(value: Any, where: str) -> dict[str, Any]:
    chk = _obj(value, where)
    name = _str(chk, "name", where)
    expression = _str(chk, "expression", where)
    return {"name": name, "expression": expression}


def _collection(value: Any, where: str) -> dict[str, Any]:
    obj = _obj(value, where)
    name = _str(obj, "collection", where)
    meta = obj.get("meta")
    if meta is not None:
        _obj(meta, f"{where}.meta")
    schema = _schema_obj(obj, where)
    out: dict[str, Any] = {"collection": name, "meta": meta, "schema": None}
    if schema is not None:
        indexes = [_index(v, f"{where}.schema.indexes[{i}]")
                   for i, v in enumerate(_list(schema, "indexes", f"{where}.schema."))]
        checks = [_check(v, f"{where}.schema.checks[{i}]")
                  for i, v in enumerate(_list(schema, "checks", f"{where}.schema."))]
        # absent when empty: a Directus collection's schema is just its name
        out["schema"] = {"name": name}
        if indexes:
            out["schema"]["indexes"] = sorted(indexes, key=lambda i: (i["columns"],
                                                                      i["unique"]))
        if checks:
            out["schema"]["checks"] = sorted(checks, key=lambda c: c["name"])
    return out


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "data_type": (str,), "max_length": (int,), "numeric_precision": (int,),
    "numeric_scale": (int,), "is_nullable": (bool,), "is_unique": (bool,),
    "is_indexed": (bool,), "is_primary_key": (bool,), "is_generated": (bool,),
    "generation_expression": (str,), "has_auto_increment": (bool,),
    "foreign_key_table": (str,), "foreign_key_column": (str,),
    "default_value": (str, int, float, bool),
}


def _field(value: Any, where: str) -> dict[str, Any]:
    obj = _obj(value, where)
    collection = _str(obj, "collection", where)
    name = _str(obj, "field", where)
    ftype = _str(obj, "type", where)
    meta = obj.get("meta")
    if meta is not None:
        _obj(meta, f"{where}.meta")
    schema = _schema_obj(obj, where)
    out: dict[str, Any] = {"collection": collection, "field": name, "type": ftype,
                           "meta": meta, "schema": None}
    if schema is not None:
        col: dict[str, Any] = {}
        for key, default in FIELD_SCHEMA_KEYS.items():
            v = schema.get(key, default)
            kinds = _FIELD_TYPES.get(key)
            if v is not None and kinds is not None and (
                    not isinstance(v, kinds) or (bool not in kinds and isinstance(v, bool))):
                raise _fail(f"{where}.schema.{key}", f"{v!r} is not of the right type")
            col[key] = v
        col["name"], col["table"] = name, collection
        out["schema"] = col
    return out


def _relation(value: Any, where: str) -> dict[str, Any]:
    obj = _obj(value, where)
    collection = _str(obj, "collection", where)
    name = _str(obj, "field", where)
    related = _str(obj, "related_collection", where, optional=True)
    meta = obj.get("meta")
    if meta is not None:
        _obj(meta, f"{where}.meta")
    schema = _schema_obj(obj, where)
    out: dict[str, Any] = {"collection": collection, "field": name,
                           "related_collection": related, "meta": meta, "schema": None}
    if schema is not None:
        rel = {key: schema.get(key, default) for key, default in RELATION_SCHEMA_KEYS.items()}
        for key in RELATION_SCHEMA_KEYS:
            if rel[key] is not None and not isinstance(rel[key], str):
                raise _fail(f"{where}.schema.{key}", "must be a string")
        rel["table"], rel["column"] = collection, name
        if rel["foreign_key_table"] is None:
            rel["foreign_key_table"] = related
        for key in ("on_update", "on_delete"):
            rel[key] = (rel[key] or "NO ACTION").upper()
        out["schema"] = rel
    return out


def normalize(data: Any, *, what: str = "the snapshot") -> dict[str, Any]:
    """A snapshot with every key, its lists sorted; ``{"data": {...}}`` is unwrapped.

    Raises SchemaBodyInvalid naming the first place that is not of the snapshot's shape."""
    if isinstance(data, dict) and set(data) == {"data"}:
        data = data["data"]
    if not isinstance(data, dict):
        raise SchemaBodyInvalid(f"{what} must be an object with collections, fields and "
                                "relations")
    version = data.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise _fail("version", "must be an integer")
    vendor = data.get("vendor")
    if vendor is not None and not isinstance(vendor, str):
        raise _fail("vendor", "must be a string")
    for key in ("collections", "fields", "relations"):
        if key not in data:
            raise _fail(key, f"{what} has no {key!r}")
    collections = [_collection(v, f"collections[{i}]")
                   for i, v in enumerate(_list(data, "collections", ""))]
    fields = [_field(v, f"fields[{i}]") for i, v in enumerate(_list(data, "fields", ""))]
    relations = [_relation(v, f"relations[{i}]")
                 for i, v in enumerate(_list(data, "relations", ""))]
    out: dict[str, Any] = {"version": version}
    for key in ("dbplane", "directus"):
        if isinstance(data.get(key), str):
            out[key] = data[key]
    out["vendor"] = vendor
    out["collections"] = collections
    out["fields"] = fields
    out["systemFields"] = []
    out["relations"] = relations
    _unique([c["collection"] for c in collections], "collections", "collection")
    _unique([f"{f['collection']}.{f['field']}" for f in fields], "fields", "field")
    _unique([f"{r['collection']}.{r['field']}" for r in relations], "relations", "relation")
    return out


def _unique(keys: list[str], where: str, what: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise _fail(where, f"the {what} {key!r} is listed twice")
        seen.add(key)


_DERIVED = ("data_type", "numeric_precision", "numeric_scale", "max_length",
            "foreign_key_table", "foreign_key_column")


def complete(target: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """``target`` with what it leaves unsaid taken from ``current``: a field's column
    details the engine derives (``data_type``, sizes its type does not use, the foreign
    key columns a relation implies, an auto-increment's default, a sole primary key's
    uniqueness) when the target gives none, for a field of the same type. A hand-written
    snapshot then diffs to nothing once applied."""
    have = {(f["collection"], f["field"]): f for f in current["fields"]}
    fields = []
    for f in target["fields"]:
        old = have.get((f["collection"], f["field"]))
        if old is None or f["schema"] is None or old["schema"] is None or \
                old["type"] != f["type"]:
            fields.append(f)
            continue
        col, was = dict(f["schema"]), old["schema"]
        for key in _DERIVED:
            if col[key] is None:
                col[key] = was[key]
        if col["has_auto_increment"] and was["has_auto_increment"] and \
                col["default_value"] is None:
            col["default_value"] = was["default_value"]
        if col["is_primary_key"] and was["is_primary_key"] and was["is_unique"]:
            col["is_unique"] = True
        fields.append({**f, "schema": col})
    return {**target, "fields": fields}


def schema_hash(snapshot: dict[str, Any]) -> str:
    """A stable digest of a snapshot's schema and metadata (not of the dbplane version):
    the same schema always hashes the same, whatever the order of its lists."""
    body = {
        "vendor": snapshot.get("vendor"),
        "collections": sorted(snapshot["collections"], key=lambda c: c["collection"]),
        "fields": sorted(snapshot["fields"], key=lambda f: (f["collection"], f["field"])),
        "relations": sorted(snapshot["relations"],
                            key=lambda r: (r["collection"], r["field"])),
    }
    digest = hashlib.sha1(orjson.dumps(body, option=orjson.OPT_SORT_KEYS),
                          usedforsecurity=False)
    return digest.hexdigest()
