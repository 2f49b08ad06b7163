"""Lesson 3 ("Read the engine") fails when a primitive's backward disagrees with central
differences: break one backward at a time (in this process) and run the lesson's main."""
from __future__ import annotations

import argparse
import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest

from console import Lesson, LessonCheckError, TapeConsole
from tinygrad_edu.engine import ops

ROOT = Path(__file__).resolve().parents[1]


def load_lesson():
    path = ROOT / "lessons" / "03_read_the_engine.py"
    spec = importlib.util.spec_from_file_location("lesson03_read_the_engine", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_lesson(tmp_path: Path) -> Lesson:
    lesson = load_lesson()
    console = TapeConsole(file=io.StringIO(), width=140, highlight=False, color_system=None)
    L = Lesson(3, "Read the engine", console=console, out_root=tmp_path)
    args = argparse.Namespace(fast=True, no_pause=True, device="cpu", out=str(tmp_path),
                              eps="auto", dtype="float64", fast_lane=False)
    lesson.main(L, args)
    return L


def test_the_lesson_passes_with_the_engine_as_it_is(tmp_path: Path) -> None:
    L = run_lesson(tmp_path)
    names = [w for w, ok in L.checks if "backward = central differences" in w]
    primitives = {c.__name__ for c in vars(ops).values()
                  if isinstance(c, type) and issubclass(c, ops.Primitive) and c is not ops.Primitive}
    assert len(names) == len(primitives) == 26 and all(ok for _, ok in L.checks)   # every one


@pytest.mark.parametrize("name, wrong", [
    ("Sin", lambda self, g: g * np.sin(self.saved[0].data)),              # sin for cos
    ("Div", lambda self, g: (g / self.saved[1].data, g * self.saved[0].data)),   # sign lost
    ("WindowFold", lambda self, g: ops.run(ops.Window, g, axes=self.geometry[0],
                                            size=self.geometry[1], stride=self.geometry[1],
                                            dilation=self.geometry[3])),  # wrong stride
    ("Max", lambda self, g: np.broadcast_to(g.reshape(self.m.shape), self.saved[0].shape)),
])
def test_a_wrong_backward_fails_the_lesson(tmp_path: Path, monkeypatch, name: str,
                                           wrong) -> None:
    monkeypatch.setattr(getattr(ops, name), "backward", wrong)
    with pytest.raises(LessonCheckError, match=f"{name}: backward = central differences"):
        run_lesson(tmp_path)
