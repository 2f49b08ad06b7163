"""Run the course: every lesson in order, each in its own process, then a summary.

At a terminal each lesson stops after every step: Enter goes on, b shows an earlier step
again, q ends the course with the summary so far. Piped output, CI=true, --no-pause and
--fast run straight through. Pictures go to out/lessonNN/ (PNG and SVG).

examples:
  bash tools/course.sh                 all lessons, full length, step by step
  bash tools/course.sh --fast          all lessons, tiny runs (what the tests do)
  bash tools/course.sh --only 3 7      just lessons 3 and 7
  bash tools/course.sh --from 13       lessons 13 to 23
  bash tools/course.sh --list          what lessons exist
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pacing import wants_pause

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "out"
RESULTS = {"done": "[green]ok[/green]", "quit": "[yellow]quit (q)[/yellow]",
           "interrupted": "[yellow]interrupted[/yellow]", "failed": "[red]failed[/red]"}


def lessons() -> list[tuple[int, Path]]:
    """(number, path) of every lesson script, in order."""
    found = []
    for p in sorted(HERE.glob("[0-9][0-9]_*.py")):
        found.append((int(re.match(r"(\d+)", p.name).group(1)), p))
    return found


def first_doc_line(path: Path) -> str:
    text = path.read_text()
    return text.split('"""')[1].strip().splitlines()[0] if '"""' in text else ""


def parse_args(argv: list[str] | None, numbers: list[int]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bash tools/course.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fast", action="store_true", help="tiny runs (seconds per lesson)")
    ap.add_argument("--no-pause", action="store_true",
                    help="run straight through, without stopping after each step")
    ap.add_argument("--only", type=int, nargs="+", metavar="N", help="lesson numbers to run")
    ap.add_argument("--from", dest="start", type=int, metavar="N", help="start at this lesson")
    ap.add_argument("--out", default=str(DEFAULT_OUT),
                    help="folder for the pictures (default: out/ in the repository)")
    ap.add_argument("--list", action="store_true", help="list the lessons and exit")
    args = ap.parse_args(argv)
    valid = f"{numbers[0]}-{numbers[-1]}" if numbers == list(range(numbers[0], numbers[-1] + 1)) \
        else ", ".join(map(str, numbers))
    unknown = [n for n in (args.only or []) + ([args.start] if args.start is not None else [])
               if n not in numbers]
    if unknown:
        ap.error(f"no lesson {', '.join(map(str, unknown))}: the lessons are {valid} "
                 "(--list shows their titles)")
    return args


def ignore_ctrl_c() -> None:
    """In a lesson's process until its console starts: no traceback from a Ctrl-C that
    arrives while Python is still importing (the console turns Ctrl-C back on)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_lesson(path: Path, number: int, args: argparse.Namespace, pause: bool) -> dict:
    """Run one lesson; returns its record (status, checks, figures) and exit code."""
    record_path = Path(args.out) / f"lesson{number:02d}" / "run.json"
    record_path.unlink(missing_ok=True)
    cmd = [sys.executable, str(path), "--out", args.out]
    cmd += ["--fast"] if args.fast else []
    cmd += [] if pause else ["--no-pause"]
    env = dict(os.environ)
    # small matrix products: one BLAS thread is faster than threads fighting for cores
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env.setdefault(var, "1")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, preexec_fn=ignore_ctrl_c)
    interrupted = False
    try:
        rc = proc.wait()
    except KeyboardInterrupt:            # the lesson got the same Ctrl-C and is stopping
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        interrupted = True
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            rc = proc.wait()
    record = {"status": "failed", "checks": [], "figures": []}
    if record_path.is_file():
        try:
            record = json.loads(record_path.read_text())
        except ValueError:
            pass
    if interrupted:
        record["status"] = "interrupted"
    elif rc != 0 and record.get("status") == "done":
        record["status"] = "failed"
    record.update(number=number, name=path.name, rc=rc, seconds=time.perf_counter() - t0)
    return record


def shown_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def summary(console: Console, results: list[dict], total: float) -> None:
    table = Table(title="Course summary")
    for c in ("#", "lesson", "result", "checks passed", "pictures", "seconds"):
        table.add_column(c)
    for r in results:
        result = RESULTS.get(r["status"], f"[red]{escape(r['status'])}[/red]")
        if r["status"] == "failed" or r["rc"] not in (0, 130):
            result = f"[red]failed (exit {r['rc']})[/red]"
        table.add_row(str(r["number"]), r["name"], result,
                      str(sum(c["ok"] for c in r["checks"])), str(len(r["figures"])),
                      f"{r['seconds']:.1f}")
    console.print(table)
    figures = [(r["number"], f) for r in results for f in r["figures"]]
    if figures:
        console.print("[bold]Pictures[/bold] (PNG and SVG; open them with an image viewer "
                      "or a browser):")
        for number, f in figures:
            console.print(f"  {number:2d}  {escape(shown_path(f))}", highlight=False)
    minutes, seconds = divmod(int(round(total)), 60)
    console.print(f"Course time: {minutes} min {seconds} s")


def main(argv: list[str] | None = None) -> int:
    found = lessons()
    args = parse_args(argv, [n for n, _ in found])
    todo = [(n, p) for n, p in found
            if (not args.only or n in args.only) and (args.start is None or n >= args.start)]
    if args.list:
        try:
            for n, p in todo:
                print(f"{n:2d}  {p.name:34s} {first_doc_line(p)}")
            sys.stdout.flush()
        except BrokenPipeError:          # `--list | head`: the reader has seen enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    console = Console()
    pause = wants_pause(args.fast, args.no_pause)
    results = []
    t0 = time.perf_counter()
    interrupted = False
    try:
        for n, p in todo:
            console.rule(f"[bold]{p.name}")
            record = run_lesson(p, n, args, pause)
            results.append(record)
            if record["status"] in ("quit", "interrupted"):
                break
    except KeyboardInterrupt:           # between two lessons
        interrupted = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the summary is printed whole
    summary(console, results, time.perf_counter() - t0)
    if interrupted or any(r["status"] == "interrupted" for r in results):
        return 130
    return 0 if all(r["status"] in ("done", "quit") and r["rc"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
