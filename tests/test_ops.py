"""One table of ops drives the engine's op tests (PyTorch's OpInfo idea).

Each :class:`OpInfo` row names an op, the function under test (written once for both
``tinygrad_edu`` and ``torch``, which share the method names), a NumPy reference, a
sample generator (hypothesis draws shapes: broadcast pairs, 0-d, size-1 and size-0
dims), the value domain that keeps the op smooth there, tolerances and flags. Four
parametrized tests then run every row:

* ``test_forward``: float32 and float64 results against NumPy, on contiguous and
  non-contiguous (transposed / strided) inputs;
* ``test_gradcheck``: ``tg.gradcheck`` in float64 (whole Jacobian, random upstream grad);
* ``test_gradgradcheck``: second derivatives, for rows flagged ``smooth``;
* ``test_torch_parity``: forward and backward against PyTorch (skipped without torch).

Adding an op means adding a row.
"""
from __future__ import annotations

import math
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from conftest import torch_or_skip

pytestmark = pytest.mark.usefixtures("lane")      # every test: fast lane on and off

# ---------------------------------------------------------------- namespaces
# Row functions take a namespace ``m`` first so one lambda runs on both libraries.
TG = types.SimpleNamespace(name="tg", where=tg.where, cat=tg.cat, stack=tg.stack, F=F,
                           float32=tg.float32, float64=tg.float64, int64=tg.int64)


def _torch_namespace() -> types.SimpleNamespace:
    torch = torch_or_skip()
    return types.SimpleNamespace(name="torch", where=torch.where, cat=torch.cat,
                                 stack=torch.stack, F=torch.nn.functional,
                                 float32=torch.float32, float64=torch.float64,
                                 int64=torch.int64)


# ---------------------------------------------------------------- samples
@dataclass
class Sample:
    """Inputs for one call: arrays become tensors (float ones require grad), kwargs as-is."""
    arrays: list
    kwargs: dict = field(default_factory=dict)


def _rng(data: st.DataObject) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def values(data: st.DataObject, shape: tuple, domain: str = "real") -> np.ndarray:
    """Float64 values of ``shape`` in a domain where the op is smooth.

    real: U(-2, 2); positive: U(0.5, 3); nonzero: ±U(0.5, 2); separated: distinct values
    at least 0.15 apart and at least 0.075 from 0 and from ±0.25 (kinks of relu, abs,
    max, clamp) so that central differences never straddle a kink.
    """
    rng = _rng(data)
    n = int(np.prod(shape, dtype=np.int64))
    if domain == "real":
        v = rng.uniform(-2, 2, n)
    elif domain == "positive":
        v = rng.uniform(0.5, 3, n)
    elif domain == "nonzero":
        v = rng.uniform(0.5, 2, n) * rng.choice([-1.0, 1.0], n)
    elif domain == "separated":
        v = (rng.permutation(n) - n // 2 + 0.5) * 0.25 + rng.uniform(-0.05, 0.05, n)
    else:
        raise ValueError(domain)
    return v.reshape(shape)


def separated_pair(data: st.DataObject, s1: tuple, s2: tuple) -> list:
    """Two arrays whose elements are all distinct (no ties for maximum/minimum)."""
    n1 = int(np.prod(s1, dtype=np.int64))
    n2 = int(np.prod(s2, dtype=np.int64))
    v = values(data, (n1 + n2,), "separated")
    return [v[:n1].reshape(s1), v[n1:].reshape(s2)]


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 0,
           max_side: int = 3) -> st.SearchStrategy:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def pair_shapes(data: st.DataObject, num: int = 2, min_side: int = 0) -> tuple:
    """Mutually broadcastable shapes, e.g. ((2, 1, 3), (4, 1)) or ((), (0, 2))."""
    return data.draw(hnp.mutually_broadcastable_shapes(num_shapes=num, min_dims=0, max_dims=3,
                                                       min_side=min_side, max_side=3)).input_shapes


def unary(domain: str = "real", min_dims: int = 0, min_side: int = 0,
          **kwargs: Any) -> Callable:
    def gen(data: st.DataObject) -> Sample:
        shape = data.draw(shapes(min_dims=min_dims, min_side=min_side), label="shape")
        return Sample([values(data, shape, domain)], dict(kwargs))
    return gen


def binary(domain_x: str = "real", domain_y: str = "real") -> Callable:
    def gen(data: st.DataObject) -> Sample:
        s1, s2 = pair_shapes(data)
        if domain_x == domain_y == "separated":
            return Sample(separated_pair(data, s1, s2))
        return Sample([values(data, s1, domain_x), values(data, s2, domain_y)])
    return gen


def draw_dim(data: st.DataObject, ndim: int, allow_none: bool = True,
             allow_tuple: bool = True) -> Any:
    """None, an int (possibly negative) or a tuple of distinct dims."""
    options = []
    if allow_none:
        options.append(st.none())
    if ndim > 0:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                    unique=True).map(tuple))
    if not options:
        return None
    return data.draw(st.one_of(*options), label="dim")


def reduction(domain: str = "real", min_side: int = 0, allow_none: bool = True,
              keepdim: bool = True, min_dims: int = 0, **extra: Any) -> Callable:
    def gen(data: st.DataObject) -> Sample:
        shape = data.draw(shapes(min_dims=min_dims, min_side=min_side), label="shape")
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


# ---------------------------------------------------------------- sample generators for
# movement, indexing and matrix ops
def gen_reshape(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(), label="shape")
    kind = data.draw(st.sampled_from(["flat", "reversed", "unit", "infer"]), label="kind")
    n = int(np.prod(shape, dtype=np.int64))
    target = {"flat": (n,), "reversed": tuple(reversed(shape)), "unit": (1,) + shape + (1,),
              "infer": (-1,) + shape[1:] if shape and n else (n,)}[kind]
    return Sample([values(data, shape)], {"shape": target})


def gen_permute(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1), label="shape")
    dims = data.draw(st.permutations(range(len(shape))), label="dims")
    return Sample([values(data, shape)], {"dims": tuple(dims)})


def gen_transpose(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1), label="shape")
    nd = len(shape)
    d0 = data.draw(st.integers(-nd, nd - 1), label="dim0")
    d1 = data.draw(st.integers(-nd, nd - 1), label="dim1")
    return Sample([values(data, shape)], {"dim0": d0, "dim1": d1})


def gen_expand(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(max_side=2), label="shape")
    target = tuple(data.draw(st.integers(0, 3)) if s == 1 else s for s in shape)
    lead = data.draw(st.lists(st.integers(0, 3), max_size=2), label="lead")
    return Sample([values(data, shape)], {"shape": tuple(lead) + target})


def gen_pad(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1), label="shape")
    npairs = data.draw(st.integers(1, len(shape)), label="npairs")
    pad = data.draw(st.lists(st.integers(0, 2), min_size=2 * npairs, max_size=2 * npairs))
    value = data.draw(st.sampled_from([0.0, -1.5]), label="value")
    return Sample([values(data, shape)], {"pad": tuple(pad), "value": value})


def np_pad(x: np.ndarray, pad: tuple, value: float) -> np.ndarray:
    pairs = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        pairs[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return np.pad(x, pairs, constant_values=value)


def gen_slices(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1), label="shape")
    index = []
    for s in shape:
        if s > 0 and data.draw(st.booleans()):
            index.append(data.draw(st.integers(-s, s - 1)))
        else:
            start = data.draw(st.one_of(st.none(), st.integers(-s - 1, s + 1)))
            stop = data.draw(st.one_of(st.none(), st.integers(-s - 1, s + 1)))
            step = data.draw(st.sampled_from([None, 1, 2]))
            index.append(slice(start, stop, step))
    if data.draw(st.booleans(), label="none"):
        index.insert(data.draw(st.integers(0, len(index))), None)
    index = tuple(index)
    if len(shape) > 1 and data.draw(st.booleans(), label="ellipsis"):
        index = (Ellipsis,) + tuple(i for i in index[-1:] if i is not None)
    return Sample([values(data, shape)], {"index": index})


def gen_int_index(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1, min_side=1), label="shape")
    n = shape[0]
    ishape = data.draw(shapes(max_dims=2), label="index shape")
    idx = _rng(data).integers(-n, n, ishape)      # repeats are likely: gradients must add up
    return Sample([values(data, shape), idx.astype(np.int64)])


def gen_mixed_index(data: st.DataObject) -> Sample:
    """x[:, i] (a slice then an int array) or x[i, j] (two broadcast int arrays)."""
    shape = data.draw(shapes(min_dims=2, min_side=1), label="shape")
    rng = _rng(data)
    si, sj = pair_shapes(data)
    i = rng.integers(-shape[0], shape[0], si)
    j = rng.integers(-shape[1], shape[1], sj)
    kind = data.draw(st.sampled_from(["slice_array", "array_array"]), label="kind")
    return Sample([values(data, shape), i, j], {"kind": kind})


def index_mixed(x: Any, i: Any, j: Any, kind: str) -> Any:
    return x[:, j] if kind == "slice_array" else x[i, j]


def gen_bool_mask(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1), label="shape")
    full = data.draw(st.booleans(), label="full mask")
    mshape = shape if full else shape[:1]
    mask = np.asarray(_rng(data).random(mshape) < 0.5)
    return Sample([values(data, shape), mask])


def gen_cat(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1), label="shape")
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1), label="dim")
    k = data.draw(st.integers(1, 3), label="count")
    arrays = []
    for _ in range(k):
        s = list(shape)
        s[dim % nd] = data.draw(st.integers(0, 3))
        arrays.append(values(data, tuple(s)))
    return Sample(arrays, {"dim": dim})


def gen_stack(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(), label="shape")
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="dim")
    k = data.draw(st.integers(1, 3), label="count")
    return Sample([values(data, shape) for _ in range(k)], {"dim": dim})


def gen_flip(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1), label="shape")
    dims = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1,
                              max_size=len(shape), unique_by=lambda d: d % len(shape)))
    return Sample([values(data, shape)], {"dims": tuple(dims)})


def gen_unfold(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1, min_side=1, max_side=5), label="shape")
    nd = len(shape)
    d = data.draw(st.integers(-nd, nd - 1), label="dimension")
    size = data.draw(st.integers(1, shape[d]), label="size")
    step = data.draw(st.integers(1, 3), label="step")
    return Sample([values(data, shape)], {"dimension": d, "size": size, "step": step})


def np_unfold(x: np.ndarray, dimension: int, size: int, step: int) -> np.ndarray:
    w = np.lib.stride_tricks.sliding_window_view(x, size, axis=dimension)
    index = [slice(None)] * w.ndim
    index[dimension % x.ndim] = slice(None, None, step)
    return w[tuple(index)]


def gen_window(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1, min_side=1, max_side=5), label="shape")
    nd = len(shape)
    axes = data.draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=min(nd, 2),
                              unique=True), label="axes")
    size, stride, dilation = [], [], []
    for a in axes:
        d = data.draw(st.integers(1, 2))
        k = data.draw(st.integers(1, max(1, (shape[a] - 1) // d + 1)))
        size.append(k)
        dilation.append(d)
        stride.append(data.draw(st.integers(1, 2)))
    return Sample([values(data, shape)], {"axes": tuple(axes), "size": tuple(size),
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


def gen_matmul(data: st.DataObject) -> Sample:
    kind = data.draw(st.sampled_from(["1x1", "2x1", "1x2", "2x2", "batched", "broadcast"]),
                     label="kind")
    n, k, m = (data.draw(st.integers(0, 3)) for _ in range(3))
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
        ba, bb = pair_shapes(data, min_side=1)
        sa, sb = tuple(ba) + (n, k), tuple(bb) + (k, m)
    return Sample([values(data, sa), values(data, sb)])


def gen_where(data: st.DataObject) -> Sample:
    sc, sx, sy = pair_shapes(data, num=3)
    cond = np.asarray(_rng(data).random(sc) < 0.5)
    return Sample([cond, values(data, sx), values(data, sy)])


def gen_softmax(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1), label="shape")
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
    return (np.abs(x) ** p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)


def np_max_dim(x: np.ndarray, dim: int, keepdim: bool = False) -> tuple:
    return (x.max(axis=dim, keepdims=keepdim), x.argmax(axis=dim, keepdims=keepdim))


def np_var(x: np.ndarray, dim: Any = None, keepdim: bool = False,
           correction: int = 1) -> np.ndarray:
    axes = _np_dims({"dim": dim}, x.ndim) if x.ndim else None
    return x.var(axis=axes, keepdims=keepdim, ddof=correction)


def gen_max_dim(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1, min_side=1), label="shape")
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    return Sample([values(data, shape, "separated")],
                  {"dim": dim, "keepdim": data.draw(st.booleans())})


def gen_one_dim(min_dims: int = 1, min_side: int = 0, domain: str = "real",
                new_dim: bool = False) -> Callable:
    """A shape and one dim (``new_dim``: a position for an inserted dim, as unsqueeze)."""
    def gen(data: st.DataObject) -> Sample:
        shape = data.draw(shapes(min_dims=min_dims, min_side=min_side), label="shape")
        nd = len(shape) + (1 if new_dim else 0)
        dim = data.draw(st.integers(-nd, nd - 1), label="dim")
        return Sample([values(data, shape, domain)], {"dim": dim})
    return gen


def gen_split(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1, min_side=1, max_side=5), label="shape")
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    size = data.draw(st.integers(1, shape[dim]), label="size")
    return Sample([values(data, shape)], {"size": size, "dim": dim})


def np_split(x: np.ndarray, size: int, dim: int) -> tuple:
    n = x.shape[dim]
    return tuple(np.split(x, list(range(size, n, size)), axis=dim))


def gen_repeat(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(max_dims=2), label="shape")
    extra = data.draw(st.integers(0, 1), label="extra dims")
    reps = data.draw(st.lists(st.integers(0, 3), min_size=len(shape) + extra,
                              max_size=len(shape) + extra), label="sizes")
    return Sample([values(data, shape)], {"sizes": tuple(reps)})


def gen_gather(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(min_dims=1, min_side=1), label="shape")
    nd = len(shape)
    dim = data.draw(st.integers(0, nd - 1), label="dim")
    ishape = tuple(data.draw(st.integers(0, 3)) if d == dim else data.draw(st.integers(0, s))
                   for d, s in enumerate(shape))
    idx = _rng(data).integers(0, shape[dim], ishape).astype(np.int64)
    return Sample([values(data, shape), idx], {"dim": dim})


def gen_masked_fill(data: st.DataObject) -> Sample:
    s1, s2 = pair_shapes(data)
    s1 = tuple(np.broadcast_shapes(s1, s2))           # the mask broadcasts to the input
    return Sample([values(data, s1), np.asarray(_rng(data).random(s2) < 0.5)])


def gen_cast(data: st.DataObject) -> Sample:
    shape = data.draw(shapes(), label="shape")
    return Sample([values(data, shape)], {})


# ---------------------------------------------------------------- the table
@dataclass
class OpInfo:
    """One op: how to call it, what it should give, where it is smooth, how close is close."""
    name: str
    fn: Callable            # fn(m, *tensors, **kwargs) for m in (TG, torch namespace)
    ref: Callable           # ref(*float64 arrays, **kwargs) -> array or tuple of arrays
    sample: Callable        # sample(data) -> Sample
    smooth: bool = True     # run gradgradcheck
    differentiable: bool = True
    atol: float = 1e-6      # forward, float32 (float64 uses atol * 1e-6)
    rtol: float = 1e-5
    eps: float = 1e-6       # gradcheck settings
    grad_atol: float = 1e-5
    grad_rtol: float = 1e-3
    torch: bool = True      # has a torch spelling (fn works on torch tensors)
    keeps_dtype: bool = True

    def __repr__(self) -> str:
        return self.name


def _pow(e: float) -> OpInfo:
    domain = {0.5: "positive", -1: "nonzero", -0.5: "positive"}.get(e, "real")
    return OpInfo(f"pow_{e}", lambda m, x: x ** e, lambda x: x ** e, unary(domain))


OPS = [
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
    OpInfo("sum", lambda m, x, **kw: x.sum(**kw), np_reduce(np.sum), reduction()),
    OpInfo("mean", lambda m, x, **kw: x.mean(**kw), np_reduce(np.mean), reduction(min_side=1)),
    OpInfo("var", lambda m, x, **kw: x.var(**kw), np_var,
           reduction(min_side=2, min_dims=1, correction=1)),
    OpInfo("var_biased", lambda m, x, **kw: x.var(**kw), np_var,
           reduction(min_side=1, correction=0)),
    OpInfo("std", lambda m, x, **kw: x.std(**kw), lambda x, **kw: np.sqrt(np_var(x, **kw)),
           reduction(min_side=2, min_dims=1, correction=1)),
    OpInfo("amax", lambda m, x, **kw: x.amax(**kw), np_reduce(np.max),
           reduction("separated", min_side=1), smooth=False),
    OpInfo("amin", lambda m, x, **kw: x.amin(**kw), np_reduce(np.min),
           reduction("separated", min_side=1), smooth=False),
    OpInfo("max_dim", lambda m, x, dim, keepdim: tuple(x.max(dim, keepdim)), np_max_dim,
           gen_max_dim, smooth=False),
    OpInfo("logsumexp", lambda m, x, **kw: x.logsumexp(**kw), np_logsumexp,
           reduction(min_side=1, min_dims=1, allow_none=False)),
    OpInfo("norm2", lambda m, x, **kw: x.norm(2, **kw), lambda x, **kw: np_norm(x, 2, **kw),
           reduction("nonzero", min_side=1)),
    OpInfo("norm1", lambda m, x, **kw: x.norm(1, **kw), lambda x, **kw: np_norm(x, 1, **kw),
           reduction("separated", min_side=1), smooth=False),
    OpInfo("norm3", lambda m, x, **kw: x.norm(3, **kw), lambda x, **kw: np_norm(x, 3, **kw),
           reduction("nonzero", min_side=1)),
    OpInfo("softmax", lambda m, x, dim: x.softmax(dim), np_softmax, gen_softmax, atol=1e-5),
    OpInfo("log_softmax", lambda m, x, dim: x.log_softmax(dim), np_log_softmax, gen_softmax,
           atol=1e-5),
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
           gen_window, torch=False),
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
           gen_one_dim()),
    # matrix
    OpInfo("matmul", lambda m, a, b: a @ b, np.matmul, gen_matmul, atol=1e-5),
    # dtype
    OpInfo("cast_f32_f64", lambda m, x: x.to(m.float32).to(m.float64),
           lambda x: x.astype(np.float32).astype(np.float64), gen_cast,
           eps=1e-3, grad_atol=1e-3, grad_rtol=1e-2, keeps_dtype=False),
    OpInfo("cast_int", lambda m, x: (x * 2).to(m.int64), lambda x: np.trunc(x * 2), gen_cast,
           differentiable=False, keeps_dtype=False),
]

IDS = [op.name for op in OPS]
DIFF_OPS = [op for op in OPS if op.differentiable]
SMOOTH_OPS = [op for op in OPS if op.differentiable and op.smooth]


def test_table_covers_the_primitives() -> None:
    """Every primitive of the brief has a row (a missing row would silently test less)."""
    names = {op.name.split("_")[0] for op in OPS} | {op.name for op in OPS}
    for want in ["add", "sub", "mul", "div", "neg", "reciprocal", "pow", "exp", "log", "tanh",
                 "sigmoid", "relu", "abs", "maximum", "minimum", "clamp", "where", "sum", "mean",
                 "var", "std", "amax", "amin", "max_dim", "logsumexp", "norm2", "reshape",
                 "permute", "transpose", "expand", "pad", "getitem_slices", "getitem_int_array",
                 "getitem_bool_mask", "cat", "stack", "flip", "unfold", "sliding_window",
                 "matmul", "softmax", "log_softmax", "cast"]:
        assert want in names, want


# ---------------------------------------------------------------- helpers
LAYOUTS = ["contiguous", "transposed", "strided"]


def relayout(arr: np.ndarray, layout: str) -> np.ndarray:
    """The same values in a non-contiguous memory layout (a view the engine must respect)."""
    if layout == "transposed" and arr.ndim >= 2:
        return np.ascontiguousarray(arr.T).T
    if layout == "strided" and arr.ndim >= 1:
        big = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1],), dtype=arr.dtype)
        big[..., ::2] = arr
        return big[..., ::2]
    return arr


def make_inputs(sample: Sample, dtype: Any, layout: str, requires_grad: bool) -> list:
    """Tensors for a sample: float arrays cast to ``dtype`` (then re-laid out), ints as-is."""
    out = []
    for a in sample.arrays:
        if a.dtype.kind == "f":
            t = tg.from_numpy(relayout(a.astype(dtype), layout))
            out.append(t.requires_grad_(True) if requires_grad else t)
        else:
            out.append(tg.from_numpy(a))
    return out


def as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def draw_layout(data: st.DataObject) -> str:
    return data.draw(st.sampled_from(LAYOUTS), label="layout")


# ---------------------------------------------------------------- the tests
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", OPS, ids=IDS)
@given(data=st.data())
@settings(max_examples=12)      # per dtype: 24 draws per op
def test_forward(op: OpInfo, dtype: str, data: st.DataObject) -> None:
    """Values against the NumPy reference (computed in float64 from the same inputs)."""
    sample = op.sample(data)
    layout = draw_layout(data)
    ins = make_inputs(sample, dtype, layout, requires_grad=False)
    ref_in = [a.astype(dtype).astype("float64") if a.dtype.kind == "f" else a
              for a in sample.arrays]
    want = as_tuple(op.ref(*ref_in, **sample.kwargs))
    got = as_tuple(op.fn(TG, *ins, **sample.kwargs))
    assert len(got) == len(want)
    scale = 1.0 if dtype == "float32" else 1e-6
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert isinstance(g, tg.Tensor)
        assert tuple(g.shape) == w.shape, f"{op.name}: shape {g.shape} != {w.shape}"
        if w.dtype.kind == "f":
            if op.keeps_dtype:
                assert g.dtype == np.dtype(dtype), f"{op.name}: dtype {g.dtype} != {dtype}"
            np.testing.assert_allclose(g.numpy(), w, rtol=op.rtol * scale * 10 + 1e-12,
                                       atol=op.atol * scale)
        else:
            np.testing.assert_array_equal(g.numpy(), w)


def _float_tensors(ins: list) -> list:
    return [t for t in ins if t.requires_grad]


@pytest.mark.parametrize("op", DIFF_OPS, ids=[op.name for op in DIFF_OPS])
@given(data=st.data())
@settings(max_examples=15)
def test_gradcheck(op: OpInfo, data: st.DataObject) -> None:
    """Whole-Jacobian central differences in float64, any memory layout."""
    sample = op.sample(data)
    ins = make_inputs(sample, "float64", draw_layout(data), requires_grad=True)
    assert tg.gradcheck(lambda *xs: op.fn(TG, *xs, **sample.kwargs), ins, eps=op.eps,
                        atol=op.grad_atol, rtol=op.grad_rtol)


@pytest.mark.parametrize("op", SMOOTH_OPS, ids=[op.name for op in SMOOTH_OPS])
@given(data=st.data())
@settings(max_examples=8)
def test_gradgradcheck(op: OpInfo, data: st.DataObject) -> None:
    """Second derivatives through create_graph=True (the backward is made of Tensor ops)."""
    sample = op.sample(data)
    ins = make_inputs(sample, "float64", draw_layout(data), requires_grad=True)
    assert tg.gradgradcheck(lambda *xs: op.fn(TG, *xs, **sample.kwargs), ins, eps=op.eps,
                            atol=op.grad_atol, rtol=op.grad_rtol)


@pytest.mark.parametrize("op", DIFF_OPS, ids=[op.name for op in DIFF_OPS])
@given(data=st.data())
@settings(max_examples=10)
def test_create_graph_gives_the_same_first_derivative(op: OpInfo, data: st.DataObject) -> None:
    """First-order backward (fast, on raw arrays) and create_graph=True (recorded Tensor ops)
    run the same formula two ways: the gradients must agree."""
    sample = op.sample(data)
    ins = make_inputs(sample, "float64", draw_layout(data), requires_grad=True)
    outs = [o for o in as_tuple(op.fn(TG, *ins, **sample.kwargs)) if o.requires_grad]
    if not outs:
        return
    rng = np.random.default_rng(3)
    ups = [tg.from_numpy(rng.standard_normal(o.shape)) for o in outs]
    fast = tg.grad(outs, _float_tensors(ins), ups, retain_graph=True, allow_unused=True)
    graph = tg.grad(outs, _float_tensors(ins), ups, create_graph=True, allow_unused=True)
    for a, b in zip(fast, graph):
        assert a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)


TORCH_OPS = [op for op in OPS if op.torch]


@pytest.mark.parametrize("op", TORCH_OPS, ids=[op.name for op in TORCH_OPS])
@given(data=st.data())
@settings(max_examples=15)
def test_torch_parity(op: OpInfo, data: st.DataObject) -> None:
    """Same inputs, same upstream gradient: same outputs and same input gradients."""
    torch = torch_or_skip()
    tns = _torch_namespace()
    sample = op.sample(data)
    layout = draw_layout(data)
    ins = make_inputs(sample, "float64", layout, requires_grad=op.differentiable)
    t_ins = []
    for a in sample.arrays:
        if a.dtype.kind == "f":
            t_ins.append(torch.tensor(a, dtype=torch.float64,
                                      requires_grad=op.differentiable))
        else:
            t_ins.append(torch.from_numpy(a))
    outs = as_tuple(op.fn(TG, *ins, **sample.kwargs))
    t_outs = as_tuple(op.fn(tns, *t_ins, **sample.kwargs))
    rng = np.random.default_rng(7)
    ups, t_ups, live, t_live = [], [], [], []
    for o, to in zip(outs, t_outs):
        assert tuple(o.shape) == tuple(to.shape), f"{op.name}: {o.shape} vs torch {to.shape}"
        np.testing.assert_allclose(o.detach().numpy(), to.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
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
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-9, atol=1e-12,
                                   err_msg=f"{op.name}: gradient of input {i}")


@pytest.mark.parametrize("op", OPS, ids=IDS)
@given(data=st.data())
@settings(max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_cuda_backend_matches_cpu(op: OpInfo, data: st.DataObject, fake_cuda: Any) -> None:
    """Every row on device='cuda' (the CuPy stand-in, which raises on any host array mixed
    into a device op): same outputs and gradients as on the CPU, and all stay on the device."""
    sample = op.sample(data)
    results = {}
    for dev in ["cpu", "cuda"]:
        ins = [tg.tensor(a, device=dev, requires_grad=op.differentiable and a.dtype.kind == "f")
               for a in sample.arrays]
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
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- a few exact cases
def test_max_splits_gradient_evenly_at_ties() -> None:
    """A hand-derived case: three tied maxima share the gradient (1/3 each, as PyTorch's amax)."""
    x = tg.tensor([1.0, 3.0, 3.0, 0.0, 3.0], requires_grad=True)
    x.amax().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 1 / 3, 1 / 3, 0, 1 / 3], rtol=1e-6)


def test_maximum_splits_gradient_at_ties() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([1.0, 0.0], requires_grad=True)
    x.maximum(y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 1.0])
    np.testing.assert_allclose(y.grad.numpy(), [0.5, 0.0])


def test_int_index_repeats_accumulate() -> None:
    """An embedding row used three times gets three gradients."""
    w = tg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    idx = tg.tensor([2, 0, 2, 2])
    (w[idx] * tg.tensor([[1.0], [10.0], [100.0], [1000.0]])).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [[10, 10], [0, 0], [1101, 1101]])


def test_softmax_is_stable_for_huge_logits() -> None:
    x = tg.tensor([1000.0, 0.0, -1000.0])
    np.testing.assert_allclose(x.softmax(0).numpy(), [1, 0, 0], atol=1e-7)
    np.testing.assert_allclose(x.log_softmax(0).numpy(), [0, -1000, -2000], rtol=1e-6)
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
                np.testing.assert_array_equal(got.numpy(), want, err_msg=f"{name} {dim}")
    assert x.argmin().item() == 5 and x.argmax().item() == 4


def test_keepdim_without_dim_keeps_every_dim() -> None:
    x = tg.tensor(np.arange(6.0).reshape(2, 3))
    for name, want in [("sum", 15.0), ("mean", 2.5), ("amax", 5.0), ("amin", 0.0)]:
        out = getattr(x, name)(keepdim=True)
        assert out.shape == (1, 1) and out.item() == want, name
    assert x.var(keepdim=True).shape == (1, 1)
    assert x.logsumexp((0, 1), keepdim=True).shape == (1, 1)


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
    np.testing.assert_allclose(x.grad.numpy(), [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                                                [-1.0, 0.75, -3.0]])
    assert tg.gradcheck(lambda a: a.prod(0), (x,))
    assert tg.gradgradcheck(lambda a: a.prod(), (x,))


def test_prod_of_integers_stays_integer() -> None:
    i = tg.tensor([[1, 2, 3], [4, 5, 6]])
    assert i.prod().dtype == tg.int64 and i.prod().item() == 720
    assert i.prod(1, keepdim=True).tolist() == [[6], [120]]
