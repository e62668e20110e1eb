"""InfluxDB through dbplane against the same work by hand, in one run.

Starts a private ``influxd`` (authentication on, an admin user) and ``dbplane serve`` on
fresh directories, registers one database, then:

- times each action (``POST /v1/databases/bench/action``) one after the other over one
  keep-alive connection against the same InfluxQL sent by hand over HTTP (httpx);
- writes ``--points`` points (1 million by default, 10 measurements), then times a backup
  through dbplane (the request to the end of its operation, followed with long polls)
  against ``influxd backup -portable`` by hand, and a restore through dbplane against by
  hand: ``DROP DATABASE`` + ``influxd restore -portable`` (dbplane checks the archive
  against its recorded checksum first, then restores once; ``restore=two-pass`` in the
  URL restores twice, through a temporary database — see docs/influxdb.md), and checks
  the points came back. dbplane goes first in even rounds, by hand in odd ones; each
  operation's own duration and steps are printed as the server recorded them.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx

TOKEN = "dbp_" + uuid.uuid4().hex + uuid.uuid4().hex
USER, PASSWORD = "admin", "bench-" + uuid.uuid4().hex[:12]

CONFIG = """reporting-disabled = true
bind-address = "127.0.0.1:{backup_port}"
[meta]
  dir = "{base}/meta"
[data]
  dir = "{base}/data"
  wal-dir = "{base}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  auth-enabled = true
  log-enabled = false
[logging]
  level = "warn"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(fn: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if fn():
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.05)


def _times(fn: Callable[[], object], runs: int) -> list[float]:
    for _ in range(min(20, runs)):
        fn()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _p(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * q))]


def _line(what: str, ours: list[float], peer: list[float] | None) -> None:
    text = f"{what:<36} dbplane p50 {_p(ours, .5):7.2f} ms  p99 {_p(ours, .99):7.2f} ms"
    if peer is not None:
        ratio = statistics.median(ours) / statistics.median(peer)
        text += (f" | by hand p50 {_p(peer, .5):7.2f} ms  p99 {_p(peer, .99):7.2f} ms"
                 f" | x{ratio:.2f}")
    print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="backup and restore rounds (the best of each is compared)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dbp-bench-influx-"))
    (tmp / "influx").mkdir()
    iport, bport, port = _free_port(), _free_port(), _free_port()
    (tmp / "influx.conf").write_text(CONFIG.format(base=tmp / "influx", port=iport,
                                                   backup_port=bport))
    influxd = subprocess.Popen(["influxd", "run", "-config", str(tmp / "influx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ, "DBPLANE_DATA_DIR": str(tmp / "data"), "DBPLANE_PORT": str(port),
           "DBPLANE_ADMIN_TOKEN": TOKEN, "DBPLANE_LOG_LEVEL": "warning"}
    dbplane = shutil.which("dbplane") or str(Path(sys.executable).with_name("dbplane"))
    proc = subprocess.Popen([dbplane, "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    influx_base = f"http://127.0.0.1:{iport}"
    try:
        _wait(lambda: httpx.get(f"{influx_base}/ping").status_code == 204, "influxd")
        httpx.post(f"{influx_base}/query", data={
            "q": f"CREATE USER {USER} WITH PASSWORD '{PASSWORD}' WITH ALL PRIVILEGES"})
        _wait(lambda: httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200,
              "dbplane")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as client, \
                httpx.Client(base_url=influx_base, auth=(USER, PASSWORD),
                             timeout=600) as hand:

            def influxql(q: str, db: str | None = None) -> object:
                r = hand.post("/query", data={"q": q, **({"db": db} if db else {})})
                assert r.status_code == 200 and "error" not in r.text, r.text
                return r.json()

            influxql('CREATE DATABASE "bench"')
            created = client.post("/v1/databases", json={
                "resource_id": "bench",
                "url": f"influxdb://{USER}:{PASSWORD}@127.0.0.1:{iport}/bench"
                       f"?backup_port={bport}"})
            created.raise_for_status()

            def act(action: str, params: object = None) -> object:
                r = client.post("/v1/databases/bench/action",
                                json={"action_name": action, "params": params})
                assert r.status_code == 200, r.text
                return r.json()["result"]

            print(f"{args.runs} calls each, one after the other (the machine is shared)")
            _line("list-retention-policies", _times(
                lambda: act("list-retention-policies"), args.runs), _times(
                lambda: influxql('SHOW RETENTION POLICIES ON "bench"'), args.runs))
            _line("list-databases", _times(lambda: act("list-databases"), args.runs),
                  _times(lambda: influxql("SHOW DATABASES"), args.runs))
            counter = iter(range(10**9))
            pairs = max(5, args.runs // 10)

            def ours_rp() -> None:
                n = f"p{next(counter)}"
                act("add-retention-policy", {"name": n, "duration": "30d"})
                act("del-retention-policy", {"name": n})

            def hand_rp() -> None:
                n = f"q{next(counter)}"
                influxql(f'CREATE RETENTION POLICY "{n}" ON "bench" DURATION 30d '
                         "REPLICATION 1")
                influxql(f'DROP RETENTION POLICY "{n}" ON "bench"')

            _line("add- + del-retention-policy", _times(ours_rp, pairs),
                  _times(hand_rp, pairs))

            def ours_db() -> None:
                n = f"d{next(counter)}"
                act("create-database", {"database_name": n})
                act("reset-database", {"database_name": n})
                act("delete-database", {"database_name": n})

            def hand_db() -> None:
                n = f"e{next(counter)}"
                influxql(f'CREATE DATABASE "{n}"')
                influxql("DROP SERIES FROM /.*/", n)
                influxql(f'DROP DATABASE "{n}"')

            _line("create- + reset- + delete-database", _times(ours_db, pairs),
                  _times(hand_db, pairs))

            started = time.perf_counter()
            rng = random.Random(7)
            batch = 50_000
            for start in range(0, args.points, batch):
                # random values and jittered times: an archive of a realistic size
                lines = "\n".join(
                    f"m{i % 10},host=h{i % 100} v={rng.random()},n={rng.randrange(10**6)}i "
                    f"{1_700_000_000_000_000_000 + i * 10**9 + rng.randrange(10**9)}"
                    for i in range(start, min(args.points, start + batch)))
                r = hand.post("/write", params={"db": "bench"}, content=lines.encode())
                assert r.status_code == 204, r.text
            print(f"wrote {args.points} points in {time.perf_counter() - started:.1f} s",
                  flush=True)

            def count() -> int:
                body = influxql('SELECT count(v) FROM "autogen"./.*/', "bench")
                series = body["results"][0].get("series") or []  # type: ignore[index]
                return sum(int(s["values"][0][1]) for s in series)

            assert count() == args.points

            def operation(answer: httpx.Response) -> dict[str, object]:
                # a long poll (?wait=): answered the moment the operation ends
                assert answer.status_code == 202, answer.text
                while True:
                    op: dict[str, object] = client.get(answer.headers["location"],
                                                       params={"wait": 30}).json()
                    if op["status"] not in ("pending", "running"):
                        assert op["status"] == "done", op
                        return op

            # a first backup by hand, untimed: it flushes the cache into TSM files, which
            # would otherwise be paid by whichever backup comes first
            subprocess.run(["influxd", "backup", "-portable", "-host", f"127.0.0.1:{bport}",
                            "-database", "bench", str(tmp / "warm-up")], check=True,
                           capture_output=True)
            def steps(op: dict[str, object]) -> str:
                # the server's own time, from the operation's creation to its end, then
                # each step's
                took = (datetime.fromisoformat(str(op["finished_at"]))
                        - datetime.fromisoformat(str(op["created_at"]))).total_seconds()
                return f"{took:.3f} s: " + ", ".join(
                    f"{s['name']} {(s.get('duration_ms') or 0) / 1000:.3f} s"
                    for s in op["steps"])  # type: ignore[attr-defined]

            ours_b: list[float] = []
            hand_b: list[float] = []
            ours_r: list[float] = []
            hand_r: list[float] = []
            backup_id, size, ours_size, out = "", 0, 0, tmp / "by-hand"

            def our_backup(n: int) -> None:
                nonlocal backup_id, ours_size
                started = time.perf_counter()
                op = operation(client.post("/v1/databases/bench/backups"))
                ours_b.append(time.perf_counter() - started)
                backup_id = op["params"]["backup_id"]  # type: ignore[index]
                ours_size = int(op["result"]["size"])  # type: ignore[index]
                print(f"  round {n + 1} backup {steps(op)}", flush=True)

            def hand_backup(n: int) -> None:
                nonlocal size
                shutil.rmtree(out, ignore_errors=True)
                started = time.perf_counter()
                subprocess.run(["influxd", "backup", "-portable", "-host",
                                f"127.0.0.1:{bport}", "-database", "bench", str(out)],
                               check=True, capture_output=True)
                hand_b.append(time.perf_counter() - started)
                size = sum(p.stat().st_size for p in out.iterdir())

            def our_restore(n: int) -> None:
                influxql("DROP SERIES FROM /m[0-4]/", "bench")
                started = time.perf_counter()
                op = operation(client.post(
                    f"/v1/databases/bench/backups/{backup_id}/restore"))
                ours_r.append(time.perf_counter() - started)
                print(f"  round {n + 1} restore {steps(op)}", flush=True)
                assert count() == args.points, (count(), args.points)

            def hand_restore(n: int) -> None:
                started = time.perf_counter()
                influxql('DROP DATABASE "bench"')
                done = subprocess.run(["influxd", "restore", "-portable", "-host",
                                       f"127.0.0.1:{bport}", "-db", "bench", "-newdb",
                                       "bench", str(out)], check=True, capture_output=True,
                                      text=True)
                hand_r.append(time.perf_counter() - started)
                assert count() == args.points, (count(), done.stderr[-500:])

            for n in range(args.rounds):
                # dbplane first in even rounds, by hand first in odd ones
                first, second = ((our_backup, hand_backup), (hand_backup, our_backup))[n % 2]
                first(n)
                second(n)
                first, second = ((our_restore, hand_restore),
                                 (hand_restore, our_restore))[n % 2]
                first(n)
                second(n)
            print(f"backup of {args.points} points, best of {args.rounds}: dbplane "
                  f"{min(ours_b):.2f} s ({ours_size / 2**20:.1f} MiB) | influxd backup "
                  f"-portable by hand {min(hand_b):.2f} s ({size / 2**20:.1f} MiB) | "
                  f"x{min(ours_b) / min(hand_b):.2f} (medians {statistics.median(ours_b):.2f}"
                  f" s and {statistics.median(hand_b):.2f} s)", flush=True)
            print(f"restore of {args.points} points, best of {args.rounds}: dbplane "
                  f"{min(ours_r):.2f} s | DROP DATABASE + influxd restore by hand "
                  f"{min(hand_r):.2f} s | x{min(ours_r) / min(hand_r):.2f} (medians "
                  f"{statistics.median(ours_r):.2f} s and {statistics.median(hand_r):.2f} s)",
                  flush=True)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        influxd.terminate()
        influxd.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
