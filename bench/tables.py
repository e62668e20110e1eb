"""The Tables API under load: dbplane against Datasette and a bare Starlette floor.

The same 100,000-row table (``items``: id, title, body, score, active, created_on, with an
index on score) is built in a SQLite file and in a fresh PostgreSQL database, and served on
loopback by real processes:

- dbplane (``dbplane serve``; the file registered as ``bench``, the PostgreSQL database as
  ``benchpg``), called with the admin token and with a user session whose role may read
  ``items``; with ``--dbplane-cmd LABEL=COMMAND`` given more than once, several dbplane
  builds, each set up alike and measured side by side as ``dbplane[LABEL]``;
- Datasette (``datasette serve -i bench.db --inspect-file inspect.json``, its docs'
  recommendation for a file that does not change), installed from PyPI into
  bench/.venv-peers by this script;
- the floor, bench/floor.py: bare Starlette on uvicorn with dbplane's settings, one SQL
  statement rendering the JSON body per request, its SQLite call in the threadpool
  (``thread``), through aiosqlite (``aiosqlite``) or on the event loop (``direct``), and
  PostgreSQL through an asyncpg pool.

Four requests per server: list 50 rows, get one row by id (1,000 fixed random ids, cycled by a
wrk Lua script), filter+sort (score > 500, score descending, 50 rows), list 50 with the exact
total. Each runs ``wrk -t2 -c32 -d<N>s --latency``, interleaved across servers (every server
once per endpoint, then the next endpoint, then the next round), while the server's resident
memory is polled. The answers are checked before the load (same rows everywhere).

Targets (issue 4): dbplane >= 3x Datasette and >= 0.70x the floor on every endpoint, p99
under 25 ms, for the admin token and a user session alike. Misses are marked; the script
exits 0 unless a server could not be set up (e.g. "Tables API not available").

    python bench/tables.py                      # everything (~15 min)
    python bench/tables.py --quick              # 2 s per run, one round
    python bench/tables.py --servers datasette,floor --engines sqlite
    python bench/tables.py --dbplane-cmd before='...' --dbplane-cmd after='...'

The machinery (processes, measurements, load generators, report) is in tables_harness.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import secrets
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from tables_harness import (
    ENDPOINTS,
    LABELS,
    NOISY_PCT,
    SetupError,
    Target,
    free_port,
    report,
    run_load,
    start_server,
    stop_all,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATASETTE_SPEC = "datasette==0.65.*"

ROWS = 100_000
SEED = 20261125
FLOOR_MODES = ("thread", "aiosqlite", "direct")
WRK_INSTALL = "apt-get install -y wrk   (Debian/Ubuntu; brew install wrk on macOS)"

_WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "table",
    "row", "column", "index", "query", "page", "sort", "filter", "count", "limit", "offset",
    "schema", "value", "number", "string", "record", "field", "token", "session", "grant",
    "role", "user", "admin", "server", "plane", "data", "base", "file", "disk", "cache"
]


# --------------------------------------------------------------------------- the data

def make_rows(n: int = ROWS) -> list[tuple[int, str, str, int, bool, int]]:
    """Deterministic rows: the same on every run and on every engine."""
    rng = random.Random(SEED)
    rows = []
    for i in range(1, n + 1):
        title = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 6))).capitalize()
        body = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(20, 40))) + "."
        rows.append((i, title, body, rng.randint(0, 1000), rng.random() < 0.7,
                     1_700_000_000_000 + i * 60_000 + rng.randint(0, 59_999)))
    return rows


GET_IDS = random.Random(SEED + 1).sample(range(1, ROWS + 1), 1000)


def build_sqlite(path: Path, rows: list[tuple[int, str, str, int, bool, int]]) -> None:
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT, body TEXT, "
                    "score INTEGER, active BOOLEAN, created_on INTEGER)")
        con.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)", rows)
        con.execute("CREATE INDEX items_score ON items (score)")
    con.execute("ANALYZE")
    con.execute("VACUUM")
    con.close()


def _pg_url(admin_dsn: str, dbname: str) -> str:
    parts = urlsplit(admin_dsn)
    return urlunsplit(parts._replace(path="/" + dbname))


def build_pg(admin_dsn: str, rows: list[tuple[int, str, str, int, bool, int]]) -> str:
    """Create ``dbp_bench_<hex>`` with the table; return its name."""
    import psycopg

    dbname = f"dbp_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_dsn, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{dbname}"')
    with psycopg.connect(_pg_url(admin_dsn, dbname)) as con:
        con.execute("CREATE TABLE items (id integer PRIMARY KEY, title text, body text, "
                    "score integer, active boolean, created_on bigint)")
        with con.cursor() as cur, cur.copy("COPY items FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        con.execute("CREATE INDEX items_score ON items (score)")
        con.commit()
    with psycopg.connect(_pg_url(admin_dsn, dbname), autocommit=True) as con:
        con.execute("VACUUM ANALYZE items")
    return dbname


@contextlib.contextmanager
def pg_writer(url: str, per_second: float) -> Iterator[None]:
    """While the block runs, commit ``per_second`` one-row transactions to a side table of
    the database: every commit on the server moves the snapshot, so dbplane's counted
    lists on PostgreSQL count again (they keep a total per snapshot)."""
    import psycopg

    stop = threading.Event()

    def run() -> None:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE TABLE IF NOT EXISTS bench_writes (n bigint)")
            n = 0
            while not stop.wait(1 / per_second):
                n += 1
                con.execute("INSERT INTO bench_writes VALUES (%s)", (n,))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def drop_pg(admin_dsn: str, dbname: str) -> None:
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


# --------------------------------------------------------------------------- servers

def dbplane_paths(db: str) -> dict[str, list[str]]:
    table = f"/v1/databases/{db}/tables/items"
    return {
        "list": [f"{table}?{urlencode({'limit': 50})}"],
        "get": [f"{table}/{i}" for i in GET_IDS],
        "filter": [f"{table}?" + urlencode({"filters[score][$gt]": 500, "sort": "score:desc",
                                            "limit": 50})],
        "count": [f"{table}?{urlencode({'limit': 50, 'count': 'exact'})}"],
    }


def datasette_paths() -> dict[str, list[str]]:
    return {
        "list": ["/bench/items.json?_size=50&_shape=array"],
        "get": [f"/bench/items/{i}.json?_shape=array" for i in GET_IDS],
        "filter": ["/bench/items.json?score__gt=500&_sort_desc=score&_size=50&_shape=array"],
        # the default JSON (rows + filtered_table_rows_count) without suggested facets; with
        # -i and an inspect file Datasette takes the unfiltered count from the inspect data
        "count": ["/bench/items.json?_size=50&_shape=objects&_nosuggest=1"],
    }


def floor_paths() -> dict[str, list[str]]:
    return {"list": ["/list"], "get": [f"/items/{i}" for i in GET_IDS],
            "filter": ["/filter"], "count": ["/count"]}


_BUILD_LABEL = re.compile(r"[A-Za-z0-9_.-]+")


def dbplane_builds(values: list[str] | None) -> list[tuple[str, str | None]]:
    """The dbplanes to start, from ``--dbplane-cmd [LABEL=]COMMAND`` (repeatable), as
    (label, command): label "" for a plain COMMAND, command None for the default."""
    if not values:
        return [("", None)]
    builds: list[tuple[str, str | None]] = []
    for value in values:
        label, sep, command = value.partition("=")
        if not sep or not _BUILD_LABEL.fullmatch(label):
            label, command = "", value  # a plain COMMAND (which may hold a '=')
        if not command.strip():
            raise ValueError(f"--dbplane-cmd {value!r}: no command")
        builds.append((label, command))
    labels = [label for label, _ in builds]
    if len(builds) > 1 and "" in labels:
        raise ValueError("--dbplane-cmd given more than once: label each, LABEL=COMMAND")
    if len(set(labels)) < len(labels):
        raise ValueError(f"--dbplane-cmd: a label given twice ({', '.join(labels)})")
    return builds


def start_dbplane(tmp: Path, logs: Path, engines: list[str], pg_url: str | None,
                  command: str | None, label: str = "") -> list[Target]:
    """One dbplane (``dbplane[LABEL]`` for a labelled build) on its own port, data
    directory and admin token, with the bench databases registered and a user session:
    its two targets (admin, session) per engine."""
    name = f"dbplane[{label}]" if label else "dbplane"
    if command:
        cmd = shlex.split(command)
    else:
        exe = ROOT / ".venv" / "bin" / "dbplane"
        found = str(exe) if exe.exists() else shutil.which("dbplane")
        if not found:
            raise SetupError("no dbplane executable: run `make bench` (it installs the venv)")
        cmd = [found, "serve"]
    token = "dbp_bench_" + secrets.token_hex(16)
    port = free_port()
    data_dir = tmp / (f"dbplane-data-{label}" if label else "dbplane-data")
    env = {**os.environ, "DBPLANE_DATA_DIR": str(data_dir),
           "DBPLANE_ADMIN_TOKEN": token, "DBPLANE_LOG_LEVEL": "WARNING",
           "DBPLANE_HOST": "127.0.0.1", "DBPLANE_PORT": str(port)}
    env.pop("DBPLANE_CONFIG", None)
    server = start_server(f"dbplane-{label}" if label else "dbplane", cmd, port,
                          "/v1/health", logs, env=env, cwd=tmp)
    admin = {"Authorization": f"Bearer {token}"}
    dbs = {"sqlite": "bench", "postgresql": "benchpg"}
    with httpx.Client(base_url=server.base, headers=admin, timeout=30) as client:
        def call(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
            r = client.request(method, path, json=body)
            if r.status_code >= 400:
                raise SetupError(f"{name}: {method} {path} answered {r.status_code}: "
                                 f"{r.text[:500]}")
            return r.json() if r.content else {}

        call("POST", "/v1/databases", {"resource_id": "bench",
                                       "url": f"sqlite:///{tmp / 'bench.db'}"})
        if "postgresql" in engines and pg_url:
            call("POST", "/v1/databases", {"resource_id": "benchpg", "url": pg_url})
        # a user whose role may only read items, logged in: the session-token runs
        grants = [{"database": dbs[e], "table": "items", "actions": ["read"]} for e in engines]
        call("POST", "/v1/roles", {"name": "bench-reader", "grants": grants})
        password = secrets.token_urlsafe(16)
        call("POST", "/v1/users", {"name": "Bench Reader", "email": "reader@bench.example.com",
                                   "password": password, "role": "bench-reader"})
        session = call("POST", "/v1/auth/login", {"email": "reader@bench.example.com",
                                                  "password": password})["token"]
        for engine in engines:
            probe = f"/v1/databases/{dbs[engine]}/tables/items?limit=1"
            r = client.get(probe)
            if r.status_code == 404:
                raise SetupError(
                    f"Tables API not available: {name} answered 404 to GET {probe}\n"
                    f"  {r.text[:300]}\n"
                    "  (run the peers alone with --servers datasette,floor)")
            if r.status_code != 200:
                raise SetupError(f"{name}: GET {probe} answered {r.status_code}: "
                                 f"{r.text[:300]}")
    user = {"Authorization": f"Bearer {session}"}
    targets = []
    for engine in engines:
        paths = dbplane_paths(dbs[engine])
        for caller, headers in (("admin", admin), ("session", user)):
            targets.append(Target(f"{name} {caller}", engine, "dbplane", server, paths,
                                  headers, build=label, caller=caller))
    return targets


def peer_venv(stack: str) -> Path:
    """bench/.venv-peers with Datasette from PyPI (created once; gitignored)."""
    venv = HERE / (".venv-peers" if stack == "plain" else ".venv-peers-standard")
    packages = [DATASETTE_SPEC] + (["uvicorn[standard]"] if stack == "standard" else [])
    marker = venv / ".bench-installed"
    if marker.exists() and marker.read_text() == " ".join(packages):
        return venv
    print(f"  installing {' '.join(packages)} into {venv.relative_to(ROOT)} ...", flush=True)
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", *packages],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SetupError(f"pip install {' '.join(packages)} failed:\n{r.stderr[-2000:]}")
    marker.write_text(" ".join(packages))
    return venv


def datasette_version(venv: Path) -> str:
    r = subprocess.run([str(venv / "bin" / "datasette"), "--version"], capture_output=True,
                       text=True, check=True)
    return r.stdout.strip().rsplit(" ", 1)[-1]


def start_datasette(tmp: Path, logs: Path, stack: str) -> Target:
    venv = peer_venv(stack)
    exe = str(venv / "bin" / "datasette")
    db, inspect = tmp / "bench.db", tmp / "inspect.json"
    subprocess.run([exe, "inspect", str(db), "--inspect-file", str(inspect)], check=True,
                   capture_output=True)
    port = free_port()
    server = start_server("datasette", [exe, "serve", "-i", str(db), "--inspect-file",
                                        str(inspect), "-h", "127.0.0.1", "-p", str(port)],
                          port, "/-/versions.json", logs, cwd=tmp)
    return Target("datasette", "sqlite", "datasette", server, datasette_paths())


def start_floor(logs: Path, name: str, source: list[str], engine: str,
                endpoints: tuple[str, ...] = ENDPOINTS) -> Target:
    port = free_port()
    python = ROOT / ".venv" / "bin" / "python"
    cmd = [str(python if python.exists() else sys.executable), str(HERE / "floor.py"),
           "--port", str(port), *source]
    server = start_server(name.replace(" ", "-"), cmd, port, "/health", logs)
    kind = "floor" if endpoints == ENDPOINTS else "reference"
    return Target(name, engine, kind, server, floor_paths(), endpoints=endpoints)


# --------------------------------------------------------------------------- checking

def check_target(t: Target, rows: list[tuple[int, str, str, int, bool, int]]) -> list[str]:
    """Ask each endpoint once (and warm it up); the same rows must come back everywhere.
    Returns warnings; raises SetupError when an answer is wrong."""
    warnings = []
    by_id = {r[0]: r for r in rows}
    top = sorted((r for r in rows if r[3] > 500), key=lambda r: (r[3], r[0]), reverse=True)[:50]
    top_scores = [r[3] for r in top]
    top_ids = [r[0] for r in top]  # ties by id, in the sort's direction: dbplane's order

    def fail(endpoint: str, why: str) -> SetupError:
        return SetupError(f"{t.name} ({t.engine}), {LABELS[endpoint]}: {why}")

    with httpx.Client(base_url=t.server.base, headers=t.headers, timeout=30) as client:
        for endpoint in t.endpoints:
            for path in t.paths[endpoint][:20]:
                r = client.get(path)
                if r.status_code != 200:
                    raise fail(endpoint, f"GET {path} answered {r.status_code}: {r.text[:300]}")
                body = r.json()
                if endpoint == "get":
                    item = body[0] if isinstance(body, list) and len(body) == 1 else body
                    want = int(path.split("/")[-1].split(".")[0])
                    if not isinstance(item, dict) or item.get("id") != want \
                            or item.get("title") != by_id[want][1]:
                        raise fail(endpoint, f"GET {path}: not row {want}: {str(body)[:200]}")
                    continue
                items = body["rows"] if isinstance(body, dict) and "rows" in body else body
                if not isinstance(items, list) or len(items) != 50:
                    raise fail(endpoint, f"not a list of 50 rows: {str(body)[:200]}")
                if endpoint == "filter":
                    if [it["score"] for it in items] != top_scores:
                        raise fail(endpoint, "not the 50 highest scores above 500")
                    if [it["id"] for it in items] != top_ids:
                        if t.kind in ("dbplane", "floor"):
                            raise fail(endpoint, "ties not ordered by id descending")
                        warnings.append(f"{t.name} ({t.engine}), {LABELS[endpoint]}: ties "
                                        "in another order than dbplane's (id descending)")
                elif [it["id"] for it in items] != list(range(1, 51)):
                    warnings.append(f"{t.name} ({t.engine}), {LABELS[endpoint]}: the rows "
                                    "are not ids 1-50 in order")
                if endpoint == "count":
                    if isinstance(body, dict):
                        total = body.get("filtered_table_rows_count")
                    else:
                        total = r.headers.get("content-range", "").rpartition("/")[2]
                    if str(total) != str(ROWS):
                        raise fail(endpoint, f"total {total!r}, not {ROWS}")
            for _ in range(50):  # warm caches (statements, schema, sessions, pages)
                for path in t.paths[endpoint][:10]:
                    client.get(path)
    return warnings


# --------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default="dbplane,datasette,floor",
                        help="comma-separated: dbplane, datasette, floor (default all)")
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--sqlite-modes", default=",".join(FLOOR_MODES),
                        help="the floor's ways to call SQLite: thread, aiosqlite, direct "
                        "(default all three)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="unrecorded seconds of load per server and endpoint first "
                        "(default 1; 0: none)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s, one round")
    parser.add_argument("--retries", type=int, default=0,
                        help="run again, up to this many times, a run during which other "
                        f"processes used more than {NOISY_PCT:g}%% of the CPU, and keep the "
                        "quietest (default 0)")
    parser.add_argument("--pg-dsn", default=os.environ.get(
        "DBPLANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL URL allowed to create databases (env DBPLANE_BENCH_PG)")
    parser.add_argument("--datasette-stack", choices=("plain", "standard"), default="plain",
                        help="plain: `pip install datasette` as its docs say; standard: "
                        "plus uvicorn[standard] (uvloop, httptools), the stack dbplane runs")
    parser.add_argument("--dbplane-cmd", metavar="[LABEL=]COMMAND", action="append",
                        help="how to start dbplane (default: .venv/bin/dbplane serve); it "
                        "must exec the server, whose pid is the one measured. Repeat it as "
                        "LABEL=COMMAND to measure several builds side by side in one run, "
                        "each as dbplane[LABEL] (the ratios compare the second to the first)")
    parser.add_argument("--loadgen", choices=("wrk", "python"), default="wrk",
                        help="python: a small asyncio load generator (32 keep-alive "
                        "connections), used when wrk is missing")
    parser.add_argument("--pg-writes", type=float, default=0.0, metavar="N",
                        help="commit N one-row transactions a second to a side table of "
                        "the PostgreSQL database during the load (default 0: none), to "
                        "see counted lists when the data keeps changing")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print wrk's output")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds, args.retries = 2.0, 1, 0
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    modes = [m.strip() for m in args.sqlite_modes.split(",") if m.strip()]
    bad = (set(servers) - {"dbplane", "datasette", "floor"}) | \
        (set(engines) - {"sqlite", "postgresql"}) | (set(modes) - set(FLOOR_MODES))
    if bad:
        parser.error(f"unknown: {', '.join(sorted(bad))}")
    try:
        builds = dbplane_builds(args.dbplane_cmd)
    except ValueError as exc:
        parser.error(str(exc))

    loadgen = args.loadgen
    if loadgen == "wrk" and not shutil.which("wrk"):
        print(f"wrk is not installed ({WRK_INSTALL}); falling back to the Python load "
              "generator (asyncio, 32 connections): its numbers are NOT comparable with wrk's")
        loadgen = "python"

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dbp-bench-")))
        logs = tmp / "logs"
        logs.mkdir()
        t0 = time.perf_counter()
        rows = make_rows()
        build_sqlite(tmp / "bench.db", rows)
        print(f"built {ROWS:,} rows in {tmp / 'bench.db'} ({time.perf_counter() - t0:.1f} s)")
        pg_url = None
        if "postgresql" in engines:
            try:
                dbname = build_pg(args.pg_dsn, rows)
            except Exception as exc:  # any connection problem: skip PostgreSQL
                print(f"PostgreSQL at {args.pg_dsn} not usable ({exc}); skipping it")
                engines.remove("postgresql")
            else:
                stack.callback(drop_pg, args.pg_dsn, dbname)
                pg_url = _pg_url(args.pg_dsn, dbname)
                print(f"built the same table in PostgreSQL database {dbname}")

        stack.callback(stop_all)
        targets: list[Target] = []
        try:
            if "dbplane" in servers:
                started = [start_dbplane(tmp, logs, engines, pg_url, command, label)
                           for label, command in builds]
                # the builds' targets side by side (a admin, b admin, a session, ...): the
                # runs that are compared follow each other in every round
                targets += [t for same in zip(*started, strict=True) for t in same]
            if "datasette" in servers and "sqlite" in engines:
                targets.append(start_datasette(tmp, logs, args.datasette_stack))
                print(f"datasette {datasette_version(peer_venv(args.datasette_stack))} "
                      f"({args.datasette_stack} install)")
            if "floor" in servers:
                if "sqlite" in engines:
                    for mode in modes:
                        targets.append(start_floor(logs, f"floor {mode}", [
                            "--sqlite", str(tmp / "bench.db"), "--sqlite-mode", mode],
                            "sqlite"))
                if pg_url:
                    targets.append(start_floor(logs, "floor asyncpg", ["--pg-dsn", pg_url],
                                               "postgresql"))
                    # what the stable order of filter+sort (ties by id) costs PostgreSQL,
                    # which reads an index on score in order but must sort each tie
                    targets.append(start_floor(
                        logs, "floor asyncpg no-tiebreak",
                        ["--pg-dsn", pg_url, "--no-tiebreak"], "postgresql", ("filter",)))
            if not targets:
                raise SetupError("nothing to run: check --servers and --engines")
            for t in targets:
                for warning in check_target(t, rows):
                    print("warning:", warning)
        except SetupError as exc:
            print(f"\nerror: {exc}", file=sys.stderr)
            return 1

        total = sum(len(t.endpoints) for t in targets) * args.rounds * args.duration
        print(f"{len(targets)} servers x up to {len(ENDPOINTS)} endpoints x {args.rounds} rounds x "
              f"{args.duration:g} s = about {total / 60:.1f} min of load "
              f"({'wrk -t2 -c32 --latency' if loadgen == 'wrk' else 'PYTHON load generator'})",
              flush=True)
        script_dir = tmp / "lua"
        script_dir.mkdir()
        if args.pg_writes > 0 and pg_url:
            print(f"  a writer commits {args.pg_writes:g} transactions a second to "
                  "PostgreSQL during the load", flush=True)
            stack.enter_context(pg_writer(pg_url, args.pg_writes))
        try:
            results = run_load(targets, args, loadgen, script_dir)
        except SetupError as exc:
            print(f"\nerror: {exc}", file=sys.stderr)
            return 1
        if loadgen == "python":
            print("\nNOTE: measured with the Python load generator, not wrk")
        ratios, between_builds = report(targets, results)
        print(f"(req/s and p50: mean of {args.rounds} rounds; p99: worst round; peak MB: "
              "highest VmRSS of the server process during its runs; KB/resp: wrk counts "
              "headers too; others: CPU used by processes outside the run, worst round, as a "
              f"share of the machine)")
        noisy = [r for runs in results.values() for r in runs if r.others_pct >= NOISY_PCT]
        if noisy:
            print(f"warning: during {len(noisy)} runs other processes used "
                  f">= {NOISY_PCT:g}% of the CPU (column 'others'): compare figures from "
                  "one run only, and rerun on a quiet machine for the record")
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({
                "loadgen": loadgen, "duration": args.duration, "rounds": args.rounds,
                "runs": [{"engine": e, "server": s, "endpoint": ep,
                          "runs": [r.__dict__ for r in runs]}
                         for (s, e, ep), runs in results.items()],
                "ratios": ratios, "between_builds": between_builds}, indent=2))
    return 0


if __name__ == "__main__":
    code = main()
    if code:  # a plain return keeps bench/run.py going (it runs this with runpy)
        sys.exit(code)
