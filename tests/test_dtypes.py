"""Dtypes: float32 by default, float64 end to end, integer tensors for indices and labels,
and Python (or NumPy) scalars that never promote a float32 tensor to float64."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from conftest import torch_or_skip

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn


@pytest.mark.parametrize("make", [
    lambda: tg.tensor([1.0, 2.0]), lambda: tg.tensor(1.5), lambda: tg.zeros(2),
    lambda: tg.ones(2, 3), lambda: tg.randn(2), lambda: tg.rand(2), lambda: tg.empty(2),
    lambda: tg.full((2,), 1.5), lambda: tg.arange(0.0, 1.0, 0.5), lambda: tg.linspace(0, 1, 3),
    lambda: tg.eye(2), lambda: tg.tensor([1, 2]).float(), lambda: nn.Linear(2, 3).weight,
], ids=["tensor", "tensor0d", "zeros", "ones", "randn", "rand", "empty", "full", "arange_f",
        "linspace", "eye", "float()", "Linear"])
def test_float32_by_default(make: Callable[[], tg.Tensor]) -> None:
    assert make().dtype == tg.float32


@pytest.mark.parametrize("make", [
    lambda: tg.tensor([1, 2]), lambda: tg.arange(5), lambda: tg.randint(0, 4, (3,)),
    lambda: tg.randperm(4), lambda: tg.ones(3).argmax(0), lambda: tg.tensor([1.5]).long(),
    lambda: tg.full((2,), 3),
], ids=["tensor", "arange", "randint", "randperm", "argmax", "long()", "full_int"])
def test_int64_for_indices(make: Callable[[], tg.Tensor]) -> None:
    assert make().dtype == tg.int64


def test_numpy_arrays_keep_their_dtype() -> None:
    assert tg.tensor(np.ones(2)).dtype == tg.float64
    assert tg.from_numpy(np.ones(2, dtype=np.float32)).dtype == tg.float32
    assert tg.tensor(np.ones(2, dtype=np.int32)).dtype == tg.int32
    assert tg.tensor([1.0], dtype=tg.float64).dtype == tg.float64
    assert tg.tensor([1.0], dtype="float64").dtype == tg.float64
    assert tg.zeros(2, dtype=tg.int32).dtype == tg.int32


SCALARS = [2, 0.5, True, np.float64(0.5), np.float32(0.5), np.int64(3)]
BINARY: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("add", lambda x, s: x + s), ("radd", lambda x, s: s + x), ("sub", lambda x, s: x - s),
    ("rsub", lambda x, s: s - x), ("mul", lambda x, s: x * s), ("rmul", lambda x, s: s * x),
    ("div", lambda x, s: x / s), ("rdiv", lambda x, s: s / x), ("pow", lambda x, s: x ** s),
    ("maximum", lambda x, s: x.maximum(s)), ("minimum", lambda x, s: x.minimum(s)),
    ("where", lambda x, s: tg.where(x > 1, x, s)), ("clamp", lambda x, s: x.clamp(min=s)),
    ("masked_fill", lambda x, s: x.masked_fill(x > 1, s)),
]


@pytest.mark.parametrize("scalar", SCALARS, ids=[repr(s) for s in SCALARS])
@pytest.mark.parametrize("name,op", BINARY, ids=[n for n, _ in BINARY])
def test_a_scalar_never_promotes_float32(name: str, op: Callable, scalar: Any) -> None:
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = op(x, scalar)
    assert y.dtype == tg.float32, f"{name} with {scalar!r} gave {y.dtype}"
    y.sum().backward()
    assert x.grad.dtype == tg.float32


def test_scalar_promotion_matches_torch() -> None:
    torch = torch_or_skip()
    names = {tg.float32: torch.float32, tg.float64: torch.float64, tg.int64: torch.int64}
    for dt in [tg.float32, tg.float64]:
        for s in [2, 0.5]:
            for _, op in BINARY[:9]:
                got = op(tg.ones(2, dtype=dt), s).dtype
                want = op(torch.ones(2, dtype=names[dt]), s).dtype
                assert names[got] == want


def test_float64_end_to_end() -> None:
    """A float64 model: every activation, the loss and every gradient stay float64."""
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = tg.randn(5, 3, dtype=tg.float64)
    y = tg.tensor([0, 1, 1, 0, 1])
    out = model(x)
    assert out.dtype == tg.float64
    loss = F.cross_entropy(out, y) + (out.softmax(1) * 0.5).sum() + out.logsumexp(1).mean()
    assert loss.dtype == tg.float64
    loss.backward()
    for p in model.parameters():
        assert p.dtype == tg.float64 and p.grad.dtype == tg.float64


def test_float32_model_stays_float32() -> None:
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = tg.randn(5, 3)
    loss = F.cross_entropy(model(x) * 0.5 + 1, tg.tensor([0, 1, 1, 0, 1])) / 3
    assert loss.dtype == tg.float32
    loss.backward()
    for p in model.parameters():
        assert p.grad.dtype == tg.float32


def test_integer_tensors_as_indices_and_labels() -> None:
    w = tg.randn(5, 3, requires_grad=True)
    idx = tg.tensor([[0, 4], [4, 2]])
    assert w[idx].shape == (2, 2, 3)
    assert F.embedding(idx, w).dtype == tg.float32
    labels = tg.tensor([2, 0])
    loss = F.cross_entropy(w[:2], labels)
    assert loss.dtype == tg.float32
    loss.backward()
    assert w.grad.dtype == tg.float32
    assert (labels + 1).dtype == tg.int64
    assert F.one_hot(labels, 3).dtype == tg.int64


def test_cast_gradient_goes_back_to_the_source_dtype() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.dtype == tg.float64
    y.sum().backward()
    assert x.grad.dtype == tg.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3])


def test_cast_to_int_stops_the_gradient() -> None:
    x = tg.tensor([1.7, -2.2], requires_grad=True)
    i = x.long()
    np.testing.assert_array_equal(i.numpy(), [1, -2])
    z = (x * 2).sum() + i.float().sum()
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])


def test_bad_dtype_names_what_was_given() -> None:
    with pytest.raises(TypeError, match=r"dtype: unknown dtype name 'float128x'"):
        tg.zeros(2, dtype="float128x")


# (expression, expected dtype) — PyTorch's promotion rules, written out by hand.
MIXED = [
    ("i * 0.5", "float32"), ("0.5 * i", "float32"), ("i + 0.5", "float32"),
    ("0.5 - i", "float32"), ("i - 0.5", "float32"), ("i / 2", "float32"), ("2 / i", "float32"),
    ("i / i", "float32"), ("i * f", "float32"), ("f / i", "float32"), ("b * f", "float32"),
    ("i * d", "float64"), ("f * d", "float64"), ("i + 1", "int64"), ("i * i", "int64"),
    ("f * 2", "float32"), ("d / 2", "float64"), ("b + 1", "int64"), ("2 * b", "int64"),
    ("b * True", "bool"), ("i.maximum(f)", "float32"), ("f.minimum(i)", "float32"),
    ("m.where(b, i, f)", "float32"), ("m.where(b, i, 0.5)", "float32"),
]


@pytest.mark.parametrize("expr,expected", MIXED, ids=[e for e, _ in MIXED])
def test_integer_meets_float_like_pytorch(expr: str, expected: str) -> None:
    """An integer (or bool) tensor meeting a float takes the float's dtype, and int / int is
    float32, as in PyTorch (NumPy alone would give float64 for most of these)."""
    env = {"i": tg.tensor([1, 2, 3]), "f": tg.tensor([1.0, 2.0, 4.0]), "m": tg,
           "d": tg.tensor([1.0, 2.0, 4.0], dtype=tg.float64), "b": tg.tensor([True, False, True])}
    assert str(eval(expr, {}, env).dtype) == expected


def test_integer_meets_float_values_and_gradient() -> None:
    i = tg.tensor([1, 2, 3])
    f = tg.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = f * i / 2
    np.testing.assert_allclose(y.detach().numpy(), [0.25, 1.0, 3.0])
    np.testing.assert_allclose((i / 2).numpy(), [0.5, 1.0, 1.5])
    y.sum().backward()
    assert f.grad.dtype == tg.float32
    np.testing.assert_allclose(f.grad.numpy(), [0.5, 1.0, 1.5])


@pytest.mark.parametrize("expr", [e for e, _ in MIXED])
def test_mixed_dtypes_match_torch(expr: str) -> None:
    torch = torch_or_skip()
    ours = {"i": tg.tensor([1, 2, 3]), "f": tg.tensor([1.0, 2.0, 4.0]), "m": tg,
            "d": tg.tensor([1.0, 2.0, 4.0], dtype=tg.float64), "b": tg.tensor([True, False, True])}
    theirs = {"i": torch.tensor([1, 2, 3]), "f": torch.tensor([1.0, 2.0, 4.0]), "m": torch,
              "d": torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64),
              "b": torch.tensor([True, False, True])}
    a, t = eval(expr, {}, ours), eval(expr, {}, theirs)
    assert str(a.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("op", [lambda t: t.add_(0.5), lambda t: t.sub_(tg.tensor([0.5])),
                                lambda t: t.mul_(1.5), lambda t: t.div_(2)],
                         ids=["add_", "sub_", "mul_", "div_"])
def test_in_place_float_into_an_integer_tensor_is_an_error(op: Callable) -> None:
    """PyTorch refuses to write a float result into an integer tensor; NumPy's unsafe cast
    would silently truncate (1 + 0.5 -> 1). The message names the op and both types."""
    t = tg.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match=r"_: result type float(32)? can't be cast to the "
                                           r"desired output type int64"):
        op(t)
    np.testing.assert_array_equal(t.numpy(), [1, 2, 3])       # untouched


def test_in_place_int_into_a_bool_tensor_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="add_: result type int64 can't be cast to the "
                                           "desired output type bool"):
        tg.tensor([True, False]).add_(1)


def test_in_place_keeps_the_tensor_dtype_when_it_can() -> None:
    i = tg.tensor([1, 2, 3])
    i += 2
    i.mul_(tg.tensor([2, 2, 2]))
    assert i.dtype == tg.int64 and i.tolist() == [6, 8, 10]
    f = tg.tensor([1.0, 2.0])
    f += tg.tensor([1, 2])                                    # int into float: fine
    f.div_(tg.tensor([2.0, 2.0], dtype=tg.float64))
    assert f.dtype == tg.float32 and f.tolist() == [1.0, 2.0]
