"""Pacing at a terminal: who gets a pause after each step, and reading one key press.

Shared by the course console (``console.py``, which pauses) and the course runner
(``run_course.py``, which tells each lesson whether to), so both decide the same way.
"""
from __future__ import annotations

import os
import select
import sys
from contextlib import contextmanager
from typing import Iterator


def in_ci() -> bool:
    """CI=true (or any value but 0/false/no), as CI services set it."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def wants_pause(fast: bool, no_pause: bool) -> bool:
    """Stop after each step only for a person at a terminal: not with --fast or --no-pause,
    not under CI, not when input or output is not a terminal (a pipe, a file)."""
    if fast or no_pause or in_ci():
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


@contextmanager
def cbreak() -> Iterator[None]:
    """The terminal in cbreak mode while a lesson waits: each key arrives at once, without
    Enter and without being echoed; Ctrl-C still interrupts. Set before the prompt is shown
    (without discarding keys already typed) and restored after."""
    import termios   # noqa: PLC0415 - POSIX only, and only needed at a terminal
    import tty       # noqa: PLC0415

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def read_key() -> str:
    """One key press (the terminal is in cbreak mode); an arrow key's escape sequence is read
    whole and returned as ESC."""
    fd = sys.stdin.fileno()
    data = os.read(fd, 1)
    if data == b"\x1b":
        while select.select([fd], [], [], 0.05)[0]:
            os.read(fd, 16)
    return data.decode("utf-8", errors="replace")
