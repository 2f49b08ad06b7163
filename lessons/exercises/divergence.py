"""Where two computations part: the first node of your graph that the library's graph
never reaches.

Your function and the library's reference run on the same inputs with the fast lane off
and every value retained. Both are graphs of the engine's primitives, but rarely the same
graph: you may compute the four LSTM gates one by one where the library slices one big
matrix product, or add the two biases in another order. So nodes are paired by *value*,
not by position: a value of yours *agrees* with the library when the library's graph
holds the same numbers somewhere, up to a reshape, a permutation of its dims, or as a
block of a larger tensor (one gate of the four).

A node of yours *diverges* when its value agrees with nothing in the library's graph
and the difference carries on to an output that is wrong (a step of your own that the
library never takes but that comes back to the library's values later is fine). The
first diverging node in forward order is where your computation leaves the library's:
its op, the shapes it read, the line of your file that made it, its values, and the
library's nearest node (same inputs, same size) for comparison.

Gradients are localised the same way, in backward order: the first tensor of yours
whose value agrees with the library's but whose gradient agrees with none of the
gradients the library gives that value (a graph cut by ``.detach()``, or a hand-written
``backward`` that is wrong). The graph of a hand-written ``backward`` itself (recorded
with ``create_graph=True``) is compared like a forward graph.
"""
from __future__ import annotations

import itertools
import linecache
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.functional.gradients import backward_hook
from tinygrad_edu.viz.trace import forward_order

LIBRARY = Path(tg.__file__).resolve().parent
# frames inside these files are the machinery of an op, not the line that asked for it
_HERE = Path(__file__).resolve().parent
_PLUMBING = (str(LIBRARY / "engine"), str(LIBRARY / "functional" / "tensor_methods.py"),
             str(LIBRARY / "functional" / "creation.py"), str(_HERE / "checker.py"),
             str(_HERE / "divergence.py"))
_OPS = str(LIBRARY / "engine" / "ops.py")
RTOL, ATOL = 1e-7, 1e-9


# ---------------------------------------------------------------- values
def values(t: Any) -> np.ndarray | None:
    """A tensor's values as a float64 NumPy array (None once a backward freed them)."""
    if t is None or getattr(t, "data", None) is None:
        return None
    return np.array(t.detach().numpy(), dtype=np.float64)     # a copy


def agree(a: np.ndarray, b: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> np.ndarray:
    """Elementwise: within atol + rtol·|b|; an infinity agrees only with the same infinity
    and a NaN with nothing, not even a NaN (arrays of one shape)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return (a == b) | (np.isfinite(a) & np.isfinite(b) & (np.abs(a - b) <= atol + rtol * np.abs(b)))


def close(a: np.ndarray, b: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """Same shape, and every element agrees (see :func:`agree`)."""
    return a.shape == b.shape and bool(agree(a, b, rtol, atol).all())


def first_difference(a: np.ndarray, b: np.ndarray, rtol: float = RTOL,
                     atol: float = ATOL) -> tuple | None:
    """The index of the first element where two arrays of one shape disagree."""
    bad = np.argwhere(~agree(a, b, rtol, atol))
    return tuple(int(i) for i in bad[0]) if len(bad) else None


def _regrouped(a: tuple, b: tuple) -> bool:
    """Is one shape the other with adjacent dims merged (a reshape that keeps the order of
    the dims, (N, P, K) <-> (N·P, K))? Reshaping a tensor whose dims were never permuted
    into place (a forgotten transpose) is not."""
    def marks(shape: tuple) -> set:
        out, n = set(), 1
        for s in shape:
            n *= s
            out.add(n)
        return out
    ma, mb = marks(a), marks(b)
    return ma <= mb or mb <= ma


class ValueIndex:
    """The values of a graph, looked up by value: which tensors hold these numbers?

    A value agrees with a tensor when it has the tensor's numbers in the same order and a
    shape made by merging or splitting adjacent dims (a reshape), the same numbers with
    the dims permuted (size-1 dims ignored: a transpose), or is a block of it along its
    first or last dim (one gate of four).
    """

    def __init__(self, tensors: Iterable[Any], rtol: float = RTOL, atol: float = ATOL) -> None:
        self.rtol, self.atol = rtol, atol
        self.items: list[tuple[Any, np.ndarray]] = []
        self.by_size: dict[int, list[int]] = defaultdict(list)
        self.by_rows: dict[tuple, list[int]] = defaultdict(list)     # shape[1:] -> items
        self.by_cols: dict[tuple, list[int]] = defaultdict(list)     # shape[:-1] -> items
        for t in tensors:
            v = values(t)
            if v is None or v.size == 0:
                continue
            k = len(self.items)
            self.items.append((t, v))
            self.by_size[v.size].append(k)
            if v.ndim:
                self.by_rows[(v.ndim,) + v.shape[1:]].append(k)
                self.by_cols[(v.ndim,) + v.shape[:-1]].append(k)

    def find(self, v: np.ndarray) -> list[Any]:
        """Every tensor of the graph that holds the values ``v`` (see the class doc)."""
        return [t for t, _ in self.find_blocks(v)]

    def find_blocks(self, v: np.ndarray) -> list[tuple[Any, tuple | None]]:
        """As :meth:`find`, with where the values sit: None for the whole tensor, or
        (axis, start) for a block of it (its size is ``v``'s along that axis)."""
        if v is None or v.size == 0:
            return []
        found, seen = [], set()
        for k in self.by_size.get(v.size, ()):
            r = self.items[k][1]
            if self._same(v, r):
                found.append((self.items[k][0], None))
                seen.add(k)
        if v.ndim:
            for key, axis in (((v.ndim,) + v.shape[1:], 0), ((v.ndim,) + v.shape[:-1], -1)):
                table = self.by_rows if axis == 0 else self.by_cols
                for k in table.get(key, ()):
                    start = None if k in seen else self._block(v, self.items[k][1], axis)
                    if start is not None:
                        found.append((self.items[k][0], (axis, start)))
                        seen.add(k)
        return found

    def _same(self, v: np.ndarray, r: np.ndarray) -> bool:
        if _regrouped(v.shape, r.shape) and close(v.reshape(-1), r.reshape(-1), self.rtol,
                                                   self.atol):
            return True
        vs, rs = v.reshape([s for s in v.shape if s != 1]), r.reshape([s for s in r.shape if s != 1])
        if sorted(vs.shape) != sorted(rs.shape) or vs.ndim < 2 or vs.ndim > 6:
            return False
        for perm in itertools.permutations(range(rs.ndim)):
            if tuple(rs.shape[p] for p in perm) == vs.shape and perm != tuple(range(rs.ndim)):
                if close(vs, rs.transpose(perm), self.rtol, self.atol):
                    return True
        return False

    def _block(self, v: np.ndarray, r: np.ndarray, axis: int) -> int | None:
        """Where ``v`` sits in ``r`` as a block along ``axis`` (None if it does not)."""
        n, m = v.shape[axis], r.shape[axis]
        if n >= m:
            return None
        for start in range(m - n + 1):
            if close(v, _cut(r, axis, start, n), self.rtol, self.atol):
                return start
        return None


def _cut(r: np.ndarray, axis: int, start: int, n: int) -> np.ndarray:
    return r[start:start + n] if axis == 0 else r[..., start:start + n]


# elementwise ops of one input: applied to a whole tensor, they are applied to each block
UNARY = ("tanh", "sigmoid", "relu", "exp", "log", "neg", "sin")


# ---------------------------------------------------------------- where each tensor was made
@dataclass
class Place:
    """Where a tensor was made: the file and line, and whether that is the learner's file."""
    file: str
    line: int
    mine: bool

    @property
    def code(self) -> str:
        return linecache.getline(self.file, self.line).strip()

    def __str__(self) -> str:
        try:
            shown = str(Path(self.file).resolve().relative_to(Path.cwd()))
        except ValueError:
            shown = self.file
        return f"{shown}:{self.line}"


class Places:
    """``with Places(file) as places:`` notes, for every tensor made inside the block, the
    line that made it: the innermost line of ``file`` on the call stack (your exercise),
    else the innermost line outside the engine's plumbing (the library function).

    It watches every Python function that returns a Tensor (``sys.setprofile``), so it
    sees the op the moment it is made, whatever made it.
    """

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.where: dict[int, Place] = {}
        self.keep: list[Any] = []           # the tensors stay alive, so their ids stay unique

    def __enter__(self) -> Places:
        self.previous = sys.getprofile()
        sys.setprofile(self._seen)
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.setprofile(self.previous)

    def _seen(self, frame: Any, event: str, value: Any) -> None:
        if event != "return" or not isinstance(value, tg.Tensor) or id(value) in self.where:
            return
        self.keep.append(value)
        inner = formula = None
        f = frame
        while f is not None:
            name = f.f_code.co_filename
            if name == self.file:
                self.where[id(value)] = Place(name, f.f_lineno, True)
                return
            if formula is None and f.f_code.co_name == "backward" and name == _OPS:
                formula = Place(name, f.f_lineno, False)    # a primitive's backward formula
            if inner is None and not name.startswith(_PLUMBING) and not name.startswith("<frozen"):
                inner = Place(name, f.f_lineno, False)
            f = f.f_back
        if formula or inner:
            self.where[id(value)] = formula or inner

    def of(self, t: Any) -> Place | None:
        return self.where.get(id(t))


def traced(fn: Callable, file: str | None, *args: Any, **kwargs: Any) -> tuple[Any, Places]:
    """Run ``fn(*args, **kwargs)`` with the fast lane off, noting where each tensor is made."""
    with tg.fast(False), Places(file) as places:
        out = fn(*args, **kwargs)
    return out, places


# ---------------------------------------------------------------- the report of a divergence
@dataclass
class Divergence:
    """The first node of yours that leaves the library's computation."""
    tensor: Any                     # your tensor (the output of the op)
    op: str                         # the op that made it ('mul', 'matmul', ...)
    input_shapes: list[tuple]
    place: Place | None             # the line of your file that made it
    actual: np.ndarray | None
    expected: np.ndarray | None     # the library's nearest node, when there is one
    library_op: str | None = None
    library_place: Place | None = None
    library_block: bool = False     # the library's node is a block of that op's result
    counterpart: Any = None         # that node's tensor (marked in the picture)
    chain: list[tuple[str, Place | None]] = field(default_factory=list)   # on to the output
    output: int | None = None       # which output of yours, if it is one
    output_label: str = ""          # what that output is ("h'", "the gradient of b")
    kind: str = "value"             # 'value', 'backward' or 'gradient'
    note: str = ""
    # for the library's node of the same op: its inputs that differ from yours
    # (input number, your input tensor, your values, the library's values, its tensor)
    inputs: list[tuple[int, Any, np.ndarray, np.ndarray, Any]] = field(default_factory=list)
    places: Places | None = None    # where each of your tensors was made


def _consumers(order: Sequence[Any]) -> dict[int, list[Any]]:
    users: dict[int, list[Any]] = defaultdict(list)
    for t in order:
        if t.grad_fn is not None:
            for p in t.grad_fn.inputs:
                if all(u is not t for u in users[id(p)]):     # (== is elementwise)
                    users[id(p)].append(t)
    return users


def forward_divergence(mine: Sequence[Any], expected: Sequence[np.ndarray],
                       reference: Sequence[Any], my_places: Places,
                       ref_places: Places | None = None) -> Divergence | None:
    """The first node of the graph behind ``mine`` (your outputs) that diverges from the
    graph behind ``reference`` (the library's outputs, whose values are ``expected``)."""
    order = [t for t in forward_order(list(mine)) if isinstance(t, tg.Tensor)]
    index = ValueIndex(forward_order(list(reference)))
    users = _consumers(order)
    output_of = {}
    for k, r in enumerate(mine):
        output_of.setdefault(id(r), k)
    bad: dict[int, bool] = {}
    matches: dict[int, list[Any]] = {}
    for t in reversed(order):                       # outputs first: is it wrong, or does
        if t.grad_fn is None:                       # it lead to a wrong output?
            continue
        v = values(t)
        k = output_of.get(id(t))
        if k is not None and (v is None or not close(v, expected[k])):
            bad[id(t)] = True                       # a wrong output
            continue
        matches[id(t)] = index.find(v)
        bad[id(t)] = not matches[id(t)] and any(bad.get(id(u), False) for u in users[id(t)])
    first = next((t for t in order if bad.get(id(t))), None)
    if first is None:
        return None
    chain, t = [], first
    while True:
        nxt = next((u for u in users[id(t)] if bad.get(id(u))), None)
        if nxt is None:
            break
        chain.append((nxt.grad_fn.name, my_places.of(nxt)))
        t = nxt
    d = Divergence(first, first.grad_fn.name, [tuple(p.shape) for p in first.grad_fn.inputs],
                   my_places.of(first), values(first), None, chain=chain,
                   output=output_of.get(id(first)), places=my_places)
    if d.output is not None:
        d.expected, d.counterpart = expected[d.output], reference[d.output]
        d.library_op = reference[d.output].grad_fn.name if reference[d.output].grad_fn else None
        d.library_place = ref_places.of(reference[d.output]) if ref_places is not None else None
        others = [k for k, e in enumerate(expected) if k != d.output and d.actual is not None
                  and close(d.actual.reshape(-1), e.reshape(-1)) if e.size == d.actual.size]
        if others:
            d.note = f"its values are the library's output {others[0]}: are the outputs swapped?"
    else:
        _nearest(d, index, ref_places)
    return d


def _nearest(d: Divergence, index: ValueIndex, ref_places: Places | None) -> None:
    """The library's node nearest to yours: it reads the values your op read (as many of
    them as possible), has your output's size, preferably is the same op, and then reads
    as many of them in the same places. When it is the same op, the inputs it reads
    differently are noted: often the real mistake is in one of those."""
    mine = d.tensor.grad_fn.inputs
    wanted: list[set[int]] = [{id(r) for r in index.find(values(p))} if values(p) is not None
                              else set() for p in mine]
    best, best_score = None, (0.0, 0)
    for r, v in index.items:
        if r.grad_fn is None or v.size != d.actual.size:
            continue
        theirs = r.grad_fn.inputs
        ins = {id(p) for p in theirs}
        score = sum(1 for w in wanted if w & ins) + (0.5 if r.grad_fn.name == d.op else 0.0)
        in_place = sum(1 for w, q in zip(wanted, theirs) if id(q) in w) \
            if len(theirs) == len(mine) else 0
        if score >= 1 and (score, in_place) > best_score:
            best, best_score = r, (score, in_place)
    if (best is None or best.grad_fn.name != d.op) and d.op in UNARY:
        if _blockwise(d, index, ref_places):
            return
    if best is None:
        return
    d.counterpart, d.library_op = best, best.grad_fn.name
    d.expected = values(best).reshape(d.actual.shape) if values(best).shape != \
        d.actual.shape else values(best)
    d.library_place = ref_places.of(best) if ref_places is not None else None
    theirs = best.grad_fn.inputs
    if best.grad_fn.name == d.op and len(mine) == len(theirs):
        differ = []
        for k, (p, q) in enumerate(zip(mine, theirs)):        # the same op on other inputs?
            vp, vq = values(p), values(q)
            if vp is not None and vq is not None and vp.shape == vq.shape and not close(vp, vq):
                differ.append((k, p, vp, vq, q))
        if len(differ) < len(mine):                            # (not a different op entirely)
            d.inputs = differ


def _blockwise(d: Divergence, index: ValueIndex, ref_places: Places | None) -> bool:
    """Your elementwise op on one block of a tensor the library has (one gate's columns),
    where the library applies an elementwise op to the whole tensor: that op's result, cut
    to the same block, is what the library has in your node's place (sigmoid for a gate
    you passed through tanh). Prefers the same op as yours. True if one was found."""
    for r_in, where in index.find_blocks(values(d.tensor.grad_fn.inputs[0])):
        if where is None:
            continue
        users = [r for r, _ in index.items if r.grad_fn is not None and r.grad_fn.name in UNARY
                 and len(r.grad_fn.inputs) == 1 and r.grad_fn.inputs[0] is r_in]
        users.sort(key=lambda r: r.grad_fn.name != d.op)
        if users:
            r = users[0]
            axis, start = where
            d.counterpart, d.library_op, d.library_block = r, r.grad_fn.name, True
            d.expected = _cut(values(r), axis, start, d.actual.shape[axis])
            d.library_place = ref_places.of(r) if ref_places is not None else None
            return True
    return False


# ---------------------------------------------------------------- gradients, in backward order
def _grads(roots: Sequence[Any], seeds: Sequence[Any]) -> dict[int, np.ndarray]:
    """The gradient every tensor of the graph receives in a backward from ``roots`` with
    upstream gradients ``seeds`` (the graph is retained); leaves keep theirs in .grad."""
    got: dict[int, np.ndarray] = {}

    def note(t: Any, g: Any, passed: Any) -> None:
        got[id(t)] = values(g)

    with tg.fast(False), backward_hook(note):
        tg.backward(list(roots), list(seeds), retain_graph=True)
    return got


def gradient_divergence(mine: Sequence[Any], my_inputs: Sequence[Any], reference: Sequence[Any],
                        ref_inputs: Sequence[Any], seeds: Sequence[np.ndarray],
                        my_places: Places) -> Divergence | None:
    """The first tensor of yours, in backward order, whose gradient differs from the
    gradient the library gives the same value (both graphs are back-propagated from their
    outputs with the same upstream gradients ``seeds``)."""
    for t in list(my_inputs) + list(ref_inputs):
        t.grad = None
    mine_g = _grads(mine, [tg.tensor(s, dtype=o.dtype) for s, o in zip(seeds, mine)])
    ref_g = _grads(reference, [tg.tensor(s, dtype=o.dtype) for s, o in zip(seeds, reference)])
    for t in list(my_inputs):
        if t.grad is not None:
            mine_g[id(t)] = values(t.grad)
    for t in list(ref_inputs):
        if t.grad is not None:
            ref_g[id(t)] = values(t.grad)
    ref_order = forward_order(list(reference))
    index = ValueIndex(ref_order)
    inputs = {id(t): k for k, t in enumerate(my_inputs)}
    for t in reversed(forward_order(list(mine))):
        v = values(t)
        same = [r for r in index.find(v) if id(r) in ref_g]
        if not same:
            continue
        g = mine_g.get(id(t))
        if g is None:
            g = np.zeros_like(v)
        if any(close(g.reshape(-1), ref_g[id(r)].reshape(-1)) if ref_g[id(r)].size == g.size
               else False for r in same):
            continue
        r = same[0]
        expected = ref_g[id(r)]
        op = t.grad_fn.name if t.grad_fn is not None else "leaf"
        d = Divergence(t, op, [tuple(p.shape) for p in t.grad_fn.inputs] if t.grad_fn else [],
                       my_places.of(t), g, expected.reshape(g.shape) if expected.size == g.size
                       else expected, r.grad_fn.name if r.grad_fn is not None else "leaf",
                       counterpart=r, kind="gradient", places=my_places)
        if id(t) in inputs:
            d.note = f"the gradient of your input {inputs[id(t)]}"
            d.chain = [(u.grad_fn.name, my_places.of(u)) for u in forward_order(list(mine))
                       if u.grad_fn is not None and any(p is t for p in u.grad_fn.inputs)]
        elif t.grad_fn is None:
            d.note = ("in your graph this value is a constant (made without a graph: "
                      ".detach(), .numpy() or a new tg.tensor), but the library's gradient "
                      "flows through it")
        return d
    return None
