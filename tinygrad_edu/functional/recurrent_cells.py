"""Recurrent cells as functions: one time step of an RNN, LSTM, GRU or peephole LSTM.

A recurrent network applies the *same* weights at every time step t = 0, 1, ..., T-1:

    h_t = cell(x_t, h_{t-1})

Each cell below is a handful of matmuls, adds and activations, so its gradient
comes from the chain rule over those primitives: there is no hand-written
recurrent backward anywhere. Back-propagation through time (BPTT) is simply
autograd over the unrolled loop, and because the same weight tensor is used at
every step, its gradient is the *sum* of the gradients of all the steps.

Shapes (B = batch, I = input features, H = hidden units):

    input x_t  (B, I)          hidden h, c  (B, H)
    w_ih       (G·H, I)        w_hh         (G·H, H)        b_ih, b_hh  (G·H,)

where G is the number of gate blocks stacked in the weights: 1 (RNN), 4 (LSTM,
order i, f, g, o) or 3 (GRU, order r, z, n): PyTorch's layout, so its weights
load unchanged.

Every cell is split in two:

* the **input projection** ``x_t W_ihᵀ + b``, which does not depend on the
  previous state, so a layer computes it for all T steps in one big matmul
  ((T·B, I) @ (I, G·H)) before its loop, and
* the **step** (``rnn_step``, ``lstm_step``, ``gru_step``, ``peephole_lstm_step``),
  which adds ``h_{t-1} W_hhᵀ`` and applies the gates. Only this part is sequential.

The ``*_cell`` functions do both for one step and are what ``nn.LSTMCell`` etc. call;
the ``*_layer`` functions run all T steps of one layer and direction (``nn.LSTM`` etc.).
With the fast lane on, a cell step and a whole layer are each one node
(``tinygrad_edu/fastlane/rnn.py``); ``tg.fast(False)`` records every op below.
"""
from __future__ import annotations

from typing import Any, Sequence

from tinygrad_edu.engine.graph import lane
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.gradients import scope
from tinygrad_edu.functional.tensor_methods import stack


def _input_projection(input: Tensor, w_ih: Tensor, b_ih: Tensor | None,
                      b_hh: Tensor | None = None) -> Tensor:
    """x W_ihᵀ + b_ih (+ b_hh): (..., I) -> (..., G·H). Both biases fold into one add."""
    _check_features(input, w_ih)
    out = input @ w_ih.T
    if b_ih is not None and b_hh is not None:
        return out + (b_ih + b_hh)
    if b_ih is not None:
        return out + b_ih
    return out + b_hh if b_hh is not None else out


def _check_features(input: Tensor, w_ih: Tensor) -> None:
    if input.shape[-1] != w_ih.shape[1]:
        raise RuntimeError(f"recurrent cell: input has {input.shape[-1]} features (shape "
                           f"{tuple(input.shape)}) but weight_ih expects {w_ih.shape[1]} "
                           f"(weight_ih shape {tuple(w_ih.shape)})")


def _check_hidden(h: Tensor, batch: tuple, hidden: int, name: str, where: str) -> None:
    want = batch + (hidden,)
    if tuple(h.shape) != want:
        raise RuntimeError(f"{where}: {name} has shape {tuple(h.shape)}, expected {want} "
                           f"(batch {batch[0] if batch else 'none'}, hidden_size {hidden})")


# ---------------------------------------------------------------- steps (state update only)
def rnn_step(xw: Tensor, h: Tensor, w_hh_t: Tensor, nonlinearity: str = "tanh") -> Tensor:
    """One Elman RNN step from a precomputed input projection.

        h_t = f(xw_t + h_{t-1} W_hhᵀ)       f = tanh or relu

    xw (B, H) already holds x_t W_ihᵀ + b_ih + b_hh; ``w_hh_t`` is W_hhᵀ (H, H).
    """
    pre = xw + h @ w_hh_t                                   # (B, H)
    h = pre.tanh() if nonlinearity == "tanh" else pre.relu()
    h.name = "h"
    return h


def lstm_gates(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """The LSTM's gates (Hochreiter & Schmidhuber 1997), from the pre-activations
    gates = [a_i, a_f, a_g, a_o] (B, 4H) and the cell c_{t-1} (B, H):

        i = σ(a_i)    input gate:  how much new content to write
        f = σ(a_f)    forget gate: how much of the old cell to keep
        g = tanh(a_g) candidate content
        o = σ(a_o)    output gate: how much of the cell to show
        c_t = f ⊙ c_{t-1} + i ⊙ g        the cell: changed only by ⊙ and +
        h_t = o ⊙ tanh(c_t)

    Because c_t depends on c_{t-1} through a product with f (not through a squashing
    matmul), ∂c_t/∂c_{t-1} = f, and the gradient can survive many steps.
    """
    hidden = c.shape[-1]
    s = gates.sigmoid()                                     # one σ for the three σ-gates
    i, f, o = s[..., :hidden], s[..., hidden:2 * hidden], s[..., 3 * hidden:]    # (B, H)
    g = gates[..., 2 * hidden:3 * hidden].tanh()
    c = f * c + i * g
    return o * c.tanh(), c


def lstm_step(xw: Tensor, h: Tensor, c: Tensor, w_hh_t: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTM step from a precomputed input projection xw (B, 4H) = x_t W_ihᵀ + b:
    gates = xw + h_{t-1} W_hhᵀ, then :func:`lstm_gates` (which the fast lane fuses into
    one node; ``tg.fast(False)`` shows every σ, tanh and ⊙). ``w_hh_t`` is W_hhᵀ (H, 4H).
    """
    gates = xw + h @ w_hh_t                                 # (B, 4H)
    h, c = lane("lstm_gates", lstm_gates)(gates, c)
    h.name, c.name = "h", "c"
    return h, c


def gru_step(xw: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> Tensor:
    """One GRU step from a precomputed input projection (Cho et al. 2014, PyTorch's form).

        [x_r, x_z, x_n] = xw_t                     x_t W_ihᵀ + b_ih, three (B, H) blocks
        [h_r, h_z, h_n] = h_{t-1} W_hhᵀ + b_hh
        r = σ(x_r + h_r)              reset gate:  how much of the past feeds the candidate
        z = σ(x_z + h_z)              update gate: how much of the old state to keep
        n = tanh(x_n + r ⊙ h_n)       candidate state
        h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}  =  n + z ⊙ (h_{t-1} - n)

    b_hh cannot be folded into xw: its n-block is multiplied by r.
    """
    hidden = h.shape[-1]
    hw = h @ w_hh_t                                         # (B, 3H)
    if b_hh is not None:
        hw = hw + b_hh
    rz = (xw[..., :2 * hidden] + hw[..., :2 * hidden]).sigmoid()    # (B, 2H)
    r = rz[..., :hidden]
    z = rz[..., hidden:]
    n = (xw[..., 2 * hidden:] + r * hw[..., 2 * hidden:]).tanh()
    h = n + z * (h - n)
    h.name = "h"
    return h


def peephole_lstm_step(xw: Tensor, h: Tensor, c: Tensor, w_hh_t: Tensor, w_ci: Tensor,
                       w_cf: Tensor, w_co: Tensor) -> tuple[Tensor, Tensor]:
    """One peephole LSTM step (Gers & Schmidhuber 2000; the form in Graves et al. 2013).

    The gates also look at the cell state ("peepholes"), through diagonal
    weights w_ci, w_cf, w_co of shape (H,) (an elementwise product):

        i = σ(a_i + w_ci ⊙ c_{t-1})
        f = σ(a_f + w_cf ⊙ c_{t-1})
        g = tanh(a_g)
        c_t = f ⊙ c_{t-1} + i ⊙ g
        o = σ(a_o + w_co ⊙ c_t)          the output gate sees the *new* cell
        h_t = o ⊙ tanh(c_t)

    with [a_i, a_f, a_g, a_o] = xw_t + h_{t-1} W_hhᵀ as in :func:`lstm_step`.
    """
    hidden = h.shape[-1]
    gates = xw + h @ w_hh_t                                 # (B, 4H)
    i = (gates[..., :hidden] + w_ci * c).sigmoid()
    f = (gates[..., hidden:2 * hidden] + w_cf * c).sigmoid()
    g = gates[..., 2 * hidden:3 * hidden].tanh()
    c = f * c + i * g
    o = (gates[..., 3 * hidden:] + w_co * c).sigmoid()
    h = o * c.tanh()
    h.name, c.name = "h", "c"
    return h, c


# ---------------------------------------------------------------- whole layers (one direction)
def lstm_layer(xw: Tensor, h: Tensor, c: Tensor, w_hh: Tensor,
               reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """All T steps of one LSTM layer and direction from the input projection xw
    (T, B, 4H): (outputs (T, B, H), h_T, c_T). A loop of :func:`lstm_step`, each step
    under the scope ``t=<t>``; ``reverse`` runs t = T-1 .. 0 (a bidirectional layer's
    backward direction)."""
    return lane("lstm_layer", _lstm_layer)(xw, h, c, w_hh, reverse)


def _lstm_layer(xw: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, reverse: bool) -> tuple:
    w_hh_t, outs = w_hh.T, {}
    for t in _order(xw.shape[0], reverse):
        with scope(f"t={t}"):
            h, c = lstm_step(xw[t], h, c, w_hh_t)
        outs[t] = h
    return stack([outs[t] for t in sorted(outs)]), h, c


def gru_layer(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None,
              reverse: bool = False) -> tuple[Tensor, Tensor]:
    """All T steps of one GRU layer and direction from xw (T, B, 3H) = x W_ihᵀ + b_ih:
    (outputs (T, B, H), h_T). A loop of :func:`gru_step` under scopes ``t=<t>``."""
    return lane("gru_layer", _gru_layer)(xw, h, w_hh, b_hh, reverse)


def _gru_layer(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None,
               reverse: bool) -> tuple:
    w_hh_t, outs = w_hh.T, {}
    for t in _order(xw.shape[0], reverse):
        with scope(f"t={t}"):
            h = gru_step(xw[t], h, w_hh_t, b_hh)
        outs[t] = h
    return stack([outs[t] for t in sorted(outs)]), h


def rnn_layer(xw: Tensor, h: Tensor, w_hh: Tensor, nonlinearity: str = "tanh",
              reverse: bool = False) -> tuple[Tensor, Tensor]:
    """All T steps of one Elman RNN layer and direction from xw (T, B, H):
    (outputs (T, B, H), h_T). A loop of :func:`rnn_step` under scopes ``t=<t>``."""
    return lane("rnn_layer", _rnn_layer)(xw, h, w_hh, nonlinearity, reverse)


def _rnn_layer(xw: Tensor, h: Tensor, w_hh: Tensor, nonlinearity: str, reverse: bool) -> tuple:
    w_hh_t, outs = w_hh.T, {}
    for t in _order(xw.shape[0], reverse):
        with scope(f"t={t}"):
            h = rnn_step(xw[t], h, w_hh_t, nonlinearity)
        outs[t] = h
    return stack([outs[t] for t in sorted(outs)]), h


def _order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _cell(name: str, reference: Any) -> Any:
    """The fast lane's one-node step for a batch (B, I) with both biases or neither (as
    PyTorch's cells have them), else the composed reference."""
    def run(*args: Any) -> Any:
        _check_features(args[0], args[3 if name == "lstm_cell" else 2])
        b_ih, b_hh = args[-3:-1] if name == "rnn_cell" else args[-2:]
        return (lane(name, reference) if (b_ih is None) == (b_hh is None)
                and args[0].ndim == 2 else reference)(*args)
    return run


def _rnn_cell(input: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
              b_hh: Tensor | None, nonlinearity: str) -> Tensor:
    return rnn_step(_input_projection(input, w_ih, b_ih, b_hh), h, w_hh.T, nonlinearity)


def _lstm_cell(input: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor,
               b_ih: Tensor | None, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    return lstm_step(_input_projection(input, w_ih, b_ih, b_hh), h, c, w_hh.T)


def _gru_cell(input: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
              b_hh: Tensor | None) -> Tensor:
    return gru_step(_input_projection(input, w_ih, b_ih), h, w_hh.T, b_hh)


# ---------------------------------------------------------------- cells (torch's signatures)
def _state_shape_check(input: Tensor, h: Tensor, w_hh: Tensor, name: str, where: str) -> None:
    _check_hidden(h, tuple(input.shape[:-1]), w_hh.shape[1], name, where)


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """Elman RNN cell: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).

    input (B, I), hx (B, H), w_ih (H, I), w_hh (H, H) -> h' (B, H).

    >>> h = rnn_tanh_cell(tg.ones(1, 2), tg.zeros(1, 3), tg.ones(3, 2), tg.eye(3))
    >>> h                                        # tanh(1 + 1) = 0.964 in every unit
    """
    _state_shape_check(input, hx, w_hh, "hx", "rnn_tanh_cell")
    return _cell("rnn_cell", _rnn_cell)(input, hx, w_ih, w_hh, b_ih, b_hh, "tanh")


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """Elman RNN cell with ReLU: h' = max(0, x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)."""
    _state_shape_check(input, hx, w_hh, "hx", "rnn_relu_cell")
    return _cell("rnn_cell", _rnn_cell)(input, hx, w_ih, w_hh, b_ih, b_hh, "relu")


def lstm_cell(input: Tensor, hx: Sequence[Tensor], w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """LSTM cell: (h', c') from x and (h, c). Gate equations in :func:`lstm_step`.

    input (B, I), h and c (B, H), w_ih (4H, I), w_hh (4H, H), biases (4H,);
    the four row blocks of the weights are the gates i, f, g, o (PyTorch's order).
    """
    h, c = hx
    _state_shape_check(input, h, w_hh, "h", "lstm_cell")
    _state_shape_check(input, c, w_hh, "c", "lstm_cell")
    return _cell("lstm_cell", _lstm_cell)(input, h, c, w_ih, w_hh, b_ih, b_hh)


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """GRU cell: h' from x and h. Gate equations in :func:`gru_step`.

    input (B, I), hx (B, H), w_ih (3H, I), w_hh (3H, H), biases (3H,); row blocks r, z, n.
    """
    _state_shape_check(input, hx, w_hh, "hx", "gru_cell")
    return _cell("gru_cell", _gru_cell)(input, hx, w_ih, w_hh, b_ih, b_hh)


def peephole_lstm_cell(input: Tensor, hx: Sequence[Tensor], w_ih: Tensor, w_hh: Tensor,
                       w_ci: Tensor, w_cf: Tensor, w_co: Tensor, b_ih: Tensor | None = None,
                       b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Peephole LSTM cell: (h', c'). Equations in :func:`peephole_lstm_step`.

    input (B, I), h and c (B, H), w_ih (4H, I), w_hh (4H, H), w_ci/w_cf/w_co (H,).
    With w_ci = w_cf = w_co = 0 it is exactly :func:`lstm_cell`.
    """
    h, c = hx
    _state_shape_check(input, h, w_hh, "h", "peephole_lstm_cell")
    _state_shape_check(input, c, w_hh, "c", "peephole_lstm_cell")
    for name, w in (("w_ci", w_ci), ("w_cf", w_cf), ("w_co", w_co)):
        if tuple(w.shape) != (w_hh.shape[1],):
            raise RuntimeError(f"peephole_lstm_cell: {name} has shape {tuple(w.shape)}, "
                               f"expected ({w_hh.shape[1]},) (one weight per hidden unit)")
    return peephole_lstm_step(_input_projection(input, w_ih, b_ih, b_hh), h, c, w_hh.T,
                              w_ci, w_cf, w_co)


__all__ = [
    "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "peephole_lstm_cell",
    "rnn_step", "lstm_step", "lstm_gates", "gru_step", "peephole_lstm_step",
    "rnn_layer", "lstm_layer", "gru_layer",
]
