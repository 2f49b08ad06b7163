"""The graph views: trace, the op graph, the module view, rendering, terminal views, colours.

Structural checks read the DOT source (no Graphviz program needed); rendering checks run
only where Graphviz's `dot` is installed (tools/setup.sh installs it) and parse the SVG.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest
from rich.console import Console

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, viz
from tinygrad_edu.viz.colors import COOLWARM, NONFINITE

from conftest import torch_or_skip

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's `dot` is not installed "
                               "(tools/setup.sh installs it); the DOT source is still tested")


def parse_dot(source: str) -> tuple[dict, list, list]:
    """(node id -> list of enclosing clusters, edges (src, dst, attrs), clusters in order)."""
    nodes: dict[str, list[str]] = {}
    edges: list[tuple[str, str, str]] = []
    clusters: list[str] = []
    stack: list[str] = []
    for line in source.splitlines():
        s = line.strip()
        m = re.match(r"subgraph (cluster\w*) \{", s)
        if m:
            stack.append(m.group(1))
            clusters.append(m.group(1))
            continue
        if s == "{":
            stack.append("")
            continue
        if s == "}":
            if stack:
                stack.pop()
            continue
        m = re.match(r"(\w+) -> (\w+)(.*)", s)
        if m:
            edges.append((m.group(1), m.group(2), m.group(3)))
            continue
        m = re.match(r"(\w+) \[label=", s)
        if m:
            assert m.group(1) not in nodes, f"node {m.group(1)} declared twice"
            nodes[m.group(1)] = [c for c in stack if c]
    return nodes, edges, clusters


def mlp_and_loss():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = tg.randn(5, 3)
    x.name = "x"
    loss = ((model(x) * 2.0) ** 2).mean()
    return model, x, loss


# ---------------------------------------------------------------- trace
def test_trace_roles_names_shapes() -> None:
    w = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    w.name = "w"
    x = tg.tensor([1.0, -1.0])
    x.name = "x"
    y = (w * x * 2.0).sum()
    g = viz.trace(y)
    # tensors: w, x, w·x, the constant 2, w·x·2, y ; ops: mul, mul, sum
    assert len(g.ops) == 3 and len(g.tensors) == 6
    assert [op.op for op in g.ops.values()] == ["mul", "mul", "sum"]
    roles = {n.label or n.role: n.role for n in g.tensors.values()}
    assert roles["w"] == "input" and roles["x"] == "input" and roles["loss"] == "output"
    assert len(g.by_role("constant")) == 1 and g.by_role("constant")[0].values() == "2"
    assert g.node(w).shape == (2, 2) and g.node(w).dtype == "float32"
    assert len(list(g.edges())) == (2 + 2 + 1) + 3   # inputs of each op + one output per op


def test_trace_names_parameters_from_model_and_params() -> None:
    model, _, loss = mlp_and_loss()
    g = viz.trace(loss, model=model)
    assert sorted(n.label for n in g.parameters()) == ["0.bias", "0.weight", "2.bias",
                                                      "2.weight"]
    g2 = viz.trace(loss, params={"W1": model[0].weight})
    labels = {n.label for n in g2.parameters()}
    assert labels == {"W1", "0.bias", "2.weight", "2.bias"}   # the others: their paths
    g3 = viz.trace(loss)                                      # no model: the same paths
    assert sorted(n.label for n in g3.parameters()) == ["0.bias", "0.weight", "2.bias",
                                                       "2.weight"]
    assert g.node(model[0].weight).role == "parameter"
    inputs = g.inputs()
    assert [n.label for n in inputs] == ["x"]


def test_trace_scopes_from_module_calls() -> None:
    model, _, loss = mlp_and_loss()
    g = viz.trace(loss, model=model)
    scopes = {op.scope for op in g.ops.values()}
    assert {"Sequential/0", "Sequential/1", "Sequential/2"} <= scopes
    assert g.modules["Sequential/0"] == ("0", "Linear")


def test_trace_walks_a_deep_chain_without_recursion() -> None:
    x = tg.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    g = viz.trace(y)
    assert len(g.ops) == 5000


def test_grad_norms_equal_autograd_and_torch() -> None:
    torch = torch_or_skip()
    model, x, loss = mlp_and_loss()
    hidden = None
    with tg.retain_grads():
        loss.backward()
    g = viz.trace(loss, model=model)
    for n in g.parameters():
        ref = float(np.linalg.norm(n.tensor.grad.numpy().astype(np.float64)))
        assert n.grad_norm == pytest.approx(ref, rel=1e-12)
    # the same net in torch, with the hidden activations' gradients kept
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    tx = torch.tensor(x.numpy())
    h = tm[1](tm[0](tx))
    h.retain_grad()
    out = tm[2](h)
    ((out * 2.0) ** 2).mean().backward()
    for n in g.tensors.values():     # find the tanh output among the traced tensors
        if n.producer and g.ops[n.producer].op == "tanh":
            hidden = n
    assert hidden is not None
    assert hidden.grad_norm == pytest.approx(float(h.grad.norm()), rel=1e-5)
    assert g.node(model[0].weight).grad_norm == pytest.approx(
        float(tm[0].weight.grad.norm()), rel=1e-5)


def test_drawing_never_changes_the_engine() -> None:
    model, x, loss = mlp_and_loss()
    before = loss.item()
    viz.draw(loss, model=model, show_values=True).source
    viz.draw(loss, model=model, modules="collapse").source
    loss.backward()
    grads = {k: p.grad.numpy().copy() for k, p in model.named_parameters()}
    model2, _, loss2 = mlp_and_loss()
    loss2.backward()
    assert loss2.item() == before
    for k, p in model2.named_parameters():
        np.testing.assert_array_equal(p.grad.numpy(), grads[k])
    g = viz.trace(loss, model=model)
    assert all(n.tensor.grad is None for n in g.tensors.values()
               if n.role == "intermediate")   # no retain_grads: tracing added none


def test_trace_errors() -> None:
    with pytest.raises(ValueError, match="at least one tensor"):
        viz.trace()
    with pytest.raises(TypeError, match="root 0 must be a Tensor, got list"):
        viz.trace([1, 2])
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="params must be a dict name -> Tensor"):
        viz.trace(x * 2, params=[1, 2])
    with pytest.raises(TypeError, match="model must be an nn.Module, got dict"):
        viz.trace(x * 2, model={})
    g = viz.trace(x * 2)
    with pytest.raises(KeyError, match="not part of this graph"):
        g.node(tg.tensor([3.0]))
    with pytest.raises(ValueError, match="unknown role 'weights'"):
        g.by_role("weights")


# ---------------------------------------------------------------- the op graph
def test_draw_returns_a_digraph_with_styled_roles() -> None:
    model, x, loss = mlp_and_loss()
    d = viz.draw(loss, model=model)
    assert isinstance(d, graphviz.Digraph)
    g = viz.trace(loss, model=model)
    nodes, edges, _ = parse_dot(d.source)
    # every op and every tensor but the folded constants (* 2, / numel) gets a box
    assert len(nodes) == len(g.ops) + len(g.tensors) - len(g.by_role("constant"))
    w = g.node(model[0].weight).id
    assert re.search(rf"\b{w} \[label=<<B>0\.weight</B><BR/>\(4, 3\) float32.*"
                     r'fillcolor="#ffd966"', d.source)
    assert re.search(r'<B>x</B><BR/>\(5, 3\) float32> .*fillcolor="#9fc5e8"', d.source)
    assert "mul 2" in d.source            # the constant factor is written into the op
    assert sum(1 for s, _d, _a in edges if s == w) == 1


def test_show_values_only_for_small_tensors() -> None:
    a = tg.tensor([1.5, -2.0], requires_grad=True)
    a.name = "a"
    b = tg.ones(5, 5, requires_grad=True)
    b.name = "b"
    y = (a.sum() + b.sum())
    src = viz.draw(y, show_values=True, value_limit=4).source
    assert "= [1.5, -2]" in src
    assert not re.search(r"<B>b</B>[^>]*= \[", src)
    assert "= [1.5" not in viz.draw(y).source


def test_gradient_norm_written_after_backward() -> None:
    a = tg.tensor([3.0, 4.0], requires_grad=True)
    a.name = "a"
    y = (a * 1.0).sum()
    assert "‖∂L/∂·‖" not in viz.draw(y).source
    y.backward()
    src = viz.draw(y).source
    assert re.search(r"<B>a</B><BR/>\(2,\) float32<BR/><FONT POINT-SIZE=\"9\">‖∂L/∂·‖ = "
                     r"1\.41", src)   # ‖(1, 1)‖ = √2


def test_max_nodes_keeps_the_end_and_folds_the_rest() -> None:
    x = tg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100):
        y = y.tanh()
    nodes, edges, _ = parse_dot(viz.draw(y, max_nodes=20).source)
    assert len(nodes) == 20 and "more" in nodes
    assert "… 182 more nodes" in viz.draw(y, max_nodes=20).source   # 201 - 19 kept
    out = viz.trace(y).roots[0]
    assert out in nodes
    with pytest.raises(ValueError, match="max_nodes must be >= 1, got 0"):
        viz.draw(y, max_nodes=0)


def test_draw_accepts_a_traced_graph_and_checks_arguments() -> None:
    model, _, loss = mlp_and_loss()
    g = viz.trace(loss, model=model)
    assert viz.draw(g).source == viz.draw(loss, model=model).source
    with pytest.raises(ValueError, match="pass them to tg.viz.trace"):
        viz.draw(g, model=model)
    with pytest.raises(TypeError, match="argument 0 must be a Tensor or a Graph"):
        viz.draw("loss")
    with pytest.raises(ValueError, match="modules must be one of"):
        viz.draw(loss, modules="fold")
    with pytest.raises(ValueError, match="depth must be an int >= 1"):
        viz.draw(loss, modules="collapse", depth=0)


# ---------------------------------------------------------------- module view
def test_module_view_collapses_each_module_call() -> None:
    model, _, _ = mlp_and_loss()
    out = model(tg.randn(5, 3))
    src = viz.draw(out, model=model, modules="collapse").source
    nodes, edges, _ = parse_dot(src)
    # input -> [0: Linear] -> [1: Tanh] -> [2: Linear] -> output
    assert len(nodes) == 5 and len(edges) == 4
    assert sum("box3d" in line for line in src.splitlines() if "[label=" in line) == 3
    assert "<B>0</B> · Linear" in src and "16 params" in src and "10 params" in src
    assert re.search(r'Sequential_0 -> \w+ \[label="\(5, 4\)"\]', src)


def lenet_graph():
    from tinygrad_edu.models import LeNet5
    tg.manual_seed(0)
    model = LeNet5()
    x = tg.randn(2, 1, 32, 32)
    x.name = "images"
    loss = F.cross_entropy(model(x), tg.tensor([3, 7]))
    loss.backward()
    return model, viz.trace(loss, model=model)


def test_lenet5_module_view_has_one_box_per_layer() -> None:
    model, g = lenet_graph()
    children = [n for n, _ in model.named_children()]
    src = viz.draw(g, modules="collapse").source
    boxes = re.findall(r"<B>([\w()]+)</B> · (\w+)", src)
    # one box per layer, in order, the scaled tanh after C5 and F6 (a function call, not a
    # layer), then the cross-entropy after the last layer as one box
    assert [b for b, _ in boxes if not b.endswith("()")] == children
    assert [b for b, _ in boxes if b.endswith("()")] == ["scaled_tanh()", "scaled_tanh()",
                                                         "cross_entropy()"]
    nodes, _, _ = parse_dot(src)
    full, _, _ = parse_dot(viz.draw(g).source)
    assert len(nodes) < len(full) / 3                # readable: a fraction of the op graph
    # expanding C3 opens its ops inside a cluster, the other layers stay boxes
    src_c3 = viz.draw(g, modules="collapse", expand=["c3"]).source
    nodes_c3, _, clusters = parse_dot(src_c3)
    assert clusters == ["cluster_m_LeNet5_c3"]
    inside = [n for n, c in nodes_c3.items() if c == ["cluster_m_LeNet5_c3"]]
    c3_ops = [op for op in g.ops.values() if op.scope == "LeNet5/c3"]   # the filter bank
    assert len(inside) == len(c3_ops) + 1            # ... and its F.conv2d call, one box
    assert sum("<B>conv2d()</B>" in line for line in src_c3.splitlines()) == 1
    assert "<B>c3</B>" not in src_c3 and "<B>c5</B> · Conv2d" in src_c3


def test_cluster_mode_puts_ops_in_module_clusters() -> None:
    model, g = lenet_graph()
    nodes, _, clusters = parse_dot(viz.draw(g, modules="cluster").source)
    assert "cluster_m_LeNet5_c1" in clusters and "cluster_m_LeNet5_output" in clusters
    c1 = g.node(model.c1.weight).id
    assert nodes[c1] == ["cluster_m_LeNet5_c1"]       # a layer's parameters sit in its box
    n_c1_ops = sum(1 for op in g.ops.values()            # F.conv2d's ops, in C1's frame
                   if op.scope and op.scope.split("/")[:2] == ["LeNet5", "c1"])
    assert n_c1_ops and "cluster_m_LeNet5_c1_conv2d__" not in clusters   # no module frame
    assert sum(1 for n, c in nodes.items() if c == ["cluster_m_LeNet5_c1"]
               and n.startswith("op")) == n_c1_ops


def test_library_calls_are_one_box_each_in_the_lenet5_module_view() -> None:
    """F.cross_entropy, F.conv2d and LeNet's scaled tanh record under the scopes
    'cross_entropy()', 'conv2d()' and 'scaled_tanh()': the module view draws each call as
    one box named after the function (not a box called 'loss' for the cross-entropy)."""
    model, g = lenet_graph()
    ce_ops = [op for op in g.ops.values() if op.scope == "cross_entropy()"]
    assert len(ce_ops) >= 5                          # log_softmax, the pick, the mean, ...
    src = viz.draw(g, modules="collapse").source
    boxes = re.findall(r"<B>([\w()]+)</B> · (\d+) ops", src)
    assert ("cross_entropy()", str(len(ce_ops))) in boxes and "<B>loss</B> · " not in src
    # two calls of one function in one scope are two boxes: C5 -> tanh -> F6 -> tanh
    assert [b for b in boxes if b[0] == "scaled_tanh()"] == [("scaled_tanh()", "3")] * 2
    nodes, edges, _ = parse_dot(src)
    label = {n: m.group(1) for n in nodes
             for m in [re.search(rf"^\s*{n} \[.*?<B>([\w()]+)</B>", src, flags=re.M)] if m}
    chain = [(label.get(s_), label.get(d)) for s_, d, _ in edges]
    assert [chain.count(e) for e in [("c5", "scaled_tanh()"), ("f6", "scaled_tanh()"),
                                     ("scaled_tanh()", "output")]] == [1, 1, 1]
    assert ("output", "cross_entropy()") in chain
    # in the op graph with modules framed, each conv2d() call is a box inside its layer
    nodes, _, _ = parse_dot(viz.draw(g, modules="cluster", functions="collapse").source)
    conv = [n for n in nodes if n.startswith("fn_") and "conv2d" in n]
    assert sorted(nodes[n][-1] for n in conv) == ["cluster_m_LeNet5_c1", "cluster_m_LeNet5_c3",
                                                  "cluster_m_LeNet5_c5"]


def test_a_loss_under_a_function_scope_keeps_its_target() -> None:
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4))
    probs = tg.tensor([[0.2, 0.3, 0.1, 0.4]] * 2)    # class probabilities: a float target
    g = viz.trace(F.cross_entropy(model(tg.randn(2, 3)), probs), model=model)
    assert g.node(probs).role == "target"            # 'cross_entropy()' is no module


# ---------------------------------------------------------------- rendering
@needs_dot
def test_render_svg_parses_as_xml(tmp_path) -> None:
    model, _, loss = mlp_and_loss()
    path = viz.draw(loss, model=model).render(tmp_path / "mlp.svg")
    assert path.endswith("mlp.svg") and (tmp_path / "mlp.gv").exists()
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t and t.startswith("op") for t in titles)


@needs_dot
def test_render_png_and_pdf(tmp_path) -> None:
    _, _, loss = mlp_and_loss()
    d = viz.draw(loss)
    png = d.render(tmp_path / "g", format="png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    pdf = d.render(tmp_path / "g.pdf")
    assert open(pdf, "rb").read(5) == b"%PDF-"


@needs_dot
def test_lenet5_full_graph_renders_fast(tmp_path) -> None:
    _, g = lenet_graph()
    start = time.perf_counter()
    viz.draw(g).render(tmp_path / "lenet.svg")
    assert time.perf_counter() - start < 10.0
    ET.parse(tmp_path / "lenet.svg")


def test_missing_dot_gives_install_hint_and_keeps_the_source(tmp_path, monkeypatch) -> None:
    _, _, loss = mlp_and_loss()
    d = viz.draw(loss)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))     # no `dot` anywhere on PATH
    with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz") as e:
        d.render(tmp_path / "out" / "graph.svg")
    assert isinstance(e.value, graphviz.ExecutableNotFound)  # graphviz's own error still fits
    src = tmp_path / "out" / "graph.gv"
    assert src.read_text() == d.source and str(src) in str(e.value)
    with pytest.raises(viz.GraphvizNotFoundError, match=r"DOT source is in `\.source`"):
        d.pipe(format="svg")
    bundle = d._repr_mimebundle_()                          # Jupyter: text instead of a crash
    assert "install Graphviz" in bundle["text/plain"]


# ---------------------------------------------------------------- terminal
def console_text(renderable) -> str:
    c = Console(record=True, width=120, file=open(os.devnull, "w"))
    c.print(renderable)
    return c.export_text()


def test_terminal_tree_and_table() -> None:
    model, _, loss = mlp_and_loss()
    loss.backward()
    text = console_text(viz.tree(loss, model=model))
    assert "loss scalar float32" in text and "← pow" in text and "0.weight (4, 3)" in text
    text = console_text(viz.tree(loss, model=model, modules="collapse"))
    assert "2 (Linear): 3 ops, 10 params" in text and "0 (Linear)" in text
    table = console_text(viz.table(loss, model=model))
    assert re.search(r"parameter\s*│\s*0\.weight\s*│\s*\(4, 3\)\s*│\s*float32", table)
    c = Console(record=True, width=120, file=open(os.devnull, "w"))
    viz.print_graph(loss, view="table", console=c)
    assert "matmul" in c.export_text()
    with pytest.raises(ValueError, match="view must be one of"):
        viz.print_graph(loss, view="picture")


# ---------------------------------------------------------------- colours and import
def test_color_scale() -> None:
    s = viz.ColorScale.from_values([1e-6, 1e-3, 1.0])
    assert s(1e-6) == COOLWARM[0] and s(1.0) == COOLWARM[-1]
    assert s(1e-3) == COOLWARM[4]                   # log scale: 1e-3 is the middle
    assert s(0.0) == COOLWARM[0] and s(1e3) == COOLWARM[-1]
    assert s(math.inf) == NONFINITE and s(math.nan) == NONFINITE
    assert s.ticks(3) == pytest.approx([1e-6, 1e-3, 1.0])
    lin = viz.ColorScale(0.0, 2.0, log=False)
    assert lin(1.0) == COOLWARM[4]
    with pytest.raises(ValueError, match="log scale needs vmin > 0, got 0"):
        viz.ColorScale(0.0, 1.0)
    with pytest.raises(ValueError, match="need finite vmin <= vmax, got vmin=2"):
        viz.ColorScale(2.0, 1.0)


def test_import_is_cheap_and_needs_no_graphviz() -> None:
    code = ("import sys, tinygrad_edu as tg; assert 'graphviz' not in sys.modules; "
            "tg.viz.trace; assert 'graphviz' not in sys.modules; tg.viz.draw; "
            "assert 'graphviz' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- tools/render_graph.py
TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                    "render_graph.py")


@needs_dot
@pytest.mark.parametrize("args", [["mlp"], ["lenet5"], ["rnn", "--steps", "5"],
                                  ["lstm", "--steps", "5", "--folded"]],
                         ids=["mlp", "lenet5", "rnn", "lstm-folded"])
def test_render_graph_tool(tmp_path, args: list) -> None:
    out = tmp_path / "g.svg"
    proc = subprocess.run([sys.executable, TOOL, *args, "-o", str(out)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    root = ET.parse(out).getroot()
    clusters = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")
                if t.text and re.fullmatch(r"cluster_t\d+", t.text)]
    assert clusters == ([f"cluster_t{t}" for t in range(5)] if args[0] == "rnn" else [])


def test_render_graph_tool_without_dot(tmp_path) -> None:
    env = dict(os.environ, PATH=str(tmp_path / "empty"))
    out = tmp_path / "rnn.svg"
    proc = subprocess.run([sys.executable, TOOL, "rnn", "--steps", "3", "-o", str(out)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1 and "install Graphviz" in proc.stderr
    assert (tmp_path / "rnn.gv").read_text().startswith("digraph unrolled")
    assert not out.exists()


def test_lenet_names_its_images_constants_and_parameters() -> None:
    from tinygrad_edu.models import LeNet5
    tg.manual_seed(0)
    model = LeNet5()
    images = tg.randn(2, 1, 32, 32)
    images.name = "images"
    loss = F.cross_entropy(model(images), tg.tensor([3, 7]))
    g = viz.trace(loss)                               # no model=, no params=
    (start,) = g.inputs()                             # the graph starts at the images
    assert start.label == "images" and start.view_of == "images"
    assert start.base_shape == (2, 1, 32, 32) and start.shape == (2, 1, 25, 784)
    src = viz.draw(g).source
    assert "<B>images</B><BR/>(2, 1, 32, 32) float32" in src and "viewed as (2, 1, 25, 784)" in src
    zero = [n for n in g.by_role("constant") if n.shape == (1, 5, 5)]
    assert len(zero) == 1 and zero[0].scope is None      # C3's zero kernel: a constant
    assert {n.label for n in g.parameters()} == {k for k, _ in model.named_parameters()}
    assert not [n for n in g.tensors.values() if n.label == "input"]


def test_parameter_path_is_recorded_at_registration() -> None:
    lin = nn.Linear(2, 2)
    assert lin.weight.path == "weight"
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    outer = nn.Sequential(net)
    assert outer[0][0].bias.path == "0.0.bias"
    shared = nn.Linear(2, 2)
    tied = nn.Sequential(shared, nn.Linear(2, 2))
    tied[1].weight = shared.weight                    # a tied weight keeps its first path
    assert shared.weight.path == "0.weight"
    assert nn.Parameter(tg.zeros(1)).path is None


@needs_dot
def test_render_graph_tool_writes_the_explorer(tmp_path) -> None:
    out = tmp_path / "lstm.html"
    proc = subprocess.run([sys.executable, TOOL, "lstm", "--steps", "3", "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "recorded with the fast lane off" in proc.stdout and "backward steps" in proc.stdout
    html = out.read_text(encoding="utf-8")
    assert "<svg" in html and "lstm_gates" not in html and "sigmoid" in html
