"""PyTorch's own test database (op_db and module_db) in our suite.

Every op_db entry that the mapping table in ``tests/opdb_harness.py`` names (our Tensor
method, ``tg.`` or ``F.`` function for it) runs PyTorch's own sample inputs through
tinygrad_edu in float32 and float64 (int64 for integer-only ops), and every module_db
entry we have builds the same layer on both sides with torch's weights copied in. Each
sample must match PyTorch in

* structure and shape of the result, and dtype (torch names -> tg names),
* values: |ours - torch| <= atol + rtol·|torch| with (rtol, atol) = (1e-5, 1e-5) in
  float32 and (1e-7, 1e-7) in float64 (looser only where a row says why), NaN and ±inf
  at exactly the same positions (a NaN on either side alone is a mismatch),
* inputs changed in place (batch norm's running statistics), compared after the call,
* gradients of every floating input (and of every parameter, for layers) for a fixed
  random upstream gradient, against ``torch.autograd.grad``, NaN-strict too.

Only a deliberate refusal listed in the expected-failures table may fail, and the test
checks that it fails with our own clear error. Samples with other dtypes (float16,
complex, ...) are "not applicable" and counted.

CI runs the first 8 samples of each op, dtype and mode; ``TG_OPDB_FULL=1`` runs all of
them (``python -m tools.opdb_report`` does too, and tabulates every failure). The counts
are written to ``out/opdb/summary.txt`` when the module finishes (and printed: ``-rA``
or ``-s`` shows them).
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from conftest import torch_or_skip

torch = torch_or_skip()
pytest.importorskip("expecttest", reason="expecttest is not installed: PyTorch's op_db "
                    "needs it (pip install expecttest, or the 'test' extra)")

import opdb_harness as H  # noqa: E402 - imports torch's test database: only after the skips
import tinygrad_edu as tg  # noqa: E402
import tinygrad_edu.functional as F  # noqa: E402

#: samples per op, dtype and mode in CI; TG_OPDB_FULL=1 lifts the cap
LIMIT = None if os.environ.get("TG_OPDB_FULL") == "1" else 8
OUT_DIR = Path(__file__).resolve().parent.parent / "out" / "opdb"
SHOWN = 12   # failing samples listed per test

pytestmark = pytest.mark.torch


def _fail_message(outcomes: list) -> str:
    failures = [o for o in outcomes if o.failed]
    lines = [f"{len(failures)} of {len(outcomes)} samples fail "
             f"({dict(H.totals(failures))}); our counterpart: {failures[0].counterpart}"]
    lines += ["  " + o.line() for o in failures[:SHOWN]]
    if len(failures) > SHOWN:
        lines.append(f"  ... and {len(failures) - SHOWN} more")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def tally():
    """Collects every outcome of this module; at the end writes this worker's counts and
    the counts of all workers of this run merged into out/opdb/summary.txt."""
    outcomes: list = []
    yield outcomes
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"local{os.getpid()}")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for stale in OUT_DIR.glob("counts-*.json"):
        if not stale.name.startswith(f"counts-{run}-"):
            stale.unlink(missing_ok=True)
    (OUT_DIR / f"counts-{run}-{worker}.json").write_text(json.dumps(H.totals(outcomes)))
    merged: Counter = Counter()
    for part in OUT_DIR.glob(f"counts-{run}-*.json"):
        merged.update(json.loads(part.read_text()))
    text = "\n".join(H.summary_lines(merged, capped=LIMIT is not None))
    (OUT_DIR / "summary.txt").write_text(text + "\n")
    print("\nPyTorch op_db / module_db parity (all workers finished so far):\n" + text)


def _op_id(case: tuple) -> str:
    row, dtype = case
    return f"{row.id}-{H.dtype_name(dtype) if dtype is not None else 'none'}"


@pytest.mark.parametrize("case", H.op_cases(), ids=_op_id)
def test_op_db(case: tuple, tally: list) -> None:
    """One mapping row in one dtype: every (capped) op_db sample matches PyTorch."""
    row, dtype = case
    outcomes = H.run_op(row, dtype, LIMIT)
    tally.extend(outcomes)
    assert not any(o.failed for o in outcomes), _fail_message(outcomes)


def _module_id(case: tuple) -> str:
    row, dtype, training = case
    return f"{row.id}-{H.dtype_name(dtype) if dtype else 'none'}-{'train' if training else 'eval'}"


@pytest.mark.parametrize("case", H.module_cases(), ids=_module_id)
def test_module_db(case: tuple, tally: list) -> None:
    """One layer in one dtype and mode: every (capped) module_db input matches PyTorch
    (outputs, buffers after forward, input and parameter gradients)."""
    row, dtype, training = case
    outcomes = H.run_module(row, dtype, training, LIMIT)
    tally.extend(outcomes)
    assert not any(o.failed for o in outcomes), _fail_message(outcomes)


def test_expected_failures_name_real_rows() -> None:
    """Every expected failure names a row of the mapping table (a typo would make it
    silently select nothing)."""
    ids = {r.id for r in H.OP_ROWS} | {r.id for r in H.MODULE_ROWS}
    unknown = [x.row_id for x in H.EXPECTED_FAILURES if x.row_id not in ids]
    assert not unknown, f"expected failures for rows that don't exist: {unknown}"


def test_mapping_rows_are_unique_and_in_op_db() -> None:
    """Row ids are unique, and every row names an entry of this torch's op_db/module_db."""
    ids = [r.id for r in H.OP_ROWS]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    index = H.op_db_index()
    absent = [r.id for r in H.OP_ROWS if (r.name, r.variant) not in index]
    absent += [r.id for r in H.MODULE_ROWS if r.name not in H.module_db_index()]
    assert not absent, f"rows naming entries this torch's op_db/module_db lacks: {absent}"


# ---------------------------------------------------------------- the harness can fail
# Each test below runs op_db's samples for `exp` through a deliberately broken counterpart
# and checks that the harness reports the breakage in the right category: a harness that
# passed these would pass anything.
def _exp_outcomes(call, monkeypatch=None, xfails=None) -> set:
    row = H.Row("exp", call=call, label="broken exp")
    if xfails is not None:
        monkeypatch.setattr(H, "EXPECTED_FAILURES", xfails)
    outcomes = H.run_op(row, torch.float32, LIMIT) + H.run_op(row, torch.float64, LIMIT)
    assert outcomes, "op_db gave no samples for exp"
    return {o.category for o in outcomes}


def test_harness_flags_a_value_off_by_1e_4_relative() -> None:
    assert H.VALUE in _exp_outcomes(lambda x: x.exp() * 1.0001)


def test_harness_flags_a_nan_where_torch_is_finite() -> None:
    nan = float("nan")
    assert H.NAN in _exp_outcomes(lambda x: tg.where(x.detach() < 0, tg.tensor(nan), x.exp()))


def test_harness_flags_a_wrong_gradient_with_right_values() -> None:
    # values exp(x), gradient 2 instead of exp(x): only gradients may be flagged (an
    # empty sample passes: it has no gradient to get wrong)
    found = _exp_outcomes(lambda x: x.exp().detach() + (x - x.detach()) * 2)
    assert H.GRAD in found and found <= {H.GRAD, H.PASS}


def test_harness_flags_wrong_dtype_and_shape() -> None:
    assert H.DTYPE in _exp_outcomes(lambda x: x.exp().to(tg.float64 if x.dtype == tg.float32
                                                          else tg.float32))
    assert H.SHAPE in _exp_outcomes(lambda x: x.exp().reshape(1, -1))


def test_harness_flags_a_deep_crash_listed_as_expected_failure(monkeypatch) -> None:
    """An expected-failure entry does not excuse a crash deep in NumPy: only a clear
    refusal of ours counts, so this is reported (and fails), not accepted."""
    xfail = H.ExpectedFailure("exp[broken exp]", "axis", "a test entry")
    crash = _exp_outcomes(lambda x: tg.Tensor(x.data.sum(axis=9)), monkeypatch, (xfail,))
    assert crash == {H.BAD_XFAIL}


def test_harness_flags_a_stale_expected_failure(monkeypatch) -> None:
    xfail = H.ExpectedFailure("exp[broken exp]", "exp", "a test entry")
    assert _exp_outcomes(lambda x: x.exp(), monkeypatch, (xfail,)) == {H.XPASS}


def test_harness_accepts_a_clear_refusal_listed_as_expected_failure(monkeypatch) -> None:
    def refuse(x):
        return x.norm("nuc")                             # NotImplementedError from our code
    xfail = H.ExpectedFailure("exp[broken exp]", "'nuc'", "a test entry")
    assert _exp_outcomes(refuse, monkeypatch, (xfail,)) == {H.XFAIL}
