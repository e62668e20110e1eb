"""Data safety on one PostgreSQL of a given size: upgrade, point-in-time restore and a
restore drill through dbplane, each against the same steps done by hand with the server
tools, in one run (target: every ratio within 1.2), and the time the database is
unavailable during an upgrade.

Runs the three scripts one after another, each with its own fresh servers of
``--size-mb`` of data, and gathers the JSON line each prints last:

    PYTHONPATH=src python bench/datasafety.py --size-mb 1024

``bench/datasafety_{upgrade,pitr,drill}.py`` run alone as well (``--help``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PARTS = ("upgrade", "pitr", "drill")


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            found: dict[str, Any] = json.loads(line)
            return found
    raise ValueError("the script printed no JSON line")


def _run(part: str, size_mb: int, extra: list[str]) -> dict[str, Any]:
    script = HERE / f"datasafety_{part}.py"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(script), "--size-mb", str(size_mb), *extra],
                          capture_output=True, text=True, env=os.environ.copy(),
                          check=False)
    sys.stderr.write(done.stderr[-2000:])
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}", "output": done.stdout[-2000:]}
    figures = _last_json(done.stdout)
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=64)
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="run only this part (repeatable)")
    args, extra = parser.parse_known_args()
    results: dict[str, Any] = {"size_mb": args.size_mb}
    for part in args.only or PARTS:
        print(f"== {part} ({args.size_mb} MB)", flush=True)
        results[part] = _run(part, args.size_mb, extra)
        print(json.dumps(results[part], indent=1), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
