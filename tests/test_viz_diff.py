"""tg.viz.diff: two graphs side by side, the first node where they differ marked.

Each test builds two graphs whose difference is known because the test put it there
(a value changed in place, a different input, a different op), and checks that exactly
that node is reported and marked, in both pictures.
"""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest

import tinygrad_edu as tg
from tinygrad_edu.viz.diff import FIRST_STYLE, Difference, differences

MARK = FIRST_STYLE["fillcolor"]


def _net(x: tg.Tensor, w: tg.Tensor) -> tuple:
    """(x · w) -> tanh -> sum, keeping the intermediate tensors."""
    y = x * w
    z = y.tanh()
    return y, z, z.sum()


def _marked(source: str) -> list[str]:
    """The DOT ids of the nodes filled with the marking colour."""
    return re.findall(r"^\s*(\w+) \[[^\n]*fillcolor=\"" + MARK + '"', source, re.M)


def _pair(seed: int = 0) -> tuple:
    tg.manual_seed(seed)
    x = tg.randn(3, dtype=tg.float64)
    w = tg.randn(3, dtype=tg.float64, requires_grad=True)
    return x, w


def test_the_same_graph_has_no_difference() -> None:
    x, w = _pair()
    a = _net(x, w)[-1]
    b = _net(x.detach(), w.detach().requires_grad_())[-1]
    d = tg.viz.diff(a, b)
    assert d.first is None and d.differences == []
    assert _marked(d.source) == []
    assert "no difference" in d.source
    assert tg.viz.diff(a, a).differences == []


def test_a_perturbed_value_marks_that_node_in_both_graphs() -> None:
    x, w = _pair()
    a, b = _net(x, w), _net(x, w)
    b[1].data[1] += 0.5                 # the tanh's output, changed after it was computed
    ga, gb = tg.viz.trace(a[-1]), tg.viz.trace(b[-1])
    tid = ga.node(a[1]).id
    d = tg.viz.diff(ga, gb, names=("before", "after"))
    assert d.first == tid
    assert d.differences == [Difference(tid, "value", "tanh")]
    assert _marked(d.source) == [f"a_{tid}", f"b_{tid}"]
    op = ga.tensors[tid].producer                       # the op that made it: outlined red
    assert re.search(rf"a_{op} \[[^\n]*color=\"#cc0000\"", d.source)
    assert "before" in d.source and "after" in d.source
    assert f"first difference at {tid} (value, made by 'tanh')" in d.source


def test_a_different_input_marks_it_first_and_outlines_what_follows() -> None:
    x, w = _pair()
    a = _net(x, w)[-1]
    w2 = w.detach().clone()
    w2.data[0] += 1e-3
    b = _net(x, w2.requires_grad_())[-1]
    d = tg.viz.diff(a, b)
    ga = tg.viz.trace(a)
    assert d.first == ga.node(w).id
    assert [x.what for x in d.differences] == ["value"] * 4     # w, x·w, tanh, sum
    assert [x.op for x in d.differences] == [None, "mul", "tanh", "sum"]
    assert len(_marked(d.source)) == 2
    assert d.source.count('color="#e69138"') == 2 * 3            # the later ones, both sides


def test_values_agree_within_the_tolerance_and_nan_never_agrees() -> None:
    x, w = _pair()
    a, b = _net(x, w), _net(x, w)
    b[1].data[0] *= 1 + 1e-9
    assert tg.viz.diff(a[-1], b[-1]).differences == []
    assert tg.viz.diff(a[-1], b[-1], rtol=1e-12).first is not None
    c, e = _net(x, w), _net(x, w)
    c[1].data[0] = math.nan
    e[1].data[0] = math.nan
    assert [x.node for x in tg.viz.diff(c[-1], e[-1]).differences] == \
        [tg.viz.trace(c[-1]).node(c[1]).id]


def test_a_different_gradient_is_reported_in_backward_order() -> None:
    x, w = _pair()
    a, b = _net(x, w), _net(x.detach(), w.detach().requires_grad_())
    with tg.retain_grads():
        a[-1].backward()
        b[-1].backward(tg.tensor(2.0, dtype=tg.float64))         # every gradient doubled
    d = tg.viz.diff(a[-1], b[-1])
    found = [(x.what, x.op) for x in d.differences]
    assert found == [("grad", "sum"), ("grad", "tanh"), ("grad", "mul"), ("grad", None)]


def test_graphs_of_different_structure_need_marks() -> None:
    x, w = _pair()
    a = _net(x, w)[-1]
    b = (x * w).sigmoid().sum()
    with pytest.raises(ValueError, match="differ in structure.*'tanh'.*'sigmoid'.*mark="):
        tg.viz.diff(a, b)
    y = b.grad_fn.inputs[0]
    d = tg.viz.diff(a, b, mark=(a.grad_fn.inputs[0], y))
    ga, gb = tg.viz.trace(a), tg.viz.trace(b)
    assert d.first == ga.node(a.grad_fn.inputs[0]).id
    assert _marked(d.source) == [f"a_{ga.node(a.grad_fn.inputs[0]).id}",
                                 f"b_{gb.node(y).id}"]
    assert d.differences[0].what == "marked"
    only_b = tg.viz.diff(a, b, mark=(None, y))
    assert _marked(only_b.source) == [f"b_{gb.node(y).id}"]
    with pytest.raises(KeyError, match="not part of this graph"):
        tg.viz.diff(a, b, mark=(y, None))


def test_several_roots_and_the_arguments_are_checked() -> None:
    x, w = _pair()
    y, z, s = _net(x, w)
    assert tg.viz.diff((y, s), (y, s)).differences == []
    with pytest.raises(ValueError, match="two labels"):
        tg.viz.diff(s, s, names=("only one",))
    with pytest.raises(TypeError, match="must be a Tensor or a Graph"):
        tg.viz.diff(s, 3.0)


def test_diff_is_part_of_the_public_viz_api_and_cheap_to_import() -> None:
    assert "diff" in tg.viz.__all__ and callable(tg.viz.diff)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_it_renders_to_svg(tmp_path: Path) -> None:
    x, w = _pair()
    a, b = _net(x, w), _net(x, w)
    b[1].data[2] -= 1.0
    path = tg.viz.diff(a[-1], b[-1], names=("expected", "yours")).render(tmp_path / "d.svg")
    svg = Path(path).read_text()
    assert Path(path) == tmp_path / "d.svg" and "<svg" in svg[:1000]
    assert svg.count(MARK) == 2 and "expected" in svg and "yours" in svg
    assert (tmp_path / "d.gv").exists()                  # the DOT source beside it
