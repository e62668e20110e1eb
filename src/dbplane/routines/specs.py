"""Factory and seeder files, read from their text into plain values, and checked against
the shape of the table they write (given by the caller).

A factory (YAML or JSON)::

    table: users
    count: 50
    seed: 42                       # optional: the same rows every run
    locale: en_US                  # optional: Faker's locale
    columns:
      name: name                   # a Faker provider by name
      email: {faker: email, unique: true}
      score: {faker: random_int, min: 0, max: 100}
      role: {choice: [admin, user]}
      team_id: {ref: teams.id}     # an existing row of another table
      code: {sequence: "U-{n}"}    # n = 1, 2, 3...
      active: {value: true}        # a constant (a bare number or boolean is one too)

A Python factory (``factories/x.py``) sets the same names as module variables (``table``,
``count``, ``seed``, ``locale``, ``columns``); a column's generator may also be a function
``f(fake, n)``.

A seeder: YAML/JSON ``{table, key?, rows}``; CSV (the table is the file's name without
an ``NNNN_`` prefix, a first line ``# key: a,b`` sets the key, empty cells are NULL); or SQL.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

__all__ = [
    "ColumnShape",
    "FactorySpec",
    "Generator",
    "SeederSpec",
    "SpecError",
    "TableShape",
    "factory_from_mapping",
    "missing_generators",
    "parse_factory",
    "parse_seeder",
    "table_from_file_name",
    "unknown_columns",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_CSV_KEY = re.compile(r"^#\s*key\s*:\s*(.*)$", re.IGNORECASE)
MAX_COUNT = 10_000_000


class SpecError(ValueError):
    """A file that does not fit its format; the message names the field at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Generator:
    """How one column of a factory gets its values."""

    kind: Literal["faker", "choice", "ref", "sequence", "value", "function"]
    provider: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    unique: bool = False
    choices: tuple[Any, ...] = ()
    weights: tuple[float, ...] | None = None
    ref_table: str | None = None
    ref_column: str | None = None
    template: str | None = None
    value: Any = None


@dataclass(frozen=True)
class FactorySpec:
    table: str
    count: int
    columns: dict[str, Generator]
    seed: int | None = None
    locale: str | None = None


@dataclass(frozen=True)
class SeederSpec:
    table: str | None
    """None for a SQL seeder."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    key: tuple[str, ...] = ()
    sql: str | None = None


@dataclass(frozen=True)
class ColumnShape:
    name: str
    nullable: bool
    has_default: bool
    """A server default, or an autoincrementing key: the column may be left out."""


@dataclass(frozen=True)
class TableShape:
    name: str
    columns: dict[str, ColumnShape]


def _load(text: str, fmt: str) -> Any:
    try:
        if fmt == "json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"not valid JSON: {exc.msg} (line {exc.lineno})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"not valid YAML: {problem}{where}") from exc


def _identifier(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 128:
        raise SpecError(f"{where} must be a name", field=where)
    return value


def _int(value: Any, where: str, *, low: int = 0, high: int = MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(f"{where} must be a whole number from {low} to {high}, not "
                        f"{value!r}", field=where)
    return value


def _generator(column: str, raw: Any) -> Generator:
    where = f"columns.{column}"
    if callable(raw):  # a Python factory's own function of (fake, n)
        return Generator(kind="function", value=raw)
    if isinstance(raw, str):
        return Generator(kind="faker", provider=raw)
    if raw is None or isinstance(raw, bool | int | float):
        return Generator(kind="value", value=raw)
    if not isinstance(raw, dict):
        raise SpecError(f"{where} must be a provider name or a mapping", field=where)
    spec = dict(raw)
    kinds = [k for k in ("faker", "choice", "ref", "sequence", "value") if k in spec]
    if len(kinds) != 1:
        raise SpecError(f"{where} needs exactly one of faker, choice, ref, sequence, value",
                        field=where)
    kind = kinds[0]
    if kind == "faker":
        provider = spec.pop("faker")
        if not isinstance(provider, str) or not provider:
            raise SpecError(f"{where}.faker must be a provider name", field=where)
        unique = spec.pop("unique", False)
        if not isinstance(unique, bool):
            raise SpecError(f"{where}.unique must be true or false", field=where)
        args = spec.pop("args", [])
        if not isinstance(args, list):
            raise SpecError(f"{where}.args must be a list", field=where)
        return Generator(kind="faker", provider=provider, args=tuple(args),
                         kwargs={str(k): v for k, v in spec.items()}, unique=unique)
    extra = set(spec) - {kind, "weights"}
    if extra:
        raise SpecError(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))}",
                        field=where)
    if kind == "choice":
        choices = spec["choice"]
        if not isinstance(choices, list) or not choices:
            raise SpecError(f"{where}.choice must be a non-empty list", field=where)
        weights = spec.get("weights")
        if weights is not None and (not isinstance(weights, list)
                                    or len(weights) != len(choices)
                                    or not all(isinstance(w, int | float) and w >= 0
                                               for w in weights)):
            raise SpecError(f"{where}.weights must be one number >= 0 per choice",
                            field=where)
        return Generator(kind="choice", choices=tuple(choices),
                         weights=tuple(float(w) for w in weights) if weights else None)
    if kind == "ref":
        ref = spec["ref"]
        parts = ref.split(".") if isinstance(ref, str) else []
        if len(parts) != 2 or not all(parts):
            raise SpecError(f"{where}.ref must be table.column, not {ref!r}", field=where)
        return Generator(kind="ref", ref_table=parts[0], ref_column=parts[1])
    if kind == "sequence":
        template = spec["sequence"]
        if not isinstance(template, str) or "{n}" not in template:
            raise SpecError(f"{where}.sequence must be a text with {{n}} in it", field=where)
        return Generator(kind="sequence", template=template)
    return Generator(kind="value", value=spec["value"])


def parse_factory(text: str, fmt: str = "yaml") -> FactorySpec:
    """Read a factory file (``fmt`` ``yaml`` or ``json``)."""
    return factory_from_mapping(_load(text, fmt))


def factory_from_mapping(data: Any) -> FactorySpec:
    """A factory from its mapping: a YAML/JSON file's, or a Python factory's module
    variables (where a column's generator may also be a function of ``(fake, n)``)."""
    if not isinstance(data, dict):
        raise SpecError("a factory is a mapping with table, count and columns")
    extra = set(data) - {"table", "count", "seed", "locale", "columns"}
    if extra:
        raise SpecError(f"unknown key(s) {', '.join(sorted(map(str, extra)))}; a factory "
                        "has table, count, seed, locale and columns", field=str(min(extra)))
    table = _identifier(data.get("table"), "table")
    count = _int(data.get("count", 10), "count")
    seed = data.get("seed")
    if seed is not None:
        seed = _int(seed, "seed", high=2**63 - 1)
    locale = data.get("locale")
    if locale is not None and not isinstance(locale, str):
        raise SpecError("locale must be a text such as en_US", field="locale")
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise SpecError("columns must map each column to a generator", field="columns")
    gens = {_identifier(name, "columns"): _generator(str(name), raw)
            for name, raw in columns.items()}
    return FactorySpec(table=table, count=count, columns=gens, seed=seed, locale=locale)


def table_from_file_name(file_name: str) -> str:
    """``0002_roles.csv`` → ``roles``."""
    stem = file_name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return re.sub(r"^\d+_", "", stem)


def _key(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values:
        raise SpecError("key must be a column name or a list of them", field="key")
    return tuple(_identifier(v, "key") for v in values)


def _rows(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise SpecError("rows must be a list of mappings", field="rows")
    rows: list[dict[str, Any]] = []
    for i, row in enumerate(raw):
        if not isinstance(row, dict) or not row:
            raise SpecError(f"rows[{i}] must be a mapping of column to value",
                            field=f"rows[{i}]")
        rows.append({_identifier(k, f"rows[{i}]"): v for k, v in row.items()})
    return rows


def parse_seeder(text: str, fmt: str, file_name: str) -> SeederSpec:
    """Read a seeder file (``fmt`` ``yaml``, ``json``, ``csv`` or ``sql``)."""
    if fmt == "sql":
        return SeederSpec(table=None, sql=text)
    if fmt == "csv":
        lines = text.splitlines()
        key: tuple[str, ...] = ()
        if lines and (m := _CSV_KEY.match(lines[0].strip())):
            key = _key([k.strip() for k in m.group(1).split(",") if k.strip()])
            lines = lines[1:]
        reader = csv.reader(io.StringIO("\n".join(lines)))
        try:
            header = next(reader, None)
            if not header:
                raise SpecError("a CSV seeder needs a header line naming the columns")
            names = [_identifier(h.strip(), "header") for h in header]
            rows = []
            for n, cells in enumerate(reader, start=2):
                if not cells:
                    continue
                if len(cells) != len(names):
                    raise SpecError(f"line {n} has {len(cells)} cells, the header "
                                    f"{len(names)}", field=f"line {n}")
                rows.append({c: (v if v != "" else None) for c, v in zip(names, cells,
                                                                         strict=True)})
        except csv.Error as exc:
            raise SpecError(f"not valid CSV: {exc}") from exc
        return SeederSpec(table=table_from_file_name(file_name), rows=rows, key=key)
    data = _load(text, fmt)
    if not isinstance(data, dict):
        raise SpecError("a seeder is a mapping with table, rows and an optional key")
    extra = set(data) - {"table", "key", "rows"}
    if extra:
        raise SpecError(f"unknown key(s) {', '.join(sorted(map(str, extra)))}; a seeder "
                        "has table, key and rows", field=str(min(extra)))
    return SeederSpec(table=_identifier(data.get("table"), "table"),
                      rows=_rows(data.get("rows")), key=_key(data.get("key")))


def unknown_columns(names: list[str] | tuple[str, ...], shape: TableShape) -> list[str]:
    """The names that are not columns of the table, in order."""
    return [n for n in names if n not in shape.columns]


def missing_generators(spec: FactorySpec, shape: TableShape) -> list[str]:
    """The NOT NULL columns without a default that the factory leaves out."""
    return [c.name for c in shape.columns.values()
            if not c.nullable and not c.has_default and c.name not in spec.columns]
