"""One table of ops drives the op tests (PyTorch's OpInfo idea): primitives, composites
(convolution, pooling, recurrent cells, losses, layers as functions) and the newer API.

Each :class:`OpInfo` row names an op, the function under test (written once for both
``tinygrad_edu`` and ``torch``, which share the method names), an independent NumPy
reference (loops over taps and windows, the gate equations, the loss formulas as
written in PyTorch's documentation: never the library's own code path), a sample
generator, the value domain that keeps the op smooth there, tolerances and flags.
Parametrized tests then run every row:

* ``test_forward``: float32 and float64 values against the NumPy reference, on contiguous
  and non-contiguous (transposed, strided, reversed) inputs;
* ``test_gradcheck``: ``tg.gradcheck`` in float64 (whole Jacobian, random upstream grad);
* ``test_gradgradcheck``: second derivatives, for rows flagged ``smooth``;
* ``test_vjp_reference``: gradients against a NumPy vector-Jacobian product, for rows whose
  gradient is deliberately not the derivative (an embedding's padding row);
* ``test_create_graph_gives_the_same_first_derivative``: first-order and graph backward;
* ``test_torch_parity``: forward and backward against PyTorch (skipped without torch);
* ``test_cuda_backend_matches_cpu``: the CuPy stand-in (``fake_cuda``) against the CPU.

Sizes. Samples come in three budgets: value tests draw real sizes and layouts (images
like 2x3x7x7, matrices, long vectors, size-1 broadcast dims) with about one draw in
four an edge case (0-d, size-0, size-1); Jacobian tests draw small arrays, second
derivatives tiny ones. Each row may lower its number of examples (``cost``).

Comparisons all go through ``compare.assert_close``: a NaN or an infinity on one side
only is a mismatch, shapes must be equal, integers exactly equal.

Newer API (issue 12) rows carry ``needs=...``: they are skipped, with the reason, until
the API exists (the ``FEATURES`` flags below are computed from the library at import),
and run as soon as it does. Rows that expose a bug listed in issue 12 are strict xfails
naming it. Adding an op means adding a row.
"""
from __future__ import annotations

import inspect
import math
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from compare import assert_close, to_numpy
from conftest import torch_or_skip

pytestmark = pytest.mark.usefixtures("lane")      # every test: fast lane on and off


# ---------------------------------------------------------------- what the API has today
def _pad_mode_exists(mode: str) -> bool:
    try:
        F.pad(tg.zeros(1, 3), (1, 1), mode=mode)
    except NotImplementedError:
        return False
    except Exception:       # noqa: BLE001 - exists, maybe broken: let the rows find out
        return True
    return True


def _negative_pad_exists() -> bool:
    try:
        F.pad(tg.zeros(1, 3), (-1, 0))
    except ValueError as e:
        return "non-negative" not in str(e)
    except Exception:       # noqa: BLE001
        return True
    return True


def _has_param(fn: Any, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


FEATURES = {
    "cumsum": hasattr(tg.Tensor, "cumsum"),
    "sort": hasattr(tg.Tensor, "sort"),
    "topk": hasattr(tg.Tensor, "topk"),
    "tril": hasattr(tg.Tensor, "tril") and hasattr(tg.Tensor, "triu"),
    "roll": hasattr(tg.Tensor, "roll"),
    "rounding": all(hasattr(tg.Tensor, n) for n in ("round", "floor", "ceil")),
    "floordiv_mod": hasattr(tg.Tensor, "__floordiv__") and hasattr(tg.Tensor, "__mod__"),
    "div_rounding_mode": hasattr(tg.Tensor, "div") and _has_param(getattr(tg.Tensor, "div",
                                                                          None), "rounding_mode"),
    "gelu": hasattr(F, "gelu"),
    "silu": hasattr(F, "silu"),
    "elu": hasattr(F, "elu"),
    "logsigmoid": hasattr(F, "logsigmoid"),
    "smooth_l1_loss": hasattr(F, "smooth_l1_loss"),
    "huber_loss": hasattr(F, "huber_loss"),
    "tg.matmul": hasattr(tg, "matmul"),
    "tg.maximum": hasattr(tg, "maximum") and hasattr(tg, "minimum"),
    "tg.logsumexp": hasattr(tg, "logsumexp"),
    "softmax_dtype": _has_param(F.softmax, "dtype"),
    "pad_modes": all(_pad_mode_exists(m) for m in ("reflect", "replicate", "circular")),
    "pad_negative": _negative_pad_exists(),
    "all_any_dim": _has_param(tg.Tensor.all, "dim") and _has_param(tg.Tensor.any, "dim"),
    "like_device": all(_has_param(getattr(tg, n), "device")
                       for n in ("zeros_like", "ones_like", "full_like", "rand_like",
                                 "randn_like", "empty_like")),
    "lstm_proj_size": _has_param(tg.nn.LSTM.__init__, "proj_size"),
    "embedding_padding_idx": _has_param(F.embedding, "padding_idx"),
}

# ---------------------------------------------------------------- namespaces
# Row functions take a namespace ``m`` first so one lambda runs on both libraries.
TG = types.SimpleNamespace(
    name="tg", lib=tg, F=F, nn=tg.nn, where=tg.where, cat=tg.cat, stack=tg.stack,
    float32=tg.float32, float64=tg.float64, int64=tg.int64,
    rnn_tanh_cell=F.rnn_tanh_cell, rnn_relu_cell=F.rnn_relu_cell, lstm_cell=F.lstm_cell,
    gru_cell=F.gru_cell, true_conv2d=F.true_conv2d)


def _torch_cell(fn: Callable) -> Callable:
    """torch's raw cell functions want a batch dim; F.*_cell (and nn.*Cell) take (I,) too."""
    def cell(x: Any, hx: Any, *weights: Any) -> Any:
        if x.dim() == 2:
            return fn(x, hx, *weights)
        hx1 = tuple(h.unsqueeze(0) for h in hx) if isinstance(hx, tuple) else hx.unsqueeze(0)
        out = fn(x.unsqueeze(0), hx1, *weights)
        return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)
    return cell


def _torch_namespace() -> types.SimpleNamespace:
    torch = torch_or_skip()
    tf = torch.nn.functional

    def true_conv2d(x: Any, w: Any, b: Any = None, **kw: Any) -> Any:
        if x.dim() == 2:                      # image and kernel without batch or channels
            return tf.conv2d(x[None, None], w.flip((0, 1))[None, None], b, **kw)[0, 0]
        return tf.conv2d(x, w.flip((-2, -1)), b, **kw)

    return types.SimpleNamespace(
        name="torch", lib=torch, F=tf, nn=torch.nn, where=torch.where, cat=torch.cat,
        stack=torch.stack, float32=torch.float32, float64=torch.float64, int64=torch.int64,
        rnn_tanh_cell=_torch_cell(torch.rnn_tanh_cell),
        rnn_relu_cell=_torch_cell(torch.rnn_relu_cell),
        lstm_cell=_torch_cell(torch.lstm_cell), gru_cell=_torch_cell(torch.gru_cell),
        true_conv2d=true_conv2d)


# ---------------------------------------------------------------- samples and sizes
@dataclass
class Sample:
    """Inputs for one call: arrays become tensors (float ones require grad unless their
    index is in ``const``: class weights, running statistics), kwargs pass as they are."""
    arrays: list
    kwargs: dict = field(default_factory=dict)
    const: tuple = ()

    def describe(self) -> str:
        shapes = [f"{a.dtype}{list(a.shape)}" for a in self.arrays]
        return f"arrays {shapes} const {self.const} kwargs {self.kwargs}"


@dataclass(frozen=True)
class Size:
    """How large drawn arrays may be: value tests take real sizes, Jacobian tests small
    ones (a gradcheck runs two forwards per input element), gradgradcheck tiny ones."""
    name: str
    numel: int       # most elements in one drawn array
    side: int        # longest side of a "real" shape


BIG = Size("big", 320, 32)
SMALL = Size("small", 30, 8)
TINY = Size("tiny", 10, 4)

REAL_SIDES = (7, 3, 16, 5, 2, 32, 4, 1, 8)


def _rng(data: st.DataObject) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def _fit(sides: list, size: Size, min_side: int) -> tuple:
    """Shrink the largest sides until the shape holds at most ``size.numel`` elements."""
    sides = [max(min_side, min(s, size.side)) for s in sides]
    while math.prod(sides) > size.numel and max(sides) > max(min_side, 1):
        i = sides.index(max(sides))
        sides[i] = max(max(min_side, 1), sides[i] // 2)
    return tuple(sides)


def draw_shape(data: st.DataObject, size: Size, min_dims: int = 0, max_dims: int = 4,
               min_side: int = 0, label: str = "shape") -> tuple:
    """A shape: three draws in four a "real" one (up to ``max_dims`` dims of sides like 3,
    7, 16 or 32, within the size budget, size-1 dims included), one in four an edge case
    (0-d, empty or size-1 dims, sides 0 to 2)."""
    kind = data.draw(st.sampled_from(("real", "real", "edge", "real")), label=f"{label} kind")
    if kind == "edge":
        return data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=min(max_dims, 3),
                                          min_side=min_side, max_side=max(min_side, 2)),
                         label=label)
    lo = max(min_dims, 1)
    nd = data.draw(st.sampled_from([d for d in (3, 2, 4, 1) if lo <= d <= max(lo, max_dims)]),
                   label=f"{label} dims")
    sides = [data.draw(st.sampled_from(REAL_SIDES)) for _ in range(nd)]
    shape = _fit(sides, size, min_side)
    note(f"{label}: {shape}")
    return shape


def broadcast_shapes(data: st.DataObject, size: Size, num: int = 2) -> list:
    """Mutually broadcastable shapes: ones cut from a real shape (leading dims dropped,
    some dims set to 1) or small edge cases like ((), (0, 2))."""
    kind = data.draw(st.sampled_from(("real", "edge", "real")), label="broadcast kind")
    if kind == "edge":
        return list(data.draw(hnp.mutually_broadcastable_shapes(
            num_shapes=num, min_dims=0, max_dims=3, min_side=0, max_side=2)).input_shapes)
    base = draw_shape(data, size, min_dims=1, max_dims=4, min_side=1)
    out = []
    for i in range(num):
        drop = data.draw(st.integers(0, len(base)), label=f"dropped dims {i}")
        mask = data.draw(st.integers(0, 2 ** len(base) - 1), label=f"ones mask {i}")
        out.append(tuple(1 if (mask >> j) & 1 else d for j, d in enumerate(base))[drop:])
    note(f"broadcast shapes: {out}")
    return out


def values(data: st.DataObject, shape: tuple, domain: str = "real") -> np.ndarray:
    """Float64 values of ``shape`` in a domain where the op is smooth.

    real: U(-2, 2); positive: U(0.5, 3); nonzero: ±U(0.5, 2); unit: U(0.05, 0.95);
    separated: distinct values in about (-2, 2), on a grid of step 0.25/m (m grows with
    the count) shifted by half a step, jittered by at most a fifth of a step: any two are
    at least 0.6 steps apart, and every value is at least 0.3 steps from each multiple of
    0.25 (0, ±0.25, ±1, ...: the kinks of relu, abs, clamp, hardtanh, round, the
    smooth-L1 knee), so that central differences never straddle a kink.
    """
    rng = _rng(data)
    n = int(np.prod(shape, dtype=np.int64))
    if domain == "real":
        v = rng.uniform(-2, 2, n)
    elif domain == "positive":
        v = rng.uniform(0.5, 3, n)
    elif domain == "nonzero":
        v = rng.uniform(0.5, 2, n) * rng.choice([-1.0, 1.0], n)
    elif domain == "unit":
        v = rng.uniform(0.05, 0.95, n)
    elif domain == "separated":
        step = 0.25 / max(1, math.ceil(n / 16))
        v = (rng.permutation(n) - n // 2 + 0.5) * step + rng.uniform(-0.2, 0.2, n) * step
    else:
        raise ValueError(domain)
    return v.reshape(shape)


def separated_arrays(data: st.DataObject, *shapes: tuple) -> list:
    """Arrays whose elements are all distinct across all of them (no ties anywhere)."""
    ns = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    v = values(data, (sum(ns),), "separated")
    out, at = [], 0
    for s, n in zip(shapes, ns):
        out.append(v[at:at + n].reshape(s))
        at += n
    return out


def unary(domain: str = "real", min_dims: int = 0, min_side: int = 0,
          **kwargs: Any) -> Callable:
    def gen(data: st.DataObject, size: Size) -> Sample:
        shape = draw_shape(data, size, min_dims=min_dims, min_side=min_side)
        return Sample([values(data, shape, domain)], dict(kwargs))
    return gen


def binary(domain_x: str = "real", domain_y: str = "real") -> Callable:
    def gen(data: st.DataObject, size: Size) -> Sample:
        s1, s2 = broadcast_shapes(data, size)
        if domain_x == domain_y == "separated":
            return Sample(separated_arrays(data, s1, s2))
        return Sample([values(data, s1, domain_x), values(data, s2, domain_y)])
    return gen


def draw_dim(data: st.DataObject, ndim: int, allow_none: bool = True,
             allow_tuple: bool = True) -> Any:
    """None, an int (possibly negative) or a tuple of distinct dims."""
    options = []
    if ndim > 0:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                    unique=True).map(tuple))
    if allow_none:
        options.append(st.none())
    if not options:
        return None
    return data.draw(st.one_of(*options), label="dim")


def reduction(domain: str = "real", min_side: int = 0, allow_none: bool = True,
              keepdim: bool = True, min_dims: int = 0, **extra: Any) -> Callable:
    def gen(data: st.DataObject, size: Size) -> Sample:
        shape = draw_shape(data, size, min_dims=min_dims, min_side=min_side)
        dim = draw_dim(data, len(shape), allow_none=allow_none)
        kw = dict(extra)
        if dim is not None:
            kw["dim"] = dim
        if keepdim and dim is not None:   # torch has no keepdim without dim
            kw["keepdim"] = data.draw(st.booleans(), label="keepdim")
        return Sample([values(data, shape, domain)], kw)
    return gen


def _np_dims(kw: dict, ndim: int) -> Any:
    d = kw.get("dim")
    if d is None:
        return tuple(range(ndim))
    return tuple(i % ndim for i in d) if isinstance(d, tuple) else (d % ndim,)


def np_reduce(fn: Callable) -> Callable:
    """Adapt an ``np.sum``-like reference to the (dim, keepdim) kwargs."""
    def ref(x: np.ndarray, dim: Any = None, keepdim: bool = False, **kw: Any) -> np.ndarray:
        axes = _np_dims({"dim": dim}, x.ndim) if x.ndim else None
        return fn(x, axis=axes, keepdims=keepdim, **kw)
    return ref


# ---------------------------------------------------------------- movement, indexing, matrix
def gen_reshape(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size)
    kind = data.draw(st.sampled_from(["flat", "reversed", "unit", "infer"]), label="kind")
    n = int(np.prod(shape, dtype=np.int64))
    target = {"flat": (n,), "reversed": tuple(reversed(shape)), "unit": (1,) + shape + (1,),
              "infer": (-1,) + shape[1:] if shape and n else (n,)}[kind]
    return Sample([values(data, shape)], {"shape": target})


def gen_permute(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    dims = data.draw(st.permutations(range(len(shape))), label="dims")
    return Sample([values(data, shape)], {"dims": tuple(dims)})


def gen_transpose(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    nd = len(shape)
    d0 = data.draw(st.integers(-nd, nd - 1), label="dim0")
    d1 = data.draw(st.integers(-nd, nd - 1), label="dim1")
    return Sample([values(data, shape)], {"dim0": d0, "dim1": d1})


def gen_expand(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, max_dims=3)
    shape = tuple(1 if data.draw(st.booleans()) else s for s in shape)
    target = tuple(data.draw(st.sampled_from((3, 1, 0))) if s == 1 else s for s in shape)
    lead = data.draw(st.lists(st.sampled_from((2, 1, 0)), max_size=2), label="lead")
    return Sample([values(data, shape)], {"shape": tuple(lead) + target})


def gen_pad(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    npairs = data.draw(st.integers(1, min(3, len(shape))), label="npairs")
    pad = data.draw(st.lists(st.integers(0, 2), min_size=2 * npairs, max_size=2 * npairs))
    value = data.draw(st.sampled_from([0.0, -1.5]), label="value")
    return Sample([values(data, shape)], {"pad": tuple(pad), "value": value})


def np_pad(x: np.ndarray, pad: tuple, value: float = 0.0, mode: str = "constant") -> np.ndarray:
    """F.pad by definition: pairs from the last dim backwards; a negative amount crops."""
    pairs = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        pairs[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    crop = tuple(slice(max(0, -a), x.shape[d] - max(0, -b)) for d, (a, b) in enumerate(pairs))
    x = x[crop]
    grow = [(max(0, a), max(0, b)) for a, b in pairs]
    if mode == "constant":
        return np.pad(x, grow, constant_values=value)
    return np.pad(x, grow, mode={"reflect": "reflect", "replicate": "edge",
                                 "circular": "wrap"}[mode])


def gen_slices(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    index = []
    for s in shape:
        if s > 0 and data.draw(st.booleans()):
            index.append(data.draw(st.integers(-s, s - 1)))
        else:
            start = data.draw(st.one_of(st.none(), st.integers(-s - 1, s + 1)))
            stop = data.draw(st.one_of(st.none(), st.integers(-s - 1, s + 1)))
            step = data.draw(st.sampled_from([None, 1, 2, 3]))
            index.append(slice(start, stop, step))
    if data.draw(st.booleans(), label="none"):
        index.insert(data.draw(st.integers(0, len(index))), None)
    index = tuple(index)
    if len(shape) > 1 and data.draw(st.booleans(), label="ellipsis"):
        index = (Ellipsis,) + tuple(i for i in index[-1:] if i is not None)
    return Sample([values(data, shape)], {"index": index})


def gen_int_index(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1, min_side=1)
    n = shape[0]
    ishape = draw_shape(data, size, max_dims=2, label="index shape")
    idx = _rng(data).integers(-n, n, ishape)      # repeats are likely: gradients must add up
    return Sample([values(data, shape), idx.astype(np.int64)])


def gen_mixed_index(data: st.DataObject, size: Size) -> Sample:
    """x[:, i] (a slice then an int array) or x[i, j] (two broadcast int arrays)."""
    shape = draw_shape(data, size, min_dims=2, min_side=1)
    rng = _rng(data)
    si, sj = broadcast_shapes(data, TINY)
    i = rng.integers(-shape[0], shape[0], si)
    j = rng.integers(-shape[1], shape[1], sj)
    kind = data.draw(st.sampled_from(["slice_array", "array_array"]), label="kind")
    return Sample([values(data, shape), i, j], {"kind": kind})


def index_mixed(x: Any, i: Any, j: Any, kind: str) -> Any:
    return x[:, j] if kind == "slice_array" else x[i, j]


def gen_bool_mask(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    full = data.draw(st.booleans(), label="full mask")
    mshape = shape if full else shape[:1]
    mask = np.asarray(_rng(data).random(mshape) < 0.5)
    return Sample([values(data, shape), mask])


def gen_cat(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1), label="dim")
    k = data.draw(st.integers(1, 3), label="count")
    base = list(shape)
    base[dim % nd] = 5
    base = list(_fit(base, size, 0))                  # the same other dims for every piece
    arrays = []
    for _ in range(k):
        base[dim % nd] = data.draw(st.sampled_from((3, 0, 1, 5)))
        arrays.append(values(data, tuple(base)))
    return Sample(arrays, {"dim": dim})


def gen_stack(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size)
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="dim")
    k = data.draw(st.integers(1, 3), label="count")
    return Sample([values(data, shape) for _ in range(k)], {"dim": dim})


def gen_flip(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    dims = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1,
                              max_size=len(shape), unique_by=lambda d: d % len(shape)))
    return Sample([values(data, shape)], {"dims": tuple(dims)})


def gen_unfold(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1, min_side=1)
    nd = len(shape)
    d = data.draw(st.integers(-nd, nd - 1), label="dimension")
    sz = data.draw(st.integers(1, shape[d]), label="size")
    step = data.draw(st.integers(1, 3), label="step")
    return Sample([values(data, shape)], {"dimension": d, "size": sz, "step": step})


def np_unfold(x: np.ndarray, dimension: int, size: int, step: int) -> np.ndarray:
    w = np.lib.stride_tricks.sliding_window_view(x, size, axis=dimension)
    index = [slice(None)] * w.ndim
    index[dimension % x.ndim] = slice(None, None, step)
    return w[tuple(index)]


def gen_window(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1, min_side=1)
    nd = len(shape)
    axes = data.draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=min(nd, 2),
                              unique=True), label="axes")
    ksize, stride, dilation = [], [], []
    for a in axes:
        d = data.draw(st.integers(1, 2))
        k = data.draw(st.integers(1, max(1, (shape[a] - 1) // d + 1)))
        ksize.append(k)
        dilation.append(d)
        stride.append(data.draw(st.integers(1, 3)))
    return Sample([values(data, shape)], {"axes": tuple(axes), "size": tuple(ksize),
                                          "stride": tuple(stride), "dilation": tuple(dilation)})


def np_window(x: np.ndarray, axes: tuple, size: tuple, stride: tuple,
              dilation: tuple) -> np.ndarray:
    """Windows by explicit loops over the output positions (the definition)."""
    counts = [(x.shape[a] - d * (k - 1) - 1) // s + 1
              for a, k, s, d in zip(axes, size, stride, dilation)]
    out_shape = list(x.shape)
    for a, n in zip(axes, counts):
        out_shape[a] = n
    out = np.zeros(tuple(out_shape) + tuple(size))
    for pos in np.ndindex(*counts):
        for taps in np.ndindex(*size):
            src = [slice(None)] * x.ndim
            dst = [slice(None)] * x.ndim
            for a, p, t, s, d in zip(axes, pos, taps, stride, dilation):
                src[a] = p * s + t * d
                dst[a] = p
            out[tuple(dst) + (Ellipsis,) + taps] = x[tuple(src)]
    return out


def gen_matmul(data: st.DataObject, size: Size) -> Sample:
    kind = data.draw(st.sampled_from(["2x2", "1x1", "2x1", "1x2", "batched", "broadcast"]),
                     label="kind")
    sides = (7, 3, 16, 1, 0, 4) if size is BIG else (3, 2, 1, 0)
    n, k, m = (data.draw(st.sampled_from(sides)) for _ in range(3))
    if kind == "1x1":
        sa, sb = (k,), (k,)
    elif kind == "2x1":
        sa, sb = (n, k), (k,)
    elif kind == "1x2":
        sa, sb = (k,), (k, m)
    elif kind == "2x2":
        sa, sb = (n, k), (k, m)
    elif kind == "batched":
        b = data.draw(st.integers(1, 3))
        sa, sb = (b, n, k), (b, k, m)
    else:
        ba, bb = broadcast_shapes(data, TINY)
        sa, sb = tuple(ba) + (n, k), tuple(bb) + (k, m)
    return Sample([values(data, sa), values(data, sb)])


def gen_where(data: st.DataObject, size: Size) -> Sample:
    sc, sx, sy = broadcast_shapes(data, size, num=3)
    cond = np.asarray(_rng(data).random(sc) < 0.5)
    return Sample([cond, values(data, sx), values(data, sy)])


def gen_softmax(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    scale = data.draw(st.sampled_from([1.0, 30.0]), label="scale")   # large logits: stability
    return Sample([values(data, shape) * scale], {"dim": dim})


def _np_gather(x: np.ndarray, i: np.ndarray, dim: int) -> np.ndarray:
    """out[..., j, ...] = x[..., i[..., j, ...], ...] by an explicit loop (index may be
    smaller than x in the other dims, as PyTorch allows)."""
    out = np.zeros(i.shape)
    for pos in np.ndindex(*i.shape):
        src = list(pos)
        src[dim] = i[pos]
        out[pos] = x[tuple(src)]
    return out


def np_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=dim, keepdims=True)) if x.size else x
    return e / e.sum(axis=dim, keepdims=True)


def np_log_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    if not x.size:
        return x
    s = x - x.max(axis=dim, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=dim, keepdims=True))


def np_logsumexp(x: np.ndarray, dim: Any, keepdim: bool = False) -> np.ndarray:
    axes = _np_dims({"dim": dim}, x.ndim)
    m = x.max(axis=axes, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=axes)


def np_norm(x: np.ndarray, p: float, dim: Any = None, keepdim: bool = False) -> np.ndarray:
    axes = _np_dims({"dim": dim}, x.ndim) if x.ndim else None
    if p == math.inf:
        return np.abs(x).max(axis=axes, keepdims=keepdim)
    if p == -math.inf:
        return np.abs(x).min(axis=axes, keepdims=keepdim)
    return (np.abs(x) ** p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)


def np_max_dim(x: np.ndarray, dim: int, keepdim: bool = False) -> tuple:
    return (x.max(axis=dim, keepdims=keepdim), x.argmax(axis=dim, keepdims=keepdim))


def np_var(x: np.ndarray, dim: Any = None, keepdim: bool = False,
           correction: int = 1) -> np.ndarray:
    axes = _np_dims({"dim": dim}, x.ndim) if x.ndim else None
    return x.var(axis=axes, keepdims=keepdim, ddof=correction)


def gen_max_dim(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1, min_side=1)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    return Sample([values(data, shape, "separated")],
                  {"dim": dim, "keepdim": data.draw(st.booleans())})


def gen_one_dim(min_dims: int = 1, min_side: int = 0, domain: str = "real",
                new_dim: bool = False) -> Callable:
    """A shape and one dim (``new_dim``: a position for an inserted dim, as unsqueeze)."""
    def gen(data: st.DataObject, size: Size) -> Sample:
        shape = draw_shape(data, size, min_dims=min_dims, min_side=min_side)
        nd = len(shape) + (1 if new_dim else 0)
        dim = data.draw(st.integers(-nd, nd - 1), label="dim")
        return Sample([values(data, shape, domain)], {"dim": dim})
    return gen


def gen_split(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1, min_side=1)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    sz = data.draw(st.integers(1, shape[dim]), label="size")
    return Sample([values(data, shape)], {"size": sz, "dim": dim})


def np_split(x: np.ndarray, size: int, dim: int) -> tuple:
    n = x.shape[dim]
    return tuple(np.split(x, list(range(size, n, size)), axis=dim))


def gen_repeat(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, SMALL if size is BIG else TINY, max_dims=2)
    extra = data.draw(st.integers(0, 1), label="extra dims")
    reps = data.draw(st.lists(st.integers(0, 3), min_size=len(shape) + extra,
                              max_size=len(shape) + extra), label="sizes")
    return Sample([values(data, shape)], {"sizes": tuple(reps)})


def gen_gather(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1, min_side=1)
    nd = len(shape)
    dim = data.draw(st.integers(0, nd - 1), label="dim")
    ishape = tuple(data.draw(st.integers(0, 3)) if d == dim else data.draw(st.integers(0, s))
                   for d, s in enumerate(shape))
    idx = _rng(data).integers(0, shape[dim], ishape).astype(np.int64)
    return Sample([values(data, shape), idx], {"dim": dim})


def gen_masked_fill(data: st.DataObject, size: Size) -> Sample:
    s1, s2 = broadcast_shapes(data, size)
    s1 = tuple(np.broadcast_shapes(s1, s2))           # the mask broadcasts to the input
    return Sample([values(data, s1), np.asarray(_rng(data).random(s2) < 0.5)])


def gen_cast(data: st.DataObject, size: Size) -> Sample:
    return Sample([values(data, draw_shape(data, size))], {})


# ---------------------------------------------------------------- convolution
def _tup(v: Any, n: int) -> tuple:
    return (v,) * n if isinstance(v, int) else tuple(v)


def same_padding(k: int, d: int) -> tuple:
    """PyTorch's 'same' padding along one axis: d·(k-1) zeros in all, the odd one after:
    output i reads input i + d·u - left for taps u = 0 .. k-1."""
    total = d * (k - 1)
    return total // 2, total - total // 2


def np_conv(x: np.ndarray, w: np.ndarray, *b: np.ndarray, stride: Any = 1, padding: Any = 0,
            dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """The definition of an N-d cross-correlation, one kernel tap at a time:

        y[n, o, i] = b[o] + Σ_taps Σ_{c in o's group} xpad[n, c, i·s + tap·d] · w[o, c, tap]
    """
    nd = w.ndim - 2
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x[None]
    s, d, k = _tup(stride, nd), _tup(dilation, nd), w.shape[2:]
    if padding == "valid":
        pads = [(0, 0)] * nd
    elif padding == "same":
        pads = [same_padding(kk, dd) for kk, dd in zip(k, d)]
    else:
        pads = [(p, p) for p in _tup(padding, nd)]
    xp = np.pad(x, [(0, 0), (0, 0)] + pads)
    n, o, g = x.shape[0], w.shape[0], groups
    cg = w.shape[1]
    out = [(xp.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(nd)]
    xg = xp.reshape((n, g, cg) + xp.shape[2:])
    wg = w.reshape((g, o // g, cg) + tuple(k))
    y = np.zeros((n, g, o // g) + tuple(out))
    for tap in np.ndindex(*k):
        cells = tuple(slice(t * dd, t * dd + ss * (m - 1) + 1, ss)
                      for t, dd, ss, m in zip(tap, d, s, out))
        y += np.einsum("ngc...,goc->ngo...", xg[(Ellipsis,) + cells], wg[(Ellipsis,) + tap])
    y = y.reshape((n, o) + tuple(out))
    if b:
        y = y + b[0].reshape((o,) + (1,) * nd)
    return y[0] if unbatched else y


def np_true_conv2d(x: np.ndarray, w: np.ndarray, *b: np.ndarray, **kw: Any) -> np.ndarray:
    """True convolution: y[i, j] = Σ x[i - u, j - v] w[u, v], i.e. the correlation with the
    kernel turned by 180 degrees; 2-D image and kernel or batched (N, C, H, W) input."""
    if x.ndim == 2:
        return np_conv(x[None, None], w[None, None, ::-1, ::-1], *b, **kw)[0, 0]
    return np_conv(x, w[..., ::-1, ::-1], *b, **kw)


def gen_conv(nd: int, same: bool = False, true_conv: bool = False) -> Callable:
    """conv1d/conv2d samples: batch (or none), groups (1, 2 or depthwise), kernel, stride,
    padding (int, per-axis tuple, 'same', 'valid'), dilation, bias or not. ``same``: always
    'same' padding, with at least one even kernel under an odd dilation (asymmetric padding)
    and, in 2-D, a dilated axis."""
    def gen(data: st.DataObject, size: Size) -> Sample:
        big = size is BIG
        groups = 1 if true_conv else data.draw(st.sampled_from((1, 2, 3) if big else (1, 2)),
                                               label="groups")
        cg = data.draw(st.sampled_from((2, 1, 3) if big else (1, 2)), label="in per group")
        og = data.draw(st.sampled_from((2, 1) if size is not TINY else (1,)), label="out/group")
        if groups == 3:
            cg = 1                                            # depthwise: one channel each
        batch = data.draw(st.sampled_from((2, 1, None) if big else (1, None)), label="batch")
        ks = [data.draw(st.sampled_from((3, 2, 1, 4, 5) if big else (2, 3, 1)), label="k")
              for _ in range(nd)]
        dil = [data.draw(st.sampled_from((1, 2, 3) if big else (1, 2)), label="dilation")
               for _ in range(nd)]
        if same:
            ks[0], dil[0] = data.draw(st.sampled_from(((2, 1), (4, 1), (2, 3))))
            if nd == 2:
                ks[1], dil[1] = data.draw(st.sampled_from(((3, 2), (2, 2), (2, 1), (1, 3))))
            mode = "same"
        else:
            mode = data.draw(st.sampled_from(("int", "tuple", "same", "valid")), label="padding")
        stride = [1] * nd if mode == "same" else [
            data.draw(st.sampled_from((1, 2, 3)), label="stride") for _ in range(nd)]
        if mode == "int":
            p = data.draw(st.integers(0, 2), label="pad")
            padding: Any = p
            pads = [p] * nd
        elif mode == "tuple":
            pads = [data.draw(st.integers(0, 2), label="pad") for _ in range(nd)]
            padding = tuple(pads)
        else:
            padding, pads = mode, [0] * nd
        spatial = []
        for k, d, p in zip(ks, dil, pads):
            span = d * (k - 1) + 1
            extra = data.draw(st.sampled_from((2, 0, 4, 1, 6) if big else (1, 0, 2)))
            spatial.append(max(1, span - 2 * p + extra))
        c, o = groups * cg, groups * og
        xs = ((batch,) if batch else ()) + (c,) + tuple(spatial)
        ws = (o, cg) + tuple(ks)
        if true_conv and not batch and data.draw(st.booleans(), label="plain 2-D"):
            xs, ws = tuple(spatial), tuple(ks)
        arrays = [values(data, xs), values(data, ws)]
        if data.draw(st.booleans(), label="bias") and len(ws) > 2:
            arrays.append(values(data, (o,)))
        kw = {"stride": stride[0] if len(set(stride)) == 1 else tuple(stride),
              "padding": padding,
              "dilation": dil[0] if len(set(dil)) == 1 else tuple(dil)}
        if not true_conv:
            kw["groups"] = groups
        elif len(ws) == 2:
            kw = {}
        return Sample(arrays, kw)
    return gen


# ---------------------------------------------------------------- pooling
def pool_out_len(length: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's output length: floor (or ceil) of (L + 2p - d(k-1) - 1)/s, plus one; with
    ceil_mode the last window must start inside the input or its left padding."""
    num = length + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= length + p:
        out -= 1
    return out


def _pool_taps(x: np.ndarray, nd: int, k: tuple, s: tuple, p: tuple, d: tuple,
               ceil_mode: bool, fill: float) -> tuple:
    """Every window tap's cells at once: a list of (values (..., *out), flat input index
    (*out) or -1 in the padding) for the taps in row-major order, and the output sizes."""
    lengths = x.shape[-nd:]
    outs = [pool_out_len(L, kk, ss, pp, dd, ceil_mode)
            for L, kk, ss, pp, dd in zip(lengths, k, s, p, d)]
    right = [max(0, (o - 1) * ss + dd * (kk - 1) + 1 - L - pp)
             for o, ss, dd, kk, L, pp in zip(outs, s, d, k, lengths, p)]
    pairs = [(pp, r) for pp, r in zip(p, right)]
    xp = np.pad(x, [(0, 0)] * (x.ndim - nd) + pairs, constant_values=fill)
    flat = np.pad(np.arange(math.prod(lengths)).reshape(lengths), pairs, constant_values=-1)
    taps = []
    for tap in np.ndindex(*k):
        cells = tuple(slice(t * dd, t * dd + ss * (o - 1) + 1, ss)
                      for t, dd, ss, o in zip(tap, d, s, outs))
        taps.append((xp[(Ellipsis,) + cells], flat[cells]))
    return taps, outs


def _pool_args(nd: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1) -> tuple:
    k = _tup(kernel_size, nd)
    s = k if stride is None else _tup(stride, nd)
    return k, s, _tup(padding, nd), _tup(dilation, nd)


def np_max_pool(nd: int) -> Callable:
    def ref(x: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0,
            dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
        k, s, p, d = _pool_args(nd, kernel_size, stride, padding, dilation)
        taps, _ = _pool_taps(x, nd, k, s, p, d, ceil_mode, -np.inf)
        vals = np.stack([v for v, _ in taps], -1)
        first = vals.argmax(-1)                   # the first largest tap, as PyTorch's scan
        out = np.take_along_axis(vals, first[..., None], -1)[..., 0]
        if not return_indices:
            return out
        index = np.stack([np.broadcast_to(i, vals.shape[:-1]) for _, i in taps], -1)
        return out, np.take_along_axis(index, first[..., None], -1)[..., 0].astype(np.int64)
    return ref


def _avg_divisors(lengths: tuple, outs: list, k: tuple, s: tuple, p: tuple) -> tuple:
    """Per-axis window sizes: counting the padding (clipped at the padded input's end)
    and counting only real cells; PyTorch's avg_pool divisors are their products."""
    incl, excl = [], []
    for L, o, kk, ss, pp in zip(lengths, outs, k, s, p):
        start = np.arange(o) * ss - pp
        end = np.minimum(start + kk, L + pp)
        incl.append(end - start)
        excl.append(np.minimum(end, L) - np.maximum(start, 0))
    return incl, excl


def _outer(factors: list) -> np.ndarray:
    out = np.ones(())
    for f in factors:
        out = np.multiply.outer(out, f)
    return out


def np_avg_pool(nd: int) -> Callable:
    def ref(x: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0,
            ceil_mode: bool = False, count_include_pad: bool = True,
            divisor_override: Any = None) -> np.ndarray:
        k, s, p, d = _pool_args(nd, kernel_size, stride, padding)
        taps, outs = _pool_taps(x, nd, k, s, p, d, ceil_mode, 0.0)
        total = sum(v for v, _ in taps)
        if divisor_override:
            return total / divisor_override
        incl, excl = _avg_divisors(x.shape[-nd:], outs, k, s, p)
        return total / _outer(incl if count_include_pad else excl)
    return ref


def np_lp_pool(nd: int) -> Callable:
    """(Σ_window xᵖ)^(1/p) as PyTorch computes it: avg_pool of xᵖ (no padding, the divisor
    of a partial ceil_mode window is its clipped size) times the full window size."""
    def ref(x: np.ndarray, norm_type: float, kernel_size: Any, stride: Any = None,
            ceil_mode: bool = False) -> np.ndarray:
        k, s, p, d = _pool_args(nd, kernel_size, stride, 0)
        taps, outs = _pool_taps(x ** norm_type, nd, k, s, p, d, ceil_mode, 0.0)
        total = sum(v for v, _ in taps)
        incl, _ = _avg_divisors(x.shape[-nd:], outs, k, s, p)
        return (total / _outer(incl) * math.prod(k)) ** (1.0 / norm_type)
    return ref


def np_adaptive_avg_pool(nd: int) -> Callable:
    def ref(x: np.ndarray, output_size: Any) -> np.ndarray:
        sizes = (output_size,) * nd if isinstance(output_size, int) or output_size is None \
            else tuple(output_size)
        lengths = x.shape[-nd:]
        sizes = tuple(L if o is None else o for L, o in zip(lengths, sizes))
        out = np.zeros(x.shape[:-nd] + sizes)
        for pos in np.ndindex(*sizes):
            cells = tuple(slice(i * L // o, -(-(i + 1) * L // o))
                          for i, L, o in zip(pos, lengths, sizes))
            out[(Ellipsis,) + pos] = x[(Ellipsis,) + cells].mean(axis=tuple(range(-nd, 0)))
        return out
    return ref


def gen_pool(kind: str, nd: int) -> Callable:
    """Pooling samples: batched or not, channels, kernel, stride (default = kernel), padding
    up to half the kernel, dilation (max), ceil_mode, count_include_pad and divisor_override
    (avg), p = 1, 2, 3 (lp), output sizes with None (adaptive)."""
    def gen(data: st.DataObject, size: Size) -> Sample:
        big = size is BIG
        batch = data.draw(st.sampled_from((2, 1, None) if big else (1, None)), label="batch")
        c = data.draw(st.sampled_from((3, 1, 2) if big else (1, 2)), label="channels")
        lead = ((batch,) if batch else ()) + (c,)
        kw: dict = {}
        domain = "separated" if kind == "max" else "real"
        if kind == "adaptive":
            lengths = tuple(data.draw(st.sampled_from((7, 5, 8, 3) if big else (5, 3, 4)))
                            for _ in range(nd))
            outs = tuple(data.draw(st.sampled_from((3, 1, 2, 4, None) if nd == 2 else
                                                   (3, 1, 2, 4))) for _ in range(nd))
            kw["output_size"] = outs[0] if nd == 1 else outs
            return Sample([values(data, lead + lengths)], kw)
        ks = [data.draw(st.sampled_from((3, 2, 1, 4) if big else (2, 3, 1)), label="kernel")
              for _ in range(nd)]
        dil = [data.draw(st.sampled_from((1, 2)), label="dilation") if kind == "max" else 1
               for _ in range(nd)]
        pads = [data.draw(st.integers(0, kk // 2), label="pad") if kind != "lp" else 0
                for kk in ks]                  # PyTorch: at most half the kernel size
        default_stride = data.draw(st.booleans(), label="default stride")
        strides = ks if default_stride else [data.draw(st.sampled_from((1, 2, 3)),
                                                       label="stride") for _ in range(nd)]
        # at least span - pad cells: every window, the first included, reads a real cell
        lengths = tuple(max(1, dd * (kk - 1) + 1 - pp) + data.draw(st.sampled_from(
            (3, 0, 5, 1, 8) if big else (1, 0, 2)), label="extra")
            for kk, dd, pp in zip(ks, dil, pads))
        one = nd == 1 or data.draw(st.booleans(), label="scalar args")
        pick = (lambda v: v[0] if one and len(set(v)) == 1 else tuple(v))   # noqa: E731
        kw["kernel_size"] = pick(ks)
        kw["stride"] = None if default_stride else pick(strides)
        kw["ceil_mode"] = data.draw(st.booleans(), label="ceil_mode")
        if kind == "lp":
            p = data.draw(st.sampled_from((2.0, 1.0, 3.0)), label="norm_type")
            kw = {"norm_type": p, **kw}
            domain = "positive" if p == 3.0 else "real"
        else:
            kw["padding"] = pick(pads)
        if kind == "max":
            kw["dilation"] = pick(dil)
        if kind == "avg":
            kw["count_include_pad"] = data.draw(st.booleans(), label="count_include_pad")
            if nd == 2 and data.draw(st.booleans(), label="divisor_override"):
                kw["divisor_override"] = 3
        return Sample([values(data, lead + lengths, domain)], kw)
    return gen


def gen_max_pool_indices(nd: int) -> Callable:
    base = gen_pool("max", nd)

    def gen(data: st.DataObject, size: Size) -> Sample:
        s = base(data, size)
        s.kwargs["return_indices"] = True
        return s
    return gen


# ---------------------------------------------------------------- recurrent cells
def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def np_cell(kind: str) -> Callable:
    """One step of the cell equations (PyTorch's gate order: i, f, g, o and r, z, n)."""
    def ref(x: np.ndarray, h: np.ndarray, *rest: np.ndarray, bias: bool) -> Any:
        c = None
        if kind in ("lstm", "peephole"):
            c, rest = rest[0], rest[1:]
        w_ih, w_hh, rest = rest[0], rest[1], rest[2:]
        if kind == "peephole":
            (w_ci, w_cf, w_co), rest = rest[:3], rest[3:]
        b_ih, b_hh = rest if bias else (0.0, 0.0)
        a = x @ w_ih.T + b_ih                  # input part
        r = h @ w_hh.T + b_hh                  # recurrent part
        n = w_ih.shape[0] // {"tanh": 1, "relu": 1, "gru": 3}.get(kind, 4)   # hidden size
        blk = lambda v, i: v[..., i * n:(i + 1) * n]   # noqa: E731
        if kind == "tanh":
            return np.tanh(a + r)
        if kind == "relu":
            return np.maximum(a + r, 0.0)
        if kind == "gru":
            rg = _sigmoid(blk(a, 0) + blk(r, 0))
            zg = _sigmoid(blk(a, 1) + blk(r, 1))
            cand = np.tanh(blk(a, 2) + rg * blk(r, 2))
            return (1 - zg) * cand + zg * h
        z = a + r
        if kind == "lstm":
            i, f, o = _sigmoid(blk(z, 0)), _sigmoid(blk(z, 1)), _sigmoid(blk(z, 3))
            c2 = f * c + i * np.tanh(blk(z, 2))
            return o * np.tanh(c2), c2
        i = _sigmoid(blk(z, 0) + w_ci * c)     # Graves: input and forget gates see c_{t-1}
        f = _sigmoid(blk(z, 1) + w_cf * c)
        c2 = f * c + i * np.tanh(blk(z, 2))
        o = _sigmoid(blk(z, 3) + w_co * c2)    # the output gate sees the new cell
        return o * np.tanh(c2), c2
    return ref


def gen_cell(kind: str) -> Callable:
    """x (B, I) or (I,), h [and c], w_ih (gH, I), w_hh (gH, H), [peepholes (H,)], [biases]."""
    gates = {"tanh": 1, "relu": 1, "gru": 3, "lstm": 4, "peephole": 4}[kind]

    def gen(data: st.DataObject, size: Size) -> Sample:
        big = size is BIG
        batch = data.draw(st.sampled_from((3, 1, None) if big else (2, None)), label="batch")
        i = data.draw(st.sampled_from((4, 2, 7) if big else (2, 1)), label="input size")
        h = data.draw(st.sampled_from((5, 3, 8) if big else (2, 3)), label="hidden size")
        if size is TINY:
            i, h = 1, 2
        lead = (batch,) if batch else ()
        bias = data.draw(st.booleans(), label="bias")
        shapes = [lead + (i,), lead + (h,)]
        if kind in ("lstm", "peephole"):
            shapes.append(lead + (h,))
        shapes += [(gates * h, i), (gates * h, h)]
        if kind == "peephole":
            shapes += [(h,)] * 3
        if bias:
            shapes += [(gates * h,)] * 2
        arrays = [values(data, s) * (1.0 if n < 2 else 0.7) for n, s in enumerate(shapes)]
        return Sample(arrays, {"bias": bias})
    return gen


def cell_fn(kind: str) -> Callable:
    def fn(m: Any, x: Any, h: Any, *rest: Any, bias: bool) -> Any:
        if kind == "peephole":
            c, w_ih, w_hh, w_ci, w_cf, w_co, *b = rest
            return tuple(m.F.peephole_lstm_cell(x, (h, c), w_ih, w_hh, w_ci, w_cf, w_co, *b))
        if kind == "lstm":
            c, *weights = rest
            return tuple(m.lstm_cell(x, (h, c), *weights))
        return getattr(m, {"tanh": "rnn_tanh_cell", "relu": "rnn_relu_cell",
                           "gru": "gru_cell"}[kind])(x, h, *rest)
    return fn


def gen_lstm_proj(data: st.DataObject, size: Size) -> Sample:
    """nn.LSTM(proj_size=P), one layer: x (T, B, I), h0 (1, B, P), c0 (1, B, H); the
    weights travel as kwargs (constants of the row)."""
    big = size is BIG
    t = data.draw(st.sampled_from((4, 1, 6) if big else (2, 1)), label="steps")
    b, i, h, p = (3, 4, 5, 2) if big else (1, 2, 3, 2)
    rng = _rng(data)
    weights = {"weight_ih_l0": rng.uniform(-0.7, 0.7, (4 * h, i)),
               "weight_hh_l0": rng.uniform(-0.7, 0.7, (4 * h, p)),
               "bias_ih_l0": rng.uniform(-0.7, 0.7, (4 * h,)),
               "bias_hh_l0": rng.uniform(-0.7, 0.7, (4 * h,)),
               "weight_hr_l0": rng.uniform(-0.7, 0.7, (p, h))}
    return Sample([values(data, (t, b, i)), values(data, (1, b, p)), values(data, (1, b, h))],
                  {"weights": weights})


def lstm_proj_fn(m: Any, x: Any, h0: Any, c0: Any, weights: dict) -> tuple:
    i, h, p = x.shape[-1], weights["weight_ih_l0"].shape[0] // 4, h0.shape[-1]
    layer = m.nn.LSTM(i, h, proj_size=p).to(x.dtype)
    lib = m.lib
    layer.load_state_dict({k: lib.tensor(v, dtype=x.dtype) for k, v in weights.items()})
    if hasattr(x, "device") and str(x.device) != "cpu":
        layer.to(x.device)
    out, (hn, cn) = layer(x, (h0, c0))
    return out, hn, cn


def np_lstm_proj(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, weights: dict) -> tuple:
    """LSTM with a projection: h_t = W_hr (o_t ⊙ tanh c_t), the recurrence reads h_t (P)."""
    w = weights
    cell = np_cell("lstm")
    h, c, outs = h0[0], c0[0], []
    for xt in x:
        full, c = cell(xt, h, c, w["weight_ih_l0"], w["weight_hh_l0"], w["bias_ih_l0"],
                       w["bias_hh_l0"], bias=True)
        h = full @ w["weight_hr_l0"].T
        outs.append(h)
    return np.stack(outs), h[None], c[None]


# ---------------------------------------------------------------- losses
def _reduce_np(loss: np.ndarray, reduction: str) -> np.ndarray:
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


def np_nll_loss(logp: np.ndarray, target: np.ndarray, *weight: np.ndarray,
                ignore_index: int = -100, reduction: str = "mean") -> np.ndarray:
    """loss_n = -w[y_n]·logp[n, y_n] (0 where y_n is ignored); 'mean' divides the sum by
    Σ w[y_n] over the targets that count (PyTorch's weighted mean), not by their number."""
    cdim = 1 if logp.ndim > 1 else 0
    c = logp.shape[cdim]
    rows = np.moveaxis(logp, cdim, -1).reshape(-1, c)
    t = target.reshape(-1)
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    w = weight[0] if weight else np.ones(c)
    wt = np.where(valid, w[safe], 0.0)
    loss = -rows[np.arange(len(t)), safe] * wt
    if reduction == "none":
        return loss.reshape(target.shape)
    return loss.sum() if reduction == "sum" else loss.sum() / wt.sum()


def np_cross_entropy(x: np.ndarray, target: np.ndarray, *weight: np.ndarray,
                     ignore_index: int = -100, reduction: str = "mean",
                     label_smoothing: float = 0.0) -> np.ndarray:
    """PyTorch's definition: -log softmax(x)[y] (class indices) or -Σ_c w_c t_c log softmax(x)_c
    (probabilities, mean over the N·d1·... samples); label smoothing mixes in the uniform
    target, its mean also divided by Σ w[y_n] for class indices."""
    cdim = 1 if x.ndim > 1 else 0
    c = x.shape[cdim]
    logp = np_log_softmax(x, cdim)
    w = weight[0] if weight else np.ones(c)
    wb = w.reshape((c,) + (1,) * (x.ndim - cdim - 1))
    eps = label_smoothing
    if target.dtype.kind == "f":
        t = target * (1 - eps) + eps / c
        loss = -(logp * t * wb).sum(cdim)
        return _reduce_np(loss, reduction)
    nll = np_nll_loss(logp, target, *weight, ignore_index=ignore_index, reduction=reduction)
    if not eps:
        return nll
    valid = target != ignore_index
    smooth = -(logp * wb).sum(cdim) * valid
    if reduction == "none":
        smooth_r = smooth
    elif reduction == "sum":
        smooth_r = smooth.sum()
    else:
        smooth_r = smooth.sum() / (w[np.where(valid, target, 0)] * valid).sum()
    return (1 - eps) * nll + eps / c * smooth_r


def gen_class_loss(probs_ok: bool = True, smoothing: bool = True,
                   force_weighted_mean: bool = False) -> Callable:
    """Logits (C,), (N, C) or (N, C, d1[, d2]); int targets (some ignored, at least one
    counted) or probabilities; class weights (constant); reduction; label smoothing."""
    def gen(data: st.DataObject, size: Size) -> Sample:
        big = size is BIG
        rng = _rng(data)
        layout = data.draw(st.sampled_from(("NC", "C", "spatial") if big else ("NC", "C")),
                           label="layout")
        c = data.draw(st.sampled_from((4, 3, 7, 1) if big else (3, 2)), label="classes")
        n = data.draw(st.sampled_from((6, 2, 16) if big else (3, 1)), label="batch")
        shape = {"NC": (n, c), "C": (c,), "spatial": (2, c, 3) + ((2,) if n > 2 else ())}[layout]
        logits = values(data, shape) * data.draw(st.sampled_from((1.0, 5.0, 1e4) if big else
                                                                 (1.0, 5.0)), label="scale")
        tshape = shape[:1] + shape[2:] if layout != "C" else ()
        kind = "index" if force_weighted_mean or not probs_ok else data.draw(
            st.sampled_from(("index", "probs")), label="target")
        kw: dict = {"reduction": "mean" if force_weighted_mean else data.draw(
            st.sampled_from(("mean", "sum", "none")), label="reduction")}
        const: tuple = ()
        if kind == "probs":
            target = np.moveaxis(rng.dirichlet(np.ones(c), tshape), -1, 0 if layout == "C"
                                 else 1)
            target = target.reshape(shape)
        else:
            target = rng.integers(0, c, tshape).astype(np.int64)
            ignore = data.draw(st.sampled_from((None, -100, 1)), label="ignore_index")
            if ignore is not None and target.size > 1:
                if target.flat[0] == ignore:
                    target.flat[0] = 0                         # at least one target counts
                drop = rng.random(tshape) < 0.3
                drop.flat[0] = False
                target = np.where(drop, ignore, target).astype(np.int64)
                if ignore != -100:
                    kw["ignore_index"] = ignore
        arrays = [logits, target]
        if force_weighted_mean or data.draw(st.booleans(), label="class weights"):
            arrays.append(rng.uniform(0.2, 3.0, (c,)))
            const = (2,)
        if smoothing and data.draw(st.booleans(), label="label smoothing"):
            kw["label_smoothing"] = 0.2
        return Sample(arrays, kw, const)
    return gen


def gen_pair_loss(domain: str = "real", separated_diff: bool = False, beta: str = "") -> Callable:
    """input and target of one shape (any real shape), and a reduction."""
    def gen(data: st.DataObject, size: Size) -> Sample:
        shape = draw_shape(data, size, max_dims=3)
        kw = {"reduction": data.draw(st.sampled_from(("mean", "sum", "none")),
                                     label="reduction")}
        if beta:
            kw[beta] = data.draw(st.sampled_from((1.0, 0.5, 0.25)), label=beta)
        if not math.prod(shape) and kw["reduction"] == "mean":
            kw["reduction"] = "sum"           # the mean of nothing is NaN (as in PyTorch)
        y = values(data, shape, domain)
        if separated_diff:                    # |x - y| and the knees stay away from kinks
            return Sample([y + values(data, shape, "separated"), y], kw)
        return Sample([values(data, shape, domain), y], kw)
    return gen


def np_smooth_l1(x: np.ndarray, y: np.ndarray, reduction: str = "mean",
                 beta: float = 1.0) -> np.ndarray:
    d = np.abs(x - y)
    return _reduce_np(np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


def np_huber(x: np.ndarray, y: np.ndarray, reduction: str = "mean",
             delta: float = 1.0) -> np.ndarray:
    d = np.abs(x - y)
    return _reduce_np(np.where(d <= delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def gen_bce(logits: bool) -> Callable:
    """Probabilities in (0.02, 0.98) (or logits, a few at ±1e4 for value tests), soft
    targets, optional weight (per column or full) and, with logits, pos_weight."""
    def gen(data: st.DataObject, size: Size) -> Sample:
        shape = draw_shape(data, size, min_dims=1, max_dims=3, min_side=1)
        rng = _rng(data)
        if logits:
            x = values(data, shape) * 3
            if size is BIG and data.draw(st.booleans(), label="huge logits"):
                x.flat[rng.integers(0, x.size, 2)] = [1e4, -1e4]
        else:
            x = rng.uniform(0.02, 0.98, shape)
        arrays = [x, rng.uniform(0, 1, shape)]
        kw = {"reduction": data.draw(st.sampled_from(("mean", "sum", "none")), label="red")}
        const: list = []
        if data.draw(st.booleans(), label="weight"):
            arrays.append(rng.uniform(0.5, 2, shape[-1:] if data.draw(st.booleans()) else shape))
            const.append(len(arrays) - 1)
        if logits and data.draw(st.booleans(), label="pos_weight"):
            arrays.append(rng.uniform(0.5, 3, shape[-1:]))
            const.append(len(arrays) - 1)
            kw["pos_weight_at"] = len(arrays) - 1
        return Sample(arrays, kw, tuple(const))
    return gen


def bce_fn(m: Any, x: Any, y: Any, *extra: Any, reduction: str, pos_weight_at: int = 0) -> Any:
    pw = extra[pos_weight_at - 2] if pos_weight_at else None
    w = extra[0] if extra and (not pos_weight_at or pos_weight_at > 2) else None
    return m.F.binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=pw)


def np_bce(p: np.ndarray, y: np.ndarray, *w: np.ndarray, reduction: str) -> np.ndarray:
    """-w·[y·log p + (1 - y)·log(1 - p)], each log clamped at -100 (PyTorch)."""
    with np.errstate(divide="ignore"):
        loss = -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log1p(-p), -100))
    return _reduce_np(loss * (w[0] if w else 1.0), reduction)


def np_bce_logits(x: np.ndarray, y: np.ndarray, *extra: np.ndarray, reduction: str,
                  pos_weight_at: int = 0) -> np.ndarray:
    """-w·[pw·y·log σ(x) + (1 - y)·log(1 - σ(x))], with -log σ(x) = log(1 + e^-x) and
    -log(1 - σ(x)) = log(1 + e^x) evaluated by np.logaddexp."""
    pw = extra[pos_weight_at - 2] if pos_weight_at else 1.0
    w = extra[0] if extra and (not pos_weight_at or pos_weight_at > 2) else 1.0
    loss = pw * y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x)
    return _reduce_np(w * loss, reduction)


def gen_kl_div(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1, max_dims=3, min_side=1)
    log_target = data.draw(st.booleans(), label="log_target")
    rng = _rng(data)
    target = rng.uniform(0.05, 1.0, shape)
    return Sample([values(data, shape) - 1.5, np.log(target) if log_target else target],
                  {"reduction": data.draw(st.sampled_from(("mean", "batchmean", "sum", "none")),
                                          label="reduction"), "log_target": log_target})


def np_kl_div(x: np.ndarray, y: np.ndarray, reduction: str = "mean",
              log_target: bool = False) -> np.ndarray:
    """Pointwise KL: y·(log y - x), or e^y·(y - x) for a log target; 'batchmean' divides the
    sum by the batch size."""
    loss = np.exp(y) * (y - x) if log_target else y * (np.log(y) - x)
    if reduction == "batchmean":
        return loss.sum() / x.shape[0]
    return _reduce_np(loss, reduction)


# ---------------------------------------------------------------- layers as functions
def gen_linear(data: st.DataObject, size: Size) -> Sample:
    lead = draw_shape(data, SMALL if size is BIG else TINY, max_dims=2, label="lead")
    i = data.draw(st.sampled_from((5, 1, 16, 3) if size is BIG else (2, 3)), label="in")
    o = data.draw(st.sampled_from((4, 2, 10) if size is BIG else (2, 1)), label="out")
    arrays = [values(data, lead + (i,)), values(data, (o, i))]
    if data.draw(st.booleans(), label="bias"):
        arrays.append(values(data, (o,)))
    return Sample(arrays)


def np_linear(x: np.ndarray, w: np.ndarray, *b: np.ndarray) -> np.ndarray:
    y = np.einsum("...i,oi->...o", x, w)
    return y + b[0] if b else y


def gen_embedding(padding: bool, negative: bool = False) -> Callable:
    def gen(data: st.DataObject, size: Size) -> Sample:
        n = data.draw(st.sampled_from((10, 3, 1) if size is BIG else (4, 2)), label="rows")
        d = data.draw(st.sampled_from((4, 1, 8) if size is BIG else (2, 1)), label="dim")
        ishape = draw_shape(data, SMALL if size is BIG else TINY, max_dims=2, label="index")
        rng = _rng(data)
        idx = rng.integers(0, n, ishape).astype(np.int64)
        kw = {}
        if padding:
            kw["padding_idx"] = int(rng.integers(-n, 0) if negative else rng.integers(0, n))
            if idx.size:                      # the padding row is looked up at least once
                idx.flat[0] = kw["padding_idx"] % n
        return Sample([idx, values(data, (n, d))], kw)
    return gen


def np_embedding_vjp(up: np.ndarray, idx: np.ndarray, w: np.ndarray,
                     padding_idx: Any = None) -> list:
    """∂/∂weight of Σ up·weight[idx]: each row adds up the upstream rows that read it; the
    padding row gets nothing (its value is used, its gradient is zero: PyTorch)."""
    g = np.zeros_like(w)
    np.add.at(g, idx.reshape(-1), up.reshape(-1, w.shape[1]))
    if padding_idx is not None:
        g[padding_idx % w.shape[0]] = 0
    return [g]


def gen_batch_norm(data: st.DataObject, size: Size) -> Sample:
    """(N, C), (N, C, L) or (N, C, H, W); training (batch statistics) or evaluation
    (running statistics, constants); optional affine weight and bias."""
    big = size is BIG
    c = data.draw(st.sampled_from((3, 1, 4) if big else (2, 1)), label="channels")
    n = data.draw(st.sampled_from((4, 2) if big else (2, 3)), label="batch")
    rest = data.draw(st.sampled_from(((), (5,), (4, 3)) if big else ((), (2,))), label="rest")
    shape = (n, c) + rest
    training = data.draw(st.booleans(), label="training")
    rng = _rng(data)
    arrays = [values(data, shape) * 2 + 0.5]
    const: tuple = ()
    if not training:
        arrays += [rng.uniform(-1, 1, (c,)), rng.uniform(0.5, 2, (c,))]
        const = (1, 2)
    affine = data.draw(st.booleans(), label="affine")
    if affine:
        arrays += [values(data, (c,)), values(data, (c,))]
    return Sample(arrays, {"training": training, "affine": affine}, const)


def batch_norm_fn(m: Any, x: Any, *rest: Any, training: bool, affine: bool) -> Any:
    rm, rv = (None, None) if training else rest[:2]
    w, b = rest[-2:] if affine else (None, None)
    return m.F.batch_norm(x, rm, rv, w, b, training=training, eps=1e-5)


def np_batch_norm(x: np.ndarray, *rest: np.ndarray, training: bool, affine: bool) -> np.ndarray:
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)       # biased, as PyTorch normalises
    else:
        mean, var = rest[:2]
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5)
    if affine:
        y = y * rest[-2].reshape(shape) + rest[-1].reshape(shape)
    return y


def gen_layer_norm(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1, max_dims=3, min_side=2)
    k = data.draw(st.integers(1, len(shape)), label="normalized dims")
    norm_shape = shape[len(shape) - k:]
    arrays = [values(data, shape)]
    affine = data.draw(st.booleans(), label="affine")
    if affine:
        arrays += [values(data, norm_shape), values(data, norm_shape)]
    return Sample(arrays, {"normalized_shape": norm_shape})


def np_layer_norm(x: np.ndarray, *wb: np.ndarray, normalized_shape: tuple) -> np.ndarray:
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    y = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    return y * wb[0] + wb[1] if wb else y


def gen_normalize(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1, max_dims=3, min_side=1)
    p = data.draw(st.sampled_from((2.0, 1.0, 3.0)), label="p")
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    return Sample([values(data, shape, "separated" if p == 1.0 else "nonzero")],
                  {"p": p, "dim": dim})


def np_normalize(x: np.ndarray, p: float, dim: int) -> np.ndarray:
    return x / np.maximum((np.abs(x) ** p).sum(axis=dim, keepdims=True) ** (1 / p), 1e-12)


def gen_one_hot(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, max_dims=2)
    c = data.draw(st.sampled_from((4, 1, 10)), label="classes")
    return Sample([_rng(data).integers(0, c, shape).astype(np.int64)], {"num_classes": c})


def np_one_hot(i: np.ndarray, num_classes: int) -> np.ndarray:
    return (i[..., None] == np.arange(num_classes)).astype(np.int64)


# ---------------------------------------------------------------- the newer API (issue 12)
def gen_sort(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    return Sample([values(data, shape, "separated")],
                  {"dim": dim, "descending": data.draw(st.booleans(), label="descending")})


def np_sort(x: np.ndarray, dim: int, descending: bool) -> tuple:
    order = np.argsort(-x if descending else x, axis=dim, kind="stable")
    return np.take_along_axis(x, order, dim), order.astype(np.int64)


def gen_topk(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1, min_side=1)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    k = data.draw(st.integers(0, shape[dim]), label="k")
    return Sample([values(data, shape, "separated")],
                  {"k": k, "dim": dim, "largest": data.draw(st.booleans(), label="largest")})


def np_topk(x: np.ndarray, k: int, dim: int, largest: bool) -> tuple:
    v, i = np_sort(x, dim, descending=largest)
    take = [slice(None)] * x.ndim
    take[dim] = slice(0, k)
    return v[tuple(take)], i[tuple(take)]


def gen_tri(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=2)
    return Sample([values(data, shape)],
                  {"diagonal": data.draw(st.integers(-3, 3), label="diagonal")})


def gen_roll(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    nd = len(shape)
    if data.draw(st.booleans(), label="flat roll"):
        return Sample([values(data, shape)], {"shifts": data.draw(st.integers(-9, 9)),
                                              "dims": None})
    dims = data.draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd,
                              unique_by=lambda d: d % nd), label="dims")
    shifts = [data.draw(st.integers(-9, 9)) for _ in dims]
    return Sample([values(data, shape)], {"shifts": tuple(shifts), "dims": tuple(dims)})


def gen_cumsum(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    return Sample([values(data, shape)],
                  {"dim": data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")})


def gen_div_mode(data: st.DataObject, size: Size) -> Sample:
    s = gen_nonzero_divisor(data, size)
    s.kwargs["rounding_mode"] = data.draw(st.sampled_from((None, "trunc", "floor")),
                                          label="rounding_mode")
    return s


def gen_nonzero_divisor(data: st.DataObject, size: Size) -> Sample:
    """x / y with y away from 0 (x / y lands within 1e-6 of an integer, where floor and
    trunc jump, with negligible probability)."""
    s1, s2 = broadcast_shapes(data, size)
    return Sample([values(data, s1) * 3, values(data, s2, "nonzero")])


def np_div_mode(x: np.ndarray, y: np.ndarray, rounding_mode: Any) -> np.ndarray:
    q = x / y
    return {None: q, "trunc": np.trunc(q), "floor": np.floor(q)}[rounding_mode]


def gen_pad_mode(data: st.DataObject, size: Size) -> Sample:
    """reflect / replicate / circular on the last 1 to 3 dims of a (N, C, ...) input; reflect
    pads less than the side, circular at most the side."""
    mode = data.draw(st.sampled_from(("reflect", "replicate", "circular")), label="mode")
    k = data.draw(st.integers(1, 3 if size is not TINY else 2), label="padded dims")
    sides = tuple(data.draw(st.sampled_from((4, 2, 5) if size is BIG else (2, 3)))
                  for _ in range(k))
    lead = (2, 3) if size is BIG else (1, 1)
    pad = []
    for s in reversed(sides):
        top = s - 1 if mode == "reflect" else s
        pad += [data.draw(st.integers(0, min(top, 3))), data.draw(st.integers(0, min(top, 3)))]
    return Sample([values(data, lead + sides)], {"pad": tuple(pad), "mode": mode})


def gen_pad_negative(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1, min_side=3)
    npairs = data.draw(st.integers(1, min(3, len(shape))), label="npairs")
    pad = []
    for i in range(npairs):
        side = shape[len(shape) - 1 - i]
        a = data.draw(st.integers(-(side // 2), 2))
        b = data.draw(st.integers(-(side - side // 2 - 1 if a < 0 else side // 2), 2))
        pad += [a, b]
    return Sample([values(data, shape)], {"pad": tuple(pad)})


def gen_all_any(data: st.DataObject, size: Size) -> Sample:
    shape = draw_shape(data, size, min_dims=1)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    return Sample([values(data, shape) + data.draw(st.sampled_from((0.0, 1.5, -1.5)))],
                  {"dim": dim, "keepdim": data.draw(st.booleans(), label="keepdim")})


def np_gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2))) if x.size else x


# ---------------------------------------------------------------- the table
@dataclass
class OpInfo:
    """One op: how to call it, what it should give, where it is smooth, how close is close."""
    name: str
    fn: Callable            # fn(m, *tensors, **kwargs) for m in (TG, torch namespace)
    ref: Callable           # ref(*float64 arrays, **kwargs) -> array or tuple of arrays
    sample: Callable        # sample(data, size) -> Sample
    smooth: bool = True     # run gradgradcheck
    differentiable: bool = True
    gradcheck: bool = True  # False: the gradient is deliberately not the derivative (vjp)
    vjp: Callable | None = None   # vjp(upstream, *arrays, **kwargs) -> grads of float inputs
    atol: float = 1e-6      # forward, float32 (float64 uses atol * 1e-6)
    rtol: float = 1e-5
    eps: float = 1e-6       # gradcheck settings
    grad_atol: float = 1e-5
    grad_rtol: float = 1e-3
    torch: bool = True      # has a torch spelling (fn works on torch tensors)
    keeps_dtype: bool = True
    cost: int = 1           # examples per test are divided by this
    group: str = "primitive"
    needs: str | None = None        # a FEATURES key: skipped until the API exists
    xfail: dict = field(default_factory=dict)   # test kind ('forward', ...) -> issue-12 bug

    def __repr__(self) -> str:
        return self.name


def _pow(e: float) -> OpInfo:
    domain = {0.5: "positive", -1: "nonzero", -0.5: "positive"}.get(e, "real")
    return OpInfo(f"pow_{e}", lambda m, x: x ** e, lambda x: x ** e, unary(domain))


def _cell(kind: str, name: str, torch: bool = True) -> OpInfo:
    return OpInfo(name, cell_fn(kind), np_cell(kind), gen_cell(kind), torch=torch, cost=2,
                  group="recurrent", atol=2e-6, smooth=kind != "relu")


def _conv_fn(nd: int) -> Callable:
    def fn(m: Any, x: Any, w: Any, *b: Any, **kw: Any) -> Any:
        return getattr(m.F, f"conv{nd}d")(x, w, b[0] if b else None, **kw)
    return fn


def _pool_row(kind: str, nd: int, **extra: Any) -> OpInfo:
    name = {"max": "max_pool", "avg": "avg_pool", "lp": "lp_pool",
            "adaptive": "adaptive_avg_pool"}[kind] + f"{nd}d"
    ref = {"max": np_max_pool, "avg": np_avg_pool, "lp": np_lp_pool,
           "adaptive": np_adaptive_avg_pool}[kind](nd)
    return OpInfo(name, lambda m, x, **kw: getattr(m.F, name)(x, **kw), ref,
                  gen_pool(kind, nd), smooth=kind not in ("max",), cost=2, group="pooling",
                  atol=2e-6, **extra)


def _loss(name: str, ref: Callable, gen: Callable, fn: Callable | None = None,
          **extra: Any) -> OpInfo:
    fn = fn or (lambda m, *xs, **kw: getattr(m.F, name)(*xs, **kw))
    extra.setdefault("atol", 1e-5)
    return OpInfo(name, fn, ref, gen, group="loss", **extra)


def _class_loss_fn(name: str) -> Callable:
    def fn(m: Any, x: Any, t: Any, *w: Any, **kw: Any) -> Any:
        return getattr(m.F, name)(x, t, w[0] if w else None, **kw)
    return fn


PRIMITIVES = [
    # elementwise, broadcasting binary
    OpInfo("add", lambda m, x, y: x + y, np.add, binary()),
    OpInfo("sub", lambda m, x, y: x - y, np.subtract, binary()),
    OpInfo("mul", lambda m, x, y: x * y, np.multiply, binary()),
    OpInfo("div", lambda m, x, y: x / y, np.divide, binary("real", "nonzero")),
    OpInfo("add_scalar", lambda m, x: 2.5 + x, lambda x: 2.5 + x, unary()),
    OpInfo("rsub_scalar", lambda m, x: 1.5 - x, lambda x: 1.5 - x, unary()),
    OpInfo("rdiv_scalar", lambda m, x: 2.0 / x, lambda x: 2.0 / x, unary("nonzero")),
    OpInfo("maximum", lambda m, x, y: x.maximum(y), np.maximum, binary("separated", "separated"),
           smooth=False),
    OpInfo("minimum", lambda m, x, y: x.minimum(y), np.minimum, binary("separated", "separated"),
           smooth=False),
    OpInfo("where", lambda m, c, x, y: m.where(c, x, y), np.where, gen_where),
    # elementwise unary
    OpInfo("neg", lambda m, x: -x, np.negative, unary()),
    OpInfo("reciprocal", lambda m, x: x.reciprocal(), np.reciprocal, unary("nonzero")),
    _pow(0.5), _pow(2), _pow(-1), _pow(3), _pow(0), _pow(-0.5),
    OpInfo("sqrt", lambda m, x: x.sqrt(), np.sqrt, unary("positive")),
    OpInfo("exp", lambda m, x: x.exp(), np.exp, unary()),
    OpInfo("log", lambda m, x: x.log(), np.log, unary("positive")),
    OpInfo("tanh", lambda m, x: x.tanh(), np.tanh, unary()),
    OpInfo("sigmoid", lambda m, x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), unary()),
    OpInfo("sin", lambda m, x: x.sin(), np.sin, unary()),
    OpInfo("cos", lambda m, x: x.cos(), np.cos, unary()),
    OpInfo("relu", lambda m, x: x.relu(), lambda x: np.maximum(x, 0), unary("separated"),
           smooth=False),
    OpInfo("abs", lambda m, x: x.abs(), np.abs, unary("separated"), smooth=False),
    OpInfo("clamp", lambda m, x: x.clamp(-0.25, 0.25), lambda x: np.clip(x, -0.25, 0.25),
           unary("separated"), smooth=False),
    OpInfo("clamp_min", lambda m, x: x.clamp(min=0.25), lambda x: np.maximum(x, 0.25),
           unary("separated"), smooth=False),
    # reductions
    OpInfo("sum", lambda m, x, **kw: x.sum(**kw), np_reduce(np.sum), reduction(), atol=1e-5),
    OpInfo("mean", lambda m, x, **kw: x.mean(**kw), np_reduce(np.mean), reduction(min_side=1)),
    OpInfo("var", lambda m, x, **kw: x.var(**kw), np_var,
           reduction(min_side=2, min_dims=1, correction=1), atol=1e-5),
    OpInfo("var_biased", lambda m, x, **kw: x.var(**kw), np_var,
           reduction(min_side=1, correction=0), atol=1e-5),
    OpInfo("std", lambda m, x, **kw: x.std(**kw), lambda x, **kw: np.sqrt(np_var(x, **kw)),
           reduction(min_side=2, min_dims=1, correction=1), atol=1e-5),
    OpInfo("amax", lambda m, x, **kw: x.amax(**kw), np_reduce(np.max),
           reduction("separated", min_side=1), smooth=False),
    OpInfo("amin", lambda m, x, **kw: x.amin(**kw), np_reduce(np.min),
           reduction("separated", min_side=1), smooth=False),
    OpInfo("max_dim", lambda m, x, dim, keepdim: tuple(x.max(dim, keepdim)), np_max_dim,
           gen_max_dim, smooth=False),
    OpInfo("logsumexp", lambda m, x, **kw: x.logsumexp(**kw), np_logsumexp,
           reduction(min_side=1, min_dims=1, allow_none=False), atol=1e-5),
    OpInfo("norm2", lambda m, x, **kw: x.norm(2, **kw), lambda x, **kw: np_norm(x, 2, **kw),
           reduction("nonzero", min_side=1), atol=1e-5),
    OpInfo("norm1", lambda m, x, **kw: x.norm(1, **kw), lambda x, **kw: np_norm(x, 1, **kw),
           reduction("separated", min_side=1), smooth=False, atol=1e-5),
    OpInfo("norm3", lambda m, x, **kw: x.norm(3, **kw), lambda x, **kw: np_norm(x, 3, **kw),
           reduction("nonzero", min_side=1), atol=1e-5),
    OpInfo("softmax", lambda m, x, dim: x.softmax(dim), np_softmax, gen_softmax, atol=1e-5),
    OpInfo("log_softmax", lambda m, x, dim: x.log_softmax(dim), np_log_softmax, gen_softmax,
           atol=1e-4),
    # movement
    OpInfo("reshape", lambda m, x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape),
           gen_reshape),
    OpInfo("permute", lambda m, x, dims: x.permute(dims), lambda x, dims: x.transpose(dims),
           gen_permute),
    OpInfo("transpose", lambda m, x, dim0, dim1: x.transpose(dim0, dim1),
           lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1), gen_transpose),
    OpInfo("expand", lambda m, x, shape: x.expand(shape),
           lambda x, shape: np.broadcast_to(x, shape), gen_expand),
    OpInfo("pad", lambda m, x, pad, value: m.F.pad(x, pad, value=value), np_pad, gen_pad),
    OpInfo("getitem_slices", lambda m, x, index: x[index], lambda x, index: x[index],
           gen_slices),
    OpInfo("getitem_int_array", lambda m, x, i: x[i], lambda x, i: x[i], gen_int_index),
    OpInfo("getitem_mixed", lambda m, x, i, j, kind: index_mixed(x, i, j, kind), index_mixed,
           gen_mixed_index),
    OpInfo("getitem_bool_mask", lambda m, x, mask: x[mask], lambda x, mask: x[mask],
           gen_bool_mask),
    OpInfo("cat", lambda m, *xs, dim: m.cat(list(xs), dim),
           lambda *xs, dim: np.concatenate(xs, axis=dim), gen_cat),
    OpInfo("stack", lambda m, *xs, dim: m.stack(list(xs), dim),
           lambda *xs, dim: np.stack(xs, axis=dim), gen_stack),
    OpInfo("flip", lambda m, x, dims: x.flip(dims), lambda x, dims: np.flip(x, dims), gen_flip),
    OpInfo("unfold", lambda m, x, dimension, size, step: x.unfold(dimension, size, step),
           np_unfold, gen_unfold),
    OpInfo("sliding_window", lambda m, x, **kw: tg.sliding_window(x, **kw), np_window,
           gen_window, torch=False, cost=2),
    OpInfo("squeeze", lambda m, x, dim: x.squeeze(dim), lambda x, dim: np.squeeze(x, dim)
           if x.shape[dim] == 1 else x, gen_one_dim()),
    OpInfo("unsqueeze", lambda m, x, dim: x.unsqueeze(dim), lambda x, dim: np.expand_dims(x, dim),
           gen_one_dim(min_dims=0, new_dim=True)),
    OpInfo("flatten", lambda m, x: x.flatten(1),
           lambda x: x.reshape(x.shape[0], math.prod(x.shape[1:])), unary(min_dims=2)),
    OpInfo("repeat", lambda m, x, sizes: x.repeat(sizes),
           lambda x, sizes: np.tile(x, sizes), gen_repeat),
    OpInfo("split", lambda m, x, size, dim: tuple(x.split(size, dim)), np_split, gen_split),
    OpInfo("gather", lambda m, x, i, dim: x.gather(dim, i),
           lambda x, i, dim: np.take_along_axis(x, i, dim) if i.shape[:dim] + i.shape[dim + 1:]
           == x.shape[:dim] + x.shape[dim + 1:] else _np_gather(x, i, dim), gen_gather),
    OpInfo("masked_fill", lambda m, x, mask: x.masked_fill(mask, -2.5),
           lambda x, mask: np.where(mask, -2.5, x), gen_masked_fill),
    OpInfo("mT", lambda m, x: x.mT, lambda x: np.swapaxes(x, -1, -2), unary(min_dims=2)),
    # composites of primitives
    OpInfo("softplus", lambda m, x: m.F.softplus(x), lambda x: np.logaddexp(0, x),
           unary()),
    OpInfo("square", lambda m, x: x.square(), np.square, unary()),
    OpInfo("rsqrt", lambda m, x: x.rsqrt(), lambda x: x ** -0.5, unary("positive")),
    OpInfo("log1p", lambda m, x: x.log1p(), np.log1p, unary("positive")),
    OpInfo("prod", lambda m, x, dim: x.prod(dim), lambda x, dim: np.prod(x, axis=dim),
           gen_one_dim(), atol=1e-5),
    # matrix
    OpInfo("matmul", lambda m, a, b: a @ b, np.matmul, gen_matmul, atol=1e-5),
    # dtype
    OpInfo("cast_f32_f64", lambda m, x: x.to(m.float32).to(m.float64),
           lambda x: x.astype(np.float32).astype(np.float64), gen_cast,
           eps=1e-3, grad_atol=1e-3, grad_rtol=1e-2, keeps_dtype=False),
    OpInfo("cast_int", lambda m, x: (x * 2).to(m.int64),
           lambda x: np.trunc(x * 2).astype(np.int64), gen_cast,
           differentiable=False, keeps_dtype=False),
]

CONVOLUTION = [
    OpInfo("conv1d", _conv_fn(1), np_conv, gen_conv(1), cost=2, group="convolution",
           atol=1e-5),
    OpInfo("conv2d", _conv_fn(2), np_conv, gen_conv(2), cost=3, group="convolution",
           atol=1e-5),
    OpInfo("conv1d_same", _conv_fn(1), np_conv, gen_conv(1, same=True), cost=2,
           group="convolution", atol=1e-5),
    OpInfo("conv2d_same", _conv_fn(2), np_conv, gen_conv(2, same=True), cost=3,
           group="convolution", atol=1e-5),
    OpInfo("true_conv2d", lambda m, x, w, *b, **kw: m.true_conv2d(x, w, *b, **kw),
           np_true_conv2d, gen_conv(2, true_conv=True), cost=3, group="convolution",
           atol=1e-5),
]

POOLING = [
    _pool_row("max", 1), _pool_row("max", 2), _pool_row("avg", 1), _pool_row("avg", 2),
    _pool_row("lp", 1), _pool_row("lp", 2), _pool_row("adaptive", 1),
    _pool_row("adaptive", 2),
    OpInfo("max_pool1d_indices", lambda m, x, **kw: tuple(m.F.max_pool1d(x, **kw)),
           np_max_pool(1), gen_max_pool_indices(1), smooth=False, cost=2, group="pooling"),
    OpInfo("max_pool2d_indices", lambda m, x, **kw: tuple(m.F.max_pool2d(x, **kw)),
           np_max_pool(2), gen_max_pool_indices(2), smooth=False, cost=2, group="pooling"),
]

RECURRENT = [
    _cell("tanh", "rnn_tanh_cell"), _cell("relu", "rnn_relu_cell"), _cell("lstm", "lstm_cell"),
    _cell("gru", "gru_cell"), _cell("peephole", "peephole_lstm_cell", torch=False),
    OpInfo("lstm_proj_size", lstm_proj_fn, np_lstm_proj, gen_lstm_proj, cost=3,
           group="recurrent", needs="lstm_proj_size", atol=2e-6),
]

LOSSES = [
    _loss("cross_entropy", np_cross_entropy, gen_class_loss(), _class_loss_fn("cross_entropy"),
          cost=2),
    _loss("cross_entropy_weighted_mean", np_cross_entropy,
          gen_class_loss(smoothing=True, force_weighted_mean=True),
          _class_loss_fn("cross_entropy"), cost=2),
    _loss("nll_loss", np_nll_loss, gen_class_loss(probs_ok=False, smoothing=False),
          _class_loss_fn("nll_loss"), cost=2),
    _loss("mse_loss", lambda x, y, reduction: _reduce_np((x - y) ** 2, reduction),
          gen_pair_loss()),
    _loss("l1_loss", lambda x, y, reduction: _reduce_np(np.abs(x - y), reduction),
          gen_pair_loss(separated_diff=True), smooth=False),
    _loss("binary_cross_entropy", np_bce, gen_bce(logits=False),
          lambda m, p, y, *w, reduction: m.F.binary_cross_entropy(p, y, w[0] if w else None,
                                                                  reduction=reduction),
          atol=1e-4),
    _loss("binary_cross_entropy_with_logits", np_bce_logits, gen_bce(logits=True), bce_fn,
          atol=1e-4),
    _loss("kl_div", np_kl_div, gen_kl_div),
    _loss("smooth_l1_loss", np_smooth_l1, gen_pair_loss(separated_diff=True, beta="beta"),
          smooth=False, needs="smooth_l1_loss"),
    _loss("huber_loss", np_huber, gen_pair_loss(separated_diff=True, beta="delta"),
          smooth=False, needs="huber_loss"),
]

LAYERS = [
    OpInfo("linear", lambda m, x, w, *b: m.F.linear(x, w, *b), np_linear, gen_linear,
           group="layer", atol=1e-5),
    OpInfo("embedding", lambda m, i, w: m.F.embedding(i, w), lambda i, w: w[i],
           gen_embedding(padding=False), group="layer"),
    OpInfo("embedding_padding_idx", lambda m, i, w, padding_idx: m.F.embedding(
        i, w, padding_idx=padding_idx), lambda i, w, padding_idx: w[i],
        gen_embedding(padding=True), gradcheck=False, vjp=np_embedding_vjp, group="layer",
        needs="embedding_padding_idx"),
    OpInfo("embedding_padding_idx_negative", lambda m, i, w, padding_idx: m.F.embedding(
        i, w, padding_idx=padding_idx), lambda i, w, padding_idx: w[i],
        gen_embedding(padding=True, negative=True), gradcheck=False, vjp=np_embedding_vjp,
        group="layer", needs="embedding_padding_idx"),
    OpInfo("dropout_eval", lambda m, x: m.F.dropout(x, 0.5, training=False), lambda x: x,
           unary(), group="layer"),
    OpInfo("batch_norm", batch_norm_fn, np_batch_norm, gen_batch_norm, group="layer",
           atol=2e-5, cost=2),
    OpInfo("layer_norm", lambda m, x, *wb, normalized_shape: m.F.layer_norm(
        x, normalized_shape, *wb), np_layer_norm, gen_layer_norm, group="layer", atol=2e-5,
        cost=2),
    OpInfo("normalize", lambda m, x, p, dim: m.F.normalize(x, p, dim), np_normalize,
           gen_normalize, group="layer", atol=1e-5),
    OpInfo("one_hot", lambda m, i, num_classes: m.F.one_hot(i, num_classes), np_one_hot,
           gen_one_hot, differentiable=False, group="layer"),
    OpInfo("F.softmax", lambda m, x, dim: m.F.softmax(x, dim), np_softmax, gen_softmax,
           atol=1e-5, group="layer"),
    OpInfo("F.log_softmax", lambda m, x, dim: m.F.log_softmax(x, dim), np_log_softmax,
           gen_softmax, atol=1e-4, group="layer"),
    OpInfo("leaky_relu", lambda m, x: m.F.leaky_relu(x, 0.2),
           lambda x: np.where(x > 0, x, 0.2 * x), unary("separated"), smooth=False,
           group="layer"),
    OpInfo("hardtanh", lambda m, x: m.F.hardtanh(x, -0.5, 0.75),
           lambda x: np.clip(x, -0.5, 0.75), unary("separated"), smooth=False, group="layer"),
    OpInfo("softplus_beta", lambda m, x: m.F.softplus(x, beta=2.0),
           lambda x: np.logaddexp(0, 2 * x) / 2, unary(), group="layer"),
]

NEW_API = [
    OpInfo("cumsum", lambda m, x, dim: x.cumsum(dim), lambda x, dim: np.cumsum(x, axis=dim),
           gen_cumsum, needs="cumsum", atol=1e-5, group="new"),
    OpInfo("sort", lambda m, x, dim, descending: tuple(x.sort(dim, descending)), np_sort,
           gen_sort, smooth=False, needs="sort", group="new"),
    OpInfo("topk", lambda m, x, k, dim, largest: tuple(x.topk(k, dim, largest)), np_topk,
           gen_topk, smooth=False, needs="topk", group="new"),
    OpInfo("tril", lambda m, x, diagonal: x.tril(diagonal),
           lambda x, diagonal: np.tril(x, diagonal), gen_tri, needs="tril", group="new"),
    OpInfo("triu", lambda m, x, diagonal: x.triu(diagonal),
           lambda x, diagonal: np.triu(x, diagonal), gen_tri, needs="tril", group="new"),
    OpInfo("roll", lambda m, x, shifts, dims: x.roll(shifts, dims),
           lambda x, shifts, dims: np.roll(x, shifts, dims), gen_roll, needs="roll",
           group="new"),
    OpInfo("round", lambda m, x: x.round(), np.round, unary("separated"), smooth=False,
           needs="rounding", group="new"),
    OpInfo("floor", lambda m, x: x.floor(), np.floor, unary("separated"), smooth=False,
           needs="rounding", group="new"),
    OpInfo("ceil", lambda m, x: x.ceil(), np.ceil, unary("separated"), smooth=False,
           needs="rounding", group="new"),
    OpInfo("floor_divide", lambda m, x, y: x // y, np.floor_divide, gen_nonzero_divisor,
           differentiable=False, needs="floordiv_mod", group="new"),
    OpInfo("remainder", lambda m, x, y: x % y, np.mod, gen_nonzero_divisor, smooth=False,
           needs="floordiv_mod", group="new", atol=1e-5),
    OpInfo("div_rounding_mode", lambda m, x, y, rounding_mode: x.div(
        y, rounding_mode=rounding_mode), np_div_mode, gen_div_mode, smooth=False,
        needs="div_rounding_mode", group="new", atol=1e-5),
    OpInfo("gelu", lambda m, x: m.F.gelu(x), np_gelu, unary(), needs="gelu", group="new"),
    OpInfo("gelu_tanh", lambda m, x: m.F.gelu(x, approximate="tanh"),
           lambda x: np_gelu(x, "tanh"), unary(), needs="gelu", group="new"),
    OpInfo("silu", lambda m, x: m.F.silu(x), lambda x: x / (1 + np.exp(-x)), unary(),
           needs="silu", group="new"),
    OpInfo("elu", lambda m, x: m.F.elu(x, alpha=0.5),
           lambda x: np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0))), unary("separated"),
           smooth=False, needs="elu", group="new"),
    OpInfo("logsigmoid", lambda m, x: m.F.logsigmoid(x), lambda x: -np.logaddexp(0, -x),
           unary(), needs="logsigmoid", group="new"),
    OpInfo("tg.matmul", lambda m, a, b: m.lib.matmul(a, b), np.matmul, gen_matmul, atol=1e-5,
           needs="tg.matmul", group="new"),
    OpInfo("tg.maximum", lambda m, x, y: m.lib.maximum(x, y), np.maximum,
           binary("separated", "separated"), smooth=False, needs="tg.maximum", group="new"),
    OpInfo("tg.minimum", lambda m, x, y: m.lib.minimum(x, y), np.minimum,
           binary("separated", "separated"), smooth=False, needs="tg.maximum", group="new"),
    OpInfo("tg.logsumexp", lambda m, x, **kw: m.lib.logsumexp(x, **kw), np_logsumexp,
           reduction(min_side=1, min_dims=1, allow_none=False), atol=1e-5,
           needs="tg.logsumexp", group="new"),
    OpInfo("softmax_dtype", lambda m, x, dim: m.F.softmax(x.to(m.float32), dim,
                                                          dtype=m.float64),
           lambda x, dim: np_softmax(x.astype(np.float32).astype(np.float64), dim),
           gen_softmax, keeps_dtype=False, eps=1e-3, grad_atol=1e-3, grad_rtol=1e-2,
           needs="softmax_dtype", group="new"),
    OpInfo("pad_modes", lambda m, x, pad, mode: m.F.pad(x, pad, mode=mode),
           lambda x, pad, mode: np_pad(x, pad, mode=mode), gen_pad_mode, needs="pad_modes",
           group="new"),
    OpInfo("pad_negative", lambda m, x, pad: m.F.pad(x, pad), np_pad, gen_pad_negative,
           needs="pad_negative", group="new"),
    OpInfo("all_dim", lambda m, x, dim, keepdim: (x > 0).all(dim=dim, keepdim=keepdim),
           lambda x, dim, keepdim: np.all(x > 0, axis=dim, keepdims=keepdim), gen_all_any,
           differentiable=False, needs="all_any_dim", group="new"),
    OpInfo("any_dim", lambda m, x, dim, keepdim: (x > 0).any(dim=dim, keepdim=keepdim),
           lambda x, dim, keepdim: np.any(x > 0, axis=dim, keepdims=keepdim), gen_all_any,
           differentiable=False, needs="all_any_dim", group="new"),
    OpInfo("like_creators", lambda m, x: x * m.lib.ones_like(x, device=x.device)
           + m.lib.full_like(x, 0.5, device=x.device) + m.lib.zeros_like(x, device=x.device),
           lambda x: x + 0.5, unary(), needs="like_device", group="new"),
]



def gen_with_zeros(base: Callable, fraction: float = 0.5) -> Callable:
    """``base``'s samples with about ``fraction`` of the first array set to exactly 0."""
    def gen(data: st.DataObject, size: Size) -> Sample:
        s = base(data, size)
        x = s.arrays[0]
        s.arrays[0] = np.where(_rng(data).random(x.shape) < fraction, 0.0, x)
        return s
    return gen


def gen_relu_windows(data: st.DataObject, size: Size) -> Sample:
    """L2 pooling after a ReLU: (1, C, 4, 4) maps whose top-left 2x2 window is all zero."""
    x = np.maximum(values(data, (1, 2, 4, 4)), 0.0)
    x[..., :2, :2] = 0.0
    return Sample([x], {"norm_type": 2.0, "kernel_size": 2})


def gen_pow_tensor(data: st.DataObject, size: Size) -> Sample:
    """A tensor base, some of it negative or zero, to small integer tensor exponents."""
    s1, s2 = broadcast_shapes(data, size)
    rng = _rng(data)
    base = values(data, s1)
    base = np.where(rng.random(s1) < 0.2, 0.0, base)
    return Sample([base, rng.integers(1, 4, s2).astype(np.float64)], const=(1,))


def gen_0d(data: st.DataObject, size: Size) -> Sample:
    return Sample([values(data, ())], {"dim": data.draw(st.sampled_from((0, -1)), label="dim")})


def reductions_0d(m: Any, x: Any, dim: int) -> tuple:
    return (x.sum(dim), x.mean(dim), x.amax(dim), x.amin(dim), x.softmax(dim),
            x.log_softmax(dim), x.logsumexp(dim), x.norm(dim=dim))


def np_reductions_0d(x: np.ndarray, dim: int) -> tuple:
    return (x, x, x, x, np.ones(()), np.zeros(()), x, np.abs(x))


KNOWN_BUGS = [
    # rows at the points where issue 12 lists a silent wrong answer or a deep crash; they
    # guard the fixes. A row that fails again is made a strict xfail for exactly the tests
    # it fails (``xfail={kind: reason}``), so its fix shows as an XPASS asking for the mark
    # to go
    OpInfo("norm_inf", lambda m, x, **kw: x.norm(float("inf"), **kw),
           lambda x, **kw: np_norm(x, math.inf, **kw), reduction("separated", min_side=1),
           smooth=False, group="issue12"),
    OpInfo("norm_neg_inf", lambda m, x, **kw: x.norm(float("-inf"), **kw),
           lambda x, **kw: np_norm(x, -math.inf, **kw), reduction("separated", min_side=1),
           smooth=False, group="issue12"),
    OpInfo("var_unbiased_false", lambda m, x: x.var(False), lambda x: x.var(),
           unary(min_dims=1, min_side=2), group="issue12"),
    OpInfo("pow_0_at_zero", lambda m, x: x ** 0, lambda x: x ** 0,
           gen_with_zeros(unary(min_dims=1, min_side=1)), group="issue12"),
    OpInfo("pow_tensor_negative_base", lambda m, x, y: x ** y, np.power, gen_pow_tensor,
           group="issue12"),
    OpInfo("std_of_constant", lambda m, x: (x * 0 + 1.5).std(),
           lambda x: np.zeros(()), unary(min_dims=1, min_side=2), group="issue12"),
    # the tip of the cone sqrt(Σx²): the gradient there is a convention (0, as PyTorch and
    # the central difference agree); its derivative has no value, so no gradgradcheck
    OpInfo("lp_pool2d_zero_window", lambda m, x, **kw: m.F.lp_pool2d(x, **kw),
           np_lp_pool(2), gen_relu_windows, smooth=False, group="issue12"),
    OpInfo("reductions_0d_dim", reductions_0d, np_reductions_0d, gen_0d, smooth=False,
           group="issue12"),
]

OPS = PRIMITIVES + CONVOLUTION + POOLING + RECURRENT + LOSSES + LAYERS + NEW_API + KNOWN_BUGS
GROUPS = {"convolution": CONVOLUTION, "pooling": POOLING, "recurrent": RECURRENT,
          "loss": LOSSES, "layer": LAYERS, "new": NEW_API, "issue12": KNOWN_BUGS}
for _group, _rows in GROUPS.items():
    for _op in _rows:
        _op.group = _group


def params(ops: list, kind: str) -> list:
    """pytest params for the rows of one test: a row whose API is missing is skipped with
    the reason; a row with a known issue-12 bug for this test is a strict xfail."""
    out = []
    for op in ops:
        marks = []
        if op.needs and not FEATURES[op.needs]:
            marks.append(pytest.mark.skip(reason=f"{op.name}: {op.needs} is not in the API yet "
                                                 "(issue 12); the row runs once it is"))
        reason = op.xfail.get(kind) or op.xfail.get("*")
        if reason:
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        out.append(pytest.param(op, marks=marks, id=op.name))
    return out


DIFF_OPS = [op for op in OPS if op.differentiable]
GRAD_OPS = [op for op in DIFF_OPS if op.gradcheck]
SMOOTH_OPS = [op for op in GRAD_OPS if op.smooth]
VJP_OPS = [op for op in OPS if op.vjp is not None]
TORCH_OPS = [op for op in OPS if op.torch]


def examples(op: OpInfo, base: int) -> int:
    return max(2, base // op.cost)


def run_examples(test: Callable, n: int, op: OpInfo | None = None, kind: str = "") -> None:
    """Run ``test(data)`` under hypothesis with ``n`` examples (a per-row budget); a known
    failure (a strict xfail) stops at its first failing example, without shrinking."""
    known = op is not None and (op.xfail.get(kind) or op.xfail.get("*"))
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([] if known else [Phase.shrink])
    settings(max_examples=n, phases=phases, report_multiple_bugs=False,
             suppress_health_check=[HealthCheck.function_scoped_fixture,
                                    HealthCheck.too_slow])(given(data=st.data())(test))()


def test_table_covers_the_primitives_and_composites() -> None:
    """Every primitive and composite of the brief has a row (a missing row would silently
    test less)."""
    names = {op.name.split("_")[0] for op in OPS} | {op.name for op in OPS}
    for want in ["add", "sub", "mul", "div", "neg", "reciprocal", "pow", "exp", "log", "tanh",
                 "sigmoid", "relu", "abs", "maximum", "minimum", "clamp", "where", "sum", "mean",
                 "var", "std", "amax", "amin", "max_dim", "logsumexp", "norm2", "reshape",
                 "permute", "transpose", "expand", "pad", "getitem_slices", "getitem_int_array",
                 "getitem_bool_mask", "cat", "stack", "flip", "unfold", "sliding_window",
                 "matmul", "softmax", "log_softmax", "cast",
                 "conv1d", "conv2d", "conv1d_same", "conv2d_same", "true_conv2d",
                 "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "lp_pool1d",
                 "lp_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
                 "max_pool2d_indices", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell",
                 "gru_cell", "peephole_lstm_cell", "cross_entropy",
                 "cross_entropy_weighted_mean", "nll_loss", "mse_loss", "l1_loss",
                 "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
                 "linear", "embedding", "batch_norm", "layer_norm", "normalize", "one_hot"]:
        assert want in names, want
    assert len({op.name for op in OPS}) == len(OPS), "row names must be unique"


# ---------------------------------------------------------------- helpers
LAYOUTS = ["contiguous", "transposed", "strided", "reversed"]


def relayout(arr: np.ndarray, layout: str) -> np.ndarray:
    """The same values in another memory layout (a view the engine must respect):
    Fortran order, every other element of a larger buffer, or negative strides."""
    if layout == "transposed" and arr.ndim >= 2:
        return np.ascontiguousarray(arr.T).T
    if layout == "strided" and arr.ndim >= 1:
        big = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1],), dtype=arr.dtype)
        big[..., ::2] = arr
        return big[..., ::2]
    if layout == "reversed" and arr.ndim >= 1:
        return np.ascontiguousarray(arr[..., ::-1])[..., ::-1]
    return arr


def make_inputs(sample: Sample, dtype: Any, layout: str, requires_grad: bool,
                device: str = "cpu") -> list:
    """Tensors for a sample: float arrays cast to ``dtype`` (then re-laid out) and, unless
    constant, requiring grad; ints and bools as they are."""
    out = []
    for n, a in enumerate(sample.arrays):
        if a.dtype.kind == "f":
            arr = relayout(a.astype(dtype), layout)
            t = tg.from_numpy(arr) if device == "cpu" else tg.tensor(arr, device=device)
            out.append(t.requires_grad_(True) if requires_grad and n not in sample.const
                       else t)
        else:
            out.append(tg.from_numpy(a) if device == "cpu" else tg.tensor(a, device=device))
    return out


def as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def draw_layout(data: st.DataObject) -> str:
    return data.draw(st.sampled_from(LAYOUTS), label="layout")


def _float_tensors(ins: list) -> list:
    return [t for t in ins if t.requires_grad]


# ---------------------------------------------------------------- the tests
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", params(OPS, "forward"))
def test_forward(op: OpInfo, dtype: str) -> None:
    """Values against the NumPy reference (computed in float64 from the same inputs),
    real sizes and layouts."""
    def check(data: st.DataObject) -> None:
        sample = op.sample(data, BIG)
        layout = draw_layout(data)
        note(f"{sample.describe()} layout {layout}")
        ins = make_inputs(sample, dtype, layout, requires_grad=False)
        ref_in = [a.astype(dtype).astype("float64") if a.dtype.kind == "f" else a
                  for a in sample.arrays]
        want = as_tuple(op.ref(*ref_in, **sample.kwargs))
        got = as_tuple(op.fn(TG, *ins, **sample.kwargs))
        assert len(got) == len(want)
        scale = 1.0 if dtype == "float32" else 1e-6
        for k, (g, w) in enumerate(zip(got, want)):
            w = np.asarray(w)
            assert isinstance(g, tg.Tensor)
            if w.dtype.kind == "f":
                if op.keeps_dtype:
                    assert g.dtype == np.dtype(dtype), f"{op.name}: dtype {g.dtype} != {dtype}"
                assert_close(g, w, rtol=op.rtol * scale * 10 + 1e-12, atol=op.atol * scale,
                             msg=f"{op.name} output {k}")
            else:
                assert_close(g, w, msg=f"{op.name} output {k}")
    run_examples(check, examples(op, 12), op, "forward")


def _finite_differences(op: OpInfo, checker: Callable, size: Size, count: int,
                        kind: str) -> None:
    """``checker`` (tg.gradcheck or tg.gradgradcheck) on ``count`` float64 samples of
    ``size``, in any memory layout."""
    def check(data: st.DataObject) -> None:
        sample = op.sample(data, size)
        layout = draw_layout(data)
        note(f"{sample.describe()} layout {layout}")
        ins = make_inputs(sample, "float64", layout, requires_grad=True)
        assert checker(lambda *xs: op.fn(TG, *xs, **sample.kwargs), ins, eps=op.eps,
                       atol=op.grad_atol, rtol=op.grad_rtol)
    run_examples(check, examples(op, count), op, kind)


@pytest.mark.parametrize("op", params(GRAD_OPS, "gradcheck"))
def test_gradcheck(op: OpInfo) -> None:
    """Whole-Jacobian central differences in float64, any memory layout."""
    _finite_differences(op, tg.gradcheck, SMALL, 10, "gradcheck")


@pytest.mark.parametrize("op", params(SMOOTH_OPS, "gradgradcheck"))
def test_gradgradcheck(op: OpInfo) -> None:
    """Second derivatives through create_graph=True (the backward is made of Tensor ops)."""
    _finite_differences(op, tg.gradgradcheck, TINY, 5, "gradgradcheck")


@pytest.mark.parametrize("op", params(VJP_OPS, "vjp"))
def test_vjp_reference(op: OpInfo) -> None:
    """Gradients against a NumPy vector-Jacobian product (rows whose gradient is a
    convention rather than the derivative, e.g. an embedding's padding row)."""
    def check(data: st.DataObject) -> None:
        sample = op.sample(data, BIG)
        note(sample.describe())
        ins = make_inputs(sample, "float64", draw_layout(data), requires_grad=True)
        out = op.fn(TG, *ins, **sample.kwargs)
        up = np.random.default_rng(5).standard_normal(out.shape)
        grads = tg.grad([out], _float_tensors(ins), [tg.from_numpy(up)], allow_unused=True)
        want = op.vjp(up, *sample.arrays, **sample.kwargs)
        for k, (g, w) in enumerate(zip(grads, want)):
            assert_close(g, w, rtol=1e-12, atol=1e-12, msg=f"{op.name} gradient {k}")
    run_examples(check, examples(op, 10), op, "vjp")


@pytest.mark.parametrize("op", params(DIFF_OPS, "create_graph"))
def test_create_graph_gives_the_same_first_derivative(op: OpInfo) -> None:
    """First-order backward (fast, on raw arrays) and create_graph=True (recorded Tensor ops)
    run the same formula two ways: the gradients must agree."""
    def check(data: st.DataObject) -> None:
        sample = op.sample(data, SMALL)
        ins = make_inputs(sample, "float64", draw_layout(data), requires_grad=True)
        outs = [o for o in as_tuple(op.fn(TG, *ins, **sample.kwargs)) if o.requires_grad]
        if not outs:
            return
        rng = np.random.default_rng(3)
        ups = [tg.from_numpy(rng.standard_normal(o.shape)) for o in outs]
        fast = tg.grad(outs, _float_tensors(ins), ups, retain_graph=True, allow_unused=True)
        graph = tg.grad(outs, _float_tensors(ins), ups, create_graph=True, allow_unused=True)
        for k, (a, b) in enumerate(zip(fast, graph)):
            assert_close(a, b, rtol=1e-12, atol=1e-14, msg=f"{op.name} gradient {k}")
    run_examples(check, examples(op, 8), op, "create_graph")


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("op", params(TORCH_OPS, "torch"))
def test_torch_parity(op: OpInfo) -> None:
    """Same inputs, same upstream gradient: same outputs and same input gradients."""
    torch = torch_or_skip()
    tns = _torch_namespace()

    def check(data: st.DataObject) -> None:
        sample = op.sample(data, BIG if op.cost == 1 else SMALL)
        layout = draw_layout(data)
        note(f"{sample.describe()} layout {layout}")
        ins = make_inputs(sample, "float64", layout, requires_grad=op.differentiable)
        t_ins = []
        for n, a in enumerate(sample.arrays):
            if a.dtype.kind == "f":
                t_ins.append(torch.tensor(a, dtype=torch.float64, requires_grad=(
                    op.differentiable and n not in sample.const)))
            else:
                t_ins.append(torch.from_numpy(a))
        outs = as_tuple(op.fn(TG, *ins, **sample.kwargs))
        t_outs = as_tuple(op.fn(tns, *t_ins, **sample.kwargs))
        rng = np.random.default_rng(7)
        ups, t_ups, live, t_live = [], [], [], []
        for k, (o, to) in enumerate(zip(outs, t_outs)):
            assert_close(o, to, rtol=1e-10, atol=1e-12, msg=f"{op.name} output {k} vs torch")
            if op.differentiable and o.requires_grad:
                v = rng.standard_normal(o.shape)
                ups.append(tg.from_numpy(v))
                t_ups.append(torch.from_numpy(v))
                live.append(o)
                t_live.append(to)
        if not live:
            return
        wanted = _float_tensors(ins)
        t_wanted = [t for t in t_ins if t.requires_grad]
        grads = tg.grad(live, wanted, ups, allow_unused=True)
        t_grads = torch.autograd.grad(t_live, t_wanted, t_ups, allow_unused=True)
        for i, (g, tgd) in enumerate(zip(grads, t_grads)):
            want = np.zeros(g.shape) if tgd is None else tgd.numpy()
            assert_close(g, want, rtol=1e-9, atol=1e-12, msg=f"{op.name}: gradient of input {i}")
    run_examples(check, examples(op, 10), op, "torch")


@pytest.fixture
def fake_cupyx(fake_cuda: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The CuPy stand-in plus ``cupyx.scipy.special.erf`` (real CuPy ships cupyx, where the
    backend finds erf; the stand-in has none), as a device function of the stand-in."""
    from fake_cupy import _device_fn   # noqa: PLC0415 - test helper beside this file
    special = types.ModuleType("cupyx.scipy.special")
    special.erf = _device_fn(lambda a: np.vectorize(math.erf, otypes=[a.dtype])(a)
                             if a.size else a.copy(), "erf")
    scipy = types.ModuleType("cupyx.scipy")
    scipy.special = special
    cupyx = types.ModuleType("cupyx")
    cupyx.scipy = scipy
    for name, mod in (("cupyx", cupyx), ("cupyx.scipy", scipy),
                      ("cupyx.scipy.special", special)):
        monkeypatch.setitem(sys.modules, name, mod)
    return fake_cuda


@pytest.mark.parametrize("op", params(OPS, "cuda"))
def test_cuda_backend_matches_cpu(op: OpInfo, fake_cupyx: Any) -> None:
    """Every row on device='cuda' (the CuPy stand-in, which raises on any host array mixed
    into a device op): same outputs and gradients as on the CPU, and all stay on the device."""
    def check(data: st.DataObject) -> None:
        sample = op.sample(data, SMALL if op.cost > 1 else BIG)
        note(sample.describe())
        results = {}
        for dev in ["cpu", "cuda"]:
            ins = make_inputs(sample, "float64", "contiguous", op.differentiable, device=dev)
            outs = as_tuple(op.fn(TG, *ins, **sample.kwargs))
            live = [o for o in outs if o.requires_grad]
            grads = ()
            if live:
                ups = [tg.ones(o.shape, device=dev) * 0.5 for o in live]
                grads = tg.grad(live, _float_tensors(ins), ups, allow_unused=True)
            assert all(t.device == dev for t in list(outs) + list(grads))
            results[dev] = [t.detach().numpy() for t in list(outs) + list(grads)]
        for got, want in zip(results["cuda"], results["cpu"]):
            assert type(got) is np.ndarray
            assert_close(got, want, rtol=1e-6, atol=1e-7, msg=f"{op.name} cuda vs cpu")
    run_examples(check, examples(op, 5), op, "cuda")


# ---------------------------------------------------------------- the checks check
def test_assert_close_lets_no_wrong_answer_through() -> None:
    """The suite's comparison refuses one-sided NaN and infinity, broadcasting and near
    misses of integers; it accepts the same infinity and, when asked, NaN on both sides."""
    inf, nan = math.inf, math.nan
    assert_close(np.array([1.0, inf, -inf]), np.array([1.0, inf, -inf]))
    assert_close(np.array([1.0, nan]), np.array([1.0, nan]), expect_nan=True)
    for actual, expected in [([nan], [1.0]), ([1.0], [nan]), ([inf], [1.0]), ([1.0], [inf]),
                             ([inf], [-inf]), ([nan], [nan]), ([1.1], [1.0])]:
        with pytest.raises(AssertionError):
            assert_close(np.array(actual), np.array(expected), rtol=1e-3)
    with pytest.raises(AssertionError, match="shape"):
        assert_close(np.ones(3), np.ones(()))
    with pytest.raises(AssertionError, match="differ"):
        assert_close(np.array([1, 2]), np.array([1, 3]))
    with pytest.raises(AssertionError, match="dtype"):
        assert_close(np.ones(2, np.float32), np.ones(2), dtype="float64")
    assert_close(tg.tensor([1.0, 2.0]), np.array([1.0, 2.0]))
    assert to_numpy(tg.tensor([3])).tolist() == [3]


def test_a_nan_backward_fails_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken on purpose, an exp whose gradient is NaN fails gradcheck and the suite's value
    comparison, with or without PyTorch (NaN never agrees with a finite reference)."""
    from tinygrad_edu.engine import ops   # noqa: PLC0415 - the primitive broken on purpose
    monkeypatch.setattr(ops.Exp, "backward", lambda self, g: g * math.nan)
    x = tg.tensor(np.linspace(-1, 1, 5), requires_grad=True)
    with pytest.raises(AssertionError):
        tg.gradcheck(lambda t: t.exp(), (x,))
    (g,) = tg.grad([x.exp().sum()], [x])
    with pytest.raises(AssertionError, match="differ"):
        assert_close(g, np.exp(np.linspace(-1, 1, 5)))


def test_shapes_reach_real_sizes() -> None:
    """The sample generators give real sizes, not just empty or 3-element arrays: over the
    value tests' examples most unary samples hold 30 elements or more, a few are edge
    cases, and the image rows draw batches of multi-channel maps."""
    sizes = []

    @settings(max_examples=40, derandomize=True)
    @given(data=st.data())
    def draw(data: st.DataObject) -> None:
        sizes.append(unary()(data, BIG).arrays[0].shape)

    draw()
    counts = [math.prod(s) for s in sizes]
    assert sum(c >= 30 for c in counts) >= len(counts) // 2, sizes
    assert sum(c == 0 for c in counts) <= len(counts) // 4, sizes
    assert any(len(s) == 0 for s in sizes) or any(c <= 2 for c in counts), sizes
    assert max(counts) >= 200, sizes

    conv = []

    @settings(max_examples=10, derandomize=True)
    @given(data=st.data())
    def draw_conv(data: st.DataObject) -> None:
        conv.append(gen_conv(2)(data, BIG).arrays[0].shape)

    draw_conv()
    assert any(len(s) == 4 and s[0] > 1 and s[1] > 1 and min(s[2:]) >= 5 for s in conv), conv


# ---------------------------------------------------------------- a few exact cases
def test_max_splits_gradient_evenly_at_ties() -> None:
    """A hand-derived case: three tied maxima share the gradient (1/3 each, as PyTorch's amax)."""
    x = tg.tensor([1.0, 3.0, 3.0, 0.0, 3.0], requires_grad=True)
    x.amax().backward()
    assert_close(x.grad, np.array([0, 1 / 3, 1 / 3, 0, 1 / 3], np.float32), rtol=1e-6)


def test_maximum_splits_gradient_at_ties() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([1.0, 0.0], requires_grad=True)
    x.maximum(y).sum().backward()
    assert_close(x.grad, np.array([0.5, 1.0], np.float32))
    assert_close(y.grad, np.array([0.5, 0.0], np.float32))


def test_int_index_repeats_accumulate() -> None:
    """An embedding row used three times gets three gradients."""
    w = tg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    idx = tg.tensor([2, 0, 2, 2])
    (w[idx] * tg.tensor([[1.0], [10.0], [100.0], [1000.0]])).sum().backward()
    assert_close(w.grad, np.array([[10, 10], [0, 0], [1101, 1101]], np.float32))


def test_softmax_is_stable_for_huge_logits() -> None:
    x = tg.tensor([1000.0, 0.0, -1000.0])
    assert_close(x.softmax(0), np.array([1, 0, 0], np.float32), atol=1e-7)
    assert_close(x.log_softmax(0), np.array([0, -1000, -2000], np.float32), rtol=1e-6)
    assert math.isfinite(tg.tensor([1e4, 1e4]).logsumexp(0).item())


def test_reduce_over_empty_dim_raises_with_shape() -> None:
    with pytest.raises(RuntimeError, match=r"max: cannot reduce .*\(2, 0\)"):
        tg.zeros(2, 0).amax(1)
    # reducing a non-empty dim of a tensor with a size-0 dim elsewhere is fine (as NumPy)
    assert tg.zeros(2, 0).amax(0).shape == (0,)


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_argmax_argmin_match_numpy(dtype: str) -> None:
    a = np.array([[3, 1, 4], [1, 5, 0]], dtype=dtype)
    x = tg.tensor(a)
    for dim in [0, 1, -1]:
        for keepdim in [False, True]:
            for name in ["argmax", "argmin"]:
                got = getattr(x, name)(dim, keepdim=keepdim)
                want = getattr(np, name)(a, axis=dim, keepdims=keepdim)
                assert got.dtype == tg.int64
                assert_close(got, want, msg=f"{name} {dim}")
    assert x.argmin().item() == 5 and x.argmax().item() == 4


def test_keepdim_without_dim_keeps_every_dim() -> None:
    x = tg.tensor(np.arange(6.0).reshape(2, 3))
    for name, want in [("sum", 15.0), ("mean", 2.5), ("amax", 5.0), ("amin", 0.0)]:
        out = getattr(x, name)(keepdim=True)
        assert out.shape == (1, 1) and out.item() == want, name
    assert x.var(keepdim=True).shape == (1, 1)
    assert x.logsumexp((0, 1), keepdim=True).shape == (1, 1)


@pytest.mark.skipif(not FEATURES["like_device"], reason="*_like(device=) is not in the API yet "
                    "(issue 12)")
def test_like_creators_take_a_device(fake_cuda: Any) -> None:
    """tg.*_like(t, device=...) puts the new tensor on that device, whatever t's device."""
    x = tg.randn(2, 3)
    for name in ("zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"):
        y = getattr(tg, name)(x, device="cuda")
        assert y.device == "cuda" and y.shape == (2, 3) and y.dtype == x.dtype, name
        assert getattr(tg, name)(y, device="cpu").device == "cpu", name
    assert tg.full_like(x, 2.0, device="cuda").device == "cuda"


# ---------------------------------------------------------------- bad input: clear messages
BAD_INPUTS = [
    ("reshape", lambda: tg.zeros(2, 3).reshape(4, 2), RuntimeError,
     r"reshape: shape \(4, 2\) is invalid for input of size 6 \(shape \(2, 3\)\)"),
    ("reshape2", lambda: tg.zeros(2, 3).reshape(-1, -1), RuntimeError,
     r"reshape: shape \(-1, -1\) is invalid for input of size 6"),
    ("permute", lambda: tg.zeros(2, 3).permute(0, 0), RuntimeError,
     r"permute: dim \(0, 0\) names a dim more than once"),
    ("expand", lambda: tg.zeros(2, 3).expand(4, 3), RuntimeError,
     r"expand: shape \(2, 3\) cannot be expanded to \(4, 3\)"),
    ("matmul", lambda: tg.zeros(2, 3) @ tg.zeros(2, 3), RuntimeError,
     r"matmul: shapes \(2, 3\) and \(2, 3\) cannot be multiplied \(3 != 2\)"),
    ("matmul0d", lambda: tg.zeros(()) @ tg.zeros(2), RuntimeError,
     r"matmul: both arguments need at least 1 dim, got shapes \(\) and \(2,\)"),
    ("cat", lambda: tg.cat([tg.zeros(2, 3), tg.zeros(2, 4)]), RuntimeError,
     r"cat: tensors\[1\] has shape \(2, 4\), expected \(2, 3\) except in dim 0"),
    ("cat_empty", lambda: tg.cat([]), ValueError, r"cat: expected a non-empty list"),
    ("stack", lambda: tg.stack([tg.zeros(2), tg.zeros(3)]), RuntimeError,
     r"stack: tensors\[0\] has shape \(2,\) but tensors\[1\] has \(3,\); all must be the "
     r"same"),
    ("dim", lambda: tg.zeros(2, 3).sum(2), IndexError,
     r"sum: dim 2 is out of range for a tensor with 2 dims \(expected -2 <= dim < 2\)"),
    ("unsqueeze", lambda: tg.zeros(2).unsqueeze(3), IndexError,
     r"unsqueeze: dim 3 out of range for a tensor with 1 dims"),
    ("window", lambda: tg.sliding_window(tg.zeros(1, 4), (1,), (3,), (1,), (2,)), RuntimeError,
     r"sliding_window: a window of span 5 \(size 3, dilation 2\) does not fit dim 1 of shape "
     r"\(1, 4\)"),
    ("window_size", lambda: tg.zeros(4).unfold(0, 0, 1), ValueError,
     r"sliding_window: size, stride and dilation must be >= 1, got size=0"),
    ("pad", lambda: tg.zeros(2, 2).pad(((1, 1),)), ValueError,
     r"pad: need one \(before, after\) pair of non-negative ints per dim \(2\), got "
     r"\(\(1, 1\),\)"),
    ("F.pad", lambda: F.pad(tg.zeros(2), (1, 1, 1)), ValueError,
     r"pad: expected an even number of values"),
    ("bool", lambda: bool(tg.zeros(2)), RuntimeError,
     r"bool: the truth value of a tensor with 2 elements is ambiguous"),
    ("len", lambda: len(tg.zeros(())), TypeError, r"len\(\) of a 0-d tensor"),
    ("amax_empty", lambda: tg.zeros(0).amax(), RuntimeError,
     r"max: cannot reduce over an empty dim of shape \(0,\)"),
]


@pytest.mark.parametrize("fn,exc,match", [b[1:] for b in BAD_INPUTS],
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_message(fn: Callable, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        fn()


def test_prod_gradient_is_exact_at_zeros() -> None:
    """∂(Π x)/∂x_i is the product of the others, also where x_i (or another) is zero; the
    old exp(Σ log|x|) form gave NaN there. Odd lengths carry the last element."""
    x = tg.tensor(np.array([[0.0, 2.0, 3.0], [4.0, 0.0, 0.0], [1.5, -2.0, 0.5]]),
                  requires_grad=True)
    x.prod(1).sum().backward()
    assert_close(x.grad, np.array([[6.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-1.0, 0.75, -3.0]]))
    assert tg.gradcheck(lambda a: a.prod(0), (x,))
    assert tg.gradgradcheck(lambda a: a.prod(), (x,))


def test_prod_of_integers_stays_integer() -> None:
    i = tg.tensor([[1, 2, 3], [4, 5, 6]])
    assert i.prod().dtype == tg.int64 and i.prod().item() == 720
    assert i.prod(1, keepdim=True).tolist() == [[6], [120]]
