"""The machinery of bench/tables.py: the processes under test, what is measured around a
run (the server's peak memory, the CPU used by other processes), the load generators (wrk
and a small asyncio one), the interleaved rounds and the report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

ENDPOINTS = ("list", "get", "filter", "count")
LABELS = {"list": "list 50", "get": "get by id", "filter": "filter+sort",
          "count": "list 50 + count"}
TARGET_VS_DATASETTE = 3.0
TARGET_VS_FLOOR = 0.70
TARGET_P99_MS = 25.0
NOISY_PCT = 10.0  # CPU share of other processes from which a run is marked "busy machine"


class SetupError(RuntimeError):
    """A server could not be set up: the run stops and says why."""


# --------------------------------------------------------------------------- processes

def free_port() -> int:
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
    try:
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        raise SetupError(f"{name}: cannot run {shlex.join(cmd)}: {exc}") from exc
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
            raise SetupError(f"{name} exited with {proc.returncode} before it answered "
                             f"({shlex.join(cmd)}):\n{server.log_tail()}")
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
    build: str = ""              # dbplane: the label of --dbplane-cmd LABEL=COMMAND, if any
    caller: str = ""             # dbplane: admin | session


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


def compare_builds(targets: list[Target], sums: dict[tuple[str, str, str], Summary]
                   ) -> list[dict[str, Any]]:
    """req/s of the second dbplane build over the first's (``--dbplane-cmd LABEL=COMMAND``
    given twice or more), per engine, caller and endpoint."""
    dbplanes = [t for t in targets if t.kind == "dbplane"]
    builds = list(dict.fromkeys(t.build for t in dbplanes))
    if len(builds) < 2:
        return []
    ratios = []
    for first in [t for t in dbplanes if t.build == builds[0]]:
        second = next((t for t in dbplanes if t.build == builds[1]
                       and (t.engine, t.caller) == (first.engine, first.caller)), None)
        if second is None:
            continue
        for endpoint in ENDPOINTS:
            a = sums.get((first.name, first.engine, endpoint))
            b = sums.get((second.name, second.engine, endpoint))
            if a and b and a.rps:
                ratios.append({"engine": first.engine, "endpoint": endpoint,
                               "server": second.name, "base": first.name,
                               "ratio": b.rps / a.rps})
    return ratios


def report(targets: list[Target], results: dict[tuple[str, str, str], list[Run]],
           out: TextIO = sys.stdout) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Print the table and the ratios; return the ratios against the peers (with their
    targets) and those between the first two dbplane builds."""
    sums = {k: summarize(v) for k, v in results.items() if v}
    w = out.write
    width = max([27] + [len(t.name) + 2 for t in targets])
    named = max([17] + [len(t.name) + 1 for t in targets if t.kind == "dbplane"])
    w(f"\n{'engine':<11}{'server':<{width}}{'endpoint':<17}{'req/s':>9}{'p50 ms':>9}"
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
                w(f"{engine:<11}{t.name:<{width}}{LABELS[endpoint]:<17}{s.rps:>9.0f}"
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
            w(f"{r['engine']:<11}{LABELS[r['endpoint']]:<17}{r['server']:<{named}}/ "
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
    builds = compare_builds(targets, sums)
    if builds:
        w(f"\nratios of req/s between builds ({builds[0]['server'].split()[0]} / "
          f"{builds[0]['base'].split()[0]}; above 1: the second is faster)\n")
        for r in builds:
            w(f"{r['engine']:<11}{LABELS[r['endpoint']]:<17}{r['server']:<{named}}/ "
              f"{r['base']:<{named}}{r['ratio']:>7.2f}x\n")
    return ratios, builds


# --------------------------------------------------------------------------- rounds

def round_order(targets: list[Target], rnd: int) -> list[Target]:
    """The targets in the order of round ``rnd``: in odd rounds the dbplane builds that are
    compared (same engine and caller) swap places, so that none always runs first."""
    if rnd % 2 == 0:
        return targets
    groups: dict[tuple[str, str], list[int]] = {}
    for i, t in enumerate(targets):
        if t.kind == "dbplane":
            groups.setdefault((t.engine, t.caller), []).append(i)
    order = list(targets)
    for places in groups.values():
        for i, j in zip(places, reversed(places), strict=True):
            order[i] = targets[j]
    return order


def run_load(targets: list[Target], args: argparse.Namespace, loadgen: str,
             script_dir: Path) -> dict[tuple[str, str, str], list[Run]]:
    """Every endpoint of every target, interleaved: A B C for one endpoint, then the next
    endpoint, then the next round."""
    results: dict[tuple[str, str, str], list[Run]] = {}
    width = max([16] + [len(t.name) for t in targets])
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
            for t in [t for t in round_order(targets, rnd) if endpoint in t.endpoints]:
                kept: Run | None = None
                for attempt in range(args.retries + 1):
                    if loadgen == "wrk":
                        run = run_wrk(t, endpoint, args.duration, script_dir,
                                      args.verbose)
                    else:
                        run = run_python(t, endpoint, args.duration)
                    print(f"  round {rnd + 1} {t.engine:<10} {t.name:<{width}} "
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

