"""tools/bench.py works as it says: the LeNet breakdown attributes time to each part with
either lane, and PyTorch's candidates run in a process of their own.

Not timed tests: they check that the instrumentation reaches the code that runs (a fast-lane
class with its own ``forward`` would otherwise read as 0 ms and move its time to "the rest"),
and where PyTorch runs.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from rich.console import Console

from tools import bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code: str) -> str:
    """What ``code`` prints, run by a fresh Python in the repository root."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, check=True).stdout


def test_breakdown_reaches_every_part_with_both_lanes() -> None:
    rows = bench.breakdown(Console(file=io.StringIO()), steps=1)
    assert [lane for lane, _, _ in rows] == [True, False]
    for lane, total, parts in rows:
        for part in ("GEMM (conv)", "patch copy", "fold", "GEMM (linear)"):
            assert parts.get(part, 0.0) > 0, f"{part}: 0 ms with the lane on = {lane}"
        assert total > sum(v for k, v in parts.items() if k != "the rest")


def test_pytorch_runs_in_a_process_of_its_own() -> None:
    """The benchmark's PyTorch candidates answer from a child process; the benchmark's own
    process never imports PyTorch (so our lane's allocator tuning can't reach it)."""
    pytest.importorskip("torch")
    code = ("import sys\nsys.argv = ['bench']\nimport tools.bench as b\n"
            "run, sync = b.torch_candidate('overhead', 'cpu')\n"
            "took = [run() for _ in range(2)]\nb.TorchProcess.close()\n"
            "print('torch' in sys.modules, all(isinstance(t, float) and t > 0 for t in took))\n")
    assert _python(code).split() == ["False", "True"]


def test_every_workload_is_timed_after_a_training_step() -> None:
    """bench.run takes one lane-on optimizer step first, so that a workload asked for alone
    (``bench.py conv``) is timed with the host allocator as training leaves it."""
    code = ("import sys\nsys.argv = ['bench']\nimport tools.bench as b\n"
            "from tinygrad_edu.fastlane import allocator\nbefore = list(allocator._done)\n"
            "b.WORKLOADS['none'] = lambda device, repeat: {}\n"
            "b.run(['none'], 'cpu', 1, 1)\nprint(before, allocator._done)\n")
    assert _python(code).strip() == "[] [True]"
