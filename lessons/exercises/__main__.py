"""The exercises' command line (``bash tools/course.sh`` forwards these flags here).

examples:
  bash tools/course.sh --exercises            the exercises and your progress
  bash tools/course.sh --check lstm_cell      check your lstm_cell (by name, or by number: --check 14)
  bash tools/course.sh --hint lstm_cell       the next hint for lstm_cell (one at a time)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from exercises import TABLE, entry
from exercises.checker import check
from exercises.hints import HINTS
from exercises.progress import DEFAULT, Progress

HERE = Path(__file__).resolve().parent
STATUS_STYLE = {"solved": "green", "not done yet": "dim"}


def shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bash tools/course.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--exercises", action="store_true",
                      help="list the exercises with your progress")
    what.add_argument("--check", metavar="NAME", help="check one exercise (name or number)")
    what.add_argument("--hint", metavar="NAME", help="show the next hint for an exercise")
    ap.add_argument("--out", default=str(DEFAULT),
                    help="folder for your progress and the pictures (default: out/exercises/)")
    ap.add_argument("--no-picture", action="store_true",
                    help="do not draw the two graphs when a check fails")
    args = ap.parse_args(argv)
    for name in (args.check, args.hint):
        if name is not None:
            try:
                entry(name)
            except KeyError as e:
                ap.error(e.args[0])
    return args


def list_exercises(console: Console, progress: Progress) -> None:
    table = Table(title="Exercises (lessons/exercises/)")
    for c in ("#", "exercise", "lesson", "slide", "status", "hints"):
        table.add_column(c)
    for k, e in enumerate(TABLE, 1):
        status = progress.status(e.name)
        style = STATUS_STYLE.get(status, "red" if status else "")
        hints = progress.hints(e.name)
        table.add_row(str(k), e.name, f"{e.lesson}. {e.topic}", e.slide,
                      f"[{style}]{escape(status or '·')}[/{style}]" if style else escape(status or "·"),
                      f"{hints}/{len(HINTS[e.name])}" if hints else "")
    console.print(table)
    solved = sum(progress.status(e.name) == "solved" for e in TABLE)
    console.print(f"{solved} of {len(TABLE)} solved. Open lessons/exercises/NAME.py, complete the "
                  "function, then: bash tools/course.sh --check NAME   (a hint: --hint NAME). "
                  "The reference solutions are in lessons/exercises/solutions/: try not to peek.")


def show_hint(console: Console, name: str, progress: Progress) -> None:
    hints = HINTS[name]
    seen = progress.hints(name)
    if seen >= len(hints):
        for k, h in enumerate(hints, 1):
            console.print(f"[bold]Hint {k} of {len(hints)}[/bold] for {name}: {escape(h)}")
        console.print(f"That was every hint for {name}. The reference solution is "
                      f"lessons/exercises/solutions/{name}.py, if you really must.")
        return
    for k in range(seen):
        console.print(f"[dim]Hint {k + 1} of {len(hints)}: {escape(hints[k])}[/dim]")
    console.print(f"[bold]Hint {seen + 1} of {len(hints)}[/bold] for {name}: "
                  f"{escape(hints[seen])}")
    if seen + 1 < len(hints):
        console.print(f"[dim](--hint {name} again for a more detailed one)[/dim]")
    progress.saw_hint(name, seen + 1)


def show_report(console: Console, report, progress: Progress) -> None:
    for line in report.text().splitlines():
        style = ("green" if line.startswith(("  ✔", "Solved")) else
                 "red" if line.startswith("  ✘") else "yellow" if line.startswith("  ·") else
                 "bold" if line.startswith("Exercise") else None)
        console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)
    name = report.entry.name
    if not report.ok:
        seen, total = progress.hints(name), len(HINTS[name])
        more = f"hint {seen + 1} of {total}" if seen < total else "all hints again"
        console.print(f"Stuck? bash tools/course.sh --hint {name}   ({more})", style="dim",
                      markup=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(highlight=False)
    progress = Progress(Path(args.out))
    if args.exercises:
        list_exercises(console, progress)
        return 0
    if args.hint:
        show_hint(console, entry(args.hint).name, progress)
        return 0
    name = entry(args.check).name
    report = check(name, pictures=None if args.no_picture else Path(args.out))
    f = report.failure
    progress.checked(name, "ok" if f is None else "todo" if f.check == "todo" else f.check)
    show_report(console, report, progress)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
