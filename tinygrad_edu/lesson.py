"""Helpers for the course's lesson scripts: rich terminal output and number checks.

A lesson prints what it does step by step and *checks* every number it claims:
``check`` raises :class:`LessonCheckError` (and the lesson exits non-zero) when a
value does not come out as the lecture says.

>>> L = Lesson(1, "A neuron and its gradient")
>>> L.check("Δw equals autograd", got=0.25, expected=0.25, tol=1e-12)
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from tinygrad_edu.tensor import Tensor


class LessonCheckError(AssertionError):
    """A number a lesson promised did not come out."""


def parse_args(argv: Sequence[str] | None = None, description: str = "") -> argparse.Namespace:
    """Standard lesson flags: ``--fast`` (small data and few steps, used by the tests)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--fast", action="store_true", help="tiny run for tests (seconds)")
    ap.add_argument("--device", default="cpu", help="'cpu' or 'cuda'")
    ap.add_argument("--out", default=None, help="folder for files the lesson writes")
    return ap.parse_args(argv)


def _as_float_list(x: Any) -> list:
    if isinstance(x, Tensor):
        x = x.detach().numpy()
    if hasattr(x, "tolist"):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        out: list = []
        for v in x:
            out.extend(_as_float_list(v))
        return out
    return [float(x)]


class Lesson:
    """One lesson's console: title, steps, tables, checks and a closing summary."""

    def __init__(self, number: int, title: str, console: Console | None = None) -> None:
        self.number = number
        self.title = title
        self.console = console or Console(highlight=False)
        self.checks: list[tuple[str, bool]] = []
        self.console.print(Panel.fit(f"[bold]Lesson {number}: {title}[/bold]", style="cyan"))

    def step(self, text: str) -> None:
        """A numbered heading for the next idea."""
        self.console.print(f"\n[bold yellow]▶ {text}[/bold yellow]")

    def say(self, text: str) -> None:
        """Explanatory prose."""
        self.console.print(text)

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]],
              title: str | None = None) -> None:
        t = Table(title=title)
        for c in columns:
            t.add_column(str(c))
        for r in rows:
            t.add_row(*[str(v) for v in r])
        self.console.print(t)

    def check(self, what: str, got: Any, expected: Any, tol: float = 0.0) -> None:
        """Assert ``got`` equals ``expected`` (elementwise, within ``tol``) and report it."""
        g, e = _as_float_list(got), _as_float_list(expected)
        ok = len(g) == len(e) and all(
            (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol * max(1.0, abs(b))
            for a, b in zip(g, e))
        self.checks.append((what, ok))
        mark = "[green]✔[/green]" if ok else "[red]✘[/red]"
        shown = got if not isinstance(got, Tensor) else got.detach().numpy()
        self.console.print(f"  {mark} {what}: got {shown}" + ("" if ok else f", expected {expected}"))
        if not ok:
            raise LessonCheckError(f"lesson {self.number}: {what}: got {got}, expected {expected} "
                                   f"(tol {tol})")

    def check_true(self, what: str, condition: bool, detail: str = "") -> None:
        """Assert a condition (e.g. accuracy above a bar) and report it."""
        self.checks.append((what, bool(condition)))
        mark = "[green]✔[/green]" if condition else "[red]✘[/red]"
        self.console.print(f"  {mark} {what}" + (f" ({detail})" if detail else ""))
        if not condition:
            raise LessonCheckError(f"lesson {self.number}: {what} failed {detail}")

    def done(self) -> None:
        n = len(self.checks)
        self.console.print(Panel.fit(f"Lesson {self.number} done: {n} check(s) passed",
                                     style="green"))


def run(main: Any) -> None:
    """Run a lesson's ``main(args)``; exit 1 with the message if a check fails."""
    args = parse_args()
    try:
        main(args)
    except LessonCheckError as e:
        Console(stderr=True).print(f"[red]{e}[/red]")
        sys.exit(1)
