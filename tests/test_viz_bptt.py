"""The unrolled (BPTT) and folded views of recurrent graphs.

Checked on the DOT source: one cluster per time step, in order; each shared weight drawn
once, outside the clusters, with one arrow into every step; ‖∂L/∂h_t‖ on the states equal
to the gradients autograd (and PyTorch) computed. Where `dot` is installed, the rendered
SVG is parsed and the clusters must lie left to right in time order.
"""
from __future__ import annotations

import re
import shutil
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, viz

from conftest import torch_or_skip
from test_viz import console_text, parse_dot


@pytest.fixture(autouse=True)
def plain_graphs():
    """Every graph here is recorded with the fast lane off, as the lessons and
    tools/render_graph.py record what they draw: each step's ops, not one fused node."""
    with tg.fast(False):
        yield

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` is not "
                               "installed (tools/setup.sh installs it); DOT source still tested")
SVG = "{http://www.w3.org/2000/svg}"


def loop_rnn(T: int = 5, seed: int = 0, dtype=tg.float32):
    """h_t = tanh(x_t W_ihᵀ + h_{t-1} W_hhᵀ + b), written out, one scope per step."""
    rng = np.random.default_rng(seed)
    W_ih = nn.Parameter(tg.tensor(rng.normal(0, 0.5, (4, 3)), dtype=dtype))
    W_hh = nn.Parameter(tg.tensor(rng.normal(0, 0.5, (4, 4)), dtype=dtype))
    b = nn.Parameter(tg.tensor(rng.normal(0, 0.1, (4,)), dtype=dtype))
    xs = rng.normal(0, 1, (T, 2, 3))
    h = tg.zeros(2, 4, dtype=dtype)
    states = []
    for t in range(T):
        with tg.scope(f"t={t}"):
            x_t = tg.tensor(xs[t], dtype=dtype)
            x_t.name = "x"
            h = (x_t @ W_ih.T + h @ W_hh.T + b).tanh()
            h.name = "h"
        states.append(h)
    loss = (h ** 2).sum()
    params = {"W_ih": W_ih, "W_hh": W_hh, "b": b}
    return loss, params, states, xs


def param_edges(source: str, node_id: str) -> list[str]:
    _, edges, _ = parse_dot(source)
    return [d for s, d, a in edges if s == node_id and "invis" not in a]


@pytest.mark.parametrize("detail", ["cell", "ops"])
def test_one_cluster_per_step_in_order(detail: str) -> None:
    loss, params, states, _ = loop_rnn(T=5)
    src = viz.draw_unrolled(loss, params=params, detail=detail).source
    nodes, _, clusters = parse_dot(src)
    assert clusters == [f"cluster_t{t}" for t in range(5)]
    g = viz.trace(loss, params=params)
    for t, h in enumerate(states):           # h_t sits in its step's cluster
        assert nodes[g.node(h).id] == [f"cluster_t{t}"]
    assert re.search(r'label="t = 0"', src)


@pytest.mark.parametrize("detail", ["cell", "ops"])
def test_each_shared_weight_once_with_an_edge_into_every_step(detail: str) -> None:
    T = 6
    loss, params, _, _ = loop_rnn(T=T)
    g = viz.trace(loss, params=params)
    src = viz.draw_unrolled(g, detail=detail).source
    nodes, _, _ = parse_dot(src)
    for name, p in params.items():
        pid = g.node(p).id
        assert pid in nodes and nodes[pid] == [], f"{name} must be drawn once, outside"
        targets = param_edges(src, pid)
        assert len(targets) == T, f"{name}: {len(targets)} edges, expected {T}"
        assert sorted(nodes[d][0] for d in targets) == sorted(f"cluster_t{t}"
                                                              for t in range(T))
        assert len(re.findall(rf"<B>{name}</B>", src)) == 1


def test_hidden_state_chain_is_emphasised() -> None:
    loss, params, states, _ = loop_rnn(T=4)
    g = viz.trace(loss, params=params)
    src = viz.draw_unrolled(g).source
    for t in range(3):
        h = g.node(states[t]).id
        m = re.search(rf"\b{h} -> cell__{t + 1} \[(.*)\]", src)
        assert m and 'color="#cc0000"' in m.group(1) and "penwidth=3" in m.group(1)


def test_grad_norms_on_states_equal_autograd_and_torch() -> None:
    torch = torch_or_skip()
    loss, params, states, xs = loop_rnn(T=5, dtype=tg.float64)
    with tg.retain_grads():
        loss.backward()
    norms = viz.step_grad_norms(loss, params=params)
    for t, h in enumerate(states):
        assert norms[t] == pytest.approx(float(np.linalg.norm(h.grad.numpy())), rel=1e-12)
    # the same loop in torch
    tp = {k: torch.tensor(v.detach().numpy(), requires_grad=True) for k, v in params.items()}
    h = torch.zeros(2, 4, dtype=torch.float64)
    ths = []
    for t in range(5):
        h = torch.tanh(torch.tensor(xs[t]) @ tp["W_ih"].T + h @ tp["W_hh"].T + tp["b"])
        h.retain_grad()
        ths.append(h)
    (h ** 2).sum().backward()
    for t in range(5):
        assert norms[t] == pytest.approx(float(ths[t].grad.norm()), rel=1e-10)
    # and the drawing writes them on the states
    src = viz.draw_unrolled(loss, params=params).source
    g = viz.trace(loss, params=params)
    for t, h in enumerate(states):
        hid = g.node(h).id
        shown = re.search(rf"\b{hid} \[label=<<B>h_{t}</B>.*?‖∂L/∂·‖ = ([0-9.e+-]+)", src)
        assert shown and float(shown.group(1)) == pytest.approx(norms[t], rel=5e-3)


def test_states_are_coloured_by_grad_norm_with_a_legend() -> None:
    loss, params, states, _ = loop_rnn(T=5)
    with tg.retain_grads():
        loss.backward()
    g = viz.trace(loss, params=params)
    norms = viz.unroll(g).norms()
    scale = viz.ColorScale.from_values(norms.values())
    src = viz.draw_unrolled(g).source
    for t, h in enumerate(states):
        line = next(li for li in src.splitlines() if li.strip().startswith(g.node(h).id + " "))
        assert f'fillcolor="{scale(norms[t])}"' in line
    assert "legend [label=" in src and "(log scale)" in src
    lo, hi = min(norms, key=norms.get), max(norms, key=norms.get)
    assert scale(norms[lo]) == "#3b4cc0" and scale(norms[hi]) == "#b40426"


def rnn_model(kind: str, T: int, layers: int = 1, bidirectional: bool = False, seed: int = 0):
    tg.manual_seed(seed)
    rnn = getattr(nn, kind)(3, 5, num_layers=layers, bidirectional=bidirectional)
    x = tg.randn(T, 2, 3)
    out, _ = rnn(x)
    loss = (out[-1] ** 2).sum()
    with tg.retain_grads():
        loss.backward()
    return rnn, loss


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_nn_recurrent_layers_unroll(kind: str) -> None:
    T = 5
    rnn, loss = rnn_model(kind, T)
    g = viz.trace(loss, model=rnn)
    src = viz.draw_unrolled(g).source
    nodes, _, clusters = parse_dot(src)
    assert clusters == [f"cluster_t{t}" for t in range(T)]
    w_hh = g.node(rnn.weight_hh_l0).id
    assert nodes[w_hh] == [] and len(param_edges(src, w_hh)) == T
    u = viz.unroll(g)
    assert u.shared()[w_hh] == list(range(T)) and u.layers == [f"{kind}/l0"]
    assert sorted(viz.step_grad_norms(g)) == list(range(T))


def test_nn_rnn_state_grads_equal_torch() -> None:
    torch = torch_or_skip()
    rnn, loss = rnn_model("RNN", 4)
    norms = viz.step_grad_norms(loss, model=rnn)
    sd = {k: torch.tensor(v.numpy(), requires_grad=True) for k, v in rnn.state_dict().items()}
    tg.manual_seed(0)
    nn.RNN(3, 5)                                  # replay the seed: the same x as rnn_model
    x = torch.tensor(tg.randn(4, 2, 3).numpy())
    h = torch.zeros(2, 5)
    hs = []
    for t in range(4):
        h = torch.tanh(x[t] @ sd["weight_ih_l0"].T + sd["bias_ih_l0"]
                       + h @ sd["weight_hh_l0"].T + sd["bias_hh_l0"])
        h.retain_grad()
        hs.append(h)
    (h ** 2).sum().backward()
    for t in range(4):
        assert norms[t] == pytest.approx(float(hs[t].grad.norm()), rel=1e-4)


def test_lstm_cell_state_is_a_second_chain() -> None:
    rnn, loss = rnn_model("LSTM", 4)
    g = viz.trace(loss, model=rnn)
    u = viz.unroll(g)
    for t in range(3):
        st = u.steps[("LSTM/l0", t)]
        assert sorted(g.tensors[s].name for s in st.states if g.tensors[s].name) == ["c", "h"]
    c_norms = u.norms(name="c")
    assert sorted(c_norms) == [0, 1, 2, 3]        # c_3 reaches the loss through h_3
    src = viz.draw_unrolled(g).source
    chain = [li for li in src.splitlines() if 'color="#cc0000"' in li and "penwidth=3" in li]
    assert len(chain) == 2 * 3                                    # h and c chains


def test_stacked_and_bidirectional_layers() -> None:
    rnn, loss = rnn_model("LSTM", 4, layers=2, bidirectional=True)
    g = viz.trace(loss, model=rnn)
    u = viz.unroll(g)
    assert u.layers == ["LSTM/l0", "LSTM/l0_reverse", "LSTM/l1", "LSTM/l1_reverse"]
    for detail in ("cell", "ops"):
        nodes, _, clusters = parse_dot(viz.draw_unrolled(g, detail=detail).source)
        top = [c for c in clusters if re.fullmatch(r"cluster_t\d+", c)]
        assert top == [f"cluster_t{t}" for t in range(4)]
    assert set(u.norms(layer="LSTM/l1")) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="no layer 'l7'"):
        u.norms(layer="l7")


def test_max_steps_collapses_the_middle() -> None:
    rnn, loss = rnn_model("RNN", 20)
    g = viz.trace(loss, model=rnn)
    src = viz.draw_unrolled(g, max_steps=6).source
    nodes, _, clusters = parse_dot(src)
    assert clusters == [f"cluster_t{t}" for t in (0, 1, 2, 17, 18, 19)]
    assert "⋯ 14 steps (t=3…16) ⋯" in src and "skip" in nodes
    with pytest.raises(ValueError, match="max_steps must be >= 2"):
        viz.draw_unrolled(g, max_steps=1)


def test_folded_view_has_one_cell_and_a_loop_edge() -> None:
    rnn, loss = rnn_model("RNN", 5)
    src = viz.draw_folded(loss, model=rnn).source
    nodes, edges, clusters = parse_dot(src)
    assert clusters == []
    cells = [n for n in nodes if n.startswith("cell_")]
    assert cells == ["cell_RNN_l0"]
    loops = [(s, d, a) for s, d, a in edges if 't → t+1' in a]
    assert len(loops) == 1 and loops[0][0] == "state_RNN_l0_h" and loops[0][1] == cells[0]
    assert "(one cell, 5 steps)" in src
    assert src.count("<TD BGCOLOR=") == 5           # the ‖∂L/∂h_t‖ strip, one cell per step


def test_no_steps_is_a_clear_error() -> None:
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="no time steps in this graph"):
        viz.draw_unrolled(x * 2)
    with pytest.raises(ValueError, match="detail must be one of"):
        loss, params, _, _ = loop_rnn(3)
        viz.draw_unrolled(loss, detail="everything")
    with pytest.raises(ValueError, match="no hidden state has a gradient"):
        viz.step_table(loss)


def test_step_table_in_the_terminal() -> None:
    loss, params, _, _ = loop_rnn(T=3)
    with tg.retain_grads():
        loss.backward()
    text = console_text(viz.step_table(loss))
    assert "‖∂L/∂h_t‖ per time step" in text and "█" in text
    assert len(re.findall(r"│ [0-2] │", text)) == 3


def svg_cluster_boxes(path) -> list[tuple[float, float, int]]:
    """(left, right, t) of each cluster_tN box in a rendered SVG, sorted by left edge."""
    boxes = []
    for g in ET.parse(path).getroot().iter(SVG + "g"):
        if g.get("class") != "cluster":
            continue
        m = re.fullmatch(r"cluster_t(\d+)", g.find(SVG + "title").text)
        if not m:
            continue
        shape = g.find(SVG + "path")
        shape = shape if shape is not None else g.find(SVG + "polygon")
        nums = [float(v) for v in re.findall(r"-?\d+\.?\d*", shape.get("d") or
                                             shape.get("points"))]
        boxes.append((min(nums[0::2]), max(nums[0::2]), int(m.group(1))))
    return sorted(boxes)


@needs_dot
@pytest.mark.parametrize("detail", ["cell", "ops"])
def test_rendered_steps_run_left_to_right(tmp_path, detail: str) -> None:
    rnn, loss = rnn_model("RNN", 6)
    path = viz.draw_unrolled(loss, model=rnn, detail=detail).render(tmp_path / "u.svg")
    boxes = svg_cluster_boxes(path)
    assert [t for *_, t in boxes] == list(range(6))
    assert all(a[1] < b[0] for a, b in zip(boxes, boxes[1:]))        # side by side


@needs_dot
def test_64_step_lstm_renders_fast(tmp_path) -> None:
    rnn, loss = rnn_model("LSTM", 64)
    start = time.perf_counter()
    path = viz.draw_unrolled(loss, model=rnn).render(tmp_path / "lstm64.svg")
    cell_s = time.perf_counter() - start
    start = time.perf_counter()
    ops = viz.draw_unrolled(loss, model=rnn, detail="ops").render(tmp_path / "lstm64_ops.svg")
    ops_s = time.perf_counter() - start
    start = time.perf_counter()                    # draw(): the full op graph, by step
    full = viz.draw(loss, model=rnn).render(tmp_path / "lstm64_full.svg")
    full_s = time.perf_counter() - start
    assert cell_s < 10.0 and ops_s < 10.0 and full_s < 10.0, (cell_s, ops_s, full_s)
    assert [t for *_, t in svg_cluster_boxes(path)] == list(range(64))
    assert [t for *_, t in svg_cluster_boxes(full)] == list(range(64))
    assert [t for *_, t in svg_cluster_boxes(ops)] == list(range(64))


@needs_dot
def test_rendered_loop_steps_run_left_to_right(tmp_path) -> None:
    loss, params, _, _ = loop_rnn(T=12)
    with tg.retain_grads():
        loss.backward()
    path = viz.draw_unrolled(loss, params=params).render(tmp_path / "l.svg")
    boxes = svg_cluster_boxes(path)
    assert [t for *_, t in boxes] == list(range(12))
    assert all(a[1] < b[0] for a, b in zip(boxes, boxes[1:]))


def test_seq2seq_scope_picks_one_layer() -> None:
    enc = nn.RNN(3, 4)
    dec = nn.RNN(4, 4)
    x = tg.randn(3, 1, 3)
    with tg.scope("enc"):
        _, h = enc(x)
    with tg.scope("dec"):
        out, _ = dec(h.reshape(1, 1, 4).expand(2, 1, 4))
    loss = out.sum()
    u = viz.unroll(loss, scope="enc")
    assert u.times == [0, 1, 2] and u.layers == ["enc/RNN/l0"]
    nodes, _, clusters = parse_dot(viz.draw_unrolled(loss, scope="dec").source)
    assert clusters == ["cluster_t0", "cluster_t1"]


# ---------------------------------------------------------------- names, folds, boxes, cuts
def lesson_rnn(T: int = 4, detach_every: int | None = None):
    """Lesson 14's loop: 1-D x_t named 'x', h_{-1} = zeros, E = ½‖V h - target‖²."""
    rng = np.random.default_rng(14)
    f64 = tg.float64
    W = nn.Parameter(tg.tensor(rng.normal(0, 0.5, (4, 3)), dtype=f64))
    U = nn.Parameter(tg.tensor(rng.normal(0, 0.5, (4, 4)), dtype=f64))
    V = nn.Parameter(tg.tensor(rng.normal(0, 0.5, (2, 4)), dtype=f64))
    xs = []
    for t in range(T):
        x_t = tg.tensor(rng.normal(0, 1, 3), dtype=f64)
        x_t.name = "x"
        xs.append(x_t)
    h = tg.zeros(4, dtype=f64)
    target = tg.tensor([0.5, -0.5], dtype=f64)
    losses = []
    for t, x_t in enumerate(xs):
        if detach_every and t and t % detach_every == 0:
            h = h.detach()                                 # truncated BPTT
        with tg.scope(f"t={t}"):
            h = (W @ x_t + U @ h).tanh()
            h.name = "h"
        if detach_every:                                   # a loss at every step
            losses.append(0.5 * ((V @ h - target) ** 2).sum())
    E = tg.stack(losses).sum() if detach_every else 0.5 * ((V @ h - target) ** 2).sum()
    E.name = "E"
    return E, {"W": W, "U": U, "V": V}, xs


def test_lesson_loop_names_its_inputs_and_initial_state() -> None:
    E, params, xs = lesson_rnn(T=4)
    with tg.retain_grads():
        E.backward()
    src = viz.draw_unrolled(E, params=params).source
    for t in range(4):        # x_t reaches W @ x_t through a reshape that is not recorded
        assert f"<B>x_{t}</B>" in src
    assert "input[" not in src and "<B>input</B>" not in src
    assert src.count("<B>h_{-1}</B>") == 1             # the zeros, once, as the initial state
    assert "<B>target</B>" in src
    assert "‖∂E/∂h_t‖" in src and "‖∂E/∂·‖" in src and "∂L" not in src   # the loss is E
    u = viz.unroll(E, params=params)
    (start,) = u.steps[("", 0)].starts
    assert u.start_states[start] == ("h", -1, False) and u.cuts == []


def test_lstm_initial_state_is_h_and_c() -> None:
    rnn, loss = rnn_model("LSTM", 3)
    src = viz.draw_unrolled(loss, model=rnn).source
    assert "<B>h_{-1}, c_{-1}</B>" in src          # nn.LSTM starts both from one zeros


def test_truncated_bptt_cut_is_marked() -> None:
    E, params, _ = lesson_rnn(T=7, detach_every=3)
    u = viz.unroll(E, params=params)
    assert u.cuts == [("", 3), ("", 6)]
    src = viz.draw_unrolled(E, params=params).source
    assert src.count("✂ detach()") == 2 and src.count("cut before (detach)") == 2
    assert "<B>h_2 · detached</B>" in src and "<B>h_5 · detached</B>" in src
    _, edges, _ = parse_dot(src)
    cut = [(s, d) for s, d, a in edges if "detach()" in a]
    assert len(cut) == 2 and all("arrowhead=tee" in a for s, d, a in edges if "detach()" in a)


def test_max_steps_folds_the_steps_outputs_too() -> None:
    rnn, loss = rnn_model("LSTM", 30)
    g = viz.trace(loss, model=rnn)
    src = viz.draw_unrolled(g, max_steps=6).source
    nodes, edges, _ = parse_dot(src)
    cat = next(op.id for op in g.ops.values() if op.op == "cat")
    into_cat = [s for s, d, a in edges if d == cat]
    assert len(into_cat) == 6 + 1 and "skip" in into_cat      # 6 steps drawn, 24 folded
    # stack's per-step reshapes are drawn as their state: no fan of 30 reshapes
    reshapes = [n for n in nodes if n in g.ops and g.ops[n].op == "reshape" and not nodes[n]]
    assert len(reshapes) <= 2, reshapes


def test_the_loss_is_one_box_unless_expanded() -> None:
    E, params, _ = lesson_rnn(T=3)
    g = viz.trace(E, params=params)
    src = viz.draw_unrolled(g).source
    assert "<B>loss</B> · 5 ops" in src                  # reshape, add, pow, sum, mul 0.5
    tail = [op.op for op in g.ops.values() if op.step is None]
    assert "pow" in tail
    full = viz.draw_unrolled(g, functions="expand").source
    assert "<B>loss</B>" not in full and ">pow 2<" not in src and "pow 2" in full
    with pytest.raises(ValueError, match="functions must be one of"):
        viz.draw_unrolled(g, functions="fold")


def test_a_function_scope_is_one_box_in_the_module_view() -> None:
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    x = tg.randn(2, 3)
    x.name = "x"
    z = model(x)
    with tg.scope("softmax()"):                    # as a library function would mark itself
        y = z.softmax(-1)
    loss = (y * y).sum()
    src = viz.draw(loss, model=model, modules="collapse").source
    assert "<B>softmax()</B> · " in src
    src = viz.draw(loss, model=model, functions="collapse").source     # in the op view too
    assert "<B>softmax()</B> · " in src and "label=<exp>" not in src
    assert "label=<exp>" in viz.draw(loss, model=model).source


def test_fused_nodes_drawn_with_their_formula() -> None:
    """Recorded with the lane on, an LSTM's per-step path (here: a projected LSTM) shows
    fused lstm_gates nodes, and a plain nn.LSTM one lstm_layer node: each labelled with
    its formula, never as an unexplained box."""
    tg.manual_seed(0)
    rnn = nn.LSTM(3, 4, proj_size=2)
    with tg.fast(True):
        out, _ = rnn(tg.randn(3, 2, 3))
    loss = out.sum()
    src = viz.draw_unrolled(loss, model=rnn).source
    assert "c_t = f·c_{t-1} + i·g" in src
    ops = viz.draw(loss, model=rnn).source
    assert "<B>lstm_gates</B> (fused)" in ops and "h_t = o·tanh(c_t)" in ops
    layer = nn.LSTM(3, 4)
    with tg.fast(True):
        out, _ = layer(tg.randn(3, 2, 3))
    ops = viz.draw(out.sum(), model=layer).source
    assert "<B>lstm_layer</B> (fused)" in ops and "h_t = o tanh(c_t)" in ops


def test_gradient_graph_is_framed_beside_the_forward_graph() -> None:
    x = tg.tensor([0.5, -1.0], requires_grad=True)
    y = (x.tanh() ** 2).sum()
    (gx,) = tg.grad(y, [x], create_graph=True)
    nodes, _, clusters = parse_dot(viz.draw(y, grads=[gx]).source)
    assert clusters == ["cluster_grad"]
    outside = [n for n, c in nodes.items() if not c]
    forward, _, _ = parse_dot(viz.draw(y).source)
    assert len(outside) == len(forward)          # the forward graph, as drawn on its own
    assert len(nodes) > len(forward)             # and beside it, framed, the gradient's


@needs_dot
def test_wrapping_bounds_the_width_of_a_long_unrolled_graph(tmp_path) -> None:
    E, params, _ = lesson_rnn(T=30)
    with tg.retain_grads():
        E.backward()
    g = viz.trace(E, params=params)

    def size(path) -> tuple[float, float]:
        root = ET.parse(path).getroot()
        return float(root.get("width")[:-2]), float(root.get("height")[:-2])

    one_row = size(viz.draw_unrolled(g).render(tmp_path / "row.svg"))[0]
    path = viz.draw_unrolled(g, max_width=viz.MAX_WIDTH).render(tmp_path / "wrap.svg")
    width = size(path)[0]
    assert width < 0.5 * one_row, (width, one_row)
    boxes = svg_cluster_boxes(path)
    assert sorted(t for *_, t in boxes) == list(range(30))
    rows = viz.draw_unrolled(g, wrap=5).source.count("subgraph cluster_row")
    assert rows == 6
