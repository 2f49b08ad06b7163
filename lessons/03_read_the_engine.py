"""Lesson 3: Read the engine. Four files; 26 backwards vs central differences; one walk, stepped."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np   # the reference forward of every primitive, and central differences

import tinygrad_edu as tg
from tinygrad_edu import fastlane
from tinygrad_edu.engine import backend, graph, ops, tensor
from tinygrad_edu.functional.gradients import backward_hook

import figures
from console import Knob, Lesson, run

ENGINE = Path(tensor.__file__).resolve().parent          # tinygrad_edu/engine
FILES = ("backend.py", "graph.py", "ops.py", "tensor.py")


# ---------------------------------------------------------------- central differences
def central_differences(f: Callable, arrays: list, g: np.ndarray, k: int, eps: float) -> np.ndarray:
    """∂L/∂arrays[k] for L = Σ g ⊙ f(*arrays), one element at a time:
    (L(a + ε·e_i) − L(a − ε·e_i)) / 2ε. Uses only the NumPy forward ``f``, never a backward."""
    a = arrays[k]
    out = np.zeros(a.shape, dtype=a.dtype)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        up = np.sum(g * f(*arrays), dtype=np.float64)
        a[i] = old - eps
        down = np.sum(g * f(*arrays), dtype=np.float64)
        a[i] = old
        out[i] = (up - down) / (2 * eps)
    return out


def window_loops(x: np.ndarray, size: tuple, stride: tuple, dilation: tuple) -> np.ndarray:
    """z[n, c, i, j, u, v] = x[n, c, i·s_h + u·d_h, j·s_w + v·d_w], as loops."""
    n, c, h, w = x.shape
    oh = (h - dilation[0] * (size[0] - 1) - 1) // stride[0] + 1
    ow = (w - dilation[1] * (size[1] - 1) - 1) // stride[1] + 1
    z = np.zeros((n, c, oh, ow) + size, dtype=x.dtype)
    for i, j, u, v in np.ndindex(oh, ow, *size):
        z[:, :, i, j, u, v] = x[:, :, i * stride[0] + u * dilation[0],
                                j * stride[1] + v * dilation[1]]
    return z


def fold_loops(z: np.ndarray, shape: tuple, stride: tuple, dilation: tuple) -> np.ndarray:
    """Every window added back where ``window_loops`` read it (col2im), as loops."""
    x = np.zeros(shape, dtype=z.dtype)
    oh, ow, kh, kw = z.shape[2:]
    for i, j, u, v in np.ndindex(oh, ow, kh, kw):
        x[:, :, i * stride[0] + u * dilation[0], j * stride[1] + v * dilation[1]] += \
            z[:, :, i, j, u, v]
    return x


def index_add_numpy(x: np.ndarray, shape: tuple, index: np.ndarray) -> np.ndarray:
    out = np.zeros(shape, dtype=x.dtype)
    np.add.at(out, index, x)                  # a repeated index adds every time
    return out


REPEAT = np.array([0, 2, 0])                  # an index with a repeat: row 0 is read twice
WINDOW = dict(axes=(2, 3), size=(2, 2), stride=(2, 1), dilation=(1, 2))
GEOMETRY = (WINDOW["stride"], WINDOW["dilation"])

# name: (primitive class or engine call on Tensors, NumPy reference on arrays, input shapes,
# input domain); a class runs through Function.apply, looked up when it runs (tg.fast swaps it)
PRIMITIVES: dict[str, tuple] = {
    "Add": (ops.Add, lambda x, y: x + y, [(2, 3), (3,)], "any"),
    "Mul": (ops.Mul, lambda x, y: x * y, [(2, 3), (2, 1)], "any"),
    "Div": (ops.Div, lambda x, y: x / y, [(2, 3), (3,)], "away from 0"),
    "Pow": (ops.Pow, lambda x, y: x ** y, [(2, 3), (2, 3)], "positive"),
    "Neg": (ops.Neg, lambda x: -x, [(4,)], "any"),
    "Exp": (ops.Exp, np.exp, [(4,)], "any"),
    "Log": (ops.Log, np.log, [(4,)], "positive"),
    "Tanh": (ops.Tanh, np.tanh, [(4,)], "any"),
    "Sigmoid": (ops.Sigmoid, lambda x: 1 / (1 + np.exp(-x)), [(4,)], "any"),
    "Erf": (ops.Erf, np.vectorize(math.erf), [(4,)], "any"),
    "Relu": (ops.Relu, lambda x: np.maximum(x, 0), [(6,)], "away from 0"),
    "Sin": (ops.Sin, np.sin, [(4,)], "any"),
    "Where": (lambda x, y: ops.Where.apply(tg.tensor([True, False, True]), x, y),
              lambda x, y: np.where([True, False, True], x, y), [(3,), (2, 3)], "any"),
    "Sum": (lambda x: ops.Sum.apply(x, dims=(1,), keepdim=False),
            lambda x: x.sum(axis=1), [(2, 3, 2)], "any"),
    "Max": (lambda x: ops.Max.apply(x, dims=(1,), keepdim=False),
            lambda x: x.max(axis=1), [(2, 4)], "distinct"),
    "Reshape": (lambda x: ops.Reshape.apply(x, shape=(3, 2)),
                lambda x: x.reshape(3, 2), [(2, 3)], "any"),
    "Permute": (lambda x: ops.Permute.apply(x, dims=(2, 0, 1)),
                lambda x: x.transpose(2, 0, 1), [(2, 3, 2)], "any"),
    "Expand": (lambda x: ops.Expand.apply(x, shape=(2, 3, 4)),
               lambda x: np.broadcast_to(x, (2, 3, 4)), [(3, 1)], "any"),
    "Pad": (lambda x: ops.Pad.apply(x, pad=((1, 0), (0, 2)), value=0.5),
            lambda x: np.pad(x, ((1, 0), (0, 2)), constant_values=0.5), [(2, 3)], "any"),
    "GetItem": (lambda x: ops.GetItem.apply(x, index=REPEAT),
                lambda x: x[REPEAT], [(3, 2)], "any"),
    "IndexAdd": (lambda x: ops.IndexAdd.apply(x, shape=(4, 2), index=REPEAT),
                 lambda x: index_add_numpy(x, (4, 2), REPEAT), [(3, 2)], "any"),
    "Cat": (lambda x, y: ops.Cat.apply(x, y, dim=1),
            lambda x, y: np.concatenate([x, y], axis=1), [(2, 1), (2, 3)], "any"),
    "Window": (lambda x: ops.Window.apply(x, **WINDOW),
               lambda x: window_loops(x, WINDOW["size"], *GEOMETRY), [(1, 1, 5, 5)], "any"),
    "WindowFold": (lambda z: ops.WindowFold.apply(z, shape=(1, 1, 5, 5), **WINDOW),
                   lambda z: fold_loops(z, (1, 1, 5, 5), *GEOMETRY), [(1, 1, 2, 3, 2, 2)],
                   "any"),
    "MatMul": (ops.MatMul, lambda a, b: a @ b, [(2, 2, 3), (3, 4)], "any"),
    "Copy": (lambda x: ops.Copy.apply(x, dtype=x.dtype, device="cpu"),
             lambda x: x.copy(), [(3,)], "any"),
}

GROUPS = [
    ("Elementwise, two inputs: broadcasting sums back", ["Add", "Mul", "Div", "Pow"],
     (3, "Derivation of Learning Rule")),
    ("Elementwise, one input: the derivative times g", ["Neg", "Exp", "Log", "Tanh", "Sigmoid",
                                                        "Erf", "Relu", "Sin", "Where"],
     (3, "Derivation of Learning Rule")),
    ("Reductions: a sum spreads back, a max picks", ["Sum", "Max"],
     (3, "The Backpropagation Algorithm")),
    ("Movement: each op's backward is its adjoint", ["Reshape", "Permute", "Expand", "Pad",
                                                      "GetItem", "IndexAdd", "Cat"],
     (4, "Convolution as parameter sharing")),
    ("The window: convolution's only primitive", ["Window", "WindowFold"],
     (4, "Convolution as parameter sharing")),
    ("Matrix product and copies", ["MatMul", "Copy"], (3, "Derivation of Learning Rule")),
]


def sample(shape: tuple, domain: str, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """Small inputs where the primitive is smooth: positive for log and pow, away from 0
    for a kink or a division, distinct for max (no tie at the maximum)."""
    n = math.prod(shape)
    if domain == "positive":
        a = rng.uniform(0.5, 2.0, n)
    elif domain == "away from 0":
        a = rng.uniform(0.3, 1.5, n) * rng.choice([-1.0, 1.0], n)
    elif domain == "distinct":
        a = rng.permutation(n) * 0.37 - 1.0
    else:
        a = rng.normal(0.0, 1.0, n)
    return a.reshape(shape).astype(dtype)


def try_primitive(name: str, dtype: Any, eps: float, rng: np.random.Generator) -> dict:
    """Run one primitive forward and backward on a tiny input and compare with NumPy:
    the forward with the NumPy reference, the backward with central differences of it."""
    call, ref, shapes, domain = PRIMITIVES[name]
    arrays = [sample(s, domain, rng, dtype) for s in shapes]
    xs = [tg.tensor(a.copy(), dtype=dtype, requires_grad=True) for a in arrays]
    z = call.apply(*xs) if isinstance(call, type) else call(*xs)  # the engine's forward
    g = rng.normal(0.0, 1.0, z.shape).astype(dtype)                # a random upstream gradient
    z.backward(tg.tensor(g, dtype=dtype))                          # the engine's backward
    numeric = [central_differences(ref, [a.copy() for a in arrays], g, k, eps)
               for k in range(len(arrays))]
    return {"node": type(z.grad_fn).__name__, "z": z.detach().numpy(), "ref": ref(*arrays),
            "grads": [x.grad.numpy() for x in xs], "numeric": numeric, "inputs": arrays}


def brief(a: np.ndarray) -> str:
    """At most five numbers of an array, rounded, for a one-line summary."""
    flat = np.asarray(a, dtype=np.float64).ravel()
    text = ", ".join(f"{v:.3g}" for v in flat[:5])
    return f"[{text}{', …' if flat.size > 5 else ''}] {tuple(np.shape(a))}"


def tolerance(eps: float, dtype: Any) -> float:
    """How far central differences may be from the true derivative: the truncation error
    (about ε² times a third derivative) plus rounding (about u/ε, u the dtype's rounding
    unit), with room for inputs and sums of a few units in size."""
    u = float(np.finfo(dtype).eps) / 2
    return 100 * (eps ** 2 + u / eps)


def main(L: Lesson, args) -> None:
    with tg.fast(args.fast_lane):      # off: the engine runs exactly what we read
        lesson(L, args)


def lesson(L: Lesson, args) -> None:
    tg.manual_seed(0)
    rng = np.random.default_rng(3)
    dtype = np.dtype(args.dtype)
    u = float(np.finfo(dtype).eps) / 2
    eps = float(args.eps) if args.eps != "auto" else float(f"{(3 * u) ** (1 / 3):.0e}")

    # ------------------------------------------------------------------ the map
    L.step("Four files, read from the bottom up",
           beyond="the decks derive backpropagation by hand; this lesson reads the code that "
                  "does it for any graph")
    L.say("Lessons 1 and 2 let autograd check the delta rule. Here we open autograd itself. "
          "The *reading core* is four files in tinygrad_edu/engine, each using only the ones "
          "before it: the backend (where the numbers live), the graph (nodes and the backward "
          "walk), the primitives (each op's forward and backward side by side) and the "
          "Tensor. Everything else in the library (convolution, LSTM, losses, optimizers) is "
          "composed from these and never writes a derivative of its own.")
    with L.code():
        sizes = {name: len((ENGINE / name).read_text().splitlines()) for name in FILES}
        total = sum(sizes.values())
        lane_on = tg.is_fast()
    L.table(["file", "lines", "what it holds"],
            [["backend.py", sizes["backend.py"], "devices, dtypes, arrays (NumPy or CuPy)"],
             ["graph.py", sizes["graph.py"], "the node, grad mode, the backward walk"],
             ["ops.py", sizes["ops.py"], "26 primitives: forward and backward"],
             ["tensor.py", sizes["tensor.py"], "the Tensor, its operators, the dtype rule"],
             ["together", total, ""]])
    L.check_true("the reading core stays within its budget of 1,200 lines (DESIGN.md)",
                 total <= 1200, f"{total} lines")
    if args.fast_lane:
        count = sum(isinstance(k, type) for k in fastlane.OVERRIDES)
        L.say(f"You turned the *fast lane* on (--fast-lane): {count} primitives are replaced by "
              "faster subclasses (same formulas, cheaper arrays), and Function.apply and the "
              "backward walk by versions with fewer Python steps (fastlane/hotpath.py). Watch "
              "the 'node' column: it names the class that really ran.")
        L.check_true("the fast lane is on, as asked", lane_on)
    else:
        L.say("The *fast lane* (tinygrad_edu/fastlane) normally replaces a few primitives by "
              "faster subclasses, and Function.apply and the backward walk by faster versions. "
              "This lesson turns it off (`with tg.fast(False):`), so what runs below is the "
              "code whose source you read. (--fast-lane turns it on.)")
        L.check_true("the fast lane is off: what runs is what you read", not lane_on)

    # ------------------------------------------------------------------ backend
    L.step("backend.py: the one file that knows NumPy from CuPy",
           beyond="the decks never say where the numbers live")
    L.say("A tensor's numbers are an array of an *array module*: numpy on 'cpu', cupy on "
          "'cuda'. Every op asks its inputs which module they belong to, so the same code "
          "runs on both devices, and no other file imports numpy for tensor data.")
    L.read(backend.array_module)
    L.read(backend.module_of)
    with L.code():
        x = tg.tensor([1.0, 2.0, 3.0])
        xp = backend.module_of(x.data)
    L.table(["tg.tensor([1.0, 2.0, 3.0])", "value"],
            [["x.data (what the primitives see)", repr(x.data)], ["its module", xp.__name__],
             ["x.dtype", str(x.dtype)]])
    L.check_true("on the CPU a tensor holds a plain NumPy array", type(x.data) is np.ndarray)
    L.check_true("Python floats become float32, PyTorch's default (NumPy would pick float64)",
                 x.dtype == np.float32 and np.asarray([1.0, 2.0]).dtype == np.float64)

    # ------------------------------------------------------------------ graph: the node
    L.step("graph.py: every op leaves a node", deck=(3, "Stack them up"))
    L.say("Function.apply is where an op runs: it takes the arrays out of the input tensors, "
          "calls forward, wraps the result in a new tensor and, in grad mode, if any input "
          "requires a gradient, keeps a *node*: the op (this Function object), its inputs "
          "(parents), what backward will need, and a sequence number.")
    L.read(graph.Function.plain_apply)      # the engine's own (the fast lane may swap apply)
    with L.code():
        w = tg.tensor([0.5, -0.3], dtype=tg.float64, requires_grad=True)
        x = tg.tensor([1.0, 2.0], dtype=tg.float64)
        z = w * x
        node = z.grad_fn
        with tg.no_grad():
            z_off = w * x
    L.table(["", "value"],
            [["z = w * x", z.detach().tolist()], ["z.grad_fn", repr(node)],
             ["node.parents", f"(w, x): {node.parents[0] is w}, {node.parents[1] is x}"],
             ["node.seq (its number)", node.seq],
             ["under tg.no_grad(): grad_fn", repr(z_off.grad_fn)]])
    L.check("z = w ⊙ x, in Python floats", z, [0.5 * 1.0, -0.3 * 2.0], 1e-15)
    L.check_true("the node remembers its inputs (w, x) and saved them for backward",
                 node.parents[0] is w and node.parents[1] is x and len(node.saved) == 2)
    L.check_true("under no_grad nothing is recorded", z_off.grad_fn is None)

    # ------------------------------------------------------------------ the primitives
    tol = tolerance(eps, dtype)
    errors = {}
    ran = {}
    first_group = True
    for title, names, deck in GROUPS:
        L.step(f"ops.py: {title}", deck=deck)
        if first_group:
            L.say("Each primitive is a class with forward (on arrays) beside backward (given "
                  "g = ∂L/∂output, return ∂L/∂input for each input). We run each on a tiny "
                  f"{dtype.name} input with a random g and check two things against NumPy: "
                  "the forward against a NumPy expression written in this lesson, and the "
                  "backward against *central differences* of that NumPy expression,\n\n"
                  "    ∂L/∂a_i ≈ (L(a + ε·e_i) − L(a − ε·e_i)) / 2ε,   L = Σ g ⊙ f(a)\n\n"
                  "which never calls a backward. A wrong backward fails the lesson here.")
            L.source(central_differences)
            L.say(f"ε = {eps:g}; agreement is required to {tol:.1e} (relative for large "
                  "values): truncation ≈ ε², rounding ≈ u/ε with u = "
                  f"{u:.1e} for {dtype.name}.")
            q = L.question("Which step ε makes central differences of tanh closest to the "
                           f"true derivative, in {dtype.name}?",
                           ["ε = 1e-2", "ε = 1e-6", "ε = 1e-12"])
            with L.code():
                a = np.array([0.3, -1.1, 0.8], dtype=dtype)
                exact = 1 - np.tanh(a.astype(np.float64)) ** 2          # d tanh / dx
                errs = [float(np.max(np.abs(central_differences(np.tanh, [a.copy()],
                                                                np.ones(3, dtype), 0, e)
                                            - exact))) for e in (1e-2, 1e-6, 1e-12)]
            best = (3 * u) ** (1 / 3)                   # where ε² and u/ε balance
            predicted = 1 + int(np.argmin([abs(math.log10(e / best)) for e in
                                           (1e-2, 1e-6, 1e-12)]))
            L.table(["ε", "largest error"], [[e, f"{v:.1e}"] for e, v in
                                            zip(("1e-2", "1e-6", "1e-12"), errs)])
            L.answer(q, observed=1 + int(np.argmin(errs)), expected=predicted,
                     why=f"a large ε measures a secant, not the tangent (error ≈ ε²); a tiny "
                         f"one subtracts two nearly equal numbers and keeps only rounding "
                         f"noise (error ≈ u/ε). They balance near ε = ∛(3u) ≈ {best:.0e}.")
        if first_group:
            L.say("Every primitive below runs through this helper: the engine's forward and "
                  "backward on tiny inputs, the NumPy forward, and central differences of it.")
            L.source(try_primitive)
            first_group = False
        with L.code():
            results = {name: try_primitive(name, dtype, eps, rng) for name in names}
        rows = []
        for name, r in results.items():
            L.read(getattr(ops, name))
            ran[name] = r["node"]
            fwd = float(np.max(np.abs(r["z"] - r["ref"]) / np.maximum(1.0, np.abs(r["ref"]))))
            what = f"{name}: backward = central differences (largest relative gap, every input)"
            for gr, nu in zip(r["grads"], r["numeric"]):
                if gr.shape != nu.shape:                 # a wrong shape fails right here
                    L.check(what, gr, nu, tol)
            bwd = max(float(np.max(np.abs(gr - nu) / np.maximum(1.0, np.abs(nu))))
                      for gr, nu in zip(r["grads"], r["numeric"]))
            errors[name] = bwd
            rows.append([name, r["node"], " · ".join(str(a.shape) for a in r["inputs"]),
                         f"{fwd:.1e}", f"{bwd:.1e}"])
            L.say(f"  tiny run: input {brief(r['inputs'][0])} → output {brief(r['z'])}; "
                  f"∂L/∂input {brief(r['grads'][0])}, central differences "
                  f"{brief(r['numeric'][0])}")
            L.check(f"{name}: forward = the NumPy expression (largest relative gap)", fwd, 0.0,
                    10 * float(np.finfo(dtype).eps))
            L.check(what, bwd, 0.0, tol)
        L.table(["primitive", "node that ran", "input shapes", "forward vs NumPy",
                 "backward vs central differences"], rows)
        if title.startswith("Movement"):
            L.say("Read the pairs: reshape undoes reshape, permute the inverse permutation, "
                  "expand ↔ sum, pad ↔ slice, getitem ↔ index-add (the repeated row 0 gets "
                  "both its gradients added), cat ↔ slices. Every movement op's backward is "
                  "the op that moves the gradient back.")
        if title.startswith("The window"):
            L.say("Window is a strided view of every sliding window (no copy); its backward "
                  "WindowFold adds each window's gradient back where it was read. Convolution "
                  "is Window → reshape → MatMul, and pooling Window → max or mean, so these two "
                  "primitives are all the derivative convolution ever needs.")
    if args.fast_lane:
        replaced = sorted(n for n, cls in ran.items() if cls != n)
        L.say(f"With the fast lane on, these primitives ran as their faster subclass: "
              f"{', '.join(f'{n} → {ran[n]}' for n in replaced)}; every check still passed.")
        registered = sorted(k.__name__ for k in fastlane.OVERRIDES if isinstance(k, type))
        L.check_true("every primitive the fast lane registers ran as its override, no other",
                     replaced == registered, ", ".join(replaced))
    else:
        L.check_true("every node that ran is the reference class read above",
                     all(ran[n] == n for n in ran), f"{len(ran)} primitives")
    with L.figure("primitive_checks", f"Each primitive's backward vs central differences "
                  f"({dtype.name}, ε = {eps:g})", size=(13, 5)) as (fig, axes):
        figures.bars(axes[0, 0], list(errors), [max(v, 1e-17) for v in errors.values()],
                     "largest relative gap between backward and central differences",
                     "gap (log scale)", fmt="{:.0e}", logy=True)
        axes[0, 0].axhline(tol, color="tab:red", ls=":", label=f"allowed: {tol:.0e}")
        axes[0, 0].legend()
        axes[0, 0].tick_params(axis="x", labelrotation=60)

    # ------------------------------------------------------------------ tensor.py
    L.step("tensor.py: the Tensor, and one rule for dtypes", beyond="the decks use one number "
           "type throughout; a framework must decide what int + float gives")
    L.say("tensor.py defines the Tensor (an array, its device, requires_grad, grad and the "
          "node that made it) and builds every operator from one table: + is Add, * is Mul, "
          "a − b is a + (−b), and so on. Before an operator runs, promote() settles the "
          "dtype by PyTorch's rule, which differs from NumPy's:")
    L.read(tensor.promote)
    with L.code():
        ints = tg.tensor([1, 2, 3])                      # int64
        halves = tg.tensor([0.5, 0.5, 0.5])              # float32
        mixed = (ints * halves).dtype
        numpy_says = np.result_type(np.int64, np.float32)
        int_div = (ints / ints).dtype
    try:
        import torch                                     # where installed: PyTorch's answer
        torch_says = (str(torch.promote_types(torch.int64, torch.float32)),
                      str((torch.tensor([1, 2]) / torch.tensor([1, 2])).dtype))
    except ImportError:
        torch_says = ("torch.float32", "torch.float32")  # PyTorch's documented rule
    L.table(["expression", "tinygrad_edu", "NumPy", "PyTorch"],
            [["int64 * float32", mixed, numpy_says, torch_says[0]],
             ["int64 / int64", int_div, (np.array([1]) / np.array([1])).dtype,
              torch_says[1]]])
    L.check_true("int64 * float32 gives float32 here and in PyTorch (NumPy: float64)",
                 str(mixed) == "float32" and torch_says[0] == "torch.float32"
                 and str(numpy_says) == "float64")
    L.check_true("int64 / int64 gives float32 here and in PyTorch",
                 str(int_div) == "float32" and torch_says[1] == "torch.float32")

    # ------------------------------------------------------------------ the walk
    L.step("graph.py: the backward walk, step by step", deck=(3, "The Backpropagation Algorithm"))
    L.say("backward() starts with ∂E/∂E = 1 and visits every tensor that needs a gradient, "
          "outputs before inputs: backward_order collects the nodes with an explicit stack "
          "(no recursion, so 10,000 RNN steps are fine) and sorts them by node number, "
          "largest first, which puts every output before its inputs. run_backward then "
          "hands each node the gradient of its output, calls its backward, and adds what "
          "comes out into the pending gradients of its inputs.")
    L.read(graph.backward_order)
    L.read(graph.run_backward)
    L.say("Follow one neuron through it: a = Σ w_i x_i + b, o = tanh(a), E = (o − 1)². "
          "tinygrad_edu.functional.gradients.backward_hook(fn) calls fn at every tensor the "
          "walk visits, in the engine's real order.")
    with L.code():
        w = tg.tensor([0.5, -0.2], dtype=tg.float64, requires_grad=True)
        b = tg.tensor(0.1, dtype=tg.float64, requires_grad=True)
        x = tg.tensor([1.0, 2.0], dtype=tg.float64)
        wx = w * x
        s = wx.sum()
        a = s + b
        o = a.tanh()
        d = o - 1
        E = d ** 2
        for t, name in ((w, "w"), (b, "b"), (wx, "w⊙x"), (s, "Σ"), (a, "a"), (o, "o"),
                        (d, "o − 1"), (E, "E")):
            t.name = name
    q = L.question("In which order does the walk visit o, a and w⊙x?",
                   ["w⊙x, then a, then o (inputs first)", "o, then a, then w⊙x (outputs first)",
                    "a, then o, then w⊙x"])
    visits = []
    with L.code():
        def record(t, g, passed):                           # called by the walk
            visits.append((t.name, t.grad_fn.name if t.grad_fn else "leaf",
                           g.numpy().copy(), [(p.name, pg.numpy().copy()) for p, pg in passed]))

        with backward_hook(record):
            E.backward()
    L.uses(backward_hook)
    # the chain rule by hand, in Python floats: the same gradients the walk must deliver
    a_ = 0.5 * 1.0 - 0.2 * 2.0 + 0.1
    o_ = math.tanh(a_)
    dE_do = 2 * (o_ - 1)
    dE_da = dE_do * (1 - o_ ** 2)
    by_hand = {"E": 1.0, "o − 1": dE_do, "o": dE_do, "a": dE_da, "Σ": dE_da, "b": dE_da,
               "w⊙x": [dE_da, dE_da], "w": [dE_da * 1.0, dE_da * 2.0]}
    L.table(["visit", "tensor", "made by", "gradient arriving", "by hand", "sent on to"],
            [[i + 1, name, op, np.round(g, 6).tolist(), np.round(by_hand[name], 6).tolist(),
              ", ".join(f"{p}: {np.round(pg, 4).tolist()}" for p, pg in passed) or "—"]
             for i, (name, op, g, passed) in enumerate(visits)])
    for name, _, g, _ in visits:
        L.check(f"∂E/∂{name} from the walk = the chain rule by hand", g, by_hand[name], 1e-12)
    order = [v[0] for v in visits]
    observed = 2 if order.index("o") < order.index("a") < order.index("w⊙x") else \
        1 if order.index("w⊙x") < order.index("a") < order.index("o") else 3
    L.answer(q, observed=observed, expected=2,
             why="a node's backward needs the gradient of its output, so the walk goes from "
                 "E to the leaves: sorting by node number, largest first, guarantees it "
                 "(a tensor made later always has a larger number than its inputs).")
    L.say("The leaves w and b are not visited as nodes: their gradients are what the nodes "
          "above them sent on, added into .grad.")
    L.check("w.grad after backward = (∂E/∂a)·x (by hand)", w.grad, by_hand["w"], 1e-12)
    L.check("b.grad after backward = ∂E/∂a (by hand)", b.grad, by_hand["b"], 1e-12)

    # ------------------------------------------------------------------ after the walk
    L.step("After the walk: freed values, ghosts and sparse slices",
           beyond="memory is what lets a framework run backprop through long sequences; the "
                  "decks do not go there")
    L.say("Unless retain_graph=True, the walk frees each node's saved values once used "
          "(release): a second backward through the same graph is refused, and a large input "
          "of a node is replaced by a *Ghost* that remembers only its shape and name (the "
          "graph can still be drawn).")
    L.read(graph.release)
    with L.code():
        big = tg.randn(64, dtype=tg.float64, requires_grad=True)     # 512 bytes: worth freeing
        y = (big.tanh() * 2).sum()
        y.backward()
        try:
            y.backward()
            second = ""
        except RuntimeError as err:
            second = str(err)
        kept = y.grad_fn.parents[0].grad_fn.parents[0]               # tanh's output, now a ghost
    L.say(f"A second backward: {second[:150]}…")
    L.check_true("a second backward through a freed graph is refused, with advice",
                 "second time" in second and "retain_graph=True" in second)
    L.check_true("the freed node keeps a Ghost of its 64-element input (shape, no values)",
                 type(kept).__name__ == "Ghost" and kept.data is None and kept.shape == (64,))
    L.say("An RNN reads its input one slice x\\[t] at a time. A dense gradient per slice would "
          "cost T full-size arrays; GetItem's backward returns a SliceGrad instead (just the "
          "values and where they go), and the walk adds them into one buffer:")
    L.read(graph.SliceGrad)
    with L.code():
        seq = tg.tensor(np.arange(6.0), dtype=tg.float64, requires_grad=True)
        total = seq[0] * 1.0 + seq[2] * 3.0 + seq[2] * 1.0          # seq[2] is read twice
        piece = seq[2]
        sparse = piece.grad_fn.backward(np.array(5.0))              # the primitive's own answer
        total.backward()
    L.check_true("GetItem's backward on arrays is a SliceGrad (values and index only)",
                 type(sparse).__name__ == "SliceGrad" and float(sparse.values) == 5.0)
    L.check("the slices' gradients added into one buffer: ∂/∂seq = [1, 0, 3 + 1, 0, 0, 0]",
            seq.grad, [1.0, 0.0, 4.0, 0.0, 0.0, 0.0])
    L.say("That is the whole engine: arrays in backend.py, nodes and the walk in graph.py, "
          "26 derivatives in ops.py, operators in tensor.py. Every later lesson runs on it.")


if __name__ == "__main__":
    run(main, 3, "Read the engine", knobs=[
        Knob("--eps", "auto", "step of the central differences (auto: ∛(3u), the best for "
                              "the dtype); try 1e-2 or 1e-12"),
        Knob("--dtype", "float64", "dtype of the tiny runs", choices=("float64", "float32")),
        Knob("--fast-lane", False, "run with the fast lane on: see which primitives it "
                                   "replaces, and that the checks still pass"),
    ])
