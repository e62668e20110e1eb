"""``make bench``: every benchmark in bench/, one after the other."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

BENCHES = ["startup.py", "inprocess.py", "tables.py", "schema.py", "factory.py",
           "operations.py", "backups.py", "actions.py", "cli_startup.py"]

if __name__ == "__main__":
    here = Path(__file__).parent
    for name in BENCHES:
        print(f"== {name}")
        sys.argv = [name]
        runpy.run_path(str(here / name), run_name="__main__")
