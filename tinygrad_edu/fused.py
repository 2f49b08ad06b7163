"""Fused fast paths: composites given one node of their own, because a benchmark needed it.

Everything in the library is composed from primitives and differentiated for free.
A fused op is the exception, and it must earn its place twice:

1. ``tools/bench.py lstm`` shows the need: an LSTM step composed of ~15 small ops
   spends its time dispatching them (see the "composed cell" row of the table);
2. ``tests/test_fused.py`` proves the fused op equals the composed one: forward,
   gradients (first and second order) and gradcheck.

The backward is still written once: in operations that work on raw arrays (a plain
``backward()``) and on Tensors (``create_graph=True``, where the gate values are
recomputed with a graph so that second derivatives are right).
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu import backend
from tinygrad_edu.autograd import STATE, Function
from tinygrad_edu.tensor import Tensor, cat


def _sigmoid(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.sigmoid()
    return (backend.module_of(x).tanh(x * 0.5) + 1) * 0.5


def _tanh(x: Any) -> Any:
    return x.tanh() if isinstance(x, Tensor) else backend.module_of(x).tanh(x)


def _cat(parts: list, axis: int = -1) -> Any:
    if isinstance(parts[0], Tensor):
        return cat(parts, axis)
    return backend.module_of(parts[0]).concatenate(parts, axis=axis)


def _lstm_parts(gates: Any, c_prev: Any) -> tuple:
    """Gate values of one LSTM step (arrays or Tensors): i, f, g, o, c_t, tanh(c_t)."""
    hidden = c_prev.shape[-1]
    s = _sigmoid(gates)                                   # (B, 4H): i, f and o are used
    i = s[..., :hidden]
    f = s[..., hidden:2 * hidden]
    o = s[..., 3 * hidden:]
    g = _tanh(gates[..., 2 * hidden:3 * hidden])          # (B, H)
    c = f * c_prev + i * g
    return i, f, g, o, c, _tanh(c)


class LSTMGates(Function):
    """[h_t | c_t] = LSTM gates applied to the pre-activations ``a`` (B, 4H) and c_{t-1} (B, H).

        i, f, o = σ(a_i), σ(a_f), σ(a_o)     g = tanh(a_g)
        c_t = f·c_{t-1} + i·g                 h_t = o·tanh(c_t)       -> (B, 2H)

    Backward (δh, δc the output gradient's halves):

        δc ← δc + δh·o·(1 - tanh²c_t)
        δa = [δc·g·i(1-i), δc·c_{t-1}·f(1-f), δc·i·(1-g²), δh·tanh(c_t)·o(1-o)]
        δc_{t-1} = δc·f
    """
    name = "lstm_gates"
    save_inputs = True

    def forward(self, gates: Any, c_prev: Any) -> Any:
        self.parts = _lstm_parts(gates, c_prev)           # kept for the first-order backward
        i, f, g, o, c, tc = self.parts
        return backend.module_of(gates).concatenate([o * tc, c], axis=-1)

    def backward(self, grad: Any) -> tuple:
        gates, c_prev = self.saved
        if STATE.enabled:                                  # create_graph: recompute with a graph
            i, f, g, o, c, tc = _lstm_parts(gates, c_prev)
        else:
            i, f, g, o, c, tc = self.parts
            c_prev = c_prev.data
        hidden = c_prev.shape[-1]
        dh = grad[..., :hidden]
        dc = grad[..., hidden:] + dh * o * (1 - tc * tc)
        dgates = _cat([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                       dh * tc * o * (1 - o)])
        return dgates, dc * f


LSTMGates.array_backward = True


def lstm_step(xw: Tensor, h: Tensor, c: Tensor, w_hh_t: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTM step with fused gates; the same numbers as ``recurrent.lstm_step``.

    xw (B, 4H) = x_t W_ihᵀ + b, h and c (B, H), w_hh_t (H, 4H) -> (h_t, c_t).
    """
    hidden = c.shape[-1]
    hc = LSTMGates.apply(xw + h @ w_hh_t, c)              # (B, 2H)
    h_new, c_new = hc[..., :hidden], hc[..., hidden:]
    h_new.name, c_new.name = "h", "c"
    return h_new, c_new
