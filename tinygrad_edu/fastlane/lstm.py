"""Fused LSTM gates: one node instead of about fifteen for the gate arithmetic of a step.

The composed step (``functional.recurrent_cells.lstm_gates``) records a σ, a tanh, four
slices, three products and a sum per step; for small batches the time goes into
recording and dispatching them. :class:`LSTMGates` does the same arithmetic in one
node with a hand-written backward. ``tests/test_fast_lane.py`` proves it equal to the
composed gates (values, first and second derivatives).

The backward is written once, in operations that work on raw arrays (a plain
``backward()``) and on Tensors (``create_graph=True``, where the gate values are
recomputed with a graph so that second derivatives are right).
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.engine.ops import Cat, Primitive
from tinygrad_edu.engine.tensor import Tensor


def _sigmoid(x: Any) -> Any:
    return (backend.module_of(x).tanh(x * 0.5) + 1) * 0.5 if backend.is_array(x) else x.sigmoid()


def _tanh(x: Any) -> Any:
    return backend.module_of(x).tanh(x) if backend.is_array(x) else x.tanh()


def _gate_values(gates: Any, c_prev: Any) -> tuple:
    """i, f, g, o, c_t and tanh(c_t) of one step (arrays or Tensors)."""
    hidden = c_prev.shape[-1]
    s = _sigmoid(gates)                                   # (B, 4H): i, f and o are used
    i, f, o = s[..., :hidden], s[..., hidden:2 * hidden], s[..., 3 * hidden:]
    g = _tanh(gates[..., 2 * hidden:3 * hidden])          # (B, H)
    c = f * c_prev + i * g
    return i, f, g, o, c, _tanh(c)


class LSTMGates(Primitive):
    """[h_t | c_t] from the pre-activations a (B, 4H) and c_{t-1} (B, H):

        i, f, o = σ(a_i), σ(a_f), σ(a_o)     g = tanh(a_g)
        c_t = f·c_{t-1} + i·g                 h_t = o·tanh(c_t)       -> (B, 2H)

    Backward (δh, δc the halves of the output gradient):

        δc ← δc + δh·o·(1 - tanh²c_t)
        δa = [δc·g·i(1-i), δc·c_{t-1}·f(1-f), δc·i·(1-g²), δh·tanh(c_t)·o(1-o)]
        δc_{t-1} = δc·f
    """
    name = "lstm_gates"
    save_inputs = True

    def forward(self, gates: Any, c_prev: Any) -> Any:
        self.values = _gate_values(gates, c_prev)        # kept for a first-order backward
        i, f, g, o, c, tc = self.values
        return backend.module_of(gates).concatenate([o * tc, c], axis=-1)

    def backward(self, grad: Any) -> tuple:
        gates, c_prev = self.saved
        if graph.MODE.enabled:                            # create_graph: recompute with a graph
            i, f, g, o, c, tc = _gate_values(gates, c_prev)
        else:
            (i, f, g, o, c, tc), c_prev = self.values, c_prev.data
        hidden = c_prev.shape[-1]
        dh = grad[..., :hidden]
        dc = grad[..., hidden:] + dh * o * (1 - tc * tc)
        parts = [dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                 dh * tc * o * (1 - o)]
        dgates = backend.module_of(dc).concatenate(parts, axis=-1) if backend.is_array(dc) \
            else Cat.apply(*parts, dim=dc.ndim - 1)
        return dgates, dc * f


def fused_lstm_gates(gates: Tensor, c: Tensor) -> tuple:
    """(h_t, c_t) from gates (B, 4H) and c_{t-1} (B, H) through one :class:`LSTMGates` node."""
    hidden = c.shape[-1]
    hc = LSTMGates.apply(gates, c)                        # (B, 2H)
    return hc[..., :hidden], hc[..., hidden:]
