"""The Tables API under load: dbplane against Datasette and a bare Starlette floor.

The same 100,000-row table (``items``: id, title, body, score, active, created_on, with an
index on score) is built in a SQLite file and in a fresh PostgreSQL database, and served on
loopback by real processes:

- dbplane (``dbplane serve``; the file registered as ``bench``, the PostgreSQL database as
  ``benchpg``), called with the admin token and with a user session whose role may read
  ``items``;
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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATASETTE_SPEC = "datasette==0.65.*"

ROWS = 100_000
SEED = 20261125
ENDPOINTS = ("list", "get", "filter", "count")
LABELS = {"list": "list 50", "get": "get by id", "filter": "filter+sort",
          "count": "list 50 + count"}
TARGET_VS_DATASETTE = 3.0
TARGET_VS_FLOOR = 0.70
TARGET_P99_MS = 25.0
NOISY_PCT = 10.0  # CPU share of other processes from which a run is marked "busy machine"
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


class SetupError(RuntimeError):
    """A server could not be set up: the run stops and says why."""


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


# --------------------------------------------------------------------------- processes

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One process under test."""

    name: str
    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


RUNNING: list[Server] = []
"""Every server started, stopped by main() on the way out whatever happens."""


def start_server(name: str, cmd: list[str], port: int, health: str, logs: Path,
                 env: dict[str, str] | None = None, cwd: Path | None = None,
                 timeout: float = 60.0) -> Server:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = Server(name, proc, f"http://127.0.0.1:{port}", log)
    RUNNING.append(server)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(server.base + health, timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise SetupError(f"{name} exited with {proc.returncode} before it answered:\n"
                             f"{server.log_tail()}")
        if time.monotonic() > deadline:
            raise SetupError(f"{name} did not answer {health} within {timeout:.0f} s:\n"
                             f"{server.log_tail()}")
        time.sleep(0.05)


def stop_server(server: Server) -> None:
    if server.proc.poll() is not None:
        return
    server.proc.send_signal(signal.SIGINT)
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


def stop_all() -> None:
    for server in reversed(RUNNING):
        stop_server(server)


def _status_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


@contextlib.contextmanager
def rss_peak(pid: int, every: float = 0.05) -> Iterator[list[float]]:
    """Poll VmRSS of ``pid`` while the block runs; the list holds the peak in MB after it."""
    peak = [0.0]
    stop = threading.Event()

    def poll() -> None:
        while True:
            kb = _status_kb(pid, "VmRSS")
            if kb is not None:
                peak[0] = max(peak[0], kb / 1024)
            if stop.wait(every):
                return

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


_HZ = os.sysconf("SC_CLK_TCK")


def _busy_ticks() -> int:
    """Non-idle CPU time of the whole machine (all CPUs), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]) - fields[3] - fields[4]  # minus idle and iowait


def _proc_ticks(pid: int | str, children: bool = False) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:  # reaped children: wrk once it has exited
        ticks += int(fields[13]) + int(fields[14])
    return ticks


def _postgres_ticks() -> dict[str, int]:
    ticks = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == "postgres":
                    # the postmaster's reaped children: backends that ended
                    ticks[d.name] = _proc_ticks(d.name, children=True)
            except OSError:
                continue
    return ticks


@contextlib.contextmanager
def others_cpu(server_pid: int, with_postgres: bool) -> Iterator[list[float]]:
    """CPU used during the block by processes that are not part of the run (this script
    and the load generator, the server, PostgreSQL for a PostgreSQL run), as a percentage
    of the machine: another job on the machine makes the numbers noisy."""
    def ours() -> tuple[int, dict[str, int]]:
        return (_proc_ticks("self", children=True) + _proc_ticks(server_pid),
                _postgres_ticks() if with_postgres else {})

    result = [0.0]
    busy0, (ours0, pg0), t0 = _busy_ticks(), ours(), time.monotonic()
    try:
        yield result
    finally:
        capacity = (time.monotonic() - t0) * _HZ * (os.cpu_count() or 1)
        ours1, pg1 = ours()
        # a backend that ended in between is in its postmaster's children time, from its start
        mine = (ours1 - ours0 + sum(v - pg0.get(k, 0) for k, v in pg1.items())
                - sum(v for k, v in pg0.items() if k not in pg1))
        others = (_busy_ticks() - busy0) - mine
        result[0] = max(0.0, 100.0 * others / capacity) if capacity else 0.0


# --------------------------------------------------------------------------- targets

@dataclass
class Target:
    """A server and the way to call it: one column of the results."""

    name: str                    # "dbplane admin", "datasette", "floor direct"
    engine: str                  # sqlite | postgresql
    kind: str                    # dbplane | datasette | floor
    server: Server
    paths: dict[str, list[str]]  # endpoint -> paths (several for get by id)
    headers: dict[str, str] = field(default_factory=dict)
    endpoints: tuple[str, ...] = ENDPOINTS
    """The endpoints it runs (a reference floor runs only the one it is a reference for)."""


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


def start_dbplane(tmp: Path, logs: Path, engines: list[str], pg_url: str | None,
                  command: str | None) -> list[Target]:
    if command:
        cmd = shlex.split(command)
    else:
        exe = ROOT / ".venv" / "bin" / "dbplane"
        found = str(exe) if exe.exists() else shutil.which("dbplane")
        if not found:
            raise SetupError("no dbplane executable: run `make bench` (it installs the venv)")
        cmd = [found, "serve"]
    token = "dbp_bench_" + secrets.token_hex(16)
    port = _free_port()
    env = {**os.environ, "DBPLANE_DATA_DIR": str(tmp / "dbplane-data"),
           "DBPLANE_ADMIN_TOKEN": token, "DBPLANE_LOG_LEVEL": "WARNING",
           "DBPLANE_HOST": "127.0.0.1", "DBPLANE_PORT": str(port)}
    env.pop("DBPLANE_CONFIG", None)
    server = start_server("dbplane", cmd, port, "/v1/health", logs, env=env,
                          cwd=tmp)
    admin = {"Authorization": f"Bearer {token}"}
    dbs = {"sqlite": "bench", "postgresql": "benchpg"}
    with httpx.Client(base_url=server.base, headers=admin, timeout=30) as client:
        def call(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
            r = client.request(method, path, json=body)
            if r.status_code >= 400:
                raise SetupError(f"dbplane: {method} {path} answered {r.status_code}: "
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
                    f"Tables API not available: dbplane answered 404 to GET {probe}\n"
                    f"  {r.text[:300]}\n"
                    "  (run the peers alone with --servers datasette,floor)")
            if r.status_code != 200:
                raise SetupError(f"dbplane: GET {probe} answered {r.status_code}: "
                                 f"{r.text[:300]}")
    user = {"Authorization": f"Bearer {session}"}
    targets = []
    for engine in engines:
        paths = dbplane_paths(dbs[engine])
        targets.append(Target("dbplane admin", engine, "dbplane", server, paths, admin))
        targets.append(Target("dbplane session", engine, "dbplane", server, paths, user))
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
    port = _free_port()
    server = start_server("datasette", [exe, "serve", "-i", str(db), "--inspect-file",
                                        str(inspect), "-h", "127.0.0.1", "-p", str(port)],
                          port, "/-/versions.json", logs, cwd=tmp)
    return Target("datasette", "sqlite", "datasette", server, datasette_paths())


def start_floor(logs: Path, name: str, source: list[str], engine: str,
                endpoints: tuple[str, ...] = ENDPOINTS) -> Target:
    port = _free_port()
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


# --------------------------------------------------------------------------- load

@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    peak_mb: float
    bytes_per_req: float
    errors: int
    tool: str
    others_pct: float = 0.0


_LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-JSON {\"requests\": %d, \"duration_us\": %d, \"bytes\": %d, \"connect\": %d, " ..
    "\"read\": %d, \"write\": %d, \"status\": %d, \"timeout\": %d, " ..
    "\"p50_us\": %.1f, \"p99_us\": %.1f}\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(paths: list[str], where: Path) -> Path:
    lua = _LUA_DONE
    if len(paths) > 1:
        quoted = ", ".join(json.dumps(p) for p in paths)
        lua = (f"local paths = {{{quoted}}}\nlocal n = #paths\nlocal i = 0\n"
               "request = function()\n  i = i + 1\n  if i > n then i = 1 end\n"
               "  return wrk.format(nil, paths[i])\nend\n") + lua
    where.write_text(lua)
    return where


def run_wrk(t: Target, endpoint: str, duration: float, script_dir: Path,
            verbose: bool) -> Run:
    paths = t.paths[endpoint]
    script = wrk_script(paths, script_dir / f"{endpoint}-{len(paths)}.lua")
    cmd = ["wrk", "-t2", "-c32", f"-d{duration:g}s", "--latency", "-s", str(script)]
    for k, v in t.headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(t.server.base + paths[0])
    with others_cpu(t.server.pid, t.engine == "postgresql") as others, \
            rss_peak(t.server.pid) as peak:
        done = subprocess.run(cmd, capture_output=True, text=True)
    out = done.stdout
    if verbose:
        print(out)
    line = next((x for x in out.splitlines() if x.startswith("WRK-JSON ")), None)
    if done.returncode != 0 or line is None:
        print(f"  wrk failed ({done.returncode}) against {t.name}: "
              f"{(done.stderr or out).strip()[-500:]}")
        if t.server.proc.poll() is not None:
            raise SetupError(f"{t.server.name} exited with {t.server.proc.returncode} "
                             f"during the load:\n{t.server.log_tail()}")
        return Run(rps=0.0, p50_ms=0.0, p99_ms=0.0, peak_mb=peak[0], bytes_per_req=0.0,
                   errors=1, tool="wrk", others_pct=others[0])
    s = json.loads(line.removeprefix("WRK-JSON "))
    n = max(s["requests"], 1)
    errors = s["connect"] + s["read"] + s["write"] + s["status"] + s["timeout"]
    return Run(rps=s["requests"] / (s["duration_us"] / 1e6), p50_ms=s["p50_us"] / 1000,
               p99_ms=s["p99_us"] / 1000, peak_mb=peak[0], bytes_per_req=s["bytes"] / n,
               errors=errors, tool="wrk", others_pct=others[0])


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Read one HTTP/1.1 response (Content-Length or chunked); its status and body size."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked = None, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        await reader.readexactly(length or 0)
        return status, length or 0
    size = 0
    while True:
        n = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(n + 2)
        size += n
        if n == 0:
            return status, size


async def _py_load(t: Target, endpoint: str, duration: float
                   ) -> tuple[int, float, list[float], int, int]:
    """32 keep-alive connections, each sending its next request when the answer is in
    (what wrk -c32 does), on raw asyncio streams: httpx alone tops out far below the
    servers measured here."""
    parts = urlsplit(t.server.base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    extra = "".join(f"{k}: {v}\r\n" for k, v in t.headers.items())
    requests = [f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode()
                for p in t.paths[endpoint]]
    latencies: list[float] = []
    errors = nbytes = 0
    started = time.perf_counter()
    stop_at = started + duration

    async def worker(k: int) -> None:
        nonlocal errors, nbytes
        reader, writer = await asyncio.open_connection(host, port)
        i = k
        try:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                writer.write(requests[i % len(requests)])
                i += 1
                status, size = await _read_response(reader)
                latencies.append(time.perf_counter() - t0)
                nbytes += size
                errors += status >= 400
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker(k) for k in range(32)))
    return len(latencies), time.perf_counter() - started, latencies, errors, nbytes


def run_python(t: Target, endpoint: str, duration: float) -> Run:
    try:
        import uvloop
        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with others_cpu(t.server.pid, t.engine == "postgresql") as others, \
            rss_peak(t.server.pid) as peak, asyncio.Runner(loop_factory=loop_factory) as runner:
        n, elapsed, lat, errors, nbytes = runner.run(_py_load(t, endpoint, duration))
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0] if lat else 0.0] * 99
    return Run(rps=n / elapsed, p50_ms=q[49] * 1000, p99_ms=q[98] * 1000, peak_mb=peak[0],
               bytes_per_req=nbytes / max(n, 1), errors=errors, tool="python",
               others_pct=others[0])


# --------------------------------------------------------------------------- report

@dataclass
class Summary:
    rps: float       # mean over rounds
    p50_ms: float    # mean over rounds
    p99_ms: float    # worst round
    peak_mb: float   # highest
    kb: float
    errors: int
    rounds: int
    others_pct: float  # worst round


def summarize(runs: list[Run]) -> Summary:
    return Summary(rps=statistics.fmean(r.rps for r in runs),
                   p50_ms=statistics.fmean(r.p50_ms for r in runs),
                   p99_ms=max(r.p99_ms for r in runs), peak_mb=max(r.peak_mb for r in runs),
                   kb=statistics.fmean(r.bytes_per_req for r in runs) / 1024,
                   errors=sum(r.errors for r in runs), rounds=len(runs),
                   others_pct=max(r.others_pct for r in runs))


def report(targets: list[Target], results: dict[tuple[str, str, str], list[Run]],
           out: TextIO = sys.stdout) -> list[dict[str, Any]]:
    sums = {k: summarize(v) for k, v in results.items() if v}
    w = out.write
    w(f"\n{'engine':<11}{'server':<27}{'endpoint':<17}{'req/s':>9}{'p50 ms':>9}"
      f"{'p99 ms':>9}{'peak MB':>9}{'KB/resp':>9}{'others':>8}\n")
    for engine in ("sqlite", "postgresql"):
        for endpoint in ENDPOINTS:
            for t in targets:
                s = sums.get((t.name, t.engine, endpoint))
                if t.engine != engine or s is None:
                    continue
                flag = ""
                if s.errors:
                    flag += f"  ERRORS: {s.errors} failed requests"
                if t.kind == "dbplane" and s.p99_ms >= TARGET_P99_MS:
                    flag += f"  MISS p99 >= {TARGET_P99_MS:g} ms"
                if s.others_pct >= NOISY_PCT:
                    flag += "  (busy machine)"
                w(f"{engine:<11}{t.name:<27}{LABELS[endpoint]:<17}{s.rps:>9.0f}"
                  f"{s.p50_ms:>9.2f}{s.p99_ms:>9.2f}{s.peak_mb:>9.1f}{s.kb:>9.1f}"
                  f"{s.others_pct:>7.0f}%{flag}\n")
        w("\n")
    ratios: list[dict[str, Any]] = []
    peers = [t for t in targets if t.kind in ("datasette", "floor")]
    for t in [t for t in targets if t.kind == "dbplane"]:
        for peer in peers:
            if peer.engine != t.engine:
                continue
            goal = TARGET_VS_DATASETTE if peer.kind == "datasette" else TARGET_VS_FLOOR
            for endpoint in ENDPOINTS:
                a = sums.get((t.name, t.engine, endpoint))
                b = sums.get((peer.name, peer.engine, endpoint))
                if a is None or b is None or not b.rps:
                    continue
                ratio = a.rps / b.rps
                ratios.append({"engine": t.engine, "endpoint": endpoint, "server": t.name,
                               "peer": peer.name, "ratio": ratio, "target": goal,
                               "met": ratio >= goal})
    if ratios:
        w("ratios of req/s (dbplane / peer)\n")
        for r in ratios:
            mark = "ok" if r["met"] else "MISS"
            w(f"{r['engine']:<11}{LABELS[r['endpoint']]:<17}{r['server']:<17}/ "
              f"{r['peer']:<17}{r['ratio']:>7.2f}x   target >= {r['target']:.2f}x  {mark}\n")
        missed = sum(not r["met"] for r in ratios)
        w(f"\n{missed} of {len(ratios)} ratio targets missed\n" if missed
          else f"\nall {len(ratios)} ratio targets met\n")
    elif any(t.kind == "datasette" for t in targets) and any(t.kind == "floor"
                                                             for t in targets):
        w("ratios of req/s (floor / datasette)\n")
        ds = next(t for t in targets if t.kind == "datasette")
        for t in [t for t in targets if t.kind == "floor" and t.engine == "sqlite"]:
            for endpoint in ENDPOINTS:
                a = sums.get((t.name, t.engine, endpoint))
                b = sums.get((ds.name, ds.engine, endpoint))
                if a and b and b.rps:
                    w(f"sqlite     {LABELS[endpoint]:<17}{t.name:<17}/ datasette"
                      f"{a.rps / b.rps:>15.2f}x\n")
    for ref in [t for t in targets if t.kind == "reference"]:
        floor = next((t for t in targets if t.kind == "floor" and t.engine == ref.engine
                      and ref.name.startswith(t.name)), None)
        if floor is None:
            continue
        for endpoint in ref.endpoints:
            a = sums.get((ref.name, ref.engine, endpoint))
            b = sums.get((floor.name, floor.engine, endpoint))
            if a and b and a.rps:
                w(f"{ref.engine:<11}{LABELS[endpoint]:<17}{floor.name:<17}/ {ref.name:<25}"
                  f"{b.rps / a.rps:>6.2f}x   (what the reference leaves out costs)\n")
    return ratios


# --------------------------------------------------------------------------- main

def run_load(targets: list[Target], args: argparse.Namespace, loadgen: str,
             script_dir: Path) -> dict[tuple[str, str, str], list[Run]]:
    """Every endpoint of every target, interleaved: A B C for one endpoint, then the next
    endpoint, then the next round."""
    results: dict[tuple[str, str, str], list[Run]] = {}
    if args.warmup > 0:
        # one unrecorded run of the same load per server and endpoint, so that every
        # server's pools (connections, prepared statements) are at their working size
        print(f"  warm-up: {args.warmup:g} s of the same load per server and endpoint",
              flush=True)
        for endpoint in ENDPOINTS:
            for t in [t for t in targets if endpoint in t.endpoints]:
                if loadgen == "wrk":
                    run_wrk(t, endpoint, args.warmup, script_dir, False)
                else:
                    run_python(t, endpoint, args.warmup)
    for rnd in range(args.rounds):
        for endpoint in ENDPOINTS:
            for t in [t for t in targets if endpoint in t.endpoints]:
                kept: Run | None = None
                for attempt in range(args.retries + 1):
                    if loadgen == "wrk":
                        run = run_wrk(t, endpoint, args.duration, script_dir,
                                      args.verbose)
                    else:
                        run = run_python(t, endpoint, args.duration)
                    print(f"  round {rnd + 1} {t.engine:<10} {t.name:<16} "
                          f"{LABELS[endpoint]:<16} {run.rps:>8.0f} req/s  p99 "
                          f"{run.p99_ms:6.2f} ms  others {run.others_pct:3.0f}%"
                          + (f"  {run.errors} ERRORS" if run.errors else "")
                          + ("  (retry)" if attempt else ""), flush=True)
                    if kept is None or run.others_pct < kept.others_pct:
                        kept = run
                    if kept.others_pct < NOISY_PCT:
                        break
                assert kept is not None
                results.setdefault((t.name, t.engine, endpoint), []).append(kept)
    return results


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
    parser.add_argument("--dbplane-cmd", metavar="COMMAND",
                        help="how to start dbplane (default: .venv/bin/dbplane serve); it "
                        "must exec the server, whose pid is the one measured")
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
                targets += start_dbplane(tmp, logs, engines, pg_url, args.dbplane_cmd)
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
        ratios = report(targets, results)
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
                "ratios": ratios}, indent=2))
    return 0


if __name__ == "__main__":
    code = main()
    if code:  # a plain return keeps bench/run.py going (it runs this with runpy)
        sys.exit(code)
