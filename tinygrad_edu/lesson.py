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
import struct
import sys
import zlib
from pathlib import Path
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from tinygrad_edu import Tensor


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


def _as_rows(x: Any) -> list[list[float]]:
    """A 2-D Tensor, array or nested list -> a list of rows of floats."""
    if isinstance(x, Tensor):
        x = x.detach().numpy()
    if hasattr(x, "tolist"):
        x = x.tolist()
    try:
        rows = [[float(v) for v in r] for r in x]
    except TypeError:
        raise ValueError("expected a 2-D array (rows of numbers), got a 1-D or 0-D value; "
                         "reshape it, e.g. t.reshape(1, -1)") from None
    if not rows or not rows[0] or any(len(r) != len(rows[0]) for r in rows):
        raise ValueError(f"expected a non-empty 2-D array with equal-length rows, got "
                         f"{len(rows)} rows")
    return rows


def _scaled(rows: list[list[float]], vmin: float | None, vmax: float | None) -> list[list[float]]:
    """Map values linearly so that vmin -> 0 and vmax -> 1 (clipped); default: data range."""
    flat = [v for r in rows for v in r]
    lo = min(flat) if vmin is None else vmin
    hi = max(flat) if vmax is None else vmax
    span = hi - lo if hi > lo else 1.0
    return [[min(1.0, max(0.0, (v - lo) / span)) for v in r] for r in rows]


_SHADES = " ░▒▓█"


def shade_lines(array_2d: Any, vmin: float | None = None, vmax: float | None = None) -> list[str]:
    """Draw a 2-D array with shade characters, two per pixel (so pixels look square).

    The smallest value (or ``vmin``) is blank, the largest (or ``vmax``) is a full
    block "██"; three shades lie between. Plain text: it survives logs and pipes.
    """
    lines = []
    for r in _scaled(_as_rows(array_2d), vmin, vmax):
        lines.append("".join(_SHADES[min(4, int(round(v * 4)))] * 2 for v in r))
    return lines


def save_png(path: str | Path, array_2d: Any, vmin: float | None = None,
             vmax: float | None = None, scale: int = 1) -> Path:
    """Write a 2-D array as an 8-bit grayscale PNG (vmin -> black, vmax -> white).

    ``scale`` repeats every pixel scale×scale times, so a 5×5 filter becomes visible.
    Written with zlib and struct only: a PNG is a signature, an IHDR chunk (width,
    height, bit depth 8, colour type 0 = gray), IDAT (zlib of the rows, each row
    prefixed by filter byte 0) and IEND; each chunk is length, type, data, CRC-32.
    """
    if scale < 1:
        raise ValueError(f"save_png: scale must be >= 1, got {scale}")
    rows = _scaled(_as_rows(array_2d), vmin, vmax)
    raw = bytearray()
    for r in rows:
        line = bytes(int(round(v * 255)) for v in r for _ in range(scale))
        for _ in range(scale):
            raw += b"\x00" + line
    h, w = len(rows) * scale, len(rows[0]) * scale

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


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

    def image(self, array_2d: Any, title: str | None = None, vmin: float | None = None,
              vmax: float | None = None) -> None:
        """Show a 2-D array (an image, a filter, a feature map) as shaded blocks."""
        self.images([array_2d], [title] if title else None, vmin, vmax)

    def images(self, arrays: Sequence[Any], titles: Sequence[str] | None = None,
               vmin: float | None = None, vmax: float | None = None) -> None:
        """Show several 2-D arrays side by side (wrapping to the console's width), each
        scaled to its own range unless ``vmin``/``vmax`` fix a common one."""
        blocks = []
        for a in arrays:
            inner = shade_lines(a, vmin, vmax)
            bar = "─" * len(inner[0])
            blocks.append(["┌" + bar + "┐"] + ["│" + r + "│" for r in inner] + ["└" + bar + "┘"])
        names = list(titles) if titles else [""] * len(blocks)
        widths = [max(len(b[0]), len(n)) for b, n in zip(blocks, names)]
        gap = "  "
        groups: list[list[int]] = [[]]
        for k, w in enumerate(widths):      # greedy rows of images that fit the console
            used = sum(widths[j] + len(gap) for j in groups[-1])
            if groups[-1] and used + w > self.console.width:
                groups.append([])
            groups[-1].append(k)
        for group in groups:
            if any(names[k] for k in group):
                self.console.print(gap.join(names[k].ljust(widths[k]) for k in group).rstrip(),
                                   markup=False, soft_wrap=True)
            for i in range(max(len(blocks[k]) for k in group)):
                line = gap.join((blocks[k][i] if i < len(blocks[k]) else "").ljust(widths[k])
                                for k in group)
                self.console.print(line.rstrip(), markup=False, soft_wrap=True)

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
