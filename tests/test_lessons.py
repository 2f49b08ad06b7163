"""Every lesson runs in --fast mode and passes its own number checks (exit code 0)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LESSONS = sorted((Path(__file__).resolve().parents[1] / "lessons").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_fast(path: Path, tmp_path: Path) -> None:
    env = dict(os.environ, COLUMNS="120", TG_LESSON_OUT=str(tmp_path))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env.setdefault(var, "1")
    proc = subprocess.run([sys.executable, str(path), "--fast", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "passed" in proc.stdout, f"{path.name} printed no checks:\n{proc.stdout[-2000:]}"
