"""The course console (lessons/console.py): checks that can fail, code on screen, pacing.

The console is imported from lessons/ through pytest's ``pythonpath`` setting.
"""
from __future__ import annotations

import argparse
import inspect
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from console import Knob, Lesson, LessonCheckError, LessonQuit, TapeConsole, compare, run
from pacing import wants_pause

HERE = Path(__file__).resolve()


def quiet_lesson(tmp_path: Path, **kwargs) -> Lesson:
    console = TapeConsole(file=io.StringIO(), width=120, highlight=False, color_system=None)
    return Lesson(0, "test", console=console, out_root=tmp_path, **kwargs)


def printed(L: Lesson) -> str:
    return L.console.file.getvalue()


# ---------------------------------------------------------------- compare and check
@pytest.mark.parametrize("got, expected, tol", [
    (12.0, 12.0, 0.0), (12, 12.0, 0.0), ([2.0, 9.0, 1.0], (2, 9, 1), 0.0),
    (1.0 + 1e-7, 1.0, 1e-6),            # absolute near 0 and 1
    (1000.0005, 1000.0, 1e-6),          # relative for large values: 1e-6 · 1000
    (float("inf"), float("inf"), 0.0), (True, 1, 0.0),
    (tg.tensor([[1.0, 2.0]]), [[1.0, 2.0]], 0.0),
])
def test_compare_accepts_equal_values(got, expected, tol) -> None:
    assert compare(got, expected, tol) == (True, "")


@pytest.mark.parametrize("got, expected, tol, why", [
    (9.0, 12.0, 0.0, "differ"), (1.0 + 2e-6, 1.0, 1e-6, "differ"),
    (1000.002, 1000.0, 1e-6, "differ"),
    (float("nan"), 1.0, 1e9, "differ"), (1.0, float("nan"), 1e9, "differ"),
    (float("nan"), float("nan"), 1e9, "differ"),          # NaN equals nothing, not even NaN
    (float("inf"), -float("inf"), 1e9, "differ"), (float("inf"), 1e300, 1.0, "differ"),
    ([1.0, 2.0], [1.0, 3.0], 0.0, "index (1,)"),
    (np.ones((2, 3)), np.ones((3, 2)), 0.0, "shape (2, 3) where (3, 2)"),
    ([1.0], 1.0, 0.0, "shape (1,) where ()"), (tg.ones(4), [1.0, 1.0, 1.0], 0.0, "shape"),
])
def test_compare_refuses_different_values(got, expected, tol, why) -> None:
    ok, reason = compare(got, expected, tol)
    assert ok is False and why in reason


def test_compare_refuses_what_is_not_a_number() -> None:
    with pytest.raises(TypeError, match="must be numbers"):
        compare("12", 12.0)
    with pytest.raises(TypeError, match="ragged"):
        compare([[1.0], [1.0, 2.0]], [[1.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="tol must be >= 0"):
        compare(1.0, 1.0, -1e-9)
    with pytest.raises(ValueError, match="tol must be >= 0"):
        compare(1.0, 1.0, float("nan"))


def test_check_fails_loudly_on_a_wrong_value(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path)
    L.check("a cross scores 12", 12.0, 12.0)
    with pytest.raises(LessonCheckError, match="a T scores 9: got 12.0, expected 9"):
        L.check("a T scores 9", 12.0, 9.0)
    assert L.checks == [("a cross scores 12", True), ("a T scores 9", False)]
    out = printed(L)
    assert "✔ a cross scores 12: got 12.0" in out and "✘ a T scores 9" in out


def test_check_fails_on_nan_and_on_shapes(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path)
    with pytest.raises(LessonCheckError):
        L.check("NaN is not NaN", float("nan"), float("nan"), tol=1.0)
    with pytest.raises(LessonCheckError):
        L.check("NaN is not a number", tg.tensor([1.0, math.nan]), [1.0, 1.0], tol=1.0)
    with pytest.raises(LessonCheckError, match=r"shape \(2, 2\) where \(4,\)"):
        L.check("a 2×2 map is not 4 numbers", tg.ones(2, 2), [1.0] * 4)
    assert [ok for _, ok in L.checks] == [False, False, False]


def test_check_true(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path)
    L.check_true("accuracy above 90%", 0.95 > 0.9, "95%")
    with pytest.raises(LessonCheckError, match="accuracy above 99% failed"):
        L.check_true("accuracy above 99%", 0.95 > 0.99, "95%")
    with pytest.raises(TypeError, match="must be a bool"):
        L.check_true("a number is not a condition", 0.95)
    assert L.checks == [("accuracy above 90%", True), ("accuracy above 99%", False)]


# ---------------------------------------------------------------- run(): exit status, record
def _run(main, tmp_path: Path, capsys) -> tuple[int, dict, str]:
    with pytest.raises(SystemExit) as exited:
        run(main, 7, "test", ["--fast", "--out", str(tmp_path)])
    record = json.loads((tmp_path / "lesson07" / "run.json").read_text())
    return exited.value.code, record, capsys.readouterr().out


def test_run_passes_a_lesson_whose_checks_pass(tmp_path: Path, capsys) -> None:
    def main(L: Lesson, args: argparse.Namespace) -> None:
        L.step("one")
        with L.code():
            x = 2 + 2
        L.check("two and two", x, 4)

    code, record, out = _run(main, tmp_path, capsys)
    assert code == 0 and record["status"] == "done"
    assert record["checks"] == [{"what": "two and two", "ok": True}]
    assert "Lesson 7 done: 1 checks passed" in out


def test_run_fails_a_lesson_that_checks_nothing(tmp_path: Path, capsys) -> None:
    def main(L: Lesson, args: argparse.Namespace) -> None:
        L.step("prose only")
        L.say("nothing to see")

    code, record, out = _run(main, tmp_path, capsys)
    assert code == 1 and record["status"] == "failed"
    assert "checked nothing" in out


def test_run_fails_a_lesson_with_a_wrong_number(tmp_path: Path, capsys) -> None:
    def main(L: Lesson, args: argparse.Namespace) -> None:
        L.check("right", 1.0, 1.0)
        L.check("wrong", 1.0, 2.0)
        L.check("never reached", 1.0, 1.0)

    code, record, _ = _run(main, tmp_path, capsys)
    assert code == 1 and record["status"] == "failed"
    assert [c["ok"] for c in record["checks"]] == [True, False]


# ---------------------------------------------------------------- the code on screen
def test_code_shows_its_own_body_with_file_and_line(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path)
    L.step("arithmetic")
    with L.code():
        a = 1 + 1      # the first line shown
        b = a * 3      # the last line shown
    assert b == 6                                           # and the body ran
    lines = HERE.read_text().splitlines()
    first = lines.index("        a = 1 + 1      # the first line shown") + 1
    assert L.current.code == [f"tests/test_console.py:{first}-{first + 1}"]
    out = printed(L)
    assert f"tests/test_console.py:{first}-{first + 1}" in out
    assert f"{first} a = 1 + 1" in out and f"{first + 1} b = a * 3" in out
    assert "assert b == 6" not in out                       # only the body is shown


def test_code_outside_a_with_statement_says_how_to_use_it(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path)
    with pytest.raises(ValueError, match="write `with L.code\\(\\):`"):
        L.code()


def test_source_shows_a_whole_helper(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path)
    L.source(quiet_lesson)
    _, first = inspect.getsourcelines(quiet_lesson)
    assert L.current.code == [f"tests/test_console.py:{first}-{first + 2}"]
    assert "def quiet_lesson" in printed(L)


@pytest.mark.parametrize("obj, name", [(F.conv2d, "conv2d"), (tg.Tensor.backward, "backward"),
                                       (tg.nn.LSTMCell, "LSTMCell"),
                                       (tg.sliding_window, "sliding_window")])
def test_uses_names_the_library_file_and_line_found_at_run_time(tmp_path: Path, obj,
                                                                 name: str) -> None:
    L = quiet_lesson(tmp_path)
    L.uses(obj)
    (ref,) = L.current.library
    path, line = ref.rsplit(":", 1)
    assert path.startswith("tinygrad_edu/") and path.endswith(".py")
    source = (HERE.parents[1] / path).read_text().splitlines()
    assert f"def {name}(" in source[int(line) - 1] or f"class {name}(" in source[int(line) - 1]
    assert ref in printed(L)


# ---------------------------------------------------------------- pacing
def keys(*pressed: str):
    """A stand-in keyboard: returns the given keys one by one, then fails the test."""
    it = iter(pressed)
    return lambda: next(it)


def test_steps_wait_for_enter_and_b_replays_without_running_again(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path, pause=True, keys=keys("x", "\r", "b", "\n", "\r"))
    runs = []
    L.step("first")
    runs.append("first")
    L.say("output of the first step")
    L.step("second")                   # pause: x (ignored), Enter
    runs.append("second")
    L.say("output of the second step")
    L.end_step(last=True)              # pause: b (shows step 1 again), Enter
    assert runs == ["first", "second"]
    out = printed(L)
    assert out.count("output of the first step") == 2        # shown again from memory
    assert out.count("output of the second step") == 1
    assert "again, step 1: first" in out
    assert out.index("output of the second step") < out.index("again, step 1")


def test_q_quits_and_no_pause_runs_straight_through(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path, pause=True, keys=keys("q"))
    L.step("first")
    L.say("something")
    with pytest.raises(LessonQuit):
        L.step("second")
    L = quiet_lesson(tmp_path, pause=False, keys=keys())      # a key read would fail
    L.step("first")
    L.say("something")
    L.step("second")
    L.end_step(last=True)


def test_who_gets_pauses(monkeypatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty())
    monkeypatch.setattr("sys.stdout", Tty())
    monkeypatch.delenv("CI", raising=False)
    assert wants_pause(fast=False, no_pause=False) is True
    assert wants_pause(fast=True, no_pause=False) is False
    assert wants_pause(fast=False, no_pause=True) is False
    monkeypatch.setenv("CI", "true")
    assert wants_pause(False, False) is False
    monkeypatch.setenv("CI", "false")
    assert wants_pause(False, False) is True
    monkeypatch.setattr("sys.stdout", io.StringIO())          # piped output
    assert wants_pause(False, False) is False


# ---------------------------------------------------------------- progress and figures
def test_progress_reports_the_loss_and_figures_are_written(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path)
    L.step("training")
    with L.progress("fitting", total=3) as bar:
        for loss in (3.0, 2.0, 1.0):
            bar.update(loss=loss)
        bar.note("halfway note")
    out = printed(L)
    assert "fitting: 3 steps in" in out and "loss 3.0000" in out and "1.0000" in out
    assert "halfway note" in out and bar.losses == [3.0, 2.0, 1.0]
    with L.figure("curve", "A curve") as (fig, axes):
        axes[0, 0].plot([0, 1], [1, 0])
    assert [p.name for p in L.figures] == ["curve.png", "curve.svg"]
    png, svg = L.figures
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"<svg" in svg.read_bytes()[:400]
    assert png.parent == tmp_path / "lesson00"


def test_say_emphasises_starred_words_but_leaves_formulas_alone(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path)
    L.say("its *receptive field*; (f * g)(m, n) and the * version; 2*3*4")
    assert "its receptive field; (f * g)(m, n) and the * version; 2*3*4" in printed(L)


# ---------------------------------------------------------------- the decks, departures
def test_a_step_names_the_deck_section_it_follows(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path)
    L.step("filters", deck=(3, "Practice with Linear Filters"))
    L.step("two decks", deck=[(2, "Steps in an LSTM"), (4, "Recurrent Networks")])
    L.step("past the slides", beyond="the slides stop at the forward pass")
    assert [s.decks for s in L.steps[1:]] == [
        ["Deck 003, “Practice with Linear Filters”"],
        ["Deck 002, “Steps in an LSTM”", "Deck 004, “Recurrent Networks”"], []]
    assert L.steps[3].beyond == "the slides stop at the forward pass"
    out = printed(L)
    assert "☰ follows Deck 003, “Practice with Linear Filters”" in out
    assert "☰ beyond the decks: the slides stop at the forward pass" in out


@pytest.mark.parametrize("deck, why", [((3, "Practise with Linear Filters"), "no section"),
                                       ((7, "Convolution"), "the decks are")])
def test_a_misspelt_citation_fails_at_once(tmp_path: Path, deck, why: str) -> None:
    L = quiet_lesson(tmp_path)
    with pytest.raises(ValueError, match=why):
        L.step("typo", deck=deck)
    assert len(L.steps) == 1                        # no step was started


def test_a_departure_shows_both_versions_and_is_recorded(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path)
    L.step("update rule")
    L.departure((1, "STEP 6: GET ERROR AND UPDATE WEIGHTS"), "w ← w − η∂E/∂w + α·w",
                "w ← w − η∂E/∂w + α·Δw", "the slide's rule grows w by 1 + α per step")
    L.check("a number", 1.0, 1.0)
    out = printed(L)
    assert "≠ Departure from Deck 001, “STEP 6: GET ERROR AND UPDATE WEIGHTS”" in out
    assert "the slide" in out and "this lesson" in out and "grows w by 1 + α" in out
    L.finish("done")
    record = json.loads((tmp_path / "lesson00" / "run.json").read_text())
    (dep,) = record["departures"]
    assert dep["step"] == 1 and dep["slide"] == "w ← w − η∂E/∂w + α·w"
    assert record["steps"][1]["checks"] == 1


# ---------------------------------------------------------------- predict, then run
def test_a_question_waits_for_a_digit_and_the_answer_is_checked(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path, pause=True, keys=keys("x", "7", "2"))
    L.step("gradients")
    q = L.question("What happens to the norm?", ["it grows", "it shrinks", "it stays"])
    assert q.chosen == 2
    L.answer(q, observed=2, expected=2, why="each step multiplies it by 0.5")
    out = printed(L)
    assert "? Predict, then run: What happens to the norm?" in out
    assert "(a digit from 1 to 3" in out and "You predicted it." in out
    assert L.checks[-1][1] is True
    with pytest.raises(LessonCheckError, match="the run gives option 1"):
        L.answer(q, observed=1, expected=2, why="a surprise fails the lesson")


def test_a_question_without_a_terminal_runs_on(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path, keys=keys())          # no key may be read
    L.step("gradients")
    q = L.question("Up or down?", ["up", "down"])
    assert q.chosen is None
    L.answer(q, observed=2, expected=2, why="because")
    assert "! Answer: 2, down." in printed(L)
    with pytest.raises(ValueError, match="2 to 9 options"):
        L.question("one option?", ["only"])


def test_q_at_a_question_quits(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path, pause=True, keys=keys("q"))
    L.step("gradients")
    with pytest.raises(LessonQuit):
        L.question("Up or down?", ["up", "down"])


# ---------------------------------------------------------------- knobs
def test_knobs_are_options_the_lesson_reads_and_records(tmp_path: Path, capsys) -> None:
    seen = {}

    def main(L: Lesson, args: argparse.Namespace) -> None:
        seen.update(gamma=args.gamma, no_gate_bias=args.no_gate_bias, cell=args.cell)
        L.step("one")
        with L.code():
            x = args.gamma * 2
        L.check("twice gamma", x, 2 * args.gamma)

    knobs = [Knob("--gamma", 1.0, "scale of U"), Knob("--no-gate-bias", False, "no +3 bias"),
             Knob("--cell", "lstm", "which cell", choices=("lstm", "gru"))]
    with pytest.raises(SystemExit):
        run(main, 7, "test", ["--fast", "--out", str(tmp_path), "--gamma", "1.5",
                              "--no-gate-bias"], knobs=knobs)
    assert seen == {"gamma": 1.5, "no_gate_bias": True, "cell": "lstm"}
    record = json.loads((tmp_path / "lesson07" / "run.json").read_text())
    assert record["knobs"] == {"gamma": 1.5, "no_gate_bias": True, "cell": "lstm"}
    out = capsys.readouterr().out
    assert "--gamma 1.5  (changed)" in out and "--no-gate-bias on  (changed)" in out
    with pytest.raises(SystemExit):
        run(main, 7, "test", ["--fast", "--out", str(tmp_path), "--cell", "rnn"], knobs=knobs)
    assert "invalid choice: 'rnn'" in capsys.readouterr().err


def test_read_shows_library_source_with_its_place(tmp_path: Path) -> None:
    L = quiet_lesson(tmp_path)
    L.read(tg.engine.ops.Tanh)
    (ref,) = L.current.library
    path, line = ref.rsplit(":", 1)
    assert path == "tinygrad_edu/engine/ops.py"
    source = (HERE.parents[1] / path).read_text().splitlines()
    assert source[int(line) - 1].startswith("class Tanh(")
    out = printed(L)
    assert "class Tanh(Primitive):" in out and "def backward" in out and "⚙ " + path in out
