"""Run the course: every lesson script in order, each in its own process.

    python lessons/run_course.py            # all lessons, full length
    python lessons/run_course.py --fast     # all lessons, tiny runs (what the tests do)
    python lessons/run_course.py --only 3 7 # just lessons 3 and 7
    python lessons/run_course.py --list     # what lessons exist
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent


def lessons() -> list[tuple[int, Path]]:
    """(number, path) of every lesson script, in order."""
    found = []
    for p in sorted(HERE.glob("[0-9][0-9]_*.py")):
        found.append((int(re.match(r"(\d+)", p.name).group(1)), p))
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--fast", action="store_true", help="tiny runs (seconds per lesson)")
    ap.add_argument("--only", type=int, nargs="*", help="lesson numbers to run")
    ap.add_argument("--from", dest="start", type=int, default=0, help="start at this lesson")
    ap.add_argument("--list", action="store_true", help="list the lessons and exit")
    args = ap.parse_args()
    console = Console()
    todo = [(n, p) for n, p in lessons()
            if (not args.only or n in args.only) and n >= args.start]
    if args.list:
        for n, p in todo:
            text = p.read_text()
            doc = text.split('"""')[1].strip().splitlines()[0] if '"""' in text else ""
            print(f"{n:2d}  {p.name:34s} {doc}")
        return 0
    results = []
    for n, p in todo:
        console.rule(f"[bold]{p.name}")
        t0 = time.perf_counter()
        cmd = [sys.executable, str(p)] + (["--fast"] if args.fast else [])
        # small matrix products: one BLAS thread is faster than threads fighting for cores
        env = dict(os.environ)
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            env.setdefault(var, "1")
        rc = subprocess.call(cmd, env=env)
        results.append((n, p.name, rc, time.perf_counter() - t0))
    table = Table(title="Course summary")
    for c in ("#", "lesson", "result", "seconds"):
        table.add_column(c)
    for n, name, rc, dt in results:
        table.add_row(str(n), name, "[green]ok[/green]" if rc == 0 else f"[red]failed ({rc})[/red]",
                      f"{dt:.1f}")
    console.print(table)
    return 0 if all(rc == 0 for _, _, rc, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
