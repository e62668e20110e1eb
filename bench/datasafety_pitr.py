"""Point-in-time restore of a managed PostgreSQL through dbplane against the same steps
by hand with the server tools, in one run.

Starts ``dbplane serve`` on a fresh data directory, provisions a managed PostgreSQL,
turns ``wal-archiving`` on, loads ``--size-mb`` of rows, takes a backup (a base backup
with it), writes more (WAL to replay), then a mark row, the target time, a second mark.

- **by hand**: a transaction and ``pg_switch_wal()`` on the live server, wait until
  archived; ``tar -xzf`` the same base backup and its WAL into a scratch directory;
  ``restore_command``, ``recovery_target_time``, promote, ``recovery.signal``; start
  ``postgres`` on it, wait until promoted, check the marks, stop it (the fast shutdown
  dbplane does to the live server first).
- **dbplane**: ``POST /v1/databases/{db}/pitr/restore`` to the operation's end (minus the
  base backup it takes afterwards on the new timeline, reported apart), then the marks;
  ``dbplane_to_service_s`` also leaves out the removal of the previous data directory,
  which runs once the restored server serves.

Prints the figures and, last, one JSON line. Needs root (servers run as ``postgres``).

    PYTHONPATH=src python bench/datasafety_pitr.py [--size-mb 64]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

TOKEN = "dbp_bench-admin-token-0123456789abcdefghijkl"  # noqa: S105 (a throw-away server)
PG_BIN = Path(os.environ.get("DBPLANE_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "postgres"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(data_dir: Path, managed_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DBPLANE_")},
           "DBPLANE_DATA_DIR": str(data_dir), "DBPLANE_PORT": str(port),
           "DBPLANE_ADMIN_TOKEN": TOKEN, "DBPLANE_MANAGED_DIR": str(managed_dir),
           "DBPLANE_LOG_LEVEL": "WARNING"}
    dbplane = shutil.which("dbplane") or str(Path(sys.executable).with_name("dbplane"))
    proc = subprocess.Popen([dbplane, "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{base}/v1/health", timeout=0.5).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("dbplane exited before it was healthy")
        time.sleep(0.02)


def _wait_op(http: httpx.Client, op_id: str, timeout: float = 3600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op: dict[str, Any] = http.get(f"/v1/operations/{op_id}").json()
        if op["status"] in ("done", "error", "canceled"):
            return op
        time.sleep(0.02)
    raise TimeoutError(op_id)


def _psql(socket_dir: str, port: int, database: str, sql: str) -> str:
    done = subprocess.run(["runuser", "-u", USER, "--", str(PG_BIN / "psql"), "-h",
                           socket_dir, "-p", str(port), "-U", "postgres", "-d", database,
                           "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _as_user(argv: list[str]) -> None:
    subprocess.run(["runuser", "-u", USER, "--", *argv], check=True,
                   capture_output=True)


def by_hand(server_dir: Path, port: int, base: Path, target: str,
            scratch: Path) -> tuple[float, dict[str, float], str]:
    """The same restore with the tools: seconds, per step, the marks found."""
    steps: dict[str, float] = {}
    archive = server_dir / "wal-archive"
    started = time.perf_counter()
    t = time.perf_counter()
    segment = _psql(str(server_dir), port, "postgres", "SELECT pg_current_xact_id(); "
                    "SELECT pg_walfile_name(pg_switch_wal())").split()[-1]
    while _psql(str(server_dir), port, "postgres",
                "SELECT last_archived_wal FROM pg_stat_archiver")[:24] < segment:
        time.sleep(0.05)
    steps["switch and archive"] = time.perf_counter() - t
    t = time.perf_counter()
    data = scratch / "data"
    _as_user(["mkdir", "-m", "700", str(data)])
    _as_user(["tar", "-xzf", str(base / "base.tar.gz"), "-C", str(data)])
    _as_user(["tar", "-xzf", str(base / "pg_wal.tar.gz"), "-C", str(data / "pg_wal")])
    steps["extract"] = time.perf_counter() - t
    t = time.perf_counter()
    my_port = _free_port()
    when = datetime.fromisoformat(target.replace("Z", "+00:00")).strftime(
        "%Y-%m-%d %H:%M:%S.%f+00")
    conf = (f"port = {my_port}\nunix_socket_directories = '{scratch}'\n"
            "archive_mode = off\n"
            f"restore_command = 'cp {archive}/%f %p'\n"
            f"recovery_target_time = '{when}'\nrecovery_target_action = 'promote'\n"
            "recovery_target_timeline = 'current'\n")
    _as_user(["sh", "-c", f"cat >> {data}/postgresql.auto.conf <<'EOF'\n{conf}EOF\n"
              f"touch {data}/recovery.signal"])
    steps["configure"] = time.perf_counter() - t
    t = time.perf_counter()
    log = open(scratch / "server.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(["runuser", "-u", USER, "--", str(PG_BIN / "postgres"), "-D",
                             str(data)], stdout=log, stderr=log, start_new_session=True)
    while True:
        try:
            if _psql(str(scratch), my_port, "postgres",
                     "SELECT pg_is_in_recovery()") == "f":
                break
        except subprocess.CalledProcessError:
            pass
        if proc.poll() is not None:
            raise RuntimeError((scratch / "server.log").read_text()[-800:])
        time.sleep(0.05)
    steps["recover and promote"] = time.perf_counter() - t
    t = time.perf_counter()
    marks = _psql(str(scratch), my_port, "bench", "SELECT string_agg(id::text, ',' ORDER "
                  "BY id) FROM marks")
    steps["check"] = time.perf_counter() - t
    t = time.perf_counter()
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(60)
    log.close()
    steps["stop"] = time.perf_counter() - t
    return time.perf_counter() - started, steps, marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=64)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dbp-bench-pitr-"))
    root.chmod(0o755)
    managed_dir = root / "managed"
    managed_dir.mkdir(mode=0o755)
    proc, base_url = _serve(root / "data", managed_dir)
    figures: dict[str, Any] = {"size_mb": args.size_mb}
    try:
        http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=600)
        answer = http.post("/v1/databases", json={"database": {
            "resource_id": "bench", "type_name": "postgresql", "mode": "managed"}})
        assert _wait_op(http, answer.json()["id"])["status"] == "done"
        feature = http.post("/v1/databases/bench/features",
                            json={"feature": {"name": "wal-archiving"}}).json()
        deployment = http.get(f"/v1/databases/bench/deployments/"
                              f"{feature['deployment_id']}").json()
        assert _wait_op(http, deployment["operation_id"])["status"] == "done"
        db = http.get("/v1/databases/bench").json()["database"]
        server_dir, port = Path(db["managed"]["data_directory"]), db["managed"]["port"]
        rows = args.size_mb * 1000  # about 1 kB a row
        t = time.perf_counter()
        _psql(str(server_dir), port, "bench",
              "CREATE TABLE big (id int PRIMARY KEY, pad text); CREATE TABLE marks (id int);"
              f"INSERT INTO big SELECT g, repeat(md5(g::text), 30) FROM "
              f"generate_series(1, {rows}) g")
        figures["load_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        backup = http.post("/v1/databases/bench/backups").json()
        op = _wait_op(http, backup["id"])
        assert op["status"] == "done", op
        figures["backup_s"] = round(time.perf_counter() - t, 3)
        figures["backup_steps"] = {s["name"]: round((s.get("duration_ms") or 0) / 1000, 3)
                                   for s in op["steps"]}
        # WAL to replay: a tenth more rows after the base backup
        _psql(str(server_dir), port, "bench", f"INSERT INTO big SELECT g, repeat(md5(g::"
              f"text), 30) FROM generate_series({rows + 1}, {rows + rows // 10}) g")
        _psql(str(server_dir), port, "bench", "INSERT INTO marks VALUES (1)")
        time.sleep(0.5)
        target = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        time.sleep(0.5)
        _psql(str(server_dir), port, "bench", "INSERT INTO marks VALUES (2)")
        t = time.perf_counter()
        window = http.get("/v1/databases/bench/pitr").json()
        figures["window_s"] = round(time.perf_counter() - t, 3)
        figures["window"] = {k: window[k] for k in ("earliest", "latest", "timeline")}
        base = server_dir / "base-backups" / window["ranges"][-1]["base_backup"]
        figures["base_backup_bytes"] = window["base_backups"][-1]["size"]

        scratch = root / "by-hand"
        scratch.mkdir(mode=0o755)
        shutil.chown(scratch, USER, USER)
        hand_s, hand_steps, hand_marks = by_hand(server_dir, port, base, target, scratch)
        shutil.rmtree(scratch, ignore_errors=True)
        figures["by_hand_s"] = round(hand_s, 3)
        figures["by_hand_steps"] = {k: round(v, 3) for k, v in hand_steps.items()}
        figures["by_hand_marks"] = hand_marks

        t = time.perf_counter()
        answer = http.post("/v1/databases/bench/pitr/restore",
                           json={"restore_time": target})
        assert answer.status_code == 201, answer.text
        op = _wait_op(http, answer.json()["operation_id"])
        total = time.perf_counter() - t
        assert op["status"] == "done", op
        steps = {s["name"]: round((s.get("duration_ms") or 0) / 1000, 3)
                 for s in op["steps"]}
        after = float(steps.get("base backup on the new timeline") or 0)
        figures["dbplane_s"] = round(total - after, 3)
        figures["dbplane_steps"] = steps
        figures["new_base_backup_s"] = after
        figures["dbplane_marks"] = _psql(str(server_dir), port, "bench", "SELECT "
                                         "string_agg(id::text, ',' ORDER BY id) FROM marks")
        figures["ratio"] = round(figures["dbplane_s"] / figures["by_hand_s"], 3)
        # serving again once the data directory is switched: what follows (removing the
        # previous directory) happens while the database serves
        removal = float(steps.get("remove the previous data directory") or 0)
        figures["dbplane_to_service_s"] = round(total - after - removal, 3)
        figures["ratio_to_service"] = round(figures["dbplane_to_service_s"]
                                            / figures["by_hand_s"], 3)
        figures["restored_exactly_the_first_write"] = \
            figures["dbplane_marks"] == "1" and hand_marks == "1"
        for key, value in figures.items():
            print(f"{key:>34}: {value}")
        print(json.dumps(figures))
    finally:
        with contextlib.suppress(httpx.HTTPError):
            httpx.delete(f"{base_url}/v1/databases/bench?purge=true",
                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
