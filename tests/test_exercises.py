"""The exercises and their checker (lessons/exercises/), tried the three ways a learner meets them.

For every exercise: the untouched stub fails with the task statement from its own
NotImplementedError; the reference solution passes every check; and a realistic mistake
(a sign error, a missing transpose, a forgotten sum over the batch, a gradient not summed
over the time steps, ...) fails, with the checker naming the op and the line where the
learner's computation leaves the library's (or, for NumPy code, the first named result that
differs). The expected answers come from the mistake itself: the line that was changed, and
the results that change when the mistaken code runs beside the reference solution.

The command line (``python -m exercises``, which ``bash tools/course.sh --exercises / --check /
--hint`` runs) is tried in a subprocess: the list with progress, a check, hints one at a time.
"""
from __future__ import annotations

import ast
import importlib
import linecache
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import exercises
from exercise_mutants import solution_path, variant
from exercises import TABLE
from exercises.checker import check
from exercises.divergence import values
from exercises.hints import HINTS
from exercises.specs import SPECS, LearnerError, Mismatch, NamedSpec

ROOT = Path(__file__).resolve().parents[1]
NAMES = [e.name for e in TABLE]


def _stub_task(name: str) -> str:
    """The one-line task statement of the stub's NotImplementedError, read from its source."""
    tree = ast.parse((ROOT / "lessons" / "exercises" / f"{name}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and \
                getattr(node.exc.func, "id", None) == "NotImplementedError":
            return ast.literal_eval(node.exc.args[0])
    raise AssertionError(f"{name}.py raises no NotImplementedError")


# ---------------------------------------------------------------- what there is
def test_at_least_14_exercises_following_the_course() -> None:
    assert len(TABLE) >= 14
    assert len(set(NAMES)) == len(NAMES)
    assert [e.lesson for e in TABLE] == sorted(e.lesson for e in TABLE)
    assert set(SPECS) == set(NAMES) == set(HINTS)


@pytest.mark.parametrize("name", NAMES)
def test_each_exercise_points_at_a_lesson_that_has_its_topic_and_slide(name: str) -> None:
    """The table's lesson number names the lesson file whose step it practises (a
    renumbered course that forgets the table fails here)."""
    e = exercises.entry(name)
    (path,) = (ROOT / "lessons").glob(f"{e.lesson:02d}_*.py")
    text = path.read_text()
    assert e.slide in text, (name, path.name)


@pytest.mark.parametrize("name", NAMES)
def test_each_exercise_has_its_file_docstring_solution_and_hints(name: str) -> None:
    e = exercises.entry(name)
    source = (ROOT / "lessons" / "exercises" / f"{name}.py").read_text()
    doc = " ".join(ast.get_docstring(ast.parse(source)).split())
    assert f'"{e.topic}"' in doc and f'"{e.slide}"' in doc, doc     # lesson by topic and slide
    assert f"--check {name}" in doc and f"--hint {name}" in doc
    task = _stub_task(name)
    assert "\n" not in task and 20 < len(task) < 200
    assert source.count("raise NotImplementedError") == 1
    assert solution_path(name).exists()
    assert 2 <= len(HINTS[name]) <= 3
    target = SPECS[name].target
    module = importlib.import_module(f"exercises.{name}")
    obj = getattr(module, target)
    assert (obj.backward if isinstance(obj, type) else obj).__doc__ or obj.__doc__


def test_lesson_numbers_live_only_in_the_table() -> None:
    """Lessons may be renumbered: the exercise files name them by topic, never by number."""
    for path in (ROOT / "lessons" / "exercises").rglob("*.py"):
        if path.name == "__init__.py" and path.parent.name == "exercises":
            continue                                            # the table itself
        text = path.read_text()
        assert not re.search(r"[Ll]esson\s*#?\d|lessons/\d\d_", text), path


def test_entries_by_name_or_number() -> None:
    assert exercises.entry("3") == TABLE[2]
    assert exercises.entry("bptt").name == "bptt"
    with pytest.raises(KeyError, match="no exercise 'lstm'.*lstm_cell"):
        exercises.entry("lstm")
    with pytest.raises(KeyError):
        exercises.entry(str(len(TABLE) + 1))


# ---------------------------------------------------------------- stub, solution
@pytest.mark.parametrize("name", NAMES)
def test_the_untouched_stub_fails_with_the_task_statement(name: str) -> None:
    report = check(name)
    assert not report.ok
    f = report.failure
    assert f.check == "todo"
    assert f.message == _stub_task(name)
    assert f.place is not None and f.place.file.endswith(f"lessons/exercises/{name}.py")
    text = report.text()
    assert f"not done yet: {_stub_task(name)}" in text
    assert f"lessons/exercises/{name}.py:{f.place.line}" in text.replace(str(ROOT) + "/", "")


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_solution_passes(name: str) -> None:
    solution = importlib.import_module(f"exercises.solutions.{name}")
    report = check(name, solution)
    assert report.ok, report.text()
    spec = SPECS[name]
    expected = 1 if isinstance(spec, NamedSpec) else 4 if spec.second_order else 3
    assert len(report.passed) == expected, report.passed
    assert f"Solved: {name}" in report.text()


# ---------------------------------------------------------------- a realistic mistake each
# (exercise, the text replaced in the solution, the mistake, what the checker must name: an
# op made on the changed line (or that many lines further on), a named result, or a check)
MISTAKES = [
    ("delta_rule", "dE_dT = -dE_dnet.sum()", "dE_dT = -dE_dnet", ("op", "neg")),
    ("mul_backward", "dy = sum_to(grad * x, y.shape)", "dy = grad * x", ("op", "mul")),
    ("matmul_backward", "db = sum_to(a.mT @ grad, b.shape)", "db = a.mT @ grad",
     ("op", "matmul")),
    ("conv2d", "win.permute(0, 2, 3, 1, 4, 5)", "win.permute(0, 2, 3, 1, 5, 4)",
     ("op", "reshape")),
    ("conv2d_backward", "+= dwindows", "= dwindows", ("named", "dx")),
    ("max_pool2d", "first = np.arange(k * k) == flat.argmax(axis=-1)[..., None]",
     "first = flat == flat.max(axis=-1, keepdims=True)", ("named", "dwindows")),
    # (no op is made on the changed line: the first that differs is the next line's exp)
    ("cross_entropy", "shifted = logits - logits.detach().amax(1, keepdim=True)",
     "shifted = logits", ("op", "exp", +1)),
    ("sgd_momentum", "g = grad + weight_decay * w", "g = grad - weight_decay * w",
     ("named", "the momentum buffer after step 1")),
    ("rnn_step", "h @ U.T", "h @ U", ("named", "h_t at step t=1")),
    ("bptt", "dW += dW_t[t]", "dW = dW_t[t]", ("named", "dW = ∂E/∂W (the sum over the steps)")),
    ("bptt", "da = delta * (1 - hs[t + 1] ** 2)", "da = delta",
     ("named", "W's share of ∂E/∂W at step t=4")),
    ("sum_expand", "total = Sum.apply(grad, dims=tuple(range(lead)) + stretched, keepdim=True)",
     "total = Sum.apply(grad[(0,) * lead], dims=tuple(d - lead for d in stretched), "
     "keepdim=True)", ("op", "getitem")),
    ("tanh_backward", "return grad * (1 - z * z)", "return grad * (1 - x * x)", ("op", "mul")),
    ("tanh_backward", "z = x.tanh()", "z = tg.tensor(np.tanh(x.detach().numpy()))",
     ("check", "second derivatives")),
    ("clip_grad_norm", '"grads": [g * scale for g in grads]',
     '"grads": [g * min(1.0, max_norm / (np.sqrt(np.sum(g ** 2)) + 1e-6)) for g in grads]',
     ("named", "clipped gradient 0")),
    ("lstm_cell", "c_new = f * c + i * g", "c_new = f * g + i * c", ("op", "mul")),
    ("gru_cell", "return n + z * (h - n)", "return h + z * (n - h)", ("op", "neg")),
    ("greedy_decode", "token = tg.where(done, model.eos_idx, token)", "pass",
     ("named", "the tokens at step 5")),
]


def test_every_exercise_has_a_realistic_mistake() -> None:
    assert {m[0] for m in MISTAKES} == set(NAMES)


def _named_results(name: str, impl: object) -> list:
    """(label, values) of every named result, case after case, until an error."""
    spec, out = SPECS[name], []
    for case in spec.cases():
        try:
            out += [(label, np.asarray(v, dtype=float)) for label, v in spec.mine(impl, case)]
        except (LearnerError, Mismatch):
            out.append(("error", None))
            break
    return out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")      # e^1000 without the max-shift
@pytest.mark.parametrize("name, old, new, expect", MISTAKES,
                         ids=[f"{m[0]}: {m[2][:40]}" for m in MISTAKES])
def test_a_realistic_mistake_fails_and_is_located(name: str, old: str, new: str,
                                                  expect: tuple) -> None:
    impl, line = variant(name, old, new)
    report = check(name, impl)
    assert not report.ok, f"the mistake {new!r} passed"
    f = report.failure
    kind, what, *further = expect
    if kind == "op":                    # the op, made on the line that was changed
        d = f.divergence
        assert d is not None, report.text()
        assert (d.op, d.place.line) == (what, line + sum(further)), report.text()
        assert d.place.mine
        assert f"made at {d.place}" in report.text()
    elif kind == "named":               # the first named result that changes with the mistake
        solution = importlib.import_module(f"exercises.solutions.{name}")
        pairs = zip(_named_results(name, solution), _named_results(name, impl))
        truth = next(a[0] for a, b in pairs if b[0] == "error" or a[1].shape != b[1].shape
                     or not np.allclose(a[1], b[1], rtol=1e-7, atol=1e-9))
        assert truth == what
        assert f.named is not None and f.named.label == what, report.text()
        assert f"the first result that differs: {what}" in report.text()
    else:
        assert f.check == what, report.text()


PER_GATE_LSTM = '''
import tinygrad_edu as tg


def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    H = h.shape[1]
    W_i, W_f, W_g, W_o = w_ih[:H], w_ih[H:2 * H], w_ih[2 * H:3 * H], w_ih[3 * H:]
    U_i, U_f, U_g, U_o = w_hh[:H], w_hh[H:2 * H], w_hh[2 * H:3 * H], w_hh[3 * H:]
    b = b_ih + b_hh
    i = (x @ W_i.T + h @ U_i.T + b[:H]).sigmoid()
    f = (x @ W_f.T + h @ U_f.T + b[H:2 * H]).sigmoid()
    g = (x @ W_g.T + h @ U_g.T + b[2 * H:3 * H]).tanh()
    o = (x @ W_o.T + h @ U_o.T + b[3 * H:]).sigmoid()
    c_new = f * c + i * g
    return o * c_new.tanh(), c_new
'''


def _module(source: str, name: str) -> types.SimpleNamespace:
    linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)
    namespace: dict = {}
    exec(compile(source, name, "exec"), namespace)
    return types.SimpleNamespace(**namespace)


def test_a_learner_who_computes_gate_by_gate_is_checked_and_located_too() -> None:
    """Not the library's structure (four small matrix products instead of one big one, the
    weights sliced on lines of their own): it passes, and a mistake in one gate is named
    on that gate's line, not on the (right) slicing before it."""
    assert check("lstm_cell", _module(PER_GATE_LSTM, "<gate by gate>")).ok
    wrong = PER_GATE_LSTM.replace("b[H:2 * H]).sigmoid()", "b[H:2 * H]).tanh()")
    report = check("lstm_cell", _module(wrong, "<gate by gate, f through tanh>"))
    d = report.failure.divergence
    line = wrong.splitlines().index("    f = (x @ W_f.T + h @ U_f.T + b[H:2 * H]).tanh()") + 1
    assert (d.op, d.place.line) == ("tanh", line), report.text()
    # in its place the library has the same block of its sigmoid of all four gates: σ(a_f)
    a_f = values(d.tensor.grad_fn.inputs[0])
    assert d.library_op == "sigmoid" and d.library_block
    assert np.allclose(d.expected, 1 / (1 + np.exp(-a_f)), rtol=1e-12, atol=0)
    assert "the same block of its 'sigmoid'" in report.text()


def test_an_error_in_the_learners_code_is_shown_with_its_whole_traceback() -> None:
    impl, line = variant("lstm_cell", "a = x @ w_ih.T", "a = x @ w_ih")
    report = check("lstm_cell", impl)
    f = report.failure
    assert f.check == "error" and f.place.line == line
    text = report.text()
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: matmul: shapes (2, 3) and (16, 3) cannot be multiplied" in text
    assert "tinygrad_edu/functional/tensor_methods.py" in text      # library frames are kept
    assert f"in your file at {f.place}: a = x @ w_ih + (b_ih + b_hh)" in text


def test_a_wrong_kind_of_result_is_explained() -> None:
    impl, _ = variant("gru_cell", "return n + z * (h - n)", "return (n + z * (h - n)).numpy()")
    report = check("gru_cell", impl)
    assert report.failure.check in ("returns", "error")
    impl, _ = variant("bptt", '"dV": dV}', '"dv": dV}')
    report = check("bptt", impl)
    assert report.failure.check == "returns"
    assert "'dV'" in report.failure.message


def test_a_graph_cut_by_detach_is_found_in_backward_order() -> None:
    """Right values, no gradient through one step: the gradient check names the tensor."""
    impl, line = variant("lstm_cell", "g = a[:, 2 * H:3 * H].tanh()",
                         "g = a[:, 2 * H:3 * H].tanh().detach()")
    report = check("lstm_cell", impl)
    f = report.failure
    assert report.passed == ["values agree with the library's on 5 cases"]
    assert f.check == "gradients"
    d = f.divergence
    assert d.kind == "gradient" and d.place.line == line, report.text()
    assert "constant" in d.note


def test_a_nan_never_agrees() -> None:
    impl, _ = variant("cross_entropy", "return -picked.sum() / n",
                      "return -picked.sum() / n * float('nan')")
    report = check("cross_entropy", impl)
    assert report.failure.check == "values"
    assert "nan" in report.failure.message


# ---------------------------------------------------------------- the picture
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_a_failed_check_draws_both_graphs_with_the_node_marked(tmp_path: Path) -> None:
    impl, line = variant("lstm_cell", "c_new = f * c + i * g", "c_new = f * g + i * c")
    report = check("lstm_cell", impl, pictures=tmp_path)
    picture = report.failure.picture
    assert picture == tmp_path / "lstm_cell.svg"
    svg = picture.read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg", "<!DOCTYPE"))
    assert "yours" in svg and "the library&#39;s" in svg
    assert svg.count("#f4cccc") == 2                # the node, in both graphs
    assert f"picture: {picture}" in report.text()


# ---------------------------------------------------------------- the command line
def _cli(*args: str, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lessons"), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "exercises", *args, "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)


def test_the_command_line_lists_checks_and_hints(tmp_path: Path) -> None:
    proc = _cli("--exercises", out=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for k, e in enumerate(TABLE, 1):
        assert f" {e.name} " in proc.stdout and f"{e.lesson}. {e.topic}" in proc.stdout
    assert f"0 of {len(TABLE)} solved" in proc.stdout

    proc = _cli("--check", "rnn_step", out=tmp_path)
    assert proc.returncode == 1
    assert f"not done yet: {_stub_task('rnn_step')}" in proc.stdout
    assert "Stuck? bash tools/course.sh --hint rnn_step   (hint 1 of 2)" in proc.stdout

    hints = HINTS["rnn_step"]
    proc = _cli("--hint", "rnn_step", out=tmp_path)
    assert f"Hint 1 of 2 for rnn_step: {hints[0]}" in proc.stdout
    assert hints[1] not in proc.stdout
    proc = _cli("--hint", "9", out=tmp_path)                     # by number, the next one
    assert f"Hint 2 of 2 for rnn_step: {hints[1]}" in proc.stdout
    proc = _cli("--hint", "rnn_step", out=tmp_path)
    assert "That was every hint" in proc.stdout and "solutions/rnn_step.py" in proc.stdout

    proc = _cli("--exercises", out=tmp_path)
    row = next(line for line in proc.stdout.splitlines() if " rnn_step " in line)
    assert "not done yet" in row and "2/2" in row

    proc = _cli("--check", "lstm", out=tmp_path)
    assert proc.returncode == 2 and "no exercise 'lstm'" in proc.stderr


def test_the_progress_file_records_a_solved_exercise(tmp_path: Path) -> None:
    from exercises.progress import Progress
    p = Progress(tmp_path)
    p.checked("bptt", "values")
    p.checked("rnn_step", "ok")
    again = Progress(tmp_path)
    assert again.status("bptt") == "failing: values"
    assert again.status("rnn_step") == "solved"
    assert again.status("lstm_cell") == ""
    proc = _cli("--exercises", out=tmp_path)
    assert f"1 of {len(TABLE)} solved" in proc.stdout


@pytest.mark.skipif(shutil.which("dot") is None, reason="tools/setup.sh would try to install "
                    "Graphviz first")
def test_course_sh_forwards_the_exercise_flags(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(ROOT / "tools" / "course.sh"), "--exercises", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, COLUMNS="200"))
    assert proc.returncode == 0, proc.stderr
    assert "delta_rule" in proc.stdout and "Lesson" not in proc.stdout
