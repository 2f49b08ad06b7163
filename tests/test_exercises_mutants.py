"""Mutation testing of the exercise checker: it is not tuned to a few chosen mistakes.

Every reference solution is mutated at every site where a learner could slip (flip a sign,
drop a transpose, swap two arguments: tests/exercise_mutants.py), one site at a time. Each
mutant runs beside the unmutated solution on the checker's inputs, which says, without the
checker, whether the mutant changes the result, and for NumPy code which named result
changes first. Then:

* a mutant that changes the result fails the checker (it is caught), and the checker names
  the mutated code: the op made on the mutated line (graphs), the first named result that
  changed (NumPy and optimizer code), or, for an exception, the line it was raised at, which
  must be the mutated line or a line that uses what the mutated line computed;
* a mutant that changes nothing passes the checker (no false alarm).

Three mutants are named one step late, each for a reason that no comparison of values can
see through, listed in COINCIDENCES: the value the mutated op makes is also a value the
library computes (elsewhere in its graph), so the first value that never occurs in the
library's computation is the next op that uses it; the report then names that op.
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import tinygrad_edu as tg
from exercise_mutants import Mutant, all_mutants, dependent_lines
from exercises import NAMES
from exercises.checker import _seeds, check
from exercises.divergence import close, values
from exercises.specs import SPECS, LearnerError, Mismatch, NamedSpec

# (exercise, the mutated code before -> after): why the op named is one step later
COINCIDENCES = {
    ("delta_rule", "x @ w - T", "net = T - x @ w"):
        "σ(T − x·w) = 1 − σ(x·w − T), and the library's sigmoid backward computes 1 − o: the "
        "wrong o agrees with a library value, the next line is the first that does not",
    ("delta_rule", "o - t", "dE_do = t - o"):
        "t − o is the library's forward residual (E = ½Σ(t − o)²): the next line's product is "
        "named, and the report points at this input as the one that differs",
    ("cross_entropy", "shifted - shifted.exp().sum(1, keepdim=True).log()",
     "logp = shifted.exp().sum(1, keepdim=True).log() - shifted"):
        "−log softmax, indexed, is the library's −picked (it negates inside nll_loss): the "
        "values agree again until the final negation",
}


def _graph_behaviour(name: str, impl: object) -> list:
    """Per case: the outputs and the gradients of the inputs for the checker's upstream
    gradients, or ('error', ...)."""
    spec, out = SPECS[name], []
    for n, case in enumerate(spec.cases()):
        ts = case.tensors(spec.differentiable)
        try:
            with tg.fast(False):
                res = spec.mine(impl, case, ts)
                outs = tuple(res) if isinstance(res, (tuple, list)) else (res,)
                grads = tg.grad(list(outs), [ts[k] for k in spec.differentiable],
                                [tg.tensor(s, dtype=tg.float64) for s in _seeds(outs, n)],
                                allow_unused=True)
            out.append([values(o) for o in outs] + [values(g) for g in grads])
        except Exception as e:          # the mutant's own error: a changed result
            out.append(("error", repr(e)))
    return out


def _named_behaviour(name: str, impl: object) -> list:
    spec, out = SPECS[name], []
    for case in spec.cases():
        try:
            with tg.fast(False):
                out += [(label, np.asarray(v, dtype=float)) for label, v in spec.mine(impl, case)]
        except (LearnerError, Mismatch):
            out.append(("error", None))
            break
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, tuple) or isinstance(b, tuple):
        return False
    return len(a) == len(b) and all(x.shape == y.shape and close(x, y) for x, y in zip(a, b))


def _first_changed(base: list, got: list) -> str | None:
    for (label, v), (label2, w) in zip(base, got):
        if label2 == "error" or v.shape != w.shape or not close(w, v):
            return label
    return None if len(got) == len(base) else "error"


def _mutants_and_truth(name: str) -> list[tuple[Mutant, bool, str | None]]:
    """(mutant, does it change the result?, the first named result it changes)."""
    solution = importlib.import_module(f"exercises.solutions.{name}")
    named = isinstance(SPECS[name], NamedSpec)
    base = _named_behaviour(name, solution) if named else _graph_behaviour(name, solution)
    out = []
    for m in all_mutants(name):
        if named:
            first = _first_changed(base, _named_behaviour(name, m.namespace))
            out.append((m, first is not None, first))
        else:
            got = _graph_behaviour(name, m.namespace)
            out.append((m, not all(_same(a, b) for a, b in zip(base, got)), None))
    return out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")      # mutants overflow, divide by 0, ...
@pytest.mark.parametrize("name", NAMES)
def test_every_mutant_that_changes_the_result_is_caught_at_the_mutated_code(name: str) -> None:
    results = _mutants_and_truth(name)
    assert results, f"{name}: no mutation site"
    problems, exact, late = [], 0, 0
    for m, changed, first in results:
        report = check(name, m.namespace)
        if not changed:
            if not report.ok:
                problems.append(f"{m}: changes nothing, yet fails: {report.failure.message}")
            continue
        f = report.failure
        if f is None:
            problems.append(f"{m}: changes the result but passes the checker")
            continue
        if f.check == "error":
            named = f.place.line if f.place is not None else None
            ok = named in m.lines or named in dependent_lines(name, m.line)
            exact += named in m.lines
            late += ok and named not in m.lines
            if not ok:
                problems.append(f"{m}: the error is reported at line {named}, which does not "
                                "use the mutated line")
        elif first is not None:                     # NumPy / optimizer code: named results
            if f.named is None or f.named.label != first:
                problems.append(f"{m}: named {f.named.label if f.named else None!r}, but "
                                f"{first!r} is the first result that changes")
            exact += 1
        else:                                       # a graph: the op on the mutated line
            d = f.divergence
            named = d.place.line if d is not None and d.place is not None else None
            key = (name, m.before, m.after)
            if named in m.lines:
                exact += 1
            elif key in COINCIDENCES and named in dependent_lines(name, m.line):
                late += 1
            else:
                problems.append(f"{m}: {f.check} named line {named}:\n{report.text()}")
    assert not problems, "\n".join(problems)
    print(f"{name}: {len(results)} mutants, {sum(c for _, c, _ in results)} change the result: "
          f"{exact} named at the mutated code, {late} at a line that uses it")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_coincidences_are_real_mutants() -> None:
    """Each listed coincidence is a mutant that exists and changes the result (the list
    cannot silently excuse anything else)."""
    for name, before, after in COINCIDENCES:
        found = [(m, c) for m, c, _ in _mutants_and_truth(name)
                 if (m.before, m.after) == (before, after)]
        assert len(found) == 1 and found[0][1], (name, before, after)
