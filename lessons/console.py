"""The course console: how a lesson talks, paces itself, shows its code and checks its numbers.

A lesson is a script with a ``main(L, args)`` and one line at the bottom::

    if __name__ == "__main__":
        run(main, 3, "Convolution by hand")

Inside ``main`` the lesson talks through ``L``:

* ``L.step("title")`` starts the next idea. In an interactive terminal the lesson stops
  after every step: Enter goes on, ``b`` shows an earlier step's output again (from
  memory: nothing runs twice), ``q`` quits with a summary (exit status 0). Piped output,
  ``CI=true``, ``--no-pause`` and ``--fast`` run straight through.
* ``with L.code():`` shows the lines of its own body, read from the lesson file, as
  highlighted source with ``file:line``, then runs them; ``L.source(fn)`` shows a helper
  function; ``L.uses(F.conv2d)`` names the library code a step rests on, with its
  ``file:line`` found at run time (``inspect``), so a learner can go on reading there.
* ``L.say``, ``L.table``, ``L.image(s)`` print prose, tables and shaded pictures;
  ``L.progress`` shows a live bar with the current loss; ``L.figure`` draws a labelled
  matplotlib figure and saves it as PNG and SVG in ``out/lessonNN/``.
* ``L.check(what, got, expected, tol)`` compares values, shapes included (NaN equals
  nothing); a failed check stops the lesson with exit status 1, and a lesson that checked
  nothing fails too.
* ``L.step("title", deck=(3, "Practice with Linear Filters"))`` names the lecture deck and
  section a step follows (``beyond="..."`` says why a step goes past the decks);
  ``L.departure(...)`` shows the slide's version beside the lesson's where they differ.
* ``L.question(prompt, options)`` asks the learner to predict a result before the code runs
  (at a terminal it waits for a digit); ``L.answer(q, observed, expected, why)`` checks that
  the run gave the option the reasoning predicts, and explains.
* Knobs: ``run(main, 16, "...", knobs=[Knob("--gamma", 1.0, "...")])`` adds command-line
  options a learner can turn (``args.gamma``); the lesson's checks adapt to them.
* ``L.read(obj)`` shows a piece of the library's own source (the engine lesson reads it).

Each run leaves ``out/lessonNN/run.json`` (status, checks, steps with the code they showed,
figures) for the course runner's summary.
"""
from __future__ import annotations

import argparse
import ast
import inspect
import json
import linecache
import os
import re
import signal
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable, Iterator, Sequence

import numpy as np
from rich.console import Console
from rich.control import Control
from rich.markup import escape
from rich.panel import Panel
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table

import tinygrad_edu as tg
from tinygrad_edu.train import sparkline

from decks import section
from images import framed, side_by_side
from pacing import cbreak, read_key, wants_pause

ROOT = Path(__file__).resolve().parents[1]        # the repository
DEFAULT_OUT = ROOT / "out"                         # git-ignored; out/lessonNN/ per lesson
RECORD = "run.json"                                # what a run leaves for the runner
ENTER = ("\r", "\n")
EMPHASIS = re.compile(r"\*([A-Za-z][A-Za-z -]*[A-Za-z])\*")     # *receptive field*


class LessonCheckError(AssertionError):
    """A number a lesson promised did not come out."""


class LessonQuit(BaseException):
    """The learner pressed q: stop here, print the summary, exit with status 0.

    A BaseException (like KeyboardInterrupt), so that no ``except Exception`` in a lesson
    swallows it."""


# ---------------------------------------------------------------- comparing values
def as_array(value: Any) -> np.ndarray:
    """A Tensor, NumPy array, number or (nested) list/tuple as a NumPy array."""
    if isinstance(value, tg.Tensor):
        value = value.detach().numpy()
    elif isinstance(value, (list, tuple)):               # e.g. a list of tensors
        value = [as_array(v) if isinstance(v, (tg.Tensor, list, tuple)) else v for v in value]
    try:
        return np.asarray(value)
    except ValueError:
        raise TypeError(f"check: {value!r} is ragged (rows of different lengths)") from None


def compare(got: Any, expected: Any, tol: float = 0.0) -> tuple[bool, str]:
    """Do ``got`` and ``expected`` agree? Returns (ok, why not).

    They agree when their shapes are equal and every pair of elements is equal or within
    ``tol · max(1, |expected|)`` (absolute near zero, relative for large values). NaN
    agrees with nothing, not even NaN; an infinity only with the same infinity.
    """
    if not tol >= 0:                                # also refuses a NaN tolerance
        raise ValueError(f"check: tol must be >= 0, got {tol}")
    g, e = as_array(got), as_array(expected)
    if g.shape != e.shape:
        return False, f"shape {g.shape} where {e.shape} was expected"
    for a, name in ((g, "got"), (e, "expected")):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"check: {name} must be numbers (bool, int or float), "
                            f"got dtype {a.dtype}")
    g, e = g.astype(np.float64), e.astype(np.float64)
    finite = np.isfinite(g) & np.isfinite(e)       # an infinity only equals itself
    with np.errstate(invalid="ignore", over="ignore"):
        close = (g == e) | (finite & (np.abs(g - e) <= tol * np.maximum(1.0, np.abs(e))))
    if close.all():
        return True, ""
    bad = np.argwhere(~close)
    first = tuple(int(i) for i in bad[0]) if g.ndim else ()
    return False, (f"{len(bad)} of {g.size} element(s) differ; first at index {first}: "
                   f"{g[first]!r} vs {e[first]!r} (tol {tol})")


def shown(value: Any) -> str:
    """A short printable form of a checked value."""
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return str(value)                                  # a shape
    a = as_array(value) if isinstance(value, (tg.Tensor, list, tuple)) else value
    if isinstance(a, np.ndarray):
        if a.size > 16:
            return f"array of shape {a.shape}"
        digits = 15 if a.dtype == np.float64 else 8         # what the dtype can hold
        return np.array2string(a, separator=", ", formatter={
            "int": str, "bool": str, "float": lambda v: f"{v + 0.0:.{digits}g}"}
        ).replace("\n", "")
    return str(a)


# ---------------------------------------------------------------- flags, knobs and pacing
@dataclass(frozen=True)
class Knob:
    """A command-line option a learner can turn to try the lesson's idea another way, e.g.
    ``Knob("--gamma", 1.0, "scale of the recurrent matrix")`` gives ``args.gamma``. The type
    is the default's (a bool default False makes a switch: ``--no-gate-bias``)."""
    flag: str
    default: Any
    help: str
    choices: tuple | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def add_to(self, ap: argparse.ArgumentParser) -> None:
        if isinstance(self.default, bool):
            if self.default:
                raise ValueError(f"knob {self.flag}: a switch must default to False")
            ap.add_argument(self.flag, action="store_true", help=f"knob: {self.help}")
            return
        kind = type(self.default)
        ap.add_argument(self.flag, type=kind, default=self.default, choices=self.choices,
                        metavar=None if self.choices else kind.__name__.upper(),
                        help=f"knob: {self.help} (default {self.default})")


def parse_args(argv: Sequence[str] | None = None, description: str = "",
               knobs: Sequence[Knob] = ()) -> argparse.Namespace:
    """A lesson's flags: ``--fast`` (small data and few steps, used by the tests),
    ``--no-pause``, ``--device``, ``--out``, and the lesson's own knobs."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--fast", action="store_true",
                    help="tiny run for tests (seconds); runs straight through")
    ap.add_argument("--no-pause", action="store_true",
                    help="do not stop after each step (also when output is piped or CI=true)")
    ap.add_argument("--device", default="cpu", help="'cpu' or 'cuda'")
    ap.add_argument("--out", default=str(DEFAULT_OUT),
                    help="folder for the pictures; this lesson writes into OUT/lessonNN/ "
                         "(default: out/ in the repository)")
    for knob in knobs:
        knob.add_to(ap)
    return ap.parse_args(argv)


# ---------------------------------------------------------------- recording what was shown
class TapeConsole(Console):
    """A rich Console that also keeps what it prints on a tape, so that a step's output can
    be shown again without running anything. Live displays (progress bars) refresh by
    printing ``Control`` codes; those are not kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tape: list | None = None

    def print(self, *objects: Any, **kwargs: Any) -> None:  # noqa: A003 - rich's name
        if self.tape is not None and not (objects and
                                          all(isinstance(o, Control) for o in objects)):
            self.tape.append((objects, kwargs))
        super().print(*objects, **kwargs)

    def replay(self, tape: Iterable) -> None:
        """Print a tape again (not recorded a second time)."""
        for objects, kwargs in tape:
            Console.print(self, *objects, **kwargs)


@dataclass
class Step:
    """One step of a lesson: its title, what it printed, the code and library it showed,
    the deck sections it follows (or why it goes beyond them) and how many checks it ran."""
    number: int
    title: str
    tape: list = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    library: list[str] = field(default_factory=list)
    decks: list[str] = field(default_factory=list)
    beyond: str = ""
    checks: int = 0


@dataclass
class Question:
    """A "predict, then run" question: what was asked, the options, the learner's pick."""
    prompt: str
    options: tuple[str, ...]
    step: int
    chosen: int | None = None
    observed: int | None = None
    expected: int | None = None


def where(path: str | Path, line: int | None = None, last: int | None = None) -> str:
    """``file:line`` (or ``file:first-last``) relative to the repository when inside it."""
    p = Path(path).resolve()
    try:
        text = str(p.relative_to(ROOT))
    except ValueError:
        text = str(p)
    if line is not None:
        text += f":{line}" + (f"-{last}" if last is not None and last != line else "")
    return text


def shown_path(path: Path) -> str:
    """A path as a learner would type it from the current folder."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


_TREES: dict[str, ast.Module] = {}


def with_body(path: str, line: int) -> tuple[int, int]:
    """First and last line of the body of the ``with`` statement that starts at ``line``."""
    if path not in _TREES:
        _TREES[path] = ast.parse("".join(linecache.getlines(path)), path)
    for node in ast.walk(_TREES[path]):
        if isinstance(node, (ast.With, ast.AsyncWith)):
            last_item = node.items[-1]
            header_end = (last_item.optional_vars or last_item.context_expr).end_lineno
            if node.lineno <= line <= header_end:
                return header_end + 1, node.body[-1].end_lineno
    raise ValueError(f"{where(path, line)}: L.code() shows the body of a `with` block; "
                     "write `with L.code():` and indent the lines to show under it")


def library_location(obj: Any) -> tuple[str, str, int, str]:
    """(qualified name, source file, first line, first docstring line) of a library object,
    found at run time, so that files moving around never leave a stale reference."""
    target = inspect.unwrap(obj)
    if isinstance(target, property):
        target = target.fget
    path = inspect.getsourcefile(target)
    if path is None:
        raise TypeError(f"L.uses: no Python source for {obj!r}")
    _, line = inspect.getsourcelines(target)
    name = f"{target.__module__}.{target.__qualname__}"
    doc = (inspect.getdoc(target) or "").strip().splitlines()
    return name, path, line, doc[0] if doc else ""


# ---------------------------------------------------------------- the lesson console
class Lesson:
    """One lesson's console: steps, code, prose, tables, pictures, progress and checks."""

    def __init__(self, number: int, title: str, console: Console | None = None, *,
                 pause: bool = False, out_root: str | Path | None = None,
                 keys: Callable[[], str] = read_key) -> None:
        self.number = number
        self.title = title
        self.knobs: dict[str, Any] = {}
        self.departures: list[dict] = []
        self.questions: list[Question] = []
        self.console = console if console is not None else TapeConsole(highlight=False)
        self.pause = pause
        self.keys = keys
        self.out_dir = Path(out_root if out_root is not None else DEFAULT_OUT) \
            / f"lesson{number:02d}"
        self.checks: list[tuple[str, bool]] = []
        self.figures: list[Path] = []
        self.steps: list[Step] = [Step(0, "introduction")]
        self.started = time.perf_counter()
        self._record_to(self.steps[0])
        self.console.print(Panel.fit(f"[bold]Lesson {number}: {title}[/bold]", style="cyan"))

    # ------------------------------------------------------------ steps and pacing
    @property
    def current(self) -> Step:
        return self.steps[-1]

    def _record_to(self, step: Step) -> None:
        if isinstance(self.console, TapeConsole):
            self.console.tape = step.tape

    def step(self, title: str, deck: tuple | list | None = None,
             beyond: str | None = None) -> None:
        """End the current step (stopping there at a terminal) and start the next idea.

        ``deck=(3, "Practice with Linear Filters")`` (or a list of such pairs) names the
        lecture deck and section the step follows; ``beyond="..."`` says why a step goes past
        the decks. A heading that is not in ``lessons/decks.py`` raises at once."""
        refs = [] if deck is None else [deck] if isinstance(deck, tuple) else list(deck)
        cited = [section(n, heading) for n, heading in refs]        # checked before anything
        self.end_step()
        step = Step(len(self.steps), title, decks=cited, beyond=beyond or "")
        self.steps.append(step)
        self._record_to(step)
        self.console.print(f"\n[bold yellow]▶ Step {step.number}. {title}[/bold yellow]")
        if cited:
            self.console.print(f"  [dim]☰ follows {escape('; '.join(cited))}[/dim]")
        if beyond:
            self.console.print(f"  [dim]☰ beyond the decks: {escape(beyond)}[/dim]")

    def end_step(self, last: bool = False) -> None:
        """At a terminal, wait for the learner: Enter goes on, b looks back, q quits."""
        if not self.pause:
            return
        if self.current.number == 0 and len(self.current.tape) <= 1:
            return                              # nothing but the title so far
        with cbreak() if self.keys is read_key else nullcontext():
            self._wait(last)

    def _wait(self, last: bool) -> None:
        shown_index = len(self.steps) - 1
        go_on = "finish the lesson" if last else f"go on to step {self.current.number + 1}"
        first = 0 if len(self.steps[0].tape) > 1 else 1    # the introduction, if it said more
        while True:
            back = ""
            if shown_index > first:
                before = self.steps[shown_index - 1]
                back = ("[reverse] b [/reverse] show "
                        + (f"step {before.number} again   " if before.number
                           else "the introduction again   "))
            key = self._ask(f"[reverse] Enter [/reverse] {go_on}   {back}"
                            "[reverse] q [/reverse] quit")
            if key in ENTER:
                return
            if key in ("q", "Q", "\x04"):       # q, or Ctrl-D
                raise LessonQuit()
            if key in ("b", "B"):
                if shown_index <= first:
                    self._aside("(nothing earlier to show; Enter goes on)")
                    continue
                shown_index -= 1
                self._replay(self.steps[shown_index])

    def _ask(self, prompt: str) -> str:
        """Show a one-line prompt (not recorded), read a key, erase the prompt."""
        Console.print(self.console, prompt, end="", style="dim")
        self.console.file.flush()
        try:
            return self.keys()
        finally:
            self.console.file.write("\r\x1b[2K")
            self.console.file.flush()

    def _aside(self, text: str) -> None:
        Console.print(self.console, text, style="dim")

    def _replay(self, step: Step) -> None:
        name = f"step {step.number}: {step.title}" if step.number else "the introduction"
        Console.print(self.console, Rule(f"[bold]again, {name}[/bold] (from memory: "
                                         "nothing runs twice)", style="magenta"))
        if isinstance(self.console, TapeConsole):
            self.console.replay(step.tape)
        Console.print(self.console, Rule(f"end of {name} (shown again)", style="magenta"))

    def show_knobs(self, knobs: Sequence[Knob], args: argparse.Namespace) -> None:
        """Say which knobs this lesson has and how they are set in this run."""
        self.knobs = {k.dest: getattr(args, k.dest) for k in knobs}
        if not knobs:
            return
        rows = []
        for k in knobs:
            value = self.knobs[k.dest]
            shown_value = ("on" if value else "off") if isinstance(k.default, bool) else value
            mark = "" if value == k.default else "  [bold](changed)[/bold]"
            rows.append(f"  [cyan]{k.flag}[/cyan] {escape(str(shown_value))}{mark}  "
                        f"[dim]{escape(k.help)}[/dim]")
        self.console.print("[bold]Knobs[/bold] (try them: add the option when you run the "
                           "lesson; its checks follow):\n" + "\n".join(rows))

    # ------------------------------------------------------------ talking
    def say(self, text: str) -> None:
        """Explanatory prose (rich markup allowed); a *word* between stars is emphasised."""
        self.console.print(EMPHASIS.sub(r"[bold italic]\1[/bold italic]", text))

    def print(self, *renderables: Any, **kwargs: Any) -> None:  # noqa: A003
        """Any rich renderable (a graph tree, a table from the library, plain text)."""
        self.console.print(*renderables, **kwargs)

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]],
              title: str | None = None) -> None:
        t = Table(title=title, min_width=len(title) + 4 if title else None)
        for c in columns:
            t.add_column(str(c))
        for r in rows:
            t.add_row(*[str(v) for v in r])
        self.console.print(t)

    def image(self, array_2d: Any, title: str | None = None, vmin: float | None = None,
              vmax: float | None = None) -> None:
        """Show a 2-D array (an image, a filter, a feature map) as shaded blocks."""
        self.images([array_2d], [title] if title else None, vmin, vmax)

    def images(self, arrays: Sequence[Any], titles: Sequence[str] | None = None,
               vmin: float | None = None, vmax: float | None = None) -> None:
        """Show several 2-D arrays side by side (wrapping to the console's width), each
        scaled to its own range unless ``vmin``/``vmax`` fix a common one."""
        blocks = [framed(a, vmin, vmax) for a in arrays]
        names = list(titles) if titles else [""] * len(blocks)
        for line in side_by_side(blocks, names, self.console.width):
            self.console.print(line, markup=False, soft_wrap=True)

    # ------------------------------------------------------------ the code on screen
    def code(self, title: str | None = None) -> ContextManager[None]:
        """``with L.code():`` shows its body's lines from the lesson file, then runs them."""
        frame = inspect.currentframe().f_back
        path, line = frame.f_code.co_filename, frame.f_lineno
        del frame
        first, last = with_body(path, line)
        self._show_lines(path, first, last, title)
        return nullcontext()

    def source(self, obj: Any, title: str | None = None) -> None:
        """Show a whole function or class of the lesson file (a helper it calls)."""
        lines, first = inspect.getsourcelines(obj)
        self._show_lines(inspect.getsourcefile(obj), first, first + len(lines) - 1, title)

    def _show_lines(self, path: str, first: int, last: int, title: str | None) -> None:
        lines = linecache.getlines(path)[first - 1:last]
        while lines and not lines[-1].strip():
            lines.pop()
            last -= 1
        code = "".join(lines).rstrip("\n")
        syntax = Syntax(code, "python", line_numbers=True, start_line=first, dedent=True,
                        theme="monokai", background_color="default", word_wrap=True)
        label = where(path, first, last) + (f"  {title}" if title else "")
        self.console.print(Panel(syntax, title=f"[bold]{label}[/bold]", title_align="left",
                                 border_style="blue", expand=False))
        self.current.code.append(where(path, first, last))

    def uses(self, *objects: Any, note: str | None = None) -> None:
        """Name the library code this step rests on, with its ``file:line`` (found now)."""
        for obj in objects:
            name, path, line, doc = library_location(obj)
            ref = where(path, line)
            self.console.print(f"  [bold cyan]⚙ library[/bold cyan] [bold]{name}[/bold]  "
                               f"[underline]{ref}[/underline]"
                               + (f"\n      [dim]{doc}[/dim]" if doc else ""))
            self.current.library.append(ref)
        if note:
            self.console.print(f"      [dim]{note}[/dim]")

    def read(self, obj: Any, title: str | None = None) -> None:
        """Show a library function or class as it is written (the engine lesson reads the
        engine this way), with its ``file:line``; named like ``uses``."""
        name, path, line, _ = library_location(obj)
        lines, first = inspect.getsourcelines(inspect.unwrap(obj))
        code = "".join(lines).rstrip("\n")
        syntax = Syntax(code, "python", line_numbers=True, start_line=first, dedent=True,
                        theme="monokai", background_color="default", word_wrap=True)
        label = where(path, first, first + len(lines) - 1) + (f"  {title}" if title else "")
        self.console.print(Panel(syntax, title=f"[bold]⚙ {escape(label)}[/bold]",
                                 title_align="left", border_style="cyan", expand=False))
        self.current.library.append(where(path, line))

    # ------------------------------------------------------------ the slides and us
    def departure(self, deck: tuple, slide: str, ours: str, consequence: str) -> None:
        """Where the lesson does not do what a slide shows (a typo, another convention,
        another recipe): the slide's version and ours side by side, and what the difference
        does to the numbers (the checks that follow show it)."""
        cited = section(*deck)
        t = Table(show_header=True, expand=False, box=None, padding=(0, 2))
        t.add_column("the slide", style="yellow", max_width=60)
        t.add_column("this lesson", style="green", max_width=60)
        t.add_row(escape(slide), escape(ours))
        body = Table.grid()
        body.add_row(t)
        body.add_row(f"[bold]What it changes:[/bold] {escape(consequence)}")
        self.console.print(Panel(body, title=f"[bold]≠ Departure from {escape(cited)}[/bold]",
                                 title_align="left", border_style="yellow", expand=False))
        self.departures.append({"step": self.current.number, "deck": cited, "slide": slide,
                                "ours": ours, "consequence": consequence})

    def question(self, prompt: str, options: Sequence[str]) -> Question:
        """Ask the learner to predict, before the code runs. At a terminal it waits for a
        digit (Enter skips); otherwise the lesson goes on and the answer follows."""
        if not 2 <= len(options) <= 9:
            raise ValueError(f"question: give 2 to 9 options, got {len(options)}")
        q = Question(prompt, tuple(options), self.current.number)
        self.questions.append(q)
        lines = "\n".join(f"  [bold]{i}[/bold]  {escape(o)}" for i, o in enumerate(options, 1))
        self.console.print(f"[bold magenta]? Predict, then run:[/bold magenta] {escape(prompt)}"
                           f"\n{lines}")
        if self.pause:
            with cbreak() if self.keys is read_key else nullcontext():
                q.chosen = self._pick(len(options))
            if q.chosen is not None:
                self.console.print(f"  [dim]your prediction: {q.chosen}[/dim]")
        return q

    def _pick(self, n: int) -> int | None:
        while True:
            key = self._ask(f"[reverse] 1 [/reverse]–[reverse] {n} [/reverse] your prediction   "
                            "[reverse] Enter [/reverse] skip   [reverse] q [/reverse] quit")
            if key in ENTER:
                return None
            if key in ("q", "Q", "\x04"):
                raise LessonQuit()
            if key.isdigit() and 1 <= int(key) <= n:
                return int(key)
            self._aside(f"(a digit from 1 to {n}, or Enter to skip)")

    def answer(self, q: Question, observed: int, expected: int, why: str) -> None:
        """The run gave option ``observed``; the reasoning of the lesson predicts
        ``expected``. A check that they agree (it fails loudly if the run surprised the
        lesson), then the learner's pick and the explanation."""
        q.observed, q.expected = observed, expected
        self.check(f"prediction: the run gives option {observed} "
                   f"({q.options[observed - 1]!s}), the one the reasoning predicts",
                   observed, expected)
        verdict = ("" if q.chosen is None else
                   "  [green]You predicted it.[/green]" if q.chosen == observed else
                   f"  [yellow]You predicted {q.chosen}.[/yellow]")
        self.console.print(f"[bold magenta]! Answer:[/bold magenta] {observed}, "
                           f"{escape(q.options[observed - 1])}.{verdict}\n  {escape(why)}")

    # ------------------------------------------------------------ live training
    @contextmanager
    def progress(self, label: str, total: int, unit: str = "steps") -> Iterator["Tracker"]:
        """A live progress bar showing the current loss; a summary line when it is done::

            with L.progress("training", total=steps) as bar:
                for step in range(steps):
                    ...
                    bar.update(loss=loss.item())
                    if step % 100 == 0:
                        bar.note(f"step {step}: ...")     # printed above the bar
        """
        prog = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                        TextColumn("left"), TimeRemainingColumn(), console=self.console,
                        transient=True)
        tracker = Tracker(self, prog, prog.add_task(label, total=total, info=""))
        start = time.perf_counter()
        with prog:
            yield tracker
        line = f"  [green]■[/green] {label}: {tracker.steps:,} {unit} in " \
               f"{time.perf_counter() - start:.1f} s"
        if tracker.losses:
            first, last = tracker.losses[0], tracker.losses[-1]
            line += (f", loss {first:.4f} [cyan]{sparkline(tracker.losses, 40)}[/cyan] "
                     f"{last:.4f}")
        self.console.print(line)

    # ------------------------------------------------------------ pictures
    @contextmanager
    def figure(self, name: str, title: str, ncols: int = 1, nrows: int = 1,
               size: tuple[float, float] | None = None) -> Iterator[tuple[Any, Any]]:
        """A matplotlib figure with a grid of axes; saved as ``out/lessonNN/name.png`` and
        ``.svg`` when the block ends::

            with L.figure("loss", "Training loss") as (fig, axes):
                figures.lines(axes[0, 0], {"train": losses}, "loss", "step", "loss")
        """
        import figures   # noqa: PLC0415 - matplotlib loads only when a lesson draws

        fig, axes = figures.new_figure(ncols, nrows, size, title)
        yield fig, axes
        self.add_pictures(figures.save(fig, self.out_dir, name), title)

    def add_pictures(self, paths: Sequence[Path], what: str) -> None:
        """Note files written for the learner (listed again at the end of the lesson)."""
        paths = [Path(p) for p in paths]
        self.figures.extend(paths)
        first, *others = paths
        also = f"  (also {', '.join(p.suffix for p in others)})" if others else ""
        self.console.print(f"  [magenta]▣ picture[/magenta] {escape(what)}: "
                           f"[underline]{escape(shown_path(first))}[/underline]{also}")

    # ------------------------------------------------------------ checks
    def check(self, what: str, got: Any, expected: Any, tol: float = 0.0) -> None:
        """Assert ``got`` equals ``expected`` (same shape; elementwise within ``tol`` times
        max(1, |expected|); NaN equals nothing) and report it."""
        ok, why = compare(got, expected, tol)
        self.checks.append((what, ok))
        self.current.checks += 1
        if ok:
            g = as_array(got)
            if g.size > 16:                        # a picture's worth of numbers: summarise
                gap = np.max(np.abs(g.astype(np.float64) - as_array(expected)))
                result = f"all {g.size} values of shape {g.shape} agree (largest gap {gap:.1e})"
            else:
                result = f"got {shown(got)}"
            self.console.print(f"  [green]✔[/green] {escape(what)}: {escape(result)}")
            return
        self.console.print(f"  [red]✘ {escape(what)}[/red]: got {escape(shown(got))}, expected "
                           f"{escape(shown(expected))}: {escape(why)}")
        raise LessonCheckError(f"lesson {self.number}: {what}: got {shown(got)}, expected "
                               f"{shown(expected)}: {why}")

    def check_true(self, what: str, condition: bool, detail: str = "") -> None:
        """Assert a condition (e.g. accuracy above a bar) and report it."""
        if not isinstance(condition, (bool, np.bool_)):
            raise TypeError(f"check_true: condition must be a bool, got {condition!r}")
        ok = bool(condition)
        self.checks.append((what, ok))
        self.current.checks += 1
        mark = "[green]✔[/green]" if ok else "[red]✘[/red]"
        self.console.print(f"  {mark} {escape(what)}" + (f" ({escape(detail)})" if detail else ""))
        if not ok:
            raise LessonCheckError(f"lesson {self.number}: {what} failed"
                                   + (f" ({detail})" if detail else ""))

    # ------------------------------------------------------------ the end
    def finish(self, status: str, detail: str = "") -> None:
        """Print the summary (checks, pictures) and leave ``run.json`` for the runner."""
        if isinstance(self.console, TapeConsole):
            self.console.tape = None
        n = sum(ok for _, ok in self.checks)
        where_now = (f"step {self.current.number} of lesson {self.number}"
                     if self.current.number else f"the start of lesson {self.number}")
        head = {"done": f"[green]Lesson {self.number} done: {n} checks passed[/green]",
                "quit": f"[yellow]Stopped after {where_now} (q): {n} checks passed so far"
                        "[/yellow]",
                "interrupted": f"[yellow]Interrupted during {where_now} (Ctrl-C): {n} checks "
                               "passed so far[/yellow]",
                "failed": f"[red]Lesson {self.number} failed: {escape(detail)}[/red]"}[status]
        lines = [head]
        if self.figures:
            lines.append("Pictures (open them with an image viewer or a browser):")
            lines += [f"  {escape(shown_path(p))}" for p in self.figures]
        self.console.print(Panel.fit("\n".join(lines), style="green" if status == "done"
                                     else "yellow" if status != "failed" else "red"))
        self.write_record(status)

    def write_record(self, status: str) -> Path | None:
        record = {
            "lesson": self.number, "title": self.title, "status": status,
            "seconds": round(time.perf_counter() - self.started, 2),
            "checks": [{"what": w, "ok": ok} for w, ok in self.checks],
            "steps": [{"number": s.number, "title": s.title, "code": s.code,
                       "library": s.library, "decks": s.decks, "beyond": s.beyond,
                       "checks": s.checks} for s in self.steps],
            "figures": [str(p.resolve()) for p in self.figures],
            "knobs": self.knobs,
            "departures": self.departures,
            "questions": [{"prompt": q.prompt, "options": list(q.options), "step": q.step,
                           "chosen": q.chosen, "observed": q.observed, "expected": q.expected}
                          for q in self.questions],
        }
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path = self.out_dir / RECORD
            path.write_text(json.dumps(record, indent=1, ensure_ascii=False))
            return path
        except OSError:
            return None


class Tracker:
    """What ``L.progress`` yields: ``update`` moves the bar, ``note`` prints above it."""

    def __init__(self, lesson: Lesson, prog: Progress, task: Any) -> None:
        self.lesson, self.prog, self.task = lesson, prog, task
        self.losses: list[float] = []
        self.steps = 0

    def update(self, loss: float | None = None, advance: int = 1, **info: Any) -> None:
        """Advance the bar; show the loss (and any other named values) beside it."""
        self.steps += advance
        parts = []
        if loss is not None:
            self.losses.append(float(loss))
            parts.append(f"loss {float(loss):.4f}")
        parts += [f"{k} {v}" for k, v in info.items()]
        self.prog.update(self.task, advance=advance, info="  ".join(parts))

    def note(self, text: str) -> None:
        """A line printed above the live bar (and kept in the step's output)."""
        self.lesson.console.print(text)


def run(main: Callable[[Lesson, argparse.Namespace], None], number: int, title: str,
        argv: Sequence[str] | None = None, knobs: Sequence[Knob] = ()) -> None:
    """Run a lesson's ``main(L, args)`` and exit: 0 when it is done or the learner quit,
    1 when a check failed (or nothing was checked), 130 on Ctrl-C. ``knobs`` are the
    lesson's own command-line options (``args.<name>``)."""
    args = parse_args(argv, f"Lesson {number}: {title}", knobs)
    # the course runner starts lessons with Ctrl-C ignored, so that starting up never
    # prints a traceback; from here on Ctrl-C ends the lesson with its summary
    signal.signal(signal.SIGINT, signal.default_int_handler)
    L = Lesson(number, title, pause=wants_pause(args.fast, args.no_pause), out_root=args.out)
    L.show_knobs(knobs, args)
    status, detail, code = "done", "", 0
    try:
        main(L, args)
        L.end_step(last=True)
        if not L.checks:
            raise LessonCheckError(f"lesson {number} checked nothing: a lesson must check "
                                   "the numbers it claims")
    except LessonQuit:
        status = "quit"
    except LessonCheckError as e:
        status, detail, code = "failed", str(e), 1
        Console(stderr=True).print(f"[red]{e}[/red]")
    except KeyboardInterrupt:
        status, code = "interrupted", 130
    except BaseException:
        L.write_record("error")
        raise
    try:
        L.finish(status, detail)
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
