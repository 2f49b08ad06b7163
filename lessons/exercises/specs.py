"""What each exercise is checked on: its inputs, the library's reference, and what is compared.

Three kinds of exercise:

* ``graph``: you write a function of tensors (the LSTM cell, conv2d, ...). The checker
  compares its outputs with the library's function, then its gradients (the library's
  autograd, and central differences in float64), and traces both graphs to say where
  they part.
* ``function``: you write the ``backward`` of a custom ``Function`` (mul, matmul, tanh,
  expand). Compared with the engine's primitive, including second derivatives (your
  backward is itself differentiated).
* ``named``: you write NumPy code or an optimizer step, which has no graph. The exercise
  names its intermediate results (h_t, ∂E/∂W at step t, the momentum buffer); the checker
  compares them in order with the library's and names the first that differs.

Every case is seeded, and the awkward ones are there on purpose: broadcast shapes, a batch
of one, zeros at a ReLU kink (ties in a max), saturated units, long sequences.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.engine import ops
from tinygrad_edu.models import Seq2Seq
from tinygrad_edu.viz.trace import forward_order


# ---------------------------------------------------------------- running the learner's code
_MACHINERY = tuple(str(Path(__file__).resolve().parent / f) for f in
                   ("specs.py", "checker.py", "divergence.py"))


class LearnerError(Exception):
    """An exception raised by the learner's code: shown with its whole traceback, from the
    first frame outside the checker's own machinery (the checker calling your function is
    not news) down to where it was raised."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error
        tb = error.__traceback__
        while tb is not None and tb.tb_next is not None and \
                tb.tb_frame.f_code.co_filename in _MACHINERY:
            tb = tb.tb_next
        self.text = "".join(traceback.format_exception(type(error), error, tb))


class Mismatch(Exception):
    """The learner's function returned something of the wrong kind (type, count, keys)."""


def call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run the learner's code; its exceptions become :class:`LearnerError`."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:          # anything the learner's code raises is reported, whole
        raise LearnerError(e) from e


@dataclass
class Case:
    """One set of inputs. Float arrays become float64 tensors (graph kinds), integer arrays
    int64 tensors; ``small`` cases also get the numerical (central-difference) checks."""
    label: str
    arrays: dict[str, np.ndarray]
    options: dict = field(default_factory=dict)
    small: bool = True

    def describe(self) -> str:
        shapes = ", ".join(f"{k} {tuple(a.shape)}" for k, a in self.arrays.items())
        opts = ", ".join(f"{k}={v}" for k, v in self.options.items() if not callable(v))
        return f"{self.label} ({shapes}{', ' + opts if opts else ''})"

    def tensors(self, differentiable: Iterable[str]) -> dict[str, tg.Tensor]:
        """Fresh leaf tensors (a copy of every array, named after it), with requires_grad on
        the ones named in ``differentiable``."""
        out = {}
        for k, a in self.arrays.items():
            if a.dtype.kind == "f":
                out[k] = tg.tensor(a.copy(), dtype=tg.float64, requires_grad=k in differentiable)
            else:
                out[k] = tg.tensor(a.copy())
            out[k].name = k                 # (the pictures and the reports say which input)
        return out

    def copies(self) -> dict[str, np.ndarray]:
        return {k: a.copy() for k, a in self.arrays.items()}


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(sum(map(ord, name)))


# ---------------------------------------------------------------- the three kinds
class Spec:
    """One exercise's check: ``target`` is the name (in the exercise's module) of the
    function or class to complete."""
    name = ""
    target = ""
    kind = ""

    def cases(self) -> list[Case]:
        raise NotImplementedError

    def function(self, impl: Any) -> Any:
        return getattr(impl, self.target)

    def code_file(self, impl: Any) -> str:
        """The file holding the code to complete (where its ops are looked for)."""
        obj = self.function(impl)
        fn = obj.backward if isinstance(obj, type) else obj
        return fn.__code__.co_filename


class GraphSpec(Spec):
    """A function of tensors: outputs, gradients and the graph are compared."""
    kind = "graph"
    inputs: tuple[str, ...] = ()            # argument order
    differentiable: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()           # names of the outputs, for the report
    second_order = False                    # also compare second derivatives

    def mine(self, impl: Any, case: Case, ts: dict) -> Any:
        return self.function(impl)(*[ts[k] for k in self.inputs], **case.options)

    def reference(self, case: Case, ts: dict) -> tuple:
        raise NotImplementedError


class FunctionSpec(GraphSpec):
    """A custom Function whose backward the learner writes; the reference is the engine's
    primitive of the same name."""
    kind = "function"
    second_order = True
    primitive: Any = None

    def mine(self, impl: Any, case: Case, ts: dict) -> Any:
        return self.function(impl).apply(*[ts[k] for k in self.inputs], **case.options)

    def reference(self, case: Case, ts: dict) -> tuple:
        return (self.primitive.apply(*[ts[k] for k in self.inputs], **case.options),)


class NamedSpec(Spec):
    """NumPy code or an optimizer step: named intermediate results, compared in order."""
    kind = "named"

    def mine(self, impl: Any, case: Case) -> Iterator[tuple[str, Any]]:
        raise NotImplementedError

    def reference(self, case: Case) -> list[tuple[str, Any]]:
        raise NotImplementedError


def _array(value: Any, what: str) -> np.ndarray:
    """A returned value as a float64 array (a Tensor or a list of arrays is fine too)."""
    if isinstance(value, tg.Tensor):
        value = value.detach().numpy()
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Mismatch(f"{what} should be an array of numbers, got {type(value).__name__}") \
            from None
    return arr


def _dict(out: Any, keys: Iterable[str], fn: str) -> dict:
    if not isinstance(out, dict):
        raise Mismatch(f"{fn} should return a dict with keys {', '.join(map(repr, keys))}; it "
                       f"returned {type(out).__name__}")
    missing = [k for k in keys if k not in out]
    if missing:
        raise Mismatch(f"{fn} returned a dict without {', '.join(map(repr, missing))} (it has "
                       f"{', '.join(map(repr, out)) or 'no keys'})")
    return out


def _values(t: tg.Tensor) -> np.ndarray:
    """A copy of a tensor's values (an optimizer changes its buffers in place later)."""
    return np.array(t.detach().numpy(), dtype=np.float64)


# ---------------------------------------------------------------- graph exercises
class DeltaRule(GraphSpec):
    name, target = "delta_rule", "delta_rule"
    inputs = differentiable = ("x", "t", "w", "T")
    outputs = ("∂E/∂w", "∂E/∂T")

    def cases(self) -> list[Case]:
        r = _rng(self.name)

        def case(label: str, b: int, scale: float = 0.5, x: Any = None) -> Case:
            return Case(label, {"x": r.normal(0, 1, (b, 3)) if x is None else x,
                                "t": r.uniform(0, 1, b), "w": r.normal(0, scale, 3),
                                "T": np.array(r.normal(0, 0.3))})
        return [case("a batch of 4 examples", 4), case("a batch of one", 1),
                case("a saturated neuron (large weights: σ' ≈ 0)", 3, scale=6.0),
                case("all-zero inputs (only T moves)", 2, x=np.zeros((2, 3)))]

    def reference(self, case: Case, ts: dict) -> tuple:
        x, t, w, T = (ts[k] for k in self.inputs)
        o = (x @ w - T).sigmoid()
        E = 0.5 * ((t - o) ** 2).sum()
        return tg.grad(E, [w, T], create_graph=True)


class CrossEntropy(GraphSpec):
    name, target = "cross_entropy", "cross_entropy"
    inputs, differentiable, outputs = ("logits", "target"), ("logits",), ("loss",)

    def cases(self) -> list[Case]:
        r = _rng(self.name)
        return [Case("4 examples, 5 classes", {"logits": r.normal(0, 2, (4, 5)),
                                               "target": r.integers(0, 5, 4)}),
                Case("a batch of one", {"logits": r.normal(0, 1, (1, 3)),
                                        "target": np.array([2])}),
                Case("two classes", {"logits": r.normal(0, 1, (3, 2)),
                                     "target": np.array([0, 1, 1])}),
                Case("all logits equal (every class ties)", {"logits": np.zeros((3, 4)),
                                                             "target": np.array([0, 3, 1])}),
                Case("huge logits (e^1000 overflows without the max-shift)",
                     {"logits": r.normal(0, 1, (3, 4)) * 1000, "target": np.array([1, 0, 3])},
                     small=False)]

    def reference(self, case: Case, ts: dict) -> tuple:
        return (F.cross_entropy(ts["logits"], ts["target"]),)


class Conv2d(GraphSpec):
    name, target = "conv2d", "conv2d"
    inputs = differentiable = ("x", "w", "b")
    outputs = ("y",)

    def cases(self) -> list[Case]:
        r = _rng(self.name)

        def case(label: str, x: tuple, w: tuple, small: bool = True, relu: bool = False,
                 **opts: int) -> Case:
            xs = r.normal(0, 1, x)
            return Case(label, {"x": np.maximum(xs, 0) if relu else xs, "w": r.normal(0, 0.5, w),
                                "b": r.normal(0, 0.5, w[0])}, dict(opts), small)
        return [case("3 channels, 4 filters 3×3", (2, 3, 6, 6), (4, 3, 3, 3), small=False),
                case("stride 2, padding 1", (2, 2, 5, 5), (3, 2, 3, 3), stride=2, padding=1),
                case("a batch of one, one channel", (1, 1, 5, 5), (2, 1, 2, 2)),
                case("1×1 filters", (2, 3, 4, 4), (5, 3, 1, 1)),
                case("the filter covers the image (1×1 output)", (2, 2, 3, 3), (3, 2, 3, 3)),
                case("a 2×3 filter, padding 1", (1, 2, 4, 5), (2, 2, 2, 3), padding=1),
                case("zeros after a ReLU", (2, 2, 5, 5), (2, 2, 3, 3), relu=True)]

    def reference(self, case: Case, ts: dict) -> tuple:
        return (F.conv2d(ts["x"], ts["w"], ts["b"], **case.options),)


def _rnn_weights(r: np.random.Generator, gates: int, b: int, i: int, h: int,
                 scale: float = 0.5, zero_state: bool = False, cell: bool = True) -> dict:
    out = {"x": r.normal(0, 1, (b, i)), "h": np.zeros((b, h)) if zero_state else
           r.normal(0, 0.5, (b, h))}
    if cell:
        out["c"] = np.zeros((b, h)) if zero_state else r.normal(0, 0.5, (b, h))
    out.update(w_ih=r.normal(0, scale, (gates * h, i)), w_hh=r.normal(0, scale, (gates * h, h)),
               b_ih=r.normal(0, scale, gates * h), b_hh=r.normal(0, scale, gates * h))
    return out


class LstmCell(GraphSpec):
    name, target = "lstm_cell", "lstm_cell"
    inputs = differentiable = ("x", "h", "c", "w_ih", "w_hh", "b_ih", "b_hh")
    outputs = ("h'", "c'")

    def cases(self) -> list[Case]:
        r = _rng(self.name)
        return [Case("2 examples, 3 inputs, 4 units", _rnn_weights(r, 4, 2, 3, 4)),
                Case("a batch of one", _rnn_weights(r, 4, 1, 3, 2)),
                Case("the first step (h = c = 0)", _rnn_weights(r, 4, 2, 2, 3, zero_state=True)),
                Case("saturated gates (large weights)", _rnn_weights(r, 4, 2, 3, 2, scale=5.0)),
                Case("one unit, one input", _rnn_weights(r, 4, 3, 1, 1))]

    def reference(self, case: Case, ts: dict) -> tuple:
        return F.lstm_cell(ts["x"], (ts["h"], ts["c"]), ts["w_ih"], ts["w_hh"], ts["b_ih"],
                           ts["b_hh"])


class GruCell(GraphSpec):
    name, target = "gru_cell", "gru_cell"
    inputs = differentiable = ("x", "h", "w_ih", "w_hh", "b_ih", "b_hh")
    outputs = ("h'",)

    def cases(self) -> list[Case]:
        r = _rng(self.name)
        return [Case("2 examples, 3 inputs, 4 units", _rnn_weights(r, 3, 2, 3, 4, cell=False)),
                Case("a batch of one", _rnn_weights(r, 3, 1, 3, 2, cell=False)),
                Case("the first step (h = 0)", _rnn_weights(r, 3, 2, 2, 3, zero_state=True,
                                                           cell=False)),
                Case("saturated gates (large weights)", _rnn_weights(r, 3, 2, 3, 2, scale=5.0,
                                                                     cell=False)),
                Case("one unit, one input", _rnn_weights(r, 3, 3, 1, 1, cell=False))]

    def reference(self, case: Case, ts: dict) -> tuple:
        return (F.gru_cell(ts["x"], ts["h"], ts["w_ih"], ts["w_hh"], ts["b_ih"], ts["b_hh"]),)


# ---------------------------------------------------------------- custom Function exercises
class MulBackward(FunctionSpec):
    name, target, primitive = "mul_backward", "Mul", ops.Mul
    inputs = differentiable = ("x", "y")
    outputs = ("z",)

    def cases(self) -> list[Case]:
        r = _rng(self.name)
        return [Case("same shapes", {"x": r.normal(0, 1, (3, 4)), "y": r.normal(0, 1, (3, 4))}),
                Case("y broadcast over rows", {"x": r.normal(0, 1, (3, 4)),
                                               "y": r.normal(0, 1, 4)}),
                Case("both broadcast", {"x": r.normal(0, 1, (2, 1, 3)),
                                        "y": r.normal(0, 1, (4, 1))}),
                Case("a batch of one", {"x": r.normal(0, 1, (1, 4)), "y": r.normal(0, 1, 4)}),
                Case("a 0-d factor", {"x": np.array(r.normal()), "y": r.normal(0, 1, (2, 3))}),
                Case("zeros", {"x": np.zeros(3), "y": r.normal(0, 1, 3)})]


class MatMulBackward(FunctionSpec):
    name, target, primitive = "matmul_backward", "MatMul", ops.MatMul
    inputs = differentiable = ("a", "b")
    outputs = ("Z",)

    def cases(self) -> list[Case]:
        r = _rng(self.name)

        def case(label: str, a: tuple, b: tuple) -> Case:
            return Case(label, {"a": r.normal(0, 1, a), "b": r.normal(0, 1, b)})
        return [case("(3, 4) @ (4, 2)", (3, 4), (4, 2)), case("square (3, 3) @ (3, 3)", (3, 3), (3, 3)),
                case("a batch of matrices times one shared matrix", (2, 3, 4), (4, 5)),
                case("a batch of one", (1, 3, 3), (3, 3)),
                case("two batches of matrices", (2, 2, 3), (2, 3, 2))]


class SumExpand(FunctionSpec):
    name, target = "sum_expand", "Expand"
    inputs = differentiable = ("x",)
    outputs = ("z",)

    def cases(self) -> list[Case]:
        r = _rng(self.name)

        def expand(label: str, shape: tuple, to: tuple) -> Case:
            return Case(label, {"x": r.normal(0, 1, shape)}, {"shape": to})

        def total(label: str, shape: tuple, dims: tuple, keepdim: bool) -> Case:
            return Case(label, {"x": r.normal(0, 1, shape)}, {"dims": dims, "keepdim": keepdim})
        return [expand("expand a column (3, 1) -> (3, 4)", (3, 1), (3, 4)),
                expand("expand with new leading dims (4,) -> (2, 3, 4)", (4,), (2, 3, 4)),
                expand("expand a 0-d value () -> (3,)", (), (3,)),
                expand("expand a middle dim (2, 1, 3) -> (2, 4, 3)", (2, 1, 3), (2, 4, 3)),
                expand("expand to the same shape (2, 3) -> (2, 3)", (2, 3), (2, 3)),
                expand("a new leading dim of size 1 (1, 1) -> (1, 3, 4)", (1, 1), (1, 3, 4)),
                total("sum over dim 1 of (2, 3, 4)", (2, 3, 4), (1,), False),
                total("sum over dims 0 and 2, keepdim", (2, 3, 4), (0, 2), True),
                total("sum of everything (5,) -> ()", (5,), (0,), False)]

    def mine(self, impl: Any, case: Case, ts: dict) -> Any:
        op = impl.Expand if "shape" in case.options else impl.Sum
        return op.apply(ts["x"], **case.options)

    def reference(self, case: Case, ts: dict) -> tuple:
        op = ops.Expand if "shape" in case.options else ops.Sum
        return (op.apply(ts["x"], **case.options),)


class TanhBackward(FunctionSpec):
    name, target, primitive = "tanh_backward", "Tanh", ops.Tanh
    inputs = differentiable = ("x",)
    outputs = ("z",)

    def cases(self) -> list[Case]:
        r = _rng(self.name)
        return [Case("a (3, 4) matrix", {"x": r.normal(0, 1, (3, 4))}),
                Case("saturated (|x| ≈ 8: the gradient vanishes)",
                     {"x": np.array([-9.0, -7.5, 8.0, 8.5])}),
                Case("zeros", {"x": np.zeros(3)}), Case("a 0-d tensor", {"x": np.array(0.7)}),
                Case("a batch of one", {"x": r.normal(0, 2, (1, 5))})]


# ---------------------------------------------------------------- NumPy and optimizer exercises
def _window_grads(y: tg.Tensor, x: tg.Tensor, g: np.ndarray, others: list) -> tuple:
    """The window tensor under ``y`` (the sliding-window op), its values and the gradients
    of it, of ``x`` and of ``others`` for the upstream gradient ``g``."""
    win = next(t for t in forward_order([y]) if t.grad_fn is not None
               and t.grad_fn.name == "window")
    grads = tg.grad(y, [win, x] + others, [tg.tensor(g, dtype=tg.float64)])
    return (_values(win),) + tuple(_values(t) for t in grads)


class Conv2dBackward(NamedSpec):
    name, target = "conv2d_backward", "conv2d_backward"
    order = ("windows", "dw", "dwindows", "dx")

    def cases(self) -> list[Case]:
        r = _rng(self.name)

        def case(label: str, x: tuple, w: tuple, stride: int = 1, padding: int = 0) -> Case:
            oh = (x[2] + 2 * padding - w[2]) // stride + 1
            ow = (x[3] + 2 * padding - w[3]) // stride + 1
            return Case(label, {"x": r.normal(0, 1, x), "w": r.normal(0, 1, w),
                                "g": r.normal(0, 1, (x[0], w[0], oh, ow))},
                        {"stride": stride, "padding": padding})
        return [case("2 channels, 3 filters 3×3", (2, 2, 5, 5), (3, 2, 3, 3)),
                case("stride 2, padding 1", (2, 2, 5, 5), (2, 2, 3, 3), stride=2, padding=1),
                case("a batch of one, one channel", (1, 1, 4, 4), (1, 1, 2, 2)),
                case("1×1 filters", (2, 3, 3, 3), (2, 3, 1, 1)),
                case("a 2×3 filter, padding 1 (windows overlap)", (1, 2, 4, 5), (2, 2, 2, 3),
                     padding=1)]

    def reference(self, case: Case) -> list[tuple[str, Any]]:
        ts = case.tensors(("x", "w"))
        y = F.conv2d(ts["x"], ts["w"], **case.options)
        windows, dwin, dx, dw = _window_grads(y, ts["x"], case.arrays["g"], [ts["w"]])
        return list(zip(self.order, (windows, dw, dwin, dx)))

    def mine(self, impl: Any, case: Case) -> Iterator[tuple[str, Any]]:
        a = case.copies()
        out = _dict(call(self.function(impl), a["x"], a["w"], a["g"], **case.options),
                    self.order, self.target)
        for k in self.order:
            yield k, _array(out[k], repr(k))


class MaxPool2d(NamedSpec):
    name, target = "max_pool2d", "max_pool2d"
    order = ("windows", "y", "dwindows", "dx")

    def cases(self) -> list[Case]:
        r = _rng(self.name)

        def case(label: str, x: np.ndarray, k: int, s: int) -> Case:
            oh, ow = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
            return Case(label, {"x": x, "g": r.normal(0, 1, x.shape[:2] + (oh, ow))},
                        {"kernel_size": k, "stride": s})
        return [case("2×2 windows, stride 2", r.normal(0, 1, (2, 2, 4, 4)), 2, 2),
                case("3×3 windows, stride 1 (they overlap)", r.normal(0, 1, (1, 2, 5, 5)), 3, 1),
                case("zeros after a ReLU (ties for the maximum)",
                     np.maximum(r.normal(0, 1, (2, 2, 6, 6)), 0), 2, 2),
                case("all zeros (every window ties)", np.zeros((1, 1, 4, 4)), 2, 2),
                case("an odd size: the last row and column are left out",
                     r.normal(0, 1, (1, 1, 5, 5)), 2, 2),
                case("3×3 windows, stride 2", r.normal(0, 1, (1, 1, 7, 7)), 3, 2)]

    def reference(self, case: Case) -> list[tuple[str, Any]]:
        ts = case.tensors(("x",))
        k, s = case.options["kernel_size"], case.options["stride"]
        y = F.max_pool2d(ts["x"], k, stride=s)
        windows, dwin, dx = _window_grads(y, ts["x"], case.arrays["g"], [])
        return list(zip(self.order, (windows, _values(y), dwin, dx)))

    def mine(self, impl: Any, case: Case) -> Iterator[tuple[str, Any]]:
        a = case.copies()
        out = _dict(call(self.function(impl), a["x"], a["g"], **case.options), self.order,
                    self.target)
        for k in self.order:
            yield k, _array(out[k], repr(k))


class RnnStep(NamedSpec):
    name, target = "rnn_step", "rnn_step"

    def cases(self) -> list[Case]:
        r = _rng(self.name)

        def case(label: str, t: int, b: int, i: int, h: int, zero: bool = True) -> Case:
            bound = 1 / np.sqrt(h)
            return Case(label, {"xs": r.normal(0, 1, (t, b, i)),
                                "h0": np.zeros((b, h)) if zero else r.uniform(-1, 1, (b, h)),
                                "W": r.uniform(-bound, bound, (h, i)),
                                "U": r.uniform(-bound, bound, (h, h)),
                                "b": r.uniform(-bound, bound, h)})
        return [case("6 steps from h_0 = 0, 3 sequences, 4 inputs, 5 units", 6, 3, 4, 5),
                case("a state to start from (h_0 ≠ 0)", 4, 2, 3, 3, zero=False),
                case("a batch of one", 5, 1, 2, 4),
                case("a long sequence (50 steps)", 50, 2, 3, 4),
                case("one input, one unit", 5, 2, 1, 1)]

    def reference(self, case: Case) -> list[tuple[str, Any]]:
        a = case.tensors(())
        h, out = a["h0"], []
        for t in range(len(case.arrays["xs"])):
            h = F.rnn_tanh_cell(a["xs"][t], h, a["W"], a["U"], a["b"])
            out.append((f"h_t at step t={t}", _values(h)))
        return out

    def mine(self, impl: Any, case: Case) -> Iterator[tuple[str, Any]]:
        a = case.copies()
        h = a["h0"]
        for t in range(len(a["xs"])):
            h = _array(call(self.function(impl), a["xs"][t].copy(), h.copy(), a["W"].copy(),
                            a["U"].copy(), a["b"].copy()), f"the state at step {t}")
            yield f"h_t at step t={t}", h


class Bptt(NamedSpec):
    name, target = "bptt", "bptt"
    keys = ("h", "delta", "dW_t", "dU_t", "db_t", "dW", "dU", "db", "dV")

    def cases(self) -> list[Case]:
        r = _rng(self.name)

        def case(label: str, t: int, i: int, h: int, o: int, scale: float = 0.5) -> Case:
            return Case(label, {"xs": r.normal(0, 1, (t, i)), "target": r.normal(0, 1, o),
                                "W": r.normal(0, scale, (h, i)), "U": r.normal(0, scale, (h, h)),
                                "b": r.normal(0, 0.1, h), "V": r.normal(0, scale, (o, h))})
        return [case("5 steps, 3 inputs, 4 units, 2 outputs", 5, 3, 4, 2),
                case("one step", 1, 2, 3, 2),
                case("a long sequence (30 steps)", 30, 2, 3, 1),
                case("large weights (saturated units: the gradient vanishes)", 6, 2, 3, 2,
                     scale=3.0),
                case("one unit", 4, 2, 1, 1)]

    @staticmethod
    def labels(T: int) -> list[tuple[str, str, int | None]]:
        """(label, key, step) in the order compared: forward in time, then back in time."""
        out = [(f"h_t at step t={t}", "h", t) for t in range(T)]
        out.append(("dV = ∂E/∂V", "dV", None))
        for t in range(T - 1, -1, -1):
            out += [(f"δ_t = ∂E/∂h_t at step t={t}", "delta", t),
                    (f"W's share of ∂E/∂W at step t={t}", "dW_t", t),
                    (f"U's share of ∂E/∂U at step t={t}", "dU_t", t),
                    (f"b's share of ∂E/∂b at step t={t}", "db_t", t)]
        out += [("dW = ∂E/∂W (the sum over the steps)", "dW", None),
                ("dU = ∂E/∂U (the sum over the steps)", "dU", None),
                ("db = ∂E/∂b (the sum over the steps)", "db", None)]
        return out

    def reference(self, case: Case) -> list[tuple[str, Any]]:
        a = case.arrays
        T = len(a["xs"])

        def run(untied: bool) -> dict:
            ts = case.tensors(("W", "U", "b", "V"))
            steps = [tuple(tg.tensor(ts[k].detach().numpy(), dtype=tg.float64, requires_grad=True)
                           for k in ("W", "U", "b")) if untied else (ts["W"], ts["U"], ts["b"])
                     for _ in range(T)]
            h, states = tg.zeros(1, a["U"].shape[0], dtype=tg.float64), []
            for t in range(T):
                W, U, b = steps[t]
                h = F.rnn_tanh_cell(ts["xs"][t].reshape(1, -1), h, W, U, b)   # (1, H)
                h.retain_grad()
                states.append(h)
            y = (h @ ts["V"].T).reshape(-1)                                   # (O,)
            E = 0.5 * ((y - ts["target"]) ** 2).sum()
            E.backward()
            return {"h": [_values(s)[0] for s in states], "delta": [_values(s.grad)[0]
                                                                    for s in states],
                    "dW_t": [_values(s[0].grad) for s in steps],
                    "dU_t": [_values(s[1].grad) for s in steps],
                    "db_t": [_values(s[2].grad) for s in steps],
                    "dW": _values(ts["W"].grad) if not untied else None,
                    "dU": _values(ts["U"].grad) if not untied else None,
                    "db": _values(ts["b"].grad) if not untied else None,
                    "dV": _values(ts["V"].grad)}
        shares, tied = run(True), run(False)
        got = dict(shares, dW=tied["dW"], dU=tied["dU"], db=tied["db"])
        return [(label, got[k][t] if t is not None else got[k]) for label, k, t in self.labels(T)]

    def mine(self, impl: Any, case: Case) -> Iterator[tuple[str, Any]]:
        a = case.copies()
        T = len(a["xs"])
        out = _dict(call(self.function(impl), a["xs"], a["target"], a["W"], a["U"], a["b"],
                         a["V"]), self.keys, self.target)
        arrays = {k: _array(out[k], repr(k)) for k in self.keys}
        for k in ("h", "delta", "dW_t", "dU_t", "db_t"):
            if len(arrays[k]) != T:
                raise Mismatch(f"{k!r} should hold one entry per step ({T}), it has "
                               f"{len(arrays[k])}")
        for label, k, t in self.labels(T):
            yield label, arrays[k][t] if t is not None else arrays[k]


class ClipGradNorm(NamedSpec):
    name, target = "clip_grad_norm", "clip_grad_norm"

    def cases(self) -> list[Case]:
        r = _rng(self.name)

        def case(label: str, shapes: list, scale: float, max_norm: float) -> Case:
            return Case(label, {f"g{k}": r.normal(0, scale, s) for k, s in enumerate(shapes)},
                        {"max_norm": max_norm})
        return [case("an exploding gradient (clipped)", [(3, 4), (4,), (2, 2)], 10.0, 1.0),
                case("a small gradient (left as it is)", [(3, 4), (4,)], 0.01, 5.0),
                case("one parameter", [(5,)], 3.0, 2.0),
                case("a 0-d gradient among matrices", [(), (2, 3), (3,)], 2.0, 0.5),
                Case("all-zero gradients", {"g0": np.zeros((2, 3)), "g1": np.zeros(4)},
                     {"max_norm": 1.0})]

    def reference(self, case: Case) -> list[tuple[str, Any]]:
        params = []
        for g in case.arrays.values():
            p = nn.Parameter(tg.zeros(*g.shape, dtype=tg.float64))
            p.grad = tg.tensor(g.copy(), dtype=tg.float64)
            params.append(p)
        total = nn.utils.clip_grad_norm_(params, case.options["max_norm"])
        return [("the total norm", _values(total))] + [
            (f"clipped gradient {k}", _values(p.grad)) for k, p in enumerate(params)]

    def mine(self, impl: Any, case: Case) -> Iterator[tuple[str, Any]]:
        grads = list(case.copies().values())
        out = _dict(call(self.function(impl), grads, case.options["max_norm"]),
                    ("total_norm", "grads"), self.target)
        yield "the total norm", _array(out["total_norm"], "'total_norm'")
        if len(out["grads"]) != len(grads):
            raise Mismatch(f"'grads' should hold {len(grads)} arrays (one per parameter), it "
                           f"has {len(out['grads'])}")
        for k, g in enumerate(out["grads"]):
            yield f"clipped gradient {k}", _array(g, f"'grads'[{k}]")


class SgdMomentum(NamedSpec):
    name, target = "sgd_momentum", "sgd_step"

    def cases(self) -> list[Case]:
        r = _rng(self.name)

        def case(label: str, shape: tuple, steps: int, **opts: float) -> Case:
            return Case(label, {"w": r.normal(0, 1, shape), "grads": r.normal(0, 1, (steps,) + shape)},
                        dict(opts))
        return [case("momentum 0.9, weight decay 0.01, 8 steps", (3, 4), 8, lr=0.1, momentum=0.9,
                     weight_decay=0.01),
                case("no weight decay", (5,), 6, lr=0.05, momentum=0.8, weight_decay=0.0),
                case("no momentum (plain SGD; only w is compared)", (2, 3), 5, lr=0.1,
                     momentum=0.0, weight_decay=0.1),
                case("a long run (40 steps)", (4,), 40, lr=0.02, momentum=0.95,
                     weight_decay=0.001),
                case("a single weight", (1,), 6, lr=0.3, momentum=0.5, weight_decay=0.2)]

    def reference(self, case: Case) -> list[tuple[str, Any]]:
        o = case.options
        p = nn.Parameter(tg.tensor(case.arrays["w"].copy(), dtype=tg.float64))
        opt = optim.SGD([p], lr=o["lr"], momentum=o["momentum"], weight_decay=o["weight_decay"])
        out = []
        for k, g in enumerate(case.arrays["grads"]):
            p.grad = tg.tensor(g.copy(), dtype=tg.float64)
            opt.step()
            if o["momentum"]:
                out.append((f"the momentum buffer after step {k + 1}",
                            _values(opt.state[p]["momentum_buffer"])))
            out.append((f"w after step {k + 1}", _values(p)))
        return out

    def mine(self, impl: Any, case: Case) -> Iterator[tuple[str, Any]]:
        o = case.options
        w, buf = case.arrays["w"].copy(), None
        for k, g in enumerate(case.arrays["grads"]):
            out = _dict(call(self.function(impl), w.copy(), g.copy(),
                             None if buf is None else buf.copy(), o["lr"], o["momentum"],
                             o["weight_decay"]), ("buf", "w"), self.target)
            buf, w = out["buf"], _array(out["w"], "'w'")
            if o["momentum"]:
                buf = _array(buf, "'buf'")
                yield f"the momentum buffer after step {k + 1}", buf
            yield f"w after step {k + 1}", w


class GreedyDecode(NamedSpec):
    name, target = "greedy_decode", "greedy_decode"

    @staticmethod
    def model(cell: str, seed: int, eos_bias: float) -> Seq2Seq:
        """An untrained model, its weights made three times larger than at initialisation
        so that different sources give different outputs (and <eos> at different steps)."""
        tg.manual_seed(seed)
        m = Seq2Seq(src_vocab_size=8, tgt_vocab_size=7, embed_dim=6, hidden_size=10, cell=cell)
        with tg.no_grad():
            for p in m.parameters():
                p.mul_(3.0)
            m.out.bias[m.eos_idx] = m.out.bias[m.eos_idx] + eos_bias
        return m

    def cases(self) -> list[Case]:
        r = _rng(self.name)

        def case(label: str, s: int, b: int, max_len: int, cell: str = "gru",
                 eos_bias: float = 0.0, seed: int = 0) -> Case:
            return Case(label, {"src": r.integers(1, 8, (s, b))},
                        {"max_len": max_len, "cell": cell, "eos_bias": eos_bias, "seed": seed})
        return [case("a GRU model, 4 sequences, 8 steps", 5, 4, 8, seed=7),
                case("an LSTM model (its state is a pair (h, c))", 4, 3, 6, cell="lstm", seed=5),
                case("one sequence", 6, 1, 5, seed=2),
                case("one step", 3, 2, 1, seed=3),
                case("sequences that end early (<eos> is likely)", 4, 6, 10, eos_bias=1.5, seed=2)]

    def _model(self, case: Case) -> Seq2Seq:
        o = case.options
        return self.model(o["cell"], o["seed"], o["eos_bias"])

    def reference(self, case: Case) -> list[tuple[str, Any]]:
        ids = self._model(case).greedy_decode(tg.tensor(case.arrays["src"]),
                                               case.options["max_len"]).numpy()
        return [(f"the tokens at step {t}", row) for t, row in enumerate(ids)]

    def mine(self, impl: Any, case: Case) -> Iterator[tuple[str, Any]]:
        n, b = case.options["max_len"], case.arrays["src"].shape[1]
        out = call(self.function(impl), self._model(case), tg.tensor(case.arrays["src"]), n)
        if not isinstance(out, tg.Tensor):
            raise Mismatch(f"greedy_decode should return a tensor of token ids, it returned "
                           f"{type(out).__name__}")
        if out.dtype.kind not in "iu":
            raise Mismatch(f"greedy_decode should return integer token ids (int64), got dtype "
                           f"{out.dtype}")
        if tuple(out.shape) != (n, b):
            raise Mismatch(f"greedy_decode should return shape (max_len, B) = {(n, b)}, got "
                           f"{tuple(out.shape)}")
        for t, row in enumerate(out.numpy()):
            yield f"the tokens at step {t}", row


SPECS: dict[str, Spec] = {s.name: s for s in (
    DeltaRule(), MulBackward(), MatMulBackward(), Conv2d(), Conv2dBackward(), MaxPool2d(),
    CrossEntropy(), SgdMomentum(), RnnStep(), Bptt(), SumExpand(), TanhBackward(),
    ClipGradNorm(), LstmCell(), GruCell(), GreedyDecode())}
