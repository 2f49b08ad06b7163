"""Every lesson runs in --fast --no-pause mode (as CI runs the course) and keeps its promises:
exit status 0, every number checked, every step showing the code it runs, a library
reference that points at a real definition, and its figures written as PNG and SVG."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))


def test_there_are_23_lessons() -> None:
    assert [int(p.name[:2]) for p in LESSONS] == list(range(1, 24))


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_fast(path: Path, tmp_path: Path) -> None:
    env = dict(os.environ, COLUMNS="200")      # wide: no path in the summary is wrapped
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env.setdefault(var, "1")
    proc = subprocess.run([sys.executable, str(path), "--fast", "--no-pause", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=600, env=env,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, \
        f"{path.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    number = int(path.name[:2])
    record = json.loads((tmp_path / f"lesson{number:02d}" / "run.json").read_text())
    assert record["status"] == "done"
    checks = record["checks"]
    assert checks and all(c["ok"] for c in checks)
    assert f"Lesson {number} done: {len(checks)} checks passed" in proc.stdout

    steps = [s for s in record["steps"] if s["number"] > 0]
    assert len(steps) >= 2
    for s in steps:            # the code on screen comes from the lesson file itself
        assert s["code"], f"step {s['number']} ({s['title']}) shows no code"
        assert all(c.startswith(f"lessons/{path.name}:") for c in s["code"]), s["code"]
    refs = [r for s in steps for r in s["library"]]
    assert refs, f"{path.name} names no library code"
    for ref in refs:           # file:line of a def or class, found at run time
        file, line = ref.rsplit(":", 1)
        text = (ROOT / file).read_text().splitlines()[int(line) - 1].lstrip()
        assert text.startswith(("def ", "class ", "@")), f"{ref}: {text!r}"

    figures = [Path(f) for f in record["figures"]]
    pngs = [f for f in figures if f.suffix == ".png"]
    assert pngs, f"{path.name} wrote no figure"
    for png in pngs:
        assert png.with_suffix(".svg") in figures
        assert png.parent == tmp_path / f"lesson{number:02d}"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in png.with_suffix(".svg").read_bytes()[:1000]
        assert png.name in proc.stdout                    # listed at the end of the lesson
