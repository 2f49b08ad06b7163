"""tools/bench.py's LeNet breakdown attributes time to each part with either lane.

Not a timed test: it checks that the instrumentation reaches the code that runs (a fast-lane
class with its own ``forward`` would otherwise read as 0 ms and move its time to "the rest").
"""
from __future__ import annotations

import io

from rich.console import Console

from tools import bench


def test_breakdown_reaches_every_part_with_both_lanes() -> None:
    rows = bench.breakdown(Console(file=io.StringIO()), steps=1)
    assert [lane for lane, _, _ in rows] == [True, False]
    for lane, total, parts in rows:
        for part in ("GEMM (conv)", "patch copy", "fold", "GEMM (linear)"):
            assert parts.get(part, 0.0) > 0, f"{part}: 0 ms with the lane on = {lane}"
        assert total > sum(v for k, v in parts.items() if k != "the rest")
