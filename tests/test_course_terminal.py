"""The course as a learner meets it: in a pseudo-terminal, the lessons wait for Enter between
steps, ``b`` shows an earlier step again, ``q`` and Ctrl-C end with a summary and no traceback;
without a terminal (pipes, CI=true) everything runs straight through. Also the runner's
command line and the set-up's install stamp."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "lessons" / "run_course.py"
LESSON = ROOT / "lessons" / "06_volumes_and_channels.py"     # short, no training
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


class Terminal:
    """A program running in a 160×50 pseudo-terminal, as in a learner's window."""

    def __init__(self, args: list[str], env: dict | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if k not in ("CI", "COLUMNS", "LINES")}
        environ.update(TERM="xterm-256color", OPENBLAS_NUM_THREADS="1", **(env or {}))
        self.pid, self.fd = pty.fork()
        if self.pid == 0:                                   # the child: becomes the program
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, *args], environ)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        self.raw = b""
        self.status: int | None = None

    @property
    def text(self) -> str:
        """What was printed so far, without colours and cursor movements."""
        return ANSI.sub("", self.raw.decode("utf-8", errors="replace"))

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:                                     # the program has ended
            chunk = b""
        if not chunk:
            self._reap()
            return False
        self.raw += chunk
        return True

    def _reap(self) -> None:
        if self.status is None:
            _, status = os.waitpid(self.pid, 0)
            self.status = os.waitstatus_to_exitcode(status)

    def expect(self, pattern: str, timeout: float = 120) -> None:
        """Read until ``pattern`` (a regular expression) appears in the text."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text):
            if self.status is not None or time.monotonic() > deadline:
                raise AssertionError(f"waited for {pattern!r}; the screen ends with:\n"
                                     f"{self.text[-2500:]}")
            self._read(0.2)

    def quiet(self, seconds: float) -> bool:
        """True when nothing is printed for ``seconds`` (the program is waiting)."""
        before = len(self.raw)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._read(0.1)
        return len(self.raw) == before

    def press(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.status is None and time.monotonic() < deadline:
            if not self._read(0.2) and self.status is None:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.status = os.waitstatus_to_exitcode(status)
        while self._read(0.05):                             # what was printed last
            pass
        if self.status is None:
            os.kill(self.pid, 9)
            raise AssertionError(f"still running after {timeout} s:\n{self.text[-2500:]}")
        return self.status


PROMPT_2 = r"Enter\s+go on to step 2"


def begin(term: Terminal) -> None:
    """Past the lesson's title screen (its knobs), which waits before step 1, to step 1."""
    term.expect(r"Enter\s+go on to step 1")
    assert "Step 1." not in term.text and term.quiet(1.0)      # waits there too
    term.press("\r")
    term.expect(PROMPT_2)


def test_a_lesson_waits_for_enter_b_shows_the_step_before_and_q_quits(tmp_path: Path) -> None:
    term = Terminal([str(LESSON), "--out", str(tmp_path)])
    begin(term)
    assert "Step 1. A stack of maps is a volume" in term.text
    assert "Step 2." not in term.text
    assert term.quiet(1.5) and term.status is None          # it waits for the learner
    term.press("\r")
    term.expect(r"Enter\s+go on to step 3")
    assert "Step 2. The worked example" in term.text and "Step 3." not in term.text
    assert "b  show step 1 again" in term.text
    shown_before = term.text.count("A stack of maps is a volume")
    term.press("b")
    term.expect(r"end of step 1: A stack of maps is a volume \(shown again\)")
    assert "again, step 1: A stack of maps is a volume" in term.text
    assert term.text.count("A stack of maps is a volume") > shown_before
    assert term.text.count("✔ F.conv2d on the volume = −3") == 1   # step 2 did not run again
    assert "Step 3." not in term.text
    term.press("q")
    assert term.wait() == 0
    assert "Stopped after step 2 of lesson 6 (q)" in term.text
    assert "Traceback" not in term.text
    record = json.loads((tmp_path / "lesson06" / "run.json").read_text())
    assert record["status"] == "quit" and len(record["steps"]) == 3


def test_the_course_stops_at_q_with_a_summary(tmp_path: Path) -> None:
    term = Terminal([str(RUNNER), "--only", "6", "7", "--out", str(tmp_path)])
    begin(term)
    term.press("q")
    assert term.wait() == 0
    assert "Course summary" in term.text and "quit (q)" in term.text
    assert "07_classic_image_filters.py" not in term.text          # the course stopped there
    assert "Traceback" not in term.text


def test_ctrl_c_ends_the_course_with_its_summary_and_no_traceback(tmp_path: Path) -> None:
    term = Terminal([str(RUNNER), "--only", "6", "7", "--out", str(tmp_path)])
    begin(term)
    term.press("\x03")                                              # Ctrl-C
    assert term.wait() == 130
    assert "Interrupted during step 1 of lesson 6" in term.text
    assert "Course summary" in term.text and "interrupted" in term.text
    assert "Traceback" not in term.text and "KeyboardInterrupt" not in term.text


def test_ci_true_runs_straight_through_even_at_a_terminal(tmp_path: Path) -> None:
    term = Terminal([str(LESSON), "--out", str(tmp_path)], env={"CI": "true"})
    assert term.wait(timeout=120) == 0
    assert "Lesson 6 done" in term.text and "go on to step" not in term.text


def test_piped_output_runs_straight_through(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(LESSON), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "CI"})
    assert proc.returncode == 0 and "Lesson 6 done" in proc.stdout
    assert "go on to step" not in proc.stdout


# ---------------------------------------------------------------- the runner's command line
def runner(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUNNER), *args], capture_output=True, text=True,
                          timeout=300)


def test_an_unknown_lesson_is_an_error_that_lists_the_lessons() -> None:
    proc = runner("--only", "3", "99")
    assert proc.returncode == 2
    assert "no lesson 99: the lessons are 1-23" in proc.stderr
    proc = runner("--from", "0")
    assert proc.returncode == 2 and "no lesson 0" in proc.stderr


def test_help_speaks_of_the_readme_command() -> None:
    proc = runner("--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: bash tools/course.sh")
    assert "python lessons/run_course.py" not in proc.stdout


def test_list_names_every_lesson() -> None:
    proc = runner("--list")
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) == 23
    assert lines[2].split()[:2] == ["3", "03_read_the_engine.py"]


def test_the_summary_lists_every_picture(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(RUNNER), "--fast", "--only", "6", "8", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, COLUMNS="200"))
    assert proc.returncode == 0, proc.stdout[-3000:]
    pictures = sorted(tmp_path.glob("lesson*/*.png")) + sorted(tmp_path.glob("lesson*/*.svg"))
    assert {p.parent.name for p in pictures} == {"lesson06", "lesson08"}
    summary = proc.stdout[proc.stdout.index("Course summary"):]
    for p in pictures:
        assert p.name in summary
    assert re.search(r"Course time: \d+ min \d+ s", summary)


# ---------------------------------------------------------------- set-up
def test_setup_reinstalls_only_when_pyproject_changes() -> None:
    stamp = ROOT / ".venv" / ".tinygrad_edu-install-stamp"
    if not stamp.is_file():
        pytest.skip("this environment was not set up by tools/setup.sh")
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + b"extras=test,course\n")
    if stamp.read_text().strip() != want.hexdigest():
        pytest.skip("pyproject.toml changed since the last set-up: the next one reinstalls")
    proc = subprocess.run(["bash", str(ROOT / "tools" / "setup.sh")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "installing" not in proc.stderr                      # pip did not run again
