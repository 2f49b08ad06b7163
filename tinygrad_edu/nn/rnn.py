"""Recurrent layers: cells (one step) and layers (a whole sequence), PyTorch's API.

A layer is a Python loop over time steps around a cell from
:mod:`tinygrad_edu.recurrent`; back-propagation through time is autograd over
that unrolled loop. Names, shapes and gate order are PyTorch's, so

    ours.load_state_dict(torch_lstm.state_dict())

works unchanged: ``weight_ih_l0`` (G·H, I), ``weight_hh_l0`` (G·H, H),
``bias_ih_l0``, ``bias_hh_l0`` (G·H,), and ``..._reverse`` for the backward
direction, with G = 1 (RNN), 4 (LSTM: i, f, g, o) or 3 (GRU: r, z, n).

Shapes (T = time, B = batch, D = 2 if bidirectional else 1, L = num_layers):

    input   (T, B, I)   or (B, T, I) with batch_first=True, or (T, I) unbatched
    h_0     (D·L, B, H)                         optional, zeros if omitted
    output  (T, B, D·H)                         the last layer's h_t at every step
    h_n     (D·L, B, H)                         every layer's final state
    LSTM:   (h_0, c_0) and (h_n, c_n) instead of h_0 and h_n

Every op a layer makes is labelled with its layer and time step, e.g. the
scope ``'CharLSTM/lstm/l0/t=3'``, so the graph views can draw one cluster per
time step; the hidden states are named ``'h'`` (and the LSTM cells ``'c'``).
"""
from __future__ import annotations

import math
from typing import Any

from tinygrad_edu.engine import graph
from tinygrad_edu.functional import gradients
from tinygrad_edu import functional as F
from tinygrad_edu.functional import recurrent_cells as R
from tinygrad_edu.nn import init
from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.nn.utils.rnn import PackedSequence, _packed_rows, pad_packed_sequence
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.creation import tensor
from tinygrad_edu.functional.tensor_methods import cat
from tinygrad_edu.functional.creation import arange, empty, zeros
from tinygrad_edu.functional.tensor_methods import stack

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ---------------------------------------------------------------- cells
class RNNCellBase(Module):
    """Shared parameters of the cells: weight_ih (G·H, I), weight_hh (G·H, H), biases."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, gates: int,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        g = gates * hidden_size
        self.weight_ih = Parameter(empty(g, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(empty(g, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(g, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(g, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight ~ U(-1/√H, 1/√H), as PyTorch initialises recurrent layers."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, input: Tensor, name: str) -> tuple[Tensor, bool]:
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: expected input of shape (batch, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {input.shape[-1]} features (shape "
                             f"{tuple(input.shape)}), expected input_size={self.input_size}")
        unbatched = input.ndim == 1
        return (input.unsqueeze(0) if unbatched else input), unbatched

    def _zeros(self, input: Tensor) -> Tensor:
        return zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


def _unsqueeze_state(h: Tensor | None, unbatched: bool) -> Tensor | None:
    return h.unsqueeze(0) if (h is not None and unbatched) else h


def _squeeze_state(h: Tensor, unbatched: bool) -> Tensor:
    return h.squeeze(0) if unbatched else h


class RNNCell(RNNCellBase):
    """One Elman step: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu).

    input (B, I) or (I,), hx (B, H) (zeros if omitted) -> h' (B, H).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, unbatched = self._prepare(input, "RNNCell")
        h = _unsqueeze_state(hx, unbatched)
        h = self._zeros(x) if h is None else h
        fn = R.rnn_tanh_cell if self.nonlinearity == "tanh" else R.rnn_relu_cell
        return _squeeze_state(fn(x, h, self.weight_ih, self.weight_hh, self.bias_ih,
                                 self.bias_hh), unbatched)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class LSTMCell(RNNCellBase):
    """One LSTM step: (h', c') = lstm_cell(x, (h, c)); gates i, f, g, o as in PyTorch.

    input (B, I) or (I,), hx = (h, c) each (B, H) (zeros if omitted) -> (h', c').
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:
        x, unbatched = self._prepare(input, "LSTMCell")
        if hx is None:
            h = c = self._zeros(x)
        else:
            h, c = (_unsqueeze_state(s, unbatched) for s in hx)
        h, c = R.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih,
                           self.bias_hh)
        return _squeeze_state(h, unbatched), _squeeze_state(c, unbatched)


class GRUCell(RNNCellBase):
    """One GRU step: h' = gru_cell(x, h); gates r, z, n as in PyTorch.

    input (B, I) or (I,), hx (B, H) (zeros if omitted) -> h' (B, H).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, unbatched = self._prepare(input, "GRUCell")
        h = _unsqueeze_state(hx, unbatched)
        h = self._zeros(x) if h is None else h
        return _squeeze_state(R.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih,
                                         self.bias_hh), unbatched)


class PeepholeLSTMCell(RNNCellBase):
    """An LSTM step whose gates also see the cell state (Graves et al. 2013):

        i = σ(W_xi x + W_hi h + w_ci ⊙ c_{t-1} + b_i)
        f = σ(W_xf x + W_hf h + w_cf ⊙ c_{t-1} + b_f)
        c_t = f ⊙ c_{t-1} + i ⊙ tanh(W_xc x + W_hc h + b_c)
        o = σ(W_xo x + W_ho h + w_co ⊙ c_t + b_o)
        h_t = o ⊙ tanh(c_t)

    The peephole weights weight_ci, weight_cf, weight_co are diagonal, stored as
    (H,) vectors; the rest is laid out as :class:`LSTMCell` (gate order i, f, g, o).
    PyTorch has no peephole LSTM.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)
        for name in ("weight_ci", "weight_cf", "weight_co"):
            setattr(self, name, Parameter(empty(hidden_size, device=device, dtype=dtype)))
        bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
        for p in (self.weight_ci, self.weight_cf, self.weight_co):
            init.uniform_(p, -bound, bound)

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:
        x, unbatched = self._prepare(input, "PeepholeLSTMCell")
        if hx is None:
            h = c = self._zeros(x)
        else:
            h, c = (_unsqueeze_state(s, unbatched) for s in hx)
        h, c = R.peephole_lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.weight_ci,
                                    self.weight_cf, self.weight_co, self.bias_ih,
                                    self.bias_hh)
        return _squeeze_state(h, unbatched), _squeeze_state(c, unbatched)


# ---------------------------------------------------------------- layers
def _check_sizes(where: str, input_size: int, hidden_size: int) -> None:
    for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{where}: {name} must be a positive integer, got {v!r}")


class RNNBase(Module):
    """The multi-layer, optionally bidirectional loop shared by RNN, LSTM and GRU."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
        _check_sizes(name, input_size, hidden_size)
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be a positive integer, got "
                             f"{num_layers!r}")
        if not (isinstance(dropout, (int, float)) and 0 <= dropout <= 1) \
                or isinstance(dropout, bool):
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if proj_size and (mode != "LSTM" or isinstance(proj_size, bool)
                          or not isinstance(proj_size, int) or not 0 < proj_size < hidden_size):
            raise ValueError(f"{name}: proj_size must be an int in [0, hidden_size="
                             f"{hidden_size}) and only LSTM has one, got {proj_size!r}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        out_size = proj_size or hidden_size          # the size of h (c keeps hidden_size)
        gates = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else out_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih" + sfx, (gates, layer_in)),
                          ("weight_hh" + sfx, (gates, out_size))]
                if bias:
                    shapes += [("bias_ih" + sfx, (gates,)), ("bias_hh" + sfx, (gates,))]
                if proj_size:
                    shapes += [("weight_hr" + sfx, (proj_size, hidden_size))]
                for pname, shape in shapes:
                    setattr(self, pname, Parameter(empty(*shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight ~ U(-1/√H, 1/√H) (PyTorch's default for recurrent layers)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _per_direction(self) -> int:
        return (4 if self.bias else 2) + (1 if self.proj_size else 0)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """Per layer and direction: [weight_ih, weight_hh, bias_ih, bias_hh(, weight_hr)]."""
        per = self._per_direction()
        ws = [getattr(self, n) for n in self._flat_weights_names]
        return [ws[i:i + per] for i in range(0, len(ws), per)]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s

    # ------------------------------------------------------------ forward
    def _name(self) -> str:
        return type(self).__name__

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        packed = isinstance(input, PackedSequence)
        is_lstm = self.mode == "LSTM"
        mask = None
        if packed:
            data, batch_sizes, sorted_idx, unsorted_idx = input
            x, _ = pad_packed_sequence(PackedSequence(data, batch_sizes))   # (T, B, I) sorted
            sizes = [int(n) for n in batch_sizes.tolist()]
            mask = self._mask(sizes, x)
            unbatched = False
            if hx is not None and sorted_idx is not None:
                idx = sorted_idx.to(x.device)
                hx = (hx[0][:, idx], hx[1][:, idx]) if is_lstm else hx[:, idx]
        else:
            x, unbatched = self._check_input(input)
        dirs = 2 if self.bidirectional else 1
        h0, c0 = self._initial_state(hx, x, unbatched, dirs)

        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                per = self._per_direction()
                weights = [getattr(self, n) for n in self._flat_weights_names[
                    k * per:(k + 1) * per]]
                with gradients.scope(f"l{layer}" + ("_reverse" if d else "")):
                    out, h, c = self._direction(layer_input, weights, h0[k],
                                                c0[k] if is_lstm else None, bool(d), mask)
                outs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_out = outs[0] if dirs == 1 else cat(outs, -1)         # (T, B, D·H)
            if layer < self.num_layers - 1 and self.dropout > 0:
                layer_out = F.dropout(layer_out, self.dropout, self.training)
            layer_input = layer_out
        output = layer_input
        hn = stack(h_n, 0)                                               # (D·L, B, H)
        cn = stack(c_n, 0) if is_lstm else None

        if packed:
            times, rows = _packed_rows(sizes)
            index = (tensor(times, device=output.device), tensor(rows, device=output.device))
            output = PackedSequence(output[index],
                                    batch_sizes, sorted_idx, unsorted_idx)
            if unsorted_idx is not None:
                idx = unsorted_idx.to(hn.device)
                hn = hn[:, idx]
                cn = cn[:, idx] if cn is not None else None
        else:
            if unbatched:
                output, hn = output.squeeze(1), hn.squeeze(1)
                cn = cn.squeeze(1) if cn is not None else None
            elif self.batch_first:
                output = output.transpose(0, 1)
        return output, ((hn, cn) if is_lstm else hn)

    def _check_input(self, input: Tensor) -> tuple[Tensor, bool]:
        name = self._name()
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor or a PackedSequence, got "
                            f"{type(input).__name__}")
        if input.ndim not in (2, 3):
            layout = "(batch, seq, features)" if self.batch_first else "(seq, batch, features)"
            raise ValueError(f"{name}: expected a 3-D input {layout} or a 2-D unbatched input "
                             f"(seq, features), got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {input.shape[-1]} features (shape "
                             f"{tuple(input.shape)}), expected input_size={self.input_size}")
        if input.shape[0 if input.ndim == 2 or not self.batch_first else 1] == 0:
            raise ValueError(f"{name}: the sequence is empty (input shape "
                             f"{tuple(input.shape)}); expected at least one time step")
        if input.ndim == 2:
            return input.unsqueeze(1), True                             # (T, 1, I)
        return (input.transpose(0, 1) if self.batch_first else input), False

    def _initial_state(self, hx: Any, x: Tensor, unbatched: bool,
                       dirs: int) -> tuple[list, list]:
        """h_0 (and c_0) per layer/direction as lists of (B, H) tensors."""
        name = self._name()
        n, batch, hidden = self.num_layers * dirs, x.shape[1], self.hidden_size
        out_size = self.proj_size or hidden
        if hx is None:
            zh = zeros(batch, out_size, dtype=x.dtype, device=x.device)
            zc = zeros(batch, hidden, dtype=x.dtype, device=x.device) if self.proj_size else zh
            return [zh] * n, [zc] * n
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{name}: hx must be a tuple (h_0, c_0), got "
                                f"{type(hx).__name__}")
            states = list(hx)
        else:
            if not isinstance(hx, Tensor):
                raise TypeError(f"{name}: hx must be a Tensor h_0, got {type(hx).__name__}")
            states = [hx]
        out = []
        for sname, s, size in zip(("h_0", "c_0"), states, (out_size, hidden)):
            want = (n, size) if unbatched else (n, batch, size)
            if tuple(s.shape) != want:
                raise RuntimeError(f"{name}: {sname} has shape {tuple(s.shape)}, expected "
                                   f"{want} (num_layers*num_directions={n}, "
                                   + ("" if unbatched else f"batch={batch}, ")
                                   + ("proj_size" if size != hidden else "hidden_size")
                                   + f"={size})")
            s = s.unsqueeze(1) if unbatched else s
            out.append(list(s.unbind(0)))
        return out[0], (out[1] if len(out) > 1 else [None] * n)

    @staticmethod
    def _mask(sizes: list[int], x: Tensor) -> Tensor:
        """(T, B, 1) float mask: 1 where sequence b (sorted longest first) has step t."""
        steps = arange(x.shape[1], device=x.device).reshape(1, -1)          # (1, B)
        lengths = tensor(sizes, device=x.device).reshape(-1, 1)             # (T, 1)
        return (steps < lengths).to(x.dtype).unsqueeze(-1)                  # (T, B, 1)

    def _direction(self, x: Tensor, weights: list, h: Tensor, c: Tensor | None,
                   reverse: bool, mask: Tensor | None) -> tuple[Tensor, Tensor, Any]:
        """Run one layer in one direction over all T steps.

        x (T, B, I) -> output (T, B, H), h_T, c_T. The input projection for all
        steps is one matmul; the loop (``R.lstm_layer`` etc.) does only h @ W_hhᵀ and
        the gates. Packed sequences and LSTM projections take the step-by-step loop here.
        """
        mode = self.mode
        steps, batch = x.shape[0], x.shape[1]
        w_ih, w_hh = weights[0], weights[1]
        b_ih, b_hh = (weights[2], weights[3]) if self.bias else (None, None)
        flat = x.reshape(steps * batch, x.shape[2])                       # (T·B, I)
        if mode == "GRU":
            proj = R._input_projection(flat, w_ih, b_ih)                  # (T·B, 3H)
        else:
            proj = R._input_projection(flat, w_ih, b_ih, b_hh)            # (T·B, G·H)
        xw = proj.reshape(steps, batch, proj.shape[-1])                   # (T, B, G·H)
        nonlin = "relu" if mode == "RNN_RELU" else "tanh"
        if mask is None and not self.proj_size:
            if mode == "LSTM":
                return R.lstm_layer(xw, h, c, w_hh, reverse)
            if mode == "GRU":
                return R.gru_layer(xw, h, w_hh, b_hh, reverse) + (None,)
            return R.rnn_layer(xw, h, w_hh, nonlin, reverse) + (None,)
        xws = xw.unbind(0)                                                # T × (B, G·H)
        ms = mask.unbind(0) if mask is not None else None                # T × (B, 1)
        w_hh_t = w_hh.T                                                   # (H, G·H)
        w_hr_t = weights[-1].T if self.proj_size else None               # (H, P)
        outs: list = [None] * steps
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        for t in order:
            with gradients.scope(f"t={t}"):
                xw_t = xws[t]
                if mode == "LSTM":
                    h_new, c_new = R.lstm_step(xw_t, h, c, w_hh_t)
                    if w_hr_t is not None:
                        h_new = h_new @ w_hr_t        # projected: h_t = W_hr (o ⊙ tanh c_t)
                elif mode == "GRU":
                    h_new = R.gru_step(xw_t, h, w_hh_t, b_hh)
                else:
                    h_new = R.rnn_step(xw_t, h, w_hh_t, nonlin)
                if ms is None:
                    h, c = h_new, (c_new if mode == "LSTM" else None)
                    outs[t] = h
                else:
                    m = ms[t]
                    h = h + m * (h_new - h)           # frozen on padded steps
                    h.name = "h"
                    if mode == "LSTM":
                        c = c + m * (c_new - c)
                        c.name = "c"
                    outs[t] = h_new * m               # zero on padded steps
        return stack(outs, 0), h, c                                      # (T, B, H)


class RNN(RNNBase):
    """Elman RNN over a sequence: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh).

    ``nn.RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; returns (output, h_n).

    >>> rnn = nn.RNN(10, 20, num_layers=2)
    >>> out, h_n = rnn(tg.randn(5, 3, 10))       # out (5, 3, 20), h_n (2, 3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory over a sequence (gate equations in ``recurrent.lstm_step``).

    ``nn.LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0)``; returns (output, (h_n, c_n)).
    With ``proj_size`` P > 0, h_t = W_hr (o_t ⊙ tanh c_t) has P features (W_hr: (P, H)).

    >>> lstm = nn.LSTM(10, 20, bidirectional=True)
    >>> out, (h_n, c_n) = lstm(tg.randn(5, 3, 10))   # out (5, 3, 40), h_n (2, 3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit over a sequence (gate equations in ``recurrent.gru_step``).

    ``nn.GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)``; returns (output, h_n).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "PeepholeLSTMCell", "RNNBase",
           "RNN", "LSTM", "GRU"]
