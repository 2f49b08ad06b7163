"""The checker: your function against the library's, case by case, and where they part.

``check(name)`` imports your exercise (``exercises/NAME.py``) and runs the checks of its
kind (see :mod:`exercises.specs`), in this order, stopping at the first that fails:

1. **values**: your outputs and the library's on every case (shapes, then every element
   within 1e-9 + 1e-7·|expected|; NaN never agrees);
2. **gradients, the library's autograd**: a backward from your outputs and from the
   library's with the same random upstream gradients; every input's gradient compared;
3. **gradients, central differences**: ``tg.gradcheck`` of your function in float64 (the
   gradient your graph gives against the slope of the values your function computes);
4. **second derivatives** (where you wrote a backward): ``tg.gradgradcheck``.

NumPy and optimizer exercises compare their named intermediate results instead.

When a check fails the report says which case, what differs, and where: for a graph, the
first node of yours that leaves the library's computation (:mod:`exercises.divergence`),
with a picture of both graphs (``tg.viz.diff``) when Graphviz is installed; for named
results, the first name that differs and the first element where it does. An exception
from your code is shown with its whole traceback. Your code only ever runs on the cases'
inputs (and, for central differences, on those inputs nudged by ±1e-6).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_edu as tg

from exercises import TABLE, Entry, entry
from exercises.divergence import (Divergence, Place, agree, close, first_difference,
                                  forward_divergence, gradient_divergence, traced, values)
from exercises.specs import SPECS, Case, GraphSpec, LearnerError, Mismatch, NamedSpec, Spec, call

LIMIT = 6          # entries shown of a value


@dataclass
class NamedDifference:
    """The first named result that differs (NumPy and optimizer exercises)."""
    label: str
    actual: np.ndarray
    expected: np.ndarray
    before: list[str] = field(default_factory=list)     # the results of the case that agree
    equals: str | None = None           # the library's result that yours is equal to, if any


@dataclass
class Failure:
    """The first check that failed, and everything known about why."""
    check: str                          # 'todo', 'error', 'returns', 'values', 'gradients', ...
    case: str                           # the case, described
    message: str
    divergence: Divergence | None = None
    named: NamedDifference | None = None
    error: LearnerError | None = None
    place: Place | None = None          # for an error: the innermost line of your file
    picture: Path | None = None
    picture_note: str = ""


@dataclass
class Report:
    """The outcome of checking one exercise."""
    entry: Entry
    kind: str
    passed: list[str] = field(default_factory=list)     # the checks that passed
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def text(self) -> str:
        """The report as plain text (the command line adds colour)."""
        return "\n".join(render(self))


class _Failed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def load(name: str) -> Any:
    """Your exercise module, freshly imported (after an edit, the new code runs)."""
    module = importlib.import_module(f"exercises.{name}")
    return importlib.reload(module)


def check(name: str, impl: Any = None, pictures: Path | None = None) -> Report:
    """Check exercise ``name``: ``impl`` is the module (or namespace) holding the code (your
    exercise file by default); a picture of a diverging graph goes into ``pictures``."""
    e = entry(name)
    spec = SPECS[e.name]
    impl = load(e.name) if impl is None else impl
    report = Report(e, spec.kind)
    device = tg.get_default_device()
    tg.set_default_device("cpu")        # the exercises run on NumPy (as does your NumPy code)
    try:
        with tg.fast(False):
            if isinstance(spec, NamedSpec):
                _check_named(spec, impl, report)
            else:
                _check_graph(spec, impl, report, pictures)
    except _Failed as f:
        report.failure = f.failure
    finally:
        tg.set_default_device(device)
    return report


# ---------------------------------------------------------------- failures from the learner's code
def _error_failure(spec: Spec, impl: Any, case: Case, err: LearnerError) -> Failure:
    """A failure for an exception raised by the learner's code: 'todo' for the untouched
    stub (its NotImplementedError states the task), else the error with its traceback."""
    file = spec.code_file(impl)
    tb, place = err.error.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file:
            place = Place(file, tb.tb_lineno, True)
        tb = tb.tb_next
    if isinstance(err.error, NotImplementedError) and place is not None:
        return Failure("todo", case.describe(), str(err.error), error=err, place=place)
    return Failure("error", case.describe(), f"{type(err.error).__name__}: {err.error}",
                   error=err, place=place)


# ---------------------------------------------------------------- graph and Function exercises
def _outputs(spec: GraphSpec, result: Any, reference: tuple) -> tuple:
    """Your result as a tuple of tensors like the library's, or a clear 'returns' message."""
    outs = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    what = f"{len(spec.outputs)} tensor{'s' if len(spec.outputs) > 1 else ''} " \
           f"({', '.join(spec.outputs)})"
    if len(outs) != len(reference):
        raise Mismatch(f"{spec.target} should return {what}; it returned {len(outs)} value(s)")
    for k, o in enumerate(outs):
        if not isinstance(o, tg.Tensor):
            raise Mismatch(f"{spec.target} should return {what}; output {k} is a "
                           f"{type(o).__name__} (compute it with tensor operations)")
    return outs


def _run(spec: GraphSpec, impl: Any, case: Case) -> tuple[dict, tuple, dict, tuple]:
    """Your outputs and the library's on fresh copies of the case's tensors."""
    mine_ts = case.tensors(spec.differentiable)
    result = call(spec.mine, impl, case, mine_ts)
    ref_ts = case.tensors(spec.differentiable)
    ref = tuple(spec.reference(case, ref_ts))
    return mine_ts, _outputs(spec, result, ref), ref_ts, ref


def _check_graph(spec: GraphSpec, impl: Any, report: Report, pictures: Path | None) -> None:
    cases = spec.cases()

    def guarded(case: Case, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LearnerError as err:
            raise _Failed(_error_failure(spec, impl, case, err)) from None
        except Mismatch as m:
            raise _Failed(Failure("returns", case.describe(), str(m))) from None

    for case in cases:                                              # 1. values
        _, mine, _, ref = guarded(case, _run, spec, impl, case)
        for k, (m, r) in enumerate(zip(mine, ref)):
            got, want = values(m), values(r)
            if got.shape != want.shape or not close(got, want):
                msg = _value_message(f"output {k} ({spec.outputs[k]})", got, want)
                raise _Failed(_localise_values(spec, impl, case, msg, pictures))
    report.passed.append(f"values agree with the library's on {len(cases)} cases")

    for n, case in enumerate(cases):                                # 2. the library's autograd
        mine_ts, mine, ref_ts, ref = guarded(case, _run, spec, impl, case)
        for k, m in enumerate(mine):
            if not m.requires_grad:
                raise _Failed(Failure("gradients", case.describe(),
                                      f"output {k} ({spec.outputs[k]}) has no graph: nothing in "
                                      "it can be differentiated. Compute it with tensor "
                                      "operations on the inputs (not NumPy, .item() or "
                                      ".detach())"))
        seeds = _seeds(ref, n)
        ins = [mine_ts[k] for k in spec.differentiable]
        if spec.kind == "function":
            guarded(case, _probe_backward, mine, seeds)
        got = guarded(case, call, tg.grad, list(mine), ins,
                      [tg.tensor(s, dtype=tg.float64) for s in seeds], allow_unused=True)
        want = tg.grad(list(ref), [ref_ts[k] for k in spec.differentiable],
                       [tg.tensor(s, dtype=tg.float64) for s in seeds], allow_unused=True)
        for name, g, w in zip(spec.differentiable, got, want):
            gv, wv = values(g), values(w)
            if gv.shape != wv.shape or not close(gv, wv):
                msg = _value_message(f"the gradient of {name}", gv, wv)
                raise _Failed(_localise_gradients(spec, impl, case, msg, n, pictures))
    report.passed.append(f"gradients agree with the library's autograd on {len(cases)} cases")

    small = [c for c in cases if c.small]                           # 3. central differences
    for case in small:
        ts = case.tensors(spec.differentiable)
        guarded(case, _numerical, spec, impl, case, ts, tg.gradcheck,
                "central differences")
    report.passed.append(f"gradients agree with float64 central differences on {len(small)} "
                         "cases")
    if spec.second_order:                                           # 4. second derivatives
        for case in small:
            ts = case.tensors(spec.differentiable)
            guarded(case, _numerical, spec, impl, case, ts,
                    tg.gradgradcheck, "second derivatives")
        report.passed.append(f"second derivatives agree with central differences on "
                             f"{len(small)} cases")


def _seeds(ref: tuple, n: int) -> list[np.ndarray]:
    """Random upstream gradients, one per output (seeded by the case)."""
    r = np.random.default_rng(1000 + n)
    return [r.normal(0, 1, tuple(o.shape)) for o in ref]


def _probe_backward(mine: tuple, seeds: list) -> None:
    """Call your backward once by hand and check what it returns: one tensor (or None) per
    input. (Their shapes and values are compared with the library's next, where a wrong one
    can be located.)"""
    node = mine[0].grad_fn
    with tg.no_grad():
        out = call(node.backward, tg.tensor(seeds[0], dtype=tg.float64))
    grads = out if isinstance(out, tuple) else (out,)
    n = len(node.inputs)
    if len(grads) != n:
        raise Mismatch(f"backward should return one gradient per input ({n}), as a tuple; it "
                       f"returned {len(grads)}")
    for k, g in enumerate(grads):
        if g is not None and not isinstance(g, tg.Tensor):
            raise Mismatch(f"backward should return tensors; gradient {k} is a "
                           f"{type(g).__name__} (compute it with tensor operations on grad and "
                           "self.inputs)")


def _numerical(spec: GraphSpec, impl: Any, case: Case, ts: dict, checker: Any,
               what: str) -> None:
    names = list(spec.inputs)

    def fn(*args: tg.Tensor) -> Any:
        return spec.mine(impl, case, dict(zip(names, args)))
    try:
        call(checker, fn, [ts[k] for k in names])
    except LearnerError as err:
        if isinstance(err.error, AssertionError) and "mismatch" in str(err.error):
            message = str(err.error)
            for k, name in enumerate(names):            # input k -> its name
                message = message.replace(f"input {k}", f"input {k} ({name})")
            raise _Failed(Failure(what, case.describe(), message)) from None
        raise


def _value_message(what: str, got: np.ndarray, want: np.ndarray) -> str:
    if got.shape != want.shape:
        return f"{what} has shape {got.shape} where {want.shape} was expected"
    at = first_difference(got, want)
    bad = int((~agree(got, want)).sum())
    return (f"{what}: {bad} of {got.size} entries differ; the first at index {list(at)}: "
            f"yours {got[at]:.10g}, the library's {want[at]:.10g}")


def _picture(pictures: Path | None, name: str, mine: Any, ref: Any,
             d: Divergence | None) -> tuple[Path | None, str]:
    """Both graphs side by side with the diverging node marked (needs Graphviz's dot)."""
    if pictures is None or d is None:
        return None, ""
    pictures.mkdir(parents=True, exist_ok=True)
    where = f" at line {d.place.line}" if d.place is not None and d.place.mine else ""
    title = (f"{name}: yours (left) and the library's (right). In red: your '{d.op}'{where}, "
             "where your computation leaves the library's"
             + (f", and the library's nearest node, its '{d.library_op}'" if d.counterpart
                is not None and d.library_op else ""))
    drawing = tg.viz.diff(list(mine), list(ref), names=("yours", "the library's"),
                          mark=(d.tensor, d.counterpart), value_limit=8, title=title)
    path = pictures / f"{name}.svg"
    try:
        return Path(drawing.render(str(path))), ""
    except tg.viz.GraphvizNotFoundError as e:
        return None, str(e)


def _localise_values(spec: GraphSpec, impl: Any, case: Case, message: str,
                     pictures: Path | None) -> Failure:
    ts = case.tensors(spec.differentiable)
    mine, places = traced(spec.mine, spec.code_file(impl), impl, case, ts)
    ref_ts = case.tensors(spec.differentiable)
    ref, ref_places = traced(spec.reference, None, case, ref_ts)
    mine, ref = _outputs(spec, mine, tuple(ref)), tuple(ref)
    d = forward_divergence(mine, [values(r) for r in ref], ref, places, ref_places)
    if d is not None and d.output is not None:
        d.output_label = f"your output {d.output} ({spec.outputs[d.output]})"
    picture, note = _picture(pictures, spec.name, mine, ref, d)
    return Failure("values", case.describe(), message, divergence=d, picture=picture,
                   picture_note=note)


def _localise_gradients(spec: GraphSpec, impl: Any, case: Case, message: str, n: int,
                        pictures: Path | None) -> Failure:
    file = spec.code_file(impl)
    ts, ref_ts = case.tensors(spec.differentiable), case.tensors(spec.differentiable)
    mine, places = traced(spec.mine, file, impl, case, ts)
    ref = tuple(spec.reference(case, ref_ts))
    mine = _outputs(spec, mine, ref)
    seeds = _seeds(ref, n)
    ins, ref_ins = [ts[k] for k in spec.differentiable], [ref_ts[k] for k in spec.differentiable]
    if spec.kind == "function":     # your backward's own graph against the primitive's
        # (upstream gradients that require grad: every step of a backward is recorded,
        # also the steps that do not involve the op's inputs)
        grads, places = traced(tg.grad, file, list(mine), ins,
                               [tg.tensor(s, dtype=tg.float64, requires_grad=True)
                                for s in seeds], create_graph=True, allow_unused=True)
        want, ref_places = traced(tg.grad, None, list(ref), ref_ins,
                                  [tg.tensor(s, dtype=tg.float64, requires_grad=True)
                                   for s in seeds], create_graph=True, allow_unused=True)
        d = forward_divergence(grads, [values(w) for w in want], want, places, ref_places)
        if d is not None:
            d.kind = "backward"
            if d.output is not None:
                d.output_label = (f"the gradient your backward returns for "
                                  f"{spec.differentiable[d.output]}")
        picture, note = _picture(pictures, spec.name, grads, want, d)
    else:
        d = gradient_divergence(mine, ins, ref, ref_ins, seeds, places)
        picture, note = _picture(pictures, spec.name, mine, ref, d)
    return Failure("gradients", case.describe(), message, divergence=d, picture=picture,
                   picture_note=note)


# ---------------------------------------------------------------- named results
def _check_named(spec: NamedSpec, impl: Any, report: Report) -> None:
    cases = spec.cases()
    compared = 0
    for case in cases:
        expected = spec.reference(case)
        got = spec.mine(impl, case)
        agreed: list[str] = []                              # in this case, so far
        for label, want in expected:
            try:
                mine_label, mine = next(got)
            except LearnerError as err:
                raise _Failed(_error_failure(spec, impl, case, err)) from None
            except Mismatch as m:
                raise _Failed(Failure("returns", case.describe(), str(m))) from None
            assert mine_label == label, (mine_label, label)
            want = np.asarray(want, dtype=np.float64)
            if mine.shape != want.shape and mine.size == want.size == 1:
                mine = mine.reshape(want.shape)             # a number for a 0-d array is fine
            if mine.shape != want.shape or not close(mine, want):
                same = next((lb for lb, v in expected if lb != label and np.shape(v) ==
                             mine.shape and close(mine, np.asarray(v, dtype=np.float64))), None)
                raise _Failed(Failure("values", case.describe(),
                                      _value_message(label, mine, want),
                                      named=NamedDifference(label, mine, want, agreed, same)))
            compared += 1
            agreed.append(label)
    report.passed.append(f"{compared} named results agree with the library's on "
                         f"{len(cases)} cases")


# ---------------------------------------------------------------- the report as text
def _entries(a: np.ndarray, at: tuple | None) -> str:
    """A few entries of an array (all of a short one), around index ``at``."""
    flat = a.reshape(-1)
    start = 0
    if at is not None and a.ndim and flat.size > LIMIT + 2:
        start = max(0, int(np.ravel_multi_index(at, a.shape)) - 1)
    elif flat.size <= LIMIT + 2:
        return "[" + ", ".join(f"{v:.6g}" for v in flat) + "]"
    part = flat[start:start + LIMIT]
    text = ", ".join(f"{v:.6g}" for v in part)
    more = (f"… " if start else "") + "[" + text + "]" + (" …" if start + LIMIT < flat.size else "")
    where = f" from flat index {start}" if start else ""
    return f"{more}{where}"


def _relative(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def render(report: Report) -> list[str]:
    e, f = report.entry, report.failure
    lines = [f"Exercise {TABLE.index(e) + 1}: {e.name}   (lesson {e.lesson}, {e.topic}: "
             f"\"{e.slide}\")"]
    for p in report.passed:
        lines.append(f"  ✔ {p}")
    if f is None:
        lines.append(f"Solved: {e.name} agrees with the library on every check.")
        return lines
    if f.check == "todo":
        lines += [f"  · not done yet: {f.message}",
                  f"    (NotImplementedError at {f.place}: complete the code there and check "
                  "again)"]
        return lines
    if f.check == "error":
        lines += [f"  ✘ your code raised an error on the case {f.case}:", ""]
        lines += ["    " + line for line in f.error.text.rstrip().splitlines()]
        if f.place is not None:
            lines += ["", f"    in your file at {f.place}: {f.place.code}"]
        return lines
    lines.append(f"  ✘ {f.check}: on the case {f.case}")
    n = f.named
    if n is None:
        lines.append(f"    {f.message}")
    else:
        same = n.actual.shape == n.expected.shape
        at = first_difference(n.actual, n.expected) if same else None
        lines += [f"    the first result that differs: {n.label}",
                  f"      " + (f"{int((~agree(n.actual, n.expected)).sum())} of {n.actual.size} "
                               f"entries differ, the first at index {list(at)}" if same else
                               f"shape {n.actual.shape} where {n.expected.shape} was expected"),
                  f"      yours          {_entries(n.actual, at)}",
                  f"      the library's  {_entries(n.expected, at)}"]
        if n.equals:
            lines.append(f"      yours equals the library's {n.equals}")
        lines.append("    the results before it agree: " + (
            ", ".join(n.before) if len(n.before) <= 3 else
            f"{len(n.before)}, from {n.before[0]} to {n.before[-1]}") if n.before else
            "    it is the first result of this case")
    d = f.divergence
    if d is not None:
        lines += _divergence_lines(d)
    elif f.check in ("values", "gradients") and f.named is None:
        lines.append("    (no single node of yours could be paired with the library's "
                     "computation; compare your formula with the docstring's, step by step)")
    if f.picture is not None:
        lines.append(f"    picture: {_relative(f.picture)} (yours on the left, the library's on "
                     "the right; the node in red)")
    elif f.picture_note:
        lines.append(f"    (no picture: {f.picture_note})")
    return lines


def _divergence_lines(d: Divergence) -> list[str]:
    what = {"value": "the first value of yours that the library's computation never "
                     "produces, and that leads to the wrong result",
            "backward": "inside your backward: the first value that the library's backward "
                        "never produces",
            "gradient": "going backwards, the first tensor of yours whose gradient differs "
                        "from the library's for the same value"}[d.kind]
    at = d.place
    lines = [f"    where it goes wrong ({what}):",
             f"      op '{d.op}' reading {', '.join(map(str, d.input_shapes)) or 'nothing'}"
             + (f" -> {tuple(d.actual.shape)}" if d.actual is not None else "")
             + (f", made at {at}" if at is not None else "")]
    if at is not None:
        lines.append(f"        {at.code}")
    if d.output is not None:
        lines.append(f"      it is {d.output_label or f'your output {d.output}'}")
    if d.note:
        lines.append(f"      {d.note}")
    same = d.actual is not None and d.expected is not None and d.actual.shape == d.expected.shape
    at_idx = first_difference(d.actual, d.expected) if same else None
    if d.actual is not None:
        lines.append(f"      yours          {_entries(d.actual, at_idx)}")
    if d.expected is not None:
        lines.append(f"      the library's  {_entries(d.expected, at_idx)}")
        if d.library_op:
            lines.append(f"      (the library's nearest node: "
                         + ("the same block of " if d.library_block else "")
                         + f"its '{d.library_op}'"
                         + (f" at {d.library_place})" if d.library_place else ")"))
    for k, tensor, mine, theirs, other in d.inputs:
        made = d.places.of(tensor) if d.places is not None else None
        yours = (f"yours is made at line {made.line} ({made.code})" if made is not None and
                 made.mine else f"yours is your input {tensor.name}" if tensor.name else "")
        theirs_is = (f"the library's is your input {other.name}" if other.grad_fn is None and
                     other.name else f"the library's is made by its '{other.grad_fn.name}'"
                     if other.grad_fn is not None else "")
        why = ", ".join(x for x in (yours, theirs_is) if x)
        lines.append(f"      the library's '{d.library_op}' reads a different input {k}"
                     + (f": {why}" if why else ""))
        at = first_difference(mine, theirs)
        lines.append(f"        yours          {_entries(mine, at)}")
        lines.append(f"        the library's  {_entries(theirs, at)}")
    if d.chain:
        steps = " -> ".join(f"{op}" + (f" (line {p.line})" if p is not None and p.mine else "")
                            for op, p in d.chain[:8])
        lines.append(f"      from there on: {steps}" + (" -> …" if len(d.chain) > 8 else ""))
    return lines
