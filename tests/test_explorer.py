"""The graph explorer (tg.viz.explore): one self-contained HTML file, and a backward stepper
whose order and contributions are the engine's own, recorded by a hook on the real walk.

The page's data is read back from the JSON the file embeds; tests/test_explorer_browser.py
drives the page itself in a headless Chromium.
"""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, viz
from tinygrad_edu.functional.gradients import backward_hook

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` is not "
                               "installed (tools/setup.sh installs it); the explorer needs it")
pytestmark = needs_dot


def page_json(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="tg-data">(.*?)</script>', html, re.S)
    assert m, "the page embeds its data"
    return json.loads(m.group(1).replace("<\\/", "</"))


#: the named inputs stay alive, as a learner's variables do: a view of one made without
#: gradient (LeNet's window view of the images) is named after it only while it lives
ALIVE: list = []


def mlp_loss():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    x = tg.randn(5, 4)
    x.name = "x"
    return F.cross_entropy(model(x), tg.tensor([0, 2, 1, 1, 0])), model


def lenet_loss():
    from tinygrad_edu.models import LeNet5
    tg.manual_seed(0)
    model = LeNet5()
    images = tg.randn(2, 1, 32, 32)
    images.name = "images"
    ALIVE.append(images)
    return F.cross_entropy(model(images), tg.tensor([3, 7])), model


def lstm_loss(T: int = 5, fast: bool = False):
    tg.manual_seed(0)
    model = nn.LSTM(3, 4)
    x = tg.randn(T, 2, 3)
    x.name = "x"
    with tg.fast(fast):
        out, _ = model(x)
        loss = (out[-1] ** 2).sum()
    return loss, model


def hook_walk(loss) -> tuple[list[int], list[list[tuple[int, float]]]]:
    """The real backward walk, watched independently: (tensor object ids in the order
    visited, per visit the (input object id, ‖contribution‖) pairs passed on)."""
    order, passed = [], []

    def fn(t, grad, sent):
        order.append(id(t))
        passed.append([(id(p), float(np.linalg.norm(g.detach().numpy().astype(np.float64))))
                       for p, g in sent])

    with backward_hook(fn):
        loss.backward(retain_graph=True)
    return order, passed


@pytest.mark.parametrize("make", [mlp_loss, lenet_loss, lstm_loss],
                         ids=["mlp", "lenet5", "lstm5"])
def test_stepper_is_the_engines_own_walk(make) -> None:
    loss, model = make()
    grads_before = {k: p.grad for k, p in model.named_parameters()}
    ex = viz.explore(loss, model=model)
    # exploring changed no .grad: an optimizer step after it sees what it would have seen
    assert {k: p.grad for k, p in model.named_parameters()} == grads_before
    obj = {tid: id(n.tensor) for tid, n in ex.graph.tensors.items()}
    order, passed = hook_walk(loss)          # a second, real backward, watched by a hook
    assert [obj[s["t"]] for s in ex.steps] == order
    for s, want in zip(ex.steps, passed):
        got = [(obj[c["to"]], c["grad"]["norm"]) for c in s["passed"]]
        assert [g[0] for g in got] == [w[0] for w in want]
        for (_, a), (_, b) in zip(got, want):
            assert a == pytest.approx(b, rel=1e-3, abs=1e-12)
    # the page holds the same steps
    assert page_json(ex.html)["steps"] == ex.steps


def test_contributions_to_a_shared_weight_add_up() -> None:
    loss, model = lstm_loss(T=5)
    ex = viz.explore(loss, model=model)
    w = ex.graph.node(model.weight_hh_l0).id
    # W_hh is used once per step, through its transpose: that view receives 5 contributions
    views = [tid for tid, n in ex.graph.tensors.items() if n.producer
             and ex.graph.ops[n.producer].inputs == [w]]
    into = [c for s in ex.steps for c in s["passed"] if c["to"] in views]
    assert len(into) == 5 and [c["k"] for c in into] == [1, 2, 3, 4, 5]
    assert all(c["n"] == 5 for c in into)
    total = into[-1]["total"]                     # the running total after the last one
    with tg.retain_grads():
        loss.backward(retain_graph=True)
    view = ex.graph.tensors[views[0]].tensor
    assert total == pytest.approx(float(np.linalg.norm(view.grad.numpy())), rel=1e-3)


@pytest.mark.parametrize("make", [mlp_loss, lenet_loss, lstm_loss],
                         ids=["mlp", "lenet5", "lstm5"])
def test_page_is_one_file_with_no_network_reference(tmp_path, make) -> None:
    loss, model = make()
    path = viz.explore(loss, model=model).save(tmp_path / "g.html")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "</html>" in html
    assert not re.search(r"https?://", html), "no http(s):// address anywhere in the file"
    assert not re.search(r"""(?:src|href)\s*=\s*["']?//""", html), "no protocol-relative link"
    assert "url(//" not in html and "@import" not in html
    assert not re.search(r"<(?:script|img|iframe|link)[^>]*\b(?:src|href)=", html)
    assert len(list(tmp_path.iterdir())) == 1       # nothing written beside it


def test_page_holds_the_nodes_with_their_names() -> None:
    loss, model = lenet_loss()
    ex = viz.explore(loss)                           # no model=: the names still come
    data = page_json(ex.html)
    names = {t["name"] for t in data["tensors"].values()}
    assert {"images", "c1.weight", "c3.weight", "output.bias"} <= names
    assert ">images<" in ex.html and ">c1.weight<" in ex.html      # in the drawing too
    for n in data["nodes"].values():                 # every box is in the SVG, by its id
        assert f'id="n_{n["dot"]}"' in ex.html
    images = next(t for t in data["tensors"].values() if t["name"] == "images")
    assert images["view_of"] == "images" and images["base_shape"] == "(2, 1, 32, 32)"
    op = next(o for o in data["ops"].values() if o["op"] == "matmul")
    assert "dA = G @ Bᵀ" in op["formula"] and op["saved"]      # formula, saved tensors
    t = data["tensors"][op["output"]]
    assert t["values"]["first"] and "mean" in t["values"] and t["grad"]["norm"] > 0


def test_freed_graph_is_drawn_and_says_how_to_keep_values() -> None:
    loss, model = mlp_loss()
    with tg.retain_grads():
        loss.backward()                              # a plain backward frees the graph
    ex = viz.explore(loss, model=model)
    data = page_json(ex.html)
    assert ex.steps == [] and "retain_graph=True" in data["message"]
    assert data["tensors"][ex.graph.node(model[0].weight).id]["grad"]["norm"] > 0
    loss2, model2 = mlp_loss()
    loss2.backward(retain_graph=True)                # kept: the stepper works again
    assert len(viz.explore(loss2, model=model2).steps) > 0


def test_fused_node_is_labelled_with_its_formula() -> None:
    loss, model = lstm_loss(T=3, fast=True)
    ex = viz.explore(loss, model=model)
    assert "lstm_layer (fused)" in ex.html and "c_t = f c_{t-1} + i g" in ex.html
    assert page_json(ex.html)["fused"] == ["lstm_layer"]
    loss, model = lstm_loss(T=3, fast=False)
    html = viz.explore(loss, model=model).html
    assert "lstm_layer" not in html and "lstm_gates" not in html


def test_second_order_graph_beside_the_forward_graph() -> None:
    x = tg.tensor([0.5, -1.0], requires_grad=True)
    x.name = "x"
    y = (x.tanh() ** 2).sum()
    (gx,) = tg.grad(y, [x], create_graph=True)
    gx.name = "dy/dx"
    ex = viz.explore(y, grads=[gx])
    assert 'id="c_cluster_grad"' in ex.html and "dy/dx" in ex.html
    src = viz.draw(y, grads=[gx]).source
    assert "subgraph cluster_grad" in src
    # explore(create_graph=True) records the backward with a graph and draws it too
    z = (x * x * x).sum()
    assert 'id="c_cluster_grad"' in viz.explore(z, create_graph=True).html
    assert x.grad is None


def test_64_step_lstm_page_stays_under_5_mb() -> None:
    loss, model = lstm_loss(T=64)
    ex = viz.explore(loss, model=model)
    assert len(ex.html.encode("utf-8")) < 5_000_000, len(ex.html)
    assert len(ex.steps) > 64


def test_a_long_sequence_wraps_into_rows() -> None:
    loss, model = lstm_loss(T=12)
    flat = viz.explore(loss, model=model)
    ex = viz.explore(loss, model=model, wrap=4)      # 3 rows of 4 steps
    rows = [c for c in ex.scene.clusters if c.startswith("cluster_row")]
    assert len(rows) == 3 and not [c for c in flat.scene.clusters if c.startswith("cluster_row")]
    data = page_json(ex.html)
    steps = [c for c, v in data["clusters"].items() if v["kind"] == "step"]
    assert len(steps) == 12 and not set(rows) & set(data["clusters"])   # rows: no frames
    assert len(ex.steps) == len(flat.steps)          # the same backward walk to step through
    with pytest.raises(ValueError, match="wrap must be"):
        viz.explore(loss, model=model, wrap=0)


def test_without_dot_it_says_how_to_install(monkeypatch, tmp_path) -> None:
    loss, model = mlp_loss()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz"):
        viz.explore(loss, model=model)


def test_arguments_are_checked() -> None:
    loss, _ = mlp_loss()
    with pytest.raises(ValueError, match="view must be one of"):
        viz.explore(loss, view="3d")
    with pytest.raises(TypeError, match="argument 0 must be a Tensor"):
        viz.explore("loss")
    with pytest.raises(ValueError, match="should end in .html"):
        viz.explore(loss).save("graph.svg")


def test_shows_inline_in_jupyter() -> None:
    loss, model = mlp_loss()
    ex = viz.explore(loss, model=model)
    frame = ex._repr_html_()
    assert frame.startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;')
    assert 'sandbox="allow-scripts"' in frame
    assert "Explorer(Graph(" in repr(ex) and "backward steps" in repr(ex)


@pytest.mark.parametrize("fast", [False, True])
def test_time_explorer_runs_both_lanes(fast: bool) -> None:
    """The benchmark's explorer row (tools/bench.py explorer) on a tiny LSTM."""
    from tinygrad_edu.viz.explorer import time_explorer
    r = time_explorer(steps=2, repeat=1, fast=fast)
    assert r["explorer_s"] > 0 and r["dot_s"] > 0 and r["ops"] > 0 and r["mb"] > 0
