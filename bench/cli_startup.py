"""How fast the CLI answers, against its floor: a bare Typer program that imports httpx
and Rich. Both run as fresh processes, interleaved, in one run.

    PYTHONPATH=src python bench/cli_startup.py [--runs 10]

Prints the median and best wall time of each command and its ratio to the floor. No
server is needed: ``databases list`` is pointed at a closed port, so what is timed is the
start-up plus one refused connection, as the floor's ``fetch`` (its own floor).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = '''
import httpx
import rich
import typer
from rich.console import Console

app = typer.Typer()

@app.command()
def hello(name: str = "world") -> None:
    Console().print(f"hello {name}")

@app.command()
def fetch(url: str = "http://127.0.0.1:9") -> None:
    try:
        httpx.get(url)
    except httpx.HTTPError as exc:
        Console(stderr=True).print(f"cannot reach {url}: {exc}")
        raise typer.Exit(1) from exc

app()
'''

ENTRY = "from dbplane.cli.main import main; main()"


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    env = {**os.environ, "DBPLANE_URL": "http://127.0.0.1:9", "DBPLANE_TOKEN": "x"}
    with tempfile.TemporaryDirectory() as tmp:
        floor = Path(tmp) / "floor.py"
        floor.write_text(FLOOR)
        help_floor = [sys.executable, str(floor), "--help"]
        request_floor = [sys.executable, str(floor), "fetch"]
        # each command with the floor it is compared with
        cases = {
            "floor: typer+httpx+rich --help": (help_floor, None),
            "floor: one httpx request": (request_floor, None),
            "dbplane --help": ([sys.executable, "-c", ENTRY, "--help"], "help"),
            "dbplane --version": ([sys.executable, "-c", ENTRY, "--version"], "help"),
            "dbplane backups --help": ([sys.executable, "-c", ENTRY, "backups", "--help"],
                                       "help"),
            "dbplane databases list": ([sys.executable, "-c", ENTRY, "databases", "list"],
                                       "request"),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for argv, _floor in cases.values():  # warm the file cache once
            _time(argv, env)
        for _ in range(args.runs):
            for name, (argv, _floor) in cases.items():
                times[name].append(_time(argv, env))
    floors = {"help": statistics.median(times["floor: typer+httpx+rich --help"]),
              "request": statistics.median(times["floor: one httpx request"])}
    print(f"{'command':34} {'median':>8} {'best':>8} {'x floor':>8}   ({args.runs} runs)")
    for name, values in times.items():
        median = statistics.median(values)
        kind = cases[name][1]
        ratio = f"{median / floors[kind]:8.2f}" if kind else f"{'':>8}"
        print(f"{name:34} {median * 1000:7.0f}ms {min(values) * 1000:7.0f}ms {ratio}")


if __name__ == "__main__":
    main()
