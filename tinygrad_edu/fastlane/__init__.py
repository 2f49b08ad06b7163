"""The fast lane: every speed trick, as a named override of one reference function.

The reading core (``tinygrad_edu/engine``) and the composites hold only the plain
version of each computation. Each entry below replaces one of them with a faster
equivalent while the lane is on: the engine's primitives by a subclass (same formula,
faster arrays), a composite by the name it asks for (``graph.lane(name, reference)``),
and the engine's own bookkeeping, ``Function.apply`` and the backward walk, by
:mod:`~tinygrad_edu.fastlane.hotpath` (the same steps in fewer Python operations).

The lane is on by default. ``TG_FAST=0`` in the environment starts it off;
``tg.fast(False)`` turns it off, and ``with tg.fast(False):`` only inside the block,
so a lesson can draw the plain graph and a reader can time the plain engine.
``tests/test_fast_lane.py`` proves every override equal to its reference (values,
first and second derivatives) and that each one is called with the lane on and never
with it off. Nothing here changes the process at import.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.engine import ops
from tinygrad_edu.engine.graph import is_fast, override, set_fast
from tinygrad_edu.fastlane import allocator, elementwise, fold, gemm, hotpath, lstm, pool, rnn, \
    scatter, stacking, winograd


class fast:
    """``tg.fast(False)`` turns the fast lane off (for the whole process);
    ``with tg.fast(False):`` only inside the block, then it is back as it was."""

    def __init__(self, on: bool = True) -> None:
        self.prev = is_fast()
        set_fast(on)

    def __enter__(self) -> "fast":
        return self

    def __exit__(self, *exc: Any) -> None:
        set_fast(self.prev)


#: reference -> override; a primitive class, or a name: one a composite asks for, or the
#: engine's "apply" (swapped in by set_fast) and "run_backward" (asked for by backward).
OVERRIDES = {
    "apply": classmethod(hotpath.apply),                 # recording an op, fewer steps
    "run_backward": hotpath.run_backward,                 # the plain backward walk, fewer steps
    ops.Add: elementwise.ArrayAdd,                        # backward on the arrays directly
    ops.Mul: elementwise.ArrayMul,
    ops.WindowFold: fold.FoldPaths,                       # col2im by cheaper routes
    ops.MatMul: gemm.GemmOrder,                           # one GEMM for a stack; filter grad
    ops.Sigmoid: elementwise.InplaceSigmoid,              # in place, cached constants
    ops.Tanh: elementwise.CachedConstantTanh,             # cached constant
    ops.Relu: elementwise.MaskRelu,                       # backward by the mask, not a select
    ops.IndexAdd: scatter.SortedRowsIndexAdd,             # scatter-add by sorted rows
    "lstm_gates": lstm.fused_lstm_gates,                  # one node for an LSTM step's gates
    "first_max": pool.first_max,                          # max pooling's window reduction
    "stack": stacking.one_join_stack,                     # one Cat and one Reshape
    "lstm_cell": rnn.lstm_cell,                           # one node per cell step
    "gru_cell": rnn.gru_cell,
    "rnn_cell": rnn.rnn_cell,
    "lstm_layer": rnn.lstm_layer,                         # one node per layer and direction
    "gru_layer": rnn.gru_layer,
    "rnn_layer": rnn.rnn_layer,
    "host_allocator": allocator.tune_host_allocator,      # on the first Optimizer.step()
    "conv3x3": winograd.conv3x3,                          # 3x3 stride-1 conv by Winograd
}
for _reference, _fast in OVERRIDES.items():
    override(_reference, _fast)
set_fast(is_fast())                         # puts the "apply" override in place if the lane is on

__all__ = ["OVERRIDES", "fast", "is_fast"]
