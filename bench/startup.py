"""Start-up time and idle memory of ``dbplane serve``.

Starts the real command on a fresh data directory (first start: migrations, key file,
default database, token) and again on the same directory (a restart), and measures the
time from exec to the first 200 of /v1/health, and the resident memory once idle.
Targets: under 2 s to healthy, under 120 MB idle.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def run_once(data_dir: Path) -> tuple[float, float]:
    port = _free_port()
    env = {**os.environ, "DBPLANE_DATA_DIR": str(data_dir), "DBPLANE_PORT": str(port)}
    dbplane = shutil.which("dbplane") or str(Path(sys.executable).with_name("dbplane"))
    started = time.perf_counter()
    proc = subprocess.Popen([dbplane, "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("dbplane exited before it was healthy")
            time.sleep(0.01)
        ready = time.perf_counter() - started
        time.sleep(2.0)  # idle
        rss = _rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
    return ready, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    first, restart, rss = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data"
            t, m = run_once(data)
            first.append(t)
            rss.append(m)
            t, m = run_once(data)
            restart.append(t)
            rss.append(m)
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    print(f"start-up to healthy, first start : median {med(first):.2f} s, "
          f"max {max(first):.2f} s over {args.runs} runs (target < 2 s)")
    print(f"start-up to healthy, restart     : median {med(restart):.2f} s, "
          f"max {max(restart):.2f} s")
    print(f"idle resident memory             : median {med(rss):.1f} MB, "
          f"max {max(rss):.1f} MB (target < 120 MB)")


if __name__ == "__main__":
    main()
