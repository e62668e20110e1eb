"""Routines: migrations, factories and seeders from the project directory, run against a
SQL database.

Migrations: decided here (which are pending, which changed, what a rollback reverts),
run by ``dbplane.engines.sql.routines`` under the database's migration lock. Factories: rows
generated with Faker here, inserted in batches by the engine. Seeders: fixed rows, written
by the engine in one transaction (an upsert on ``key`` when given).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

from faker import Faker

from dbplane.engines import Engine, has_part, types_with
from dbplane.engines.sql import routines as eng
from dbplane.errors import (
    EmptyReference,
    InvalidRoutineFile,
    MigrationChanged,
    MigrationFileMissing,
    MissingGenerator,
    NoDownMigration,
    RoutineTableNotFound,
    RoutineUnknownColumn,
    UnknownProvider,
    Unsupported,
)
from dbplane.meta.records import DatabaseRecord
from dbplane.routines.files import FileKind, Migration, group_migrations
from dbplane.routines.specs import (
    FactorySpec,
    Generator,
    SeederSpec,
    SpecError,
    TableShape,
    factory_from_mapping,
    missing_generators,
    parse_factory,
    parse_seeder,
    unknown_columns,
)
from dbplane.services.context import AppContext, now_ms
from dbplane.services.databases import DEFAULT_RESOURCE_ID, resolve_database
from dbplane.services.operations import OperationContext, OperationRecord, start_operation
from dbplane.services.routines_files import (
    ProjectFile,
    file_format,
    find_file,
    migration_dir,
    scan_files,
)
from dbplane.services.tables import forget_database

__all__ = ["CANCELLABLE_KINDS", "OPERATION_TYPES", "Progress", "RoutineKind", "list_files",
           "list_migrations", "rollback_migrations", "run_factory", "run_migrations",
           "run_routine_operation", "run_seeder", "start_routine"]

LOCK_WAIT_SECONDS = 30.0
FACTORY_BATCH = 2000
# Faker attributes that are not value providers
_NOT_PROVIDERS = frozenset({"seed", "seed_instance", "seed_locale", "unique", "optional",
                            "random", "factories", "locales", "weights", "provider",
                            "providers", "add_provider", "get_providers", "set_formatter",
                            "get_formatter", "format", "parse", "items"})


# -- targets ----------------------------------------------------------------------------


async def _target(ctx: AppContext, db_ref: str | None) -> tuple[DatabaseRecord, Engine]:
    row = await resolve_database(ctx, db_ref or DEFAULT_RESOURCE_ID)
    engine = await ctx.connections.engine_for(row)
    if not has_part(engine, "routines"):
        raise Unsupported(f"migrations, factories and seeders apply to SQL databases "
                          f"({', '.join(types_with('routines'))}); "
                          f"{row.resource_id!r} is a "
                          f"{row.type_name} database", database=row.resource_id,
                          type_name=row.type_name)
    return row, engine


# -- files ------------------------------------------------------------------------------


async def list_files(ctx: AppContext, kind: FileKind | None = None) -> list[dict[str, Any]]:
    """Every file of the project directory (of one kind), unreadable ones with ``error``."""
    return [f.public() for f in await scan_files(ctx, kind)]


# -- migrations -------------------------------------------------------------------------


class _Plan:
    """The database's migration files, grouped, with what the ledger says of them."""

    def __init__(self, files: list[ProjectFile], own: str | None) -> None:
        prefix = f"{own}/migrations/" if own else "migrations/"
        self.files = {f.path: f for f in files if f.path.startswith(prefix)}
        self.migrations = group_migrations(list(self.files))
        self.by_key = {m.key: m for m in self.migrations}

    def checksum(self, mig: Migration) -> str:
        return self.files[mig.up].checksum if mig.up else ""

    def check(self, mig: Migration) -> None:
        path = mig.up or mig.down or mig.key
        if mig.errors:
            raise InvalidRoutineFile("; ".join(mig.errors), path=path, migration=mig.key)
        for p in (mig.up, mig.down):
            f = self.files.get(p) if p else None
            if f is not None and (f.error or f.text is None):
                raise InvalidRoutineFile(f.error or "cannot be read", path=f.path,
                                         migration=mig.key)

    def pending(self, applied: list[eng.Applied]) -> list[Migration]:
        done = {a.migration for a in applied}
        return [m for m in self.migrations if m.key not in done]

    def changed(self, applied: list[eng.Applied]) -> list[str]:
        return [a.migration for a in applied if a.migration in self.by_key
                and self.by_key[a.migration].up
                and self.checksum(self.by_key[a.migration]) != a.checksum]


async def _plan(ctx: AppContext, row: DatabaseRecord) -> _Plan:
    files = await scan_files(ctx, "migration")
    return _Plan(files, migration_dir(ctx, row.resource_id))


def _load_python(f: ProjectFile) -> dict[str, Any]:
    assert f.text is not None
    namespace: dict[str, Any] = {"__name__": f"dbplane_{f.kind}_{f.name[:-3]}",
                                 "__file__": str(f.absolute)}
    try:
        exec(compile(f.text, str(f.absolute), "exec"), namespace)  # noqa: S102 - the project's own code
    except Exception as exc:
        raise InvalidRoutineFile(f"importing it failed: {type(exc).__name__}: {exc}",
                                 path=f.path) from exc
    return namespace


def _function(plan: _Plan, mig: Migration, direction: str) -> Callable[[Any], Any] | None:
    assert mig.up is not None
    namespace = _load_python(plan.files[mig.up])
    name = "upgrade" if direction == "up" else "downgrade"
    fn = namespace.get(name)
    if fn is None and direction == "up":
        raise InvalidRoutineFile("a Python migration must define upgrade(op)", path=mig.up)
    return fn if callable(fn) else None


def _step(plan: _Plan, mig: Migration, direction: str, engine: Engine) -> eng.Step:
    plan.check(mig)
    checksum = plan.checksum(mig)
    if mig.format == "py":
        fn = _function(plan, mig, direction)
        if fn is None:
            raise NoDownMigration(migration=mig.key)
        return eng.Step(mig.key, checksum, function=fn)
    path = mig.up if direction == "up" else mig.down
    if path is None:
        raise NoDownMigration(migration=mig.key)
    text = plan.files[path].text or ""
    return eng.Step(mig.key, checksum, statements=eng.split_script(engine, text))


def _public(plan: _Plan, mig: Migration) -> dict[str, Any]:
    up = plan.files.get(mig.up) if mig.up else None
    return {"migration": mig.key, "file_id": up.file_id if up else None,
            "path": mig.up, "down_path": mig.down, "format": mig.format,
            "checksum": plan.checksum(mig)}


async def list_migrations(ctx: AppContext, db_ref: str | None) -> dict[str, Any]:
    """Applied and pending migrations, with batch, time, checksum and ``changed``."""
    row, engine = await _target(ctx, db_ref)
    plan = await _plan(ctx, row)
    applied = await eng.read_ledger(engine)
    changed = set(plan.changed(applied))
    out: list[dict[str, Any]] = []
    for a in applied:
        mig = plan.by_key.get(a.migration)
        item = _public(plan, mig) if mig else {"migration": a.migration, "file_id": None,
                                               "path": None, "down_path": None,
                                               "format": None, "checksum": None}
        out.append({**item, "status": "applied" if mig else "missing", "batch": a.batch,
                    "applied_at": a.applied_at, "applied_checksum": a.checksum,
                    "changed": a.migration in changed,
                    "error": "; ".join(mig.errors) if mig and mig.errors else None})
    for mig in plan.pending(applied):
        out.append({**_public(plan, mig), "status": "pending", "batch": None,
                    "applied_at": None, "applied_checksum": None, "changed": False,
                    "error": "; ".join(mig.errors) or None})
    return {"database": row.resource_id, "migrations": out,
            "pending": sum(1 for m in out if m["status"] == "pending"),
            "changed": sorted(changed)}


def _pretend_sql(engine: Engine, step: eng.Step) -> list[str]:
    if step.statements is not None:
        return step.statements
    assert step.function is not None
    try:
        return eng.render_offline(engine, step.function)
    except Exception as exc:
        raise InvalidRoutineFile(f"rendering it offline failed: {type(exc).__name__}: "
                                 f"{exc}", path=step.migration) from exc


async def run_migrations(ctx: AppContext, db_ref: str | None, *, pretend: bool = False,
                         allow_changed: bool = False) -> dict[str, Any]:
    """Apply every pending migration in order, as one batch (or, ``pretend``, answer what
    would run, changing nothing)."""
    row, engine = await _target(ctx, db_ref)
    plan = await _plan(ctx, row)

    def choose(applied: list[eng.Applied]) -> tuple[list[eng.Step], str]:
        changed = plan.changed(applied)
        if changed and not allow_changed:
            raise MigrationChanged(migrations=changed)
        return [_step(plan, m, "up", engine) for m in plan.pending(applied)], "up"

    base = {"database": row.resource_id}
    if pretend:
        steps, _ = choose(await eng.read_ledger(engine))
        return {**base, "message": "Migrations pretended" if steps else
                "Nothing to migrate", "pretend": True,
                "migrations": [{**_public(plan, plan.by_key[s.migration]),
                                "sql": _pretend_sql(engine, s)} for s in steps]}
    outcome = await eng.run_steps(engine, choose, lock_wait=LOCK_WAIT_SECONDS,
                                  now_ms=now_ms())
    if outcome.done:
        forget_database(ctx, row.id)
    return {**base, "message": "Migrations complete" if outcome.done else
            "Nothing to migrate", "pretend": False,
            "batch": outcome.batch if outcome.done else None,
            "applied": [{**_public(plan, plan.by_key[s.migration]),
                         "statements": len(s.statements) if s.statements is not None
                         else None} for s in outcome.done]}


async def rollback_migrations(ctx: AppContext, db_ref: str | None, *,
                              steps: int | None = None) -> dict[str, Any]:
    """Revert the last batch, or the last ``steps`` migrations, newest first."""
    row, engine = await _target(ctx, db_ref)
    plan = await _plan(ctx, row)

    def choose(applied: list[eng.Applied]) -> tuple[list[eng.Step], str]:
        newest = sorted(applied, key=lambda a: (a.batch, a.migration), reverse=True)
        if steps is None:
            last = newest[0].batch if newest else None
            chosen = [a for a in newest if a.batch == last]
        else:
            chosen = newest[:steps]
        out = []
        for a in chosen:
            mig = plan.by_key.get(a.migration)
            if mig is None:
                raise MigrationFileMissing(migration=a.migration)
            out.append(_step(plan, mig, "down", engine))
        return out, "down"

    outcome = await eng.run_steps(engine, choose, lock_wait=LOCK_WAIT_SECONDS,
                                  now_ms=now_ms())
    if outcome.done:
        forget_database(ctx, row.id)
    return {"database": row.resource_id,
            "message": "Rollback complete" if outcome.done else "Nothing to roll back",
            "rolled_back": [{**_public(plan, plan.by_key[s.migration])}
                            for s in outcome.done]}


# -- factories --------------------------------------------------------------------------


async def _shape(engine: Engine, table: str, path: str) -> TableShape:
    shape = await eng.describe_table(engine, table)
    if shape is None:
        raise RoutineTableNotFound(path=path, table=table)
    return shape


def _faker(spec: FactorySpec) -> Faker:
    try:
        fake = Faker(spec.locale) if spec.locale else Faker()
    except AttributeError as exc:
        raise SpecError(f"locale: Faker has no locale {spec.locale!r}",
                        field="locale") from exc
    if spec.seed is not None:
        fake.seed_instance(spec.seed)
    return fake


def _provider(fake: Faker, gen: Generator, column: str, path: str) -> Callable[..., Any]:
    name = gen.provider or ""
    if name.startswith("_") or name in _NOT_PROVIDERS:
        raise UnknownProvider(path=path, column=column, provider=name)
    source: Any = fake.unique if gen.unique else fake
    try:
        fn = getattr(source, name)
    except AttributeError as exc:
        raise UnknownProvider(path=path, column=column, provider=name) from exc
    if not callable(fn):
        raise UnknownProvider(path=path, column=column, provider=name)
    return fn  # type: ignore[no-any-return]


def _column_fn(gen: Generator, column: str, path: str, fake: Faker, rng: random.Random,
               refs: dict[str, list[Any]]) -> Callable[[int], Any]:
    if gen.kind == "faker":
        fn = _provider(fake, gen, column, path)
        args, kwargs = gen.args, gen.kwargs
        return (lambda _n: fn(*args, **kwargs)) if args or kwargs else (lambda _n: fn())
    if gen.kind == "choice":
        choices, weights = list(gen.choices), gen.weights
        if weights:
            return lambda _n: rng.choices(choices, weights=weights)[0]
        return lambda _n: rng.choice(choices)
    if gen.kind == "ref":
        values = refs[f"{gen.ref_table}.{gen.ref_column}"]
        return lambda _n: rng.choice(values)
    if gen.kind == "sequence":
        template = gen.template or "{n}"
        return lambda n: template.replace("{n}", str(n))
    if gen.kind == "function":
        function = gen.value
        return lambda n: function(fake, n)
    value = gen.value
    return lambda _n: value


def _factory_spec(f: ProjectFile) -> FactorySpec:
    try:
        if file_format(f.name) == "py":
            names = ("table", "count", "seed", "locale", "columns")
            namespace = _load_python(f)
            return factory_from_mapping({k: namespace[k] for k in names if k in namespace})
        return parse_factory(f.text or "", file_format(f.name))
    except SpecError as exc:
        raise InvalidRoutineFile(str(exc), path=f.path, file_id=f.file_id) from exc


Progress = Callable[[int, int], Awaitable[None]]
"""``progress(rows_done, rows_total)``, awaited after each batch a factory inserts."""


async def run_factory(ctx: AppContext, db_ref: str | None, file_id: str,
                      count: int | None = None, *,
                      progress: Progress | None = None) -> dict[str, Any]:
    """Generate the factory's rows and insert them in batches, in one transaction. Every
    column, provider and reference is checked before anything is written;
    ``progress(done, total)`` is awaited after each batch."""
    row, engine = await _target(ctx, db_ref)
    f, spec, total, fns = await _prepare_factory(engine, ctx, file_id, count)

    def generate(start: int, stop: int) -> list[dict[str, Any]]:
        try:
            return [{c: fn(n) for c, fn in fns} for n in range(start + 1, stop + 1)]
        except Exception as exc:  # e.g. Faker's unique values ran out
            raise InvalidRoutineFile(f"generating row values failed: {type(exc).__name__}: "
                                     f"{exc}", path=f.path) from exc

    async def batches() -> AsyncIterator[list[dict[str, Any]]]:
        # the next batch is generated in a thread while this one is inserted
        start = 0
        pending = asyncio.create_task(asyncio.to_thread(
            generate, 0, min(FACTORY_BATCH, total))) if total else None
        try:
            while pending is not None:
                batch = await pending
                start += len(batch)
                pending = asyncio.create_task(asyncio.to_thread(
                    generate, start, min(start + FACTORY_BATCH, total))) \
                    if start < total else None
                yield batch
                if progress is not None:  # the batch is inserted now
                    await progress(start, total)
        finally:
            if pending is not None:
                pending.cancel()

    inserted = await eng.insert_rows(engine, spec.table, batches())
    return {"message": "Factory created", "database": row.resource_id,
            "file_id": f.file_id, "path": f.path, "table": spec.table, "rows": inserted}


async def _prepare_factory(engine: Engine, ctx: AppContext, file_id: str,
                           count: int | None
                           ) -> tuple[ProjectFile, FactorySpec, int,
                                      list[tuple[str, Callable[[int], Any]]]]:
    """The factory's file, spec, row count and column functions, every column, provider,
    reference and argument checked (a 4xx now, before anything is written)."""
    f = await find_file(ctx, file_id, "factory")
    spec = _factory_spec(f)
    total = spec.count if count is None else count
    shape = await _shape(engine, spec.table, f.path)
    for column in unknown_columns(list(spec.columns), shape):
        raise RoutineUnknownColumn(path=f.path, table=spec.table, column=column)
    missing = missing_generators(spec, shape)
    if missing:
        raise MissingGenerator(path=f.path, table=spec.table, columns=missing)
    refs: dict[str, list[Any]] = {}
    for column, gen in spec.columns.items():
        if gen.kind != "ref":
            continue
        ref = f"{gen.ref_table}.{gen.ref_column}"
        ref_shape = await _shape(engine, gen.ref_table or "", f.path)
        if gen.ref_column not in ref_shape.columns:
            raise RoutineUnknownColumn(path=f.path, table=gen.ref_table or "",
                                       column=gen.ref_column or "")
        if ref not in refs:
            refs[ref] = await eng.ref_values(engine, gen.ref_table or "",
                                             gen.ref_column or "")
        if not refs[ref] and total:
            raise EmptyReference(path=f.path, column=column, ref=ref)
    try:
        fake = _faker(spec)
    except SpecError as exc:
        raise InvalidRoutineFile(str(exc), path=f.path) from exc
    rng = random.Random(spec.seed)  # noqa: S311 - test data, reproducible
    fns = [(c, _column_fn(g, c, f.path, fake, rng, refs)) for c, g in spec.columns.items()]
    # one trial value per column (from a throw-away Faker): bad arguments are a 4xx now
    trial = _faker(spec)
    for column, gen in spec.columns.items():
        try:
            _column_fn(gen, column, f.path, trial, random.Random(0),  # noqa: S311
                       refs)(1)
        except Exception as exc:  # wrong arguments, or a Python generator that fails
            raise InvalidRoutineFile(f"columns.{column}: {type(exc).__name__}: {exc}",
                                     path=f.path, column=column) from exc
    return f, spec, total, fns


# -- seeders ----------------------------------------------------------------------------


async def run_seeder(ctx: AppContext, db_ref: str | None, file_id: str) -> dict[str, Any]:
    """Write the seeder's rows in one transaction (an upsert on ``key`` when given)."""
    row, engine = await _target(ctx, db_ref)
    f, spec = await _prepare_seeder(engine, ctx, file_id)
    base = {"message": "Seeder executed", "database": row.resource_id,
            "file_id": f.file_id, "path": f.path}
    if spec.sql is not None:
        statements = eng.split_script(engine, spec.sql)
        ran = await eng.run_script(engine, statements, f.path)
        forget_database(ctx, row.id)
        return {**base, "table": None, "statements": ran}
    assert spec.table is not None
    inserted, updated = await eng.upsert_rows(engine, spec.table, spec.rows, spec.key)
    return {**base, "table": spec.table, "inserted": inserted, "updated": updated}


async def _prepare_seeder(engine: Engine, ctx: AppContext, file_id: str
                          ) -> tuple[ProjectFile, SeederSpec]:
    """The seeder's file and spec, its table, columns and keys checked."""
    f = await find_file(ctx, file_id, "seeder")
    try:
        spec = parse_seeder(f.text or "", file_format(f.name), f.name)
    except SpecError as exc:
        raise InvalidRoutineFile(str(exc), path=f.path, file_id=f.file_id) from exc
    if spec.sql is not None:
        return f, spec
    assert spec.table is not None
    shape = await _shape(engine, spec.table, f.path)
    names = list(dict.fromkeys([*spec.key, *(k for r in spec.rows for k in r)]))
    for column in unknown_columns(names, shape):
        raise RoutineUnknownColumn(path=f.path, table=spec.table, column=column)
    for i, r in enumerate(spec.rows):
        lacking = [k for k in spec.key if r.get(k) is None]
        if lacking:
            raise InvalidRoutineFile(f"rows[{i}] has no value for the key column "
                                     f"{lacking[0]!r}", path=f.path, column=lacking[0])
    return f, spec


# -- as operations (opt-in: ?async=true) -------------------------------------------------

RoutineKind = Literal["migrate", "rollback", "factory", "seeder"]
OPERATION_TYPES: dict[str, str] = {"migrate": "routines.migrate",
                                   "rollback": "routines.rollback",
                                   "factory": "routines.factory",
                                   "seeder": "routines.seeder"}
"""The operation type of each routine run as an operation."""
CANCELLABLE_KINDS = frozenset({"factory", "seeder"})
"""The routines whose operation can be canceled while it runs: a migration run must not
stop midway (MariaDB keeps what ran); a factory or a seeder is one transaction: a cancel
rolls it back."""


async def start_routine(ctx: AppContext, kind: RoutineKind, db_ref: str | None,
                        params: dict[str, Any], *, created_by: str | None
                        ) -> OperationRecord:
    """Check the request as the synchronous call does (a 4xx now, nothing started: the
    database, the file, its table, columns, providers and references; for ``migrate``
    changed applied files and unreadable pending ones), then start it as an operation
    whose ``result`` is the body the synchronous call answers. ``params``: ``file_id``
    and ``count`` (factory), ``file_id`` (seeder), ``allow_changed`` (migrate),
    ``steps`` (rollback)."""
    row, engine = await _target(ctx, db_ref)
    if kind == "factory":
        await _prepare_factory(engine, ctx, params["file_id"], params.get("count"))
    elif kind == "seeder":
        await _prepare_seeder(engine, ctx, params["file_id"])
    elif kind == "migrate":
        plan = await _plan(ctx, row)
        applied = await eng.read_ledger(engine)
        changed = plan.changed(applied)
        if changed and not params.get("allow_changed"):
            raise MigrationChanged(migrations=changed)
        for mig in plan.pending(applied):
            plan.check(mig)
    return await start_operation(ctx, OPERATION_TYPES[kind], database_id=row.id,
                                 params=params, created_by=created_by)


async def run_routine_operation(ctx: AppContext, op: OperationContext) -> dict[str, Any]:
    """An operation of a routine: the synchronous call, with progress per factory
    batch (a cancel stops the factory at its next batch; nothing is written)."""
    p, db = op.params, op.database_id
    kind = op.type.removeprefix("routines.")
    async with op.step(kind):
        if kind == "factory":
            async def progress(done: int, total: int) -> None:
                await op.progress(done / total if total else 1.0,
                                  f"{done}/{total} rows inserted")
                await op.checkpoint()

            return await run_factory(ctx, db, str(p["file_id"]), p.get("count"),
                                     progress=progress)
        if kind == "seeder":
            return await run_seeder(ctx, db, str(p["file_id"]))
        if kind == "migrate":
            return await run_migrations(ctx, db,
                                        allow_changed=bool(p.get("allow_changed")))
        return await rollback_migrations(ctx, db, steps=p.get("steps"))
