"""Recurrent layers and cells as single nodes: a whole sequence, or a whole cell step.

The references (``functional.recurrent_cells``) record every matmul, σ, tanh, slice and
⊙ of every step: about fifteen nodes per LSTM step, each with its own dispatch, its
own temporary arrays and its own backward call. Here

* :class:`LSTMLayer`, :class:`GRULayer`, :class:`RNNLayer` run all T steps of one layer
  and direction in one node, from the input projection ``xw`` (T, B, G·H) that the layer
  computed for all steps in one matmul. The forward writes each step's gate values into
  preallocated arrays, in place; the backward computes the factors the forward fixed
  (σ' of each gate, ...) for all steps in a few whole-array ops, walks the steps in
  reverse (BPTT) carrying only δh (and δc), and finds the recurrent weight's gradient
  with one matmul over all T·B rows at the end, Σ_t δa_tᵀ h_{t-1} = δAᵀ H_prev, instead
  of T small ones.
* :class:`LSTMCellStep`, :class:`GRUCellStep`, :class:`RNNCellStep` are the same step for
  one time step with its input projection folded in: the loop a learner writes around
  ``nn.LSTMCell`` records one node per step instead of about twenty.

The gate equations are the references' (see each docstring). A plain backward runs the
hand-written formulas on arrays; ``create_graph=True`` recomputes the step with recorded
Tensor ops (:meth:`graph_forward`) and differentiates that, so second derivatives are
exact. ``tests/test_fast_lane.py`` proves every node equal to its reference (values,
first and second derivatives).
"""
from __future__ import annotations

import contextlib
from typing import Any

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.engine.ops import Cat, Primitive, inputs_of
from tinygrad_edu.engine.tensor import Tensor


def _sigmoid_(a: Any) -> None:
    """σ(a) = 1 / (1 + e^-a) in place (exp is cheaper than tanh). Where e^-a overflows to
    inf, σ = 1 / inf = 0, as it should be: run it under :func:`_overflow_ok`."""
    xp = backend.module_of(a)
    xp.negative(a, out=a)
    xp.exp(a, out=a)
    a += 1
    xp.reciprocal(a, out=a)


def _overflow_ok(xp: Any) -> Any:
    """A block in which NumPy does not warn that e^-a overflowed (CuPy never warns)."""
    errstate = getattr(xp, "errstate", None)
    return errstate(over="ignore") if errstate else contextlib.nullcontext()


def _steps(n: int, reverse: bool) -> range:
    return range(n - 1, -1, -1) if reverse else range(n)


def _previous(states: Any, first: Any, reverse: bool) -> Any:
    """(T, B, H) of the state each step started from: h_0 then h_0 .. h_{T-2} (reversed
    for a backward direction), for the weight gradient's one matmul."""
    xp = backend.module_of(states)
    prev = xp.empty_like(states)
    if reverse:
        prev[:-1], prev[-1] = states[1:], first
    else:
        prev[1:], prev[0] = states[:-1], first
    return prev


def _rows(a: Any) -> Any:
    return a.reshape(-1, a.shape[-1])


class _Fused(Primitive):
    """A fused recurrent node: array formulas, and a recorded recomputation for
    ``create_graph`` (whose gradient is exact to any order)."""
    save_inputs = True

    def graph_forward(self, *inputs: Tensor) -> Tensor:
        raise NotImplementedError

    def backward(self, g: Any) -> tuple:
        if graph.MODE.enabled:                       # create_graph: differentiate a recording
            inputs = self.saved
            out = self.graph_forward(*inputs)
            found = graph.run_backward([out], [g], True, True,
                                       inputs=[t for t in inputs if t.requires_grad])
            return tuple(found.get(id(t)) for t in inputs)
        return self.array_backward_(g, *inputs_of(self))

    def array_backward_(self, g: Any, *inputs: Any) -> tuple:
        raise NotImplementedError


# ---------------------------------------------------------------- Tensor recomputations
def _lstm_graph(xw: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, reverse: bool) -> Tensor:
    hidden, outs = c.shape[-1], {}
    for t in _steps(xw.shape[0], reverse):
        a = xw[t] + h @ w_hh.T
        s = a.sigmoid()
        c = s[:, hidden:2 * hidden] * c + s[:, :hidden] * a[:, 2 * hidden:3 * hidden].tanh()
        h = s[:, 3 * hidden:] * c.tanh()
        outs[t] = Cat.apply(h, c, dim=1).reshape((1,) + h.shape[:1] + (2 * hidden,))
    return Cat.apply(*(outs[t] for t in range(len(outs))), dim=0)


def _gru_graph(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None,
               reverse: bool) -> Tensor:
    hidden, outs = h.shape[-1], {}
    for t in _steps(xw.shape[0], reverse):
        hw = h @ w_hh.T if b_hh is None else h @ w_hh.T + b_hh
        rz = (xw[t][:, :2 * hidden] + hw[:, :2 * hidden]).sigmoid()
        n = (xw[t][:, 2 * hidden:] + rz[:, :hidden] * hw[:, 2 * hidden:]).tanh()
        h = n + rz[:, hidden:] * (h - n)
        outs[t] = h.reshape((1,) + h.shape)
    return Cat.apply(*(outs[t] for t in range(len(outs))), dim=0)


def _rnn_graph(xw: Tensor, h: Tensor, w_hh: Tensor, relu: bool, reverse: bool) -> Tensor:
    outs = {}
    for t in _steps(xw.shape[0], reverse):
        a = xw[t] + h @ w_hh.T
        h = a.relu() if relu else a.tanh()
        outs[t] = h.reshape((1,) + h.shape)
    return Cat.apply(*(outs[t] for t in range(len(outs))), dim=0)


# ---------------------------------------------------------------- the array formulas
def _lstm_forward(xw: Any, h0: Any, c0: Any, w_hh: Any, reverse: bool,
                  own_xw: bool = False) -> tuple:
    """out = [h_t | c_t] (T, B, 2H), and the gate values i, f, g, o and tanh(c_t) kept for
    backward; every array written in place, into xw itself when the caller owns it
    (``own_xw``: a cell's projection, not a graph value)."""
    xp = backend.module_of(xw)
    steps, batch, gates = xw.shape
    hid = gates // 4
    acts = xw if own_xw else xp.empty_like(xw)
    tanh_c = xp.empty((steps, batch, hid), xw.dtype)
    out = xp.empty((steps, batch, 2 * hid), xw.dtype)
    h, c, w_t = h0, c0, w_hh.T
    with _overflow_ok(xp):
        for t in _steps(steps, reverse):
            a = acts[t]
            if own_xw:
                a += h @ w_t
            else:
                xp.matmul(h, w_t, out=a)
                a += xw[t]
            g = a[:, 2 * hid:3 * hid]
            g *= 2                                  # tanh x = 2σ(2x) - 1: one σ for all four
            _sigmoid_(a)                                                # i, f, (g), o
            g *= 2
            g -= 1                                                      # g = tanh(a_g)
            c_new, h = out[t, :, hid:], out[t, :, :hid]
            xp.multiply(a[:, hid:2 * hid], c, out=c_new)
            c_new += a[:, :hid] * a[:, 2 * hid:3 * hid]
            xp.tanh(c_new, out=tanh_c[t])
            xp.multiply(a[:, 3 * hid:], tanh_c[t], out=h)
            c = c_new
    return out, (acts, out, tanh_c)


def _lstm_backward(g: Any, h0: Any, c0: Any, w_hh: Any, kept: tuple, reverse: bool,
                   want_w: bool) -> tuple:
    """δxw (T, B, 4H), δh_0, δc_0 and δW_hh (None unless ``want_w``).

    Each part of δa_t is δc or δh times a factor the forward already fixed:
    δa = [δc · g σ'(i), δc · c_{t-1} σ'(f), δc · i (1 - g²), δh · tanh(c_t) σ'(o)], with
    σ' = σ(1 - σ). Those factors, and o (1 - tanh² c_t) that carries δh into δc (``p``),
    are computed for all T steps at once; the loop, which must go step by step, only
    carries δh and δc back, writing each step's δa over its factors."""
    xp = backend.module_of(g)
    acts, out, tanh_c = kept
    steps, batch, gates = acts.shape
    hid = gates // 4
    i, f, gg, o = (acts[..., n * hid:(n + 1) * hid] for n in range(4))
    d_acts = 1 - acts
    d_acts *= acts                                                  # σ' of each gate
    k = d_acts.reshape(steps, batch, 4, hid)                        # the factors, then δa
    k[:, :, 0] *= gg
    k[:, :, 1] *= _previous(out[..., hid:], c0, reverse)
    k[:, :, 2] = i * (1 - gg * gg)                                  # g = tanh: 1 - g²
    k[:, :, 3] *= tanh_c
    p = o * (1 - tanh_c * tanh_c)
    dh, dc = xp.zeros((batch, hid), g.dtype), xp.zeros((batch, hid), g.dtype)
    for t in _steps(steps, not reverse):
        dh += g[t, :, :hid]
        dc += g[t, :, hid:] + dh * p[t]
        k[t, :, :3] *= dc[:, None]                                  # δa_i, δa_f, δa_g
        k[t, :, 3] *= dh                                            # δa_o
        dc *= f[t]
        dh = d_acts[t] @ w_hh
    d_w = _rows(d_acts).T @ _rows(_previous(out[..., :hid], h0, reverse)) if want_w else None
    return d_acts, dh, dc, d_w


def _gru_forward(xw: Any, h0: Any, w_hh: Any, b_hh: Any, reverse: bool) -> tuple:
    """out = h_t (T, B, H), and hw = h_{t-1} W_hhᵀ + b_hh, [r | z] and n kept for backward
    (r|z and n in arrays of their own: σ and tanh then run on contiguous rows)."""
    xp = backend.module_of(xw)
    steps, batch, gates = xw.shape
    hid = gates // 3
    hws, rzs = xp.empty_like(xw), xp.empty((steps, batch, 2 * hid), xw.dtype)
    ns, out = xp.empty((steps, batch, hid), xw.dtype), xp.empty((steps, batch, hid), xw.dtype)
    h, w_t = h0, w_hh.T
    with _overflow_ok(xp):
        for t in _steps(steps, reverse):
            hw, rz, n = hws[t], rzs[t], ns[t]
            xp.matmul(h, w_t, out=hw)
            if b_hh is not None:
                hw += b_hh
            xp.add(xw[t, :, :2 * hid], hw[:, :2 * hid], out=rz)
            _sigmoid_(rz)                                               # r, z
            xp.multiply(rz[:, :hid], hw[:, 2 * hid:], out=n)
            n += xw[t, :, 2 * hid:]
            xp.tanh(n, out=n)                                           # n
            xp.subtract(h, n, out=out[t])
            out[t] *= rz[:, hid:]
            out[t] += n                                                 # n + z (h - n)
            h = out[t]
    return out, (hws, rzs, ns, out)


def _gru_backward(g: Any, h0: Any, w_hh: Any, kept: tuple, reverse: bool,
                  want_w: bool) -> tuple:
    """δxw (T, B, 3H), δh_0, δW_hh (None unless ``want_w``) and δb_hh.

    As in :func:`_lstm_backward`, the factors the forward fixed are computed for all T
    steps at once: δa_n = δh · (1-z)(1-n²), δa_r = δa_n · hw_n r(1-r) and
    δa_z = δh · (h_{t-1} - n) z(1-z); the loop only carries δh back."""
    xp = backend.module_of(g)
    hws, rzs, ns, out = kept
    steps, batch, hid = ns.shape
    r, z, hw_n = rzs[..., :hid], rzs[..., hid:], hws[..., 2 * hid:]
    k_n = (1 - z) * (1 - ns * ns)
    k_r = hw_n * r * (1 - r)
    prev = _previous(out, h0, reverse)
    k_z = (prev - ns) * z * (1 - z)
    d_xw, d_hw = xp.empty_like(hws), xp.empty_like(hws)
    dh = xp.zeros((batch, hid), g.dtype)
    for t in _steps(steps, not reverse):
        dh += g[t]
        da_n = d_xw[t, :, 2 * hid:]
        xp.multiply(dh, k_n[t], out=da_n)
        xp.multiply(da_n, k_r[t], out=d_xw[t, :, :hid])                    # δa_r
        xp.multiply(dh, k_z[t], out=d_xw[t, :, hid:2 * hid])               # δa_z
        d_hw[t, :, :2 * hid] = d_xw[t, :, :2 * hid]
        xp.multiply(da_n, r[t], out=d_hw[t, :, 2 * hid:])
        dh *= z[t]
        dh += d_hw[t] @ w_hh
    d_w = _rows(d_hw).T @ _rows(prev) if want_w else None
    return d_xw, dh, d_w, _rows(d_hw).sum(axis=0)


def _rnn_forward(xw: Any, h0: Any, w_hh: Any, relu: bool, reverse: bool) -> tuple:
    """out = h_t (T, B, H), which is also all that backward needs."""
    xp = backend.module_of(xw)
    out = xp.empty_like(xw)
    h, w_t = h0, w_hh.T
    for t in _steps(xw.shape[0], reverse):
        xp.matmul(h, w_t, out=out[t])
        out[t] += xw[t]
        if relu:
            xp.maximum(out[t], 0, out=out[t])
        else:
            xp.tanh(out[t], out=out[t])
        h = out[t]
    return out, out


def _rnn_backward(g: Any, h0: Any, w_hh: Any, out: Any, relu: bool, reverse: bool,
                  want_w: bool) -> tuple:
    """δxw (T, B, H), δh_0 and δW_hh (None unless ``want_w``)."""
    xp = backend.module_of(g)
    d_xw = xp.empty_like(out)
    dh = xp.zeros(h0.shape, g.dtype)
    for t in _steps(out.shape[0], not reverse):
        dh = dh + g[t]
        xp.multiply(dh, out[t] > 0 if relu else 1 - out[t] * out[t], out=d_xw[t])
        dh = d_xw[t] @ w_hh
    d_w = _rows(d_xw).T @ _rows(_previous(out, h0, reverse)) if want_w else None
    return d_xw, dh, d_w


# ---------------------------------------------------------------- whole layers
class LSTMLayer(_Fused):
    """All T steps of an LSTM layer: xw (T, B, 4H), h_0, c_0 (B, H), W_hh (4H, H) ->
    [h_t | c_t] (T, B, 2H).  Per step (gates i, f, g, o as ``recurrent_cells.lstm_gates``):

        a = xw_t + h_{t-1} W_hhᵀ;  i, f, o = σ(a_i, a_f, a_o);  g = tanh(a_g)
        c_t = f c_{t-1} + i g;     h_t = o tanh(c_t)

    Backward, from the last step to the first (δh, δc carried back):

        δc ← δc + δh o (1 - tanh² c_t);   δa = [δc g i(1-i), δc c_{t-1} f(1-f),
        δc i (1-g²), δh tanh(c_t) o(1-o)];   δh_{t-1} = δa W_hh;   δc_{t-1} = δc f
        δxw_t = δa;   δW_hh = Σ_t δa_tᵀ h_{t-1}
    """
    name = "lstm_layer"

    def forward(self, xw: Any, h0: Any, c0: Any, w_hh: Any, reverse: bool = False) -> Any:
        self.reverse = reverse
        out, self.kept = _lstm_forward(xw, h0, c0, w_hh, reverse)
        return out

    def array_backward_(self, g: Any, xw: Any, h0: Any, c0: Any, w_hh: Any) -> tuple:
        return _lstm_backward(g, h0, c0, w_hh, self.kept, self.reverse,
                              self.parents[3].requires_grad)

    def graph_forward(self, xw: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor) -> Tensor:
        return _lstm_graph(xw, h0, c0, w_hh, self.reverse)


class GRULayer(_Fused):
    """All T steps of a GRU layer: xw (T, B, 3H) = x W_ihᵀ + b_ih, h_0 (B, H), W_hh (3H, H)
    and b_hh (3H,) when the layer has biases -> h_t (T, B, H).  Per step
    (``recurrent_cells.gru_step``):

        hw = h_{t-1} W_hhᵀ + b_hh;  r, z = σ(xw_r + hw_r, xw_z + hw_z)
        n = tanh(xw_n + r hw_n);    h_t = n + z (h_{t-1} - n)

    Backward: δn = δh (1-z), δz = δh (h_{t-1} - n), δa_n = δn (1-n²),
    δa_r = δa_n hw_n r(1-r), δa_z = δz z(1-z);  δxw_t = [δa_r, δa_z, δa_n],
    δhw_t = [δa_r, δa_z, δa_n r];  δh_{t-1} = δh z + δhw_t W_hh;
    δW_hh = Σ_t δhw_tᵀ h_{t-1};  δb_hh = Σ_t δhw_t
    """
    name = "gru_layer"

    def forward(self, xw: Any, h0: Any, w_hh: Any, *b_hh: Any, reverse: bool = False) -> Any:
        self.reverse = reverse
        out, self.kept = _gru_forward(xw, h0, w_hh, b_hh[0] if b_hh else None, reverse)
        return out

    def array_backward_(self, g: Any, xw: Any, h0: Any, w_hh: Any, *b_hh: Any) -> tuple:
        d_xw, d_h, d_w, d_b = _gru_backward(g, h0, w_hh, self.kept, self.reverse,
                                            self.parents[2].requires_grad)
        return (d_xw, d_h, d_w) + ((d_b,) if b_hh else ())

    def graph_forward(self, xw: Tensor, h0: Tensor, w_hh: Tensor, *b_hh: Tensor) -> Tensor:
        return _gru_graph(xw, h0, w_hh, b_hh[0] if b_hh else None, self.reverse)


class RNNLayer(_Fused):
    """All T steps of an Elman RNN layer: xw (T, B, H), h_0 (B, H), W_hh (H, H) -> h_t
    (T, B, H), with h_t = f(xw_t + h_{t-1} W_hhᵀ), f = tanh or relu.

    Backward: δa = δh (1 - h_t²) (tanh) or δh [h_t > 0] (relu);  δxw_t = δa;
    δh_{t-1} = δa W_hh;  δW_hh = Σ_t δa_tᵀ h_{t-1}
    """
    name = "rnn_layer"

    def forward(self, xw: Any, h0: Any, w_hh: Any, relu: bool = False,
                reverse: bool = False) -> Any:
        self.reverse, self.relu = reverse, relu
        out, self.kept = _rnn_forward(xw, h0, w_hh, relu, reverse)
        return out

    def array_backward_(self, g: Any, xw: Any, h0: Any, w_hh: Any) -> tuple:
        return _rnn_backward(g, h0, w_hh, self.kept, self.relu, self.reverse,
                             self.parents[2].requires_grad)

    def graph_forward(self, xw: Tensor, h0: Tensor, w_hh: Tensor) -> Tensor:
        return _rnn_graph(xw, h0, w_hh, self.relu, self.reverse)


# ---------------------------------------------------------------- one cell step
def _projection(x: Any, w_ih: Any, biases: tuple) -> Any:
    """x W_ihᵀ + Σ biases, (B, G·H), on arrays or Tensors."""
    xw = x @ w_ih.T
    for b in biases:
        xw = xw + b
    return xw


def _step(a: Any) -> Any:
    """(B, ...) -> (1, B, ...): one cell step as a sequence of length 1."""
    return a.reshape((1,) + tuple(a.shape))


def _input_grads(d_xw: Any, x: Any, w_ih: Any, parents: tuple, n_biases: int) -> tuple:
    """δx = δxw W_ih, δW_ih = δxwᵀ x, and δb = Σ_batch δxw for each bias."""
    d_x = d_xw @ w_ih if parents[0].requires_grad else None
    d_w = d_xw.T @ x if parents[3].requires_grad else None
    return d_x, d_w, (d_xw.sum(axis=0),) * n_biases


class LSTMCellStep(_Fused):
    """One LSTM step with its input projection: x (B, I), h, c (B, H), W_ih (4H, I),
    W_hh (4H, H), and b_ih, b_hh (4H,) if the cell has biases -> [h' | c'] (B, 2H).
    :class:`LSTMLayer`'s step with T = 1 and xw = x W_ihᵀ + b_ih + b_hh; backward adds
    δx = δa W_ih, δW_ih = δaᵀ x and δb = Σ_batch δa."""
    name = "lstm_cell"

    def forward(self, x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any, *biases: Any) -> Any:
        out, self.kept = _lstm_forward(_step(_projection(x, w_ih, biases)), h, c, w_hh, False,
                                       own_xw=True)
        return out[0]

    def array_backward_(self, g: Any, x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any,
                        *biases: Any) -> tuple:
        d_xw, d_h, d_c, d_whh = _lstm_backward(_step(g), h, c, w_hh, self.kept, False,
                                               self.parents[4].requires_grad)
        d_x, d_wih, d_b = _input_grads(d_xw[0], x, w_ih, self.parents, len(biases))
        return (d_x, d_h, d_c, d_wih, d_whh) + d_b

    def graph_forward(self, x: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor,
                      *biases: Tensor) -> Tensor:
        return _lstm_graph(_step(_projection(x, w_ih, biases)), h, c, w_hh, False)[0]


class GRUCellStep(_Fused):
    """One GRU step with its input projection: x (B, I), h (B, H), W_ih (3H, I),
    W_hh (3H, H), and b_ih, b_hh (3H,) if the cell has biases -> h' (B, H).
    :class:`GRULayer`'s step with T = 1 and xw = x W_ihᵀ + b_ih."""
    name = "gru_cell"

    def forward(self, x: Any, h: Any, w_ih: Any, w_hh: Any, *biases: Any) -> Any:
        xw = _step(_projection(x, w_ih, biases[:1]))
        out, self.kept = _gru_forward(xw, h, w_hh, biases[1] if biases else None, False)
        return out[0]

    def array_backward_(self, g: Any, x: Any, h: Any, w_ih: Any, w_hh: Any,
                        *biases: Any) -> tuple:
        d_xw, d_h, d_whh, d_bhh = _gru_backward(_step(g), h, w_hh, self.kept, False,
                                                self.parents[3].requires_grad)
        d_x = d_xw[0] @ w_ih if self.parents[0].requires_grad else None
        d_wih = d_xw[0].T @ x if self.parents[2].requires_grad else None
        return (d_x, d_h, d_wih, d_whh) + ((d_xw[0].sum(axis=0), d_bhh) if biases else ())

    def graph_forward(self, x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
                      *biases: Tensor) -> Tensor:
        xw = _step(_projection(x, w_ih, biases[:1]))
        return _gru_graph(xw, h, w_hh, biases[1] if biases else None, False)[0]


class RNNCellStep(_Fused):
    """One Elman RNN step with its input projection: x (B, I), h (B, H), W_ih (H, I),
    W_hh (H, H), and b_ih, b_hh (H,) if the cell has biases -> h' (B, H).
    :class:`RNNLayer`'s step with T = 1 and xw = x W_ihᵀ + b_ih + b_hh."""
    name = "rnn_cell"

    def forward(self, x: Any, h: Any, w_ih: Any, w_hh: Any, *biases: Any,
                relu: bool = False) -> Any:
        self.relu = relu
        out, self.kept = _rnn_forward(_step(_projection(x, w_ih, biases)), h, w_hh, relu,
                                      False)
        return out[0]

    def array_backward_(self, g: Any, x: Any, h: Any, w_ih: Any, w_hh: Any,
                        *biases: Any) -> tuple:
        d_xw, d_h, d_whh = _rnn_backward(_step(g), h, w_hh, self.kept, self.relu, False,
                                         self.parents[3].requires_grad)
        d_x = d_xw[0] @ w_ih if self.parents[0].requires_grad else None
        d_wih = d_xw[0].T @ x if self.parents[2].requires_grad else None
        return (d_x, d_h, d_wih, d_whh) + (d_xw[0].sum(axis=0),) * len(biases)

    def graph_forward(self, x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
                      *biases: Tensor) -> Tensor:
        return _rnn_graph(_step(_projection(x, w_ih, biases)), h, w_hh, self.relu, False)[0]


# ---------------------------------------------------------------- what the composites ask for
def _named(h: Tensor, c: Tensor | None = None) -> None:
    """Name the states 'h' and 'c' as the references do (the graph views look for them)."""
    h.name = "h"
    if c is not None:
        c.name = "c"


def lstm_layer(xw: Tensor, h: Tensor, c: Tensor, w_hh: Tensor,
               reverse: bool = False) -> tuple:
    """(outputs (T, B, H), h_T, c_T) of one LSTM layer direction, through one node."""
    hid, last = c.shape[-1], 0 if reverse else -1
    hc = LSTMLayer.apply(xw, h, c, w_hh, reverse=reverse)
    h, c = hc[last, :, :hid], hc[last, :, hid:]
    _named(h, c)
    return hc[..., :hid], h, c


def gru_layer(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None,
              reverse: bool = False) -> tuple:
    """(outputs (T, B, H), h_T) of one GRU layer direction, through one node."""
    out = GRULayer.apply(xw, h, w_hh, *(() if b_hh is None else (b_hh,)), reverse=reverse)
    h = out[0 if reverse else -1]
    _named(h)
    return out, h


def rnn_layer(xw: Tensor, h: Tensor, w_hh: Tensor, nonlinearity: str = "tanh",
              reverse: bool = False) -> tuple:
    """(outputs (T, B, H), h_T) of one Elman RNN layer direction, through one node."""
    out = RNNLayer.apply(xw, h, w_hh, relu=nonlinearity == "relu", reverse=reverse)
    h = out[0 if reverse else -1]
    _named(h)
    return out, h


def _biases(b_ih: Tensor | None, b_hh: Tensor | None) -> tuple:
    """Both biases or neither (``recurrent_cells`` sends a cell with one to its reference)."""
    return () if b_ih is None else (b_ih, b_hh)


def lstm_cell(input: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> tuple:
    """(h', c') of one LSTM step, through one node."""
    hid = c.shape[-1]
    hc = LSTMCellStep.apply(input, h, c, w_ih, w_hh, *_biases(b_ih, b_hh))
    h, c = hc[:, :hid], hc[:, hid:]
    _named(h, c)
    return h, c


def gru_cell(input: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """h' of one GRU step, through one node."""
    h = GRUCellStep.apply(input, h, w_ih, w_hh, *_biases(b_ih, b_hh))
    _named(h)
    return h


def rnn_cell(input: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None = None, b_hh: Tensor | None = None,
             nonlinearity: str = "tanh") -> Tensor:
    """h' of one Elman RNN step, through one node."""
    h = RNNCellStep.apply(input, h, w_ih, w_hh, *_biases(b_ih, b_hh),
                          relu=nonlinearity == "relu")
    _named(h)
    return h
