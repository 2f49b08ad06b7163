"""The op graph, and the module view that folds each ``nn.Module`` call into one box.

``draw(loss)`` draws every tensor (a rounded box: name, shape, dtype) and
every op (an ellipse with the op's name). Parameters are gold, inputs blue,
the output green; one-element constants are written into the op that uses
them (``mul 2``) instead of getting boxes of their own.

A module call runs inside a scope named after the module (``'LeNet5/c1'``),
so the ops of a layer can be found again from their scope:

* ``modules='collapse'``: each module call (``depth`` levels below the model)
  becomes one box listing its parameters and op count; arrows between boxes
  carry the shape that flows between layers. LeNet-5 fits on one screen.
  ``expand=['c3']`` opens chosen modules back up into their ops.
* ``modules='cluster'``: every op is drawn, grouped in nested boxes per module.
"""
from __future__ import annotations

from typing import Any, Iterable

from tinygrad_edu.nn.module import Module
from tinygrad_edu.viz.bptt import Unrolled, unrolled_scene
from tinygrad_edu.viz.dot import Drawing, to_digraph
from tinygrad_edu.viz.scene import (FUNCTIONS, MODULE_STYLE, PARAM_EDGE, FunctionBoxes, Scene,
                                    VNode, contract, esc, fmt_norm, fmt_shape, loss_symbol,
                                    op_node, tensor_node)
from tinygrad_edu.viz.trace import Graph, as_graph, outside_calls

MODULE_MODES = (None, "collapse", "cluster")


def module_root(graph: Graph) -> str | None:
    """The scope segment of the outermost model (``'LeNet5'``), or None if there is none.

    Taken from ``model=`` when given, else the first scope segment when all
    scoped ops share it and some op lies in a module below it.
    """
    for path, (dotted, _cls) in graph.modules.items():
        if dotted == "":
            return path
    firsts = set()
    deeper = False
    for op in graph.ops.values():
        scope = outside_calls(op.scope)          # a function call is no module
        if scope:
            segs = scope.split("/")
            firsts.add(segs[0])
            deeper = deeper or len(segs) > 1
    if len(firsts) == 1 and deeper:
        return firsts.pop()
    return None


def _cluster_id(path: str) -> str:
    return "cluster_m_" + "".join(c if c.isalnum() else "_" for c in path)


def _module_title(graph: Graph, path: str) -> tuple[str, str]:
    """(short name, class name or '') of the module at a scope path."""
    dotted, cls = graph.modules.get(path, ("", ""))
    short = dotted or path.rsplit("/", 1)[-1]
    return short, cls


class _Keys:
    """Which module box (or expanded-module cluster) each op belongs to."""

    def __init__(self, graph: Graph, depth: int, expand: Iterable[str]) -> None:
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"draw: depth must be an int >= 1 (module levels below the model "
                             f"to collapse at), got {depth!r}")
        self.root = module_root(graph)
        self.base = 1 if self.root is not None else 0
        self.depth = depth
        self.expand = set()
        for e in expand:
            e = str(e)
            if self.root is not None and not e.startswith(self.root + "/") and e != self.root:
                e = self.root + "/" + e.replace(".", "/")
            self.expand.add(e)

    def of_op(self, scope: str | None) -> tuple[str | None, str | None]:
        """(box key or None, innermost expanded module path or None) for an op's scope."""
        scope = outside_calls(scope)             # a function call is drawn in its module
        if not scope:
            return None, None
        segs = scope.split("/")
        if self.root is not None and segs[0] != self.root:
            return None, None
        d = self.depth
        inside = None
        while len(segs) >= self.base + d:
            path = "/".join(segs[:self.base + d])
            if path not in self.expand:
                return path, inside
            inside = path
            d += 1
        return None, inside


def graph_scene(graph: Graph, *, modules: str | None = None, depth: int = 1,
                expand: Iterable[str] = (), show_values: bool = False, value_limit: int = 16,
                show_grad: bool = True, show_constants: bool = False, rankdir: str = "TB",
                title: str | None = None, steps: bool = True, functions: str | None = None,
                wrap: int | None = None, max_width: float | None = None) -> Scene:
    """The op graph (or module view) of a traced graph as a :class:`Scene`.

    With ``steps`` (and no module view) a graph with time steps (scopes ``t=N``) is
    drawn as :func:`~tinygrad_edu.viz.bptt.draw_unrolled` with ``detail='ops'``:
    every op, one cluster per step, the steps side by side in time order.
    ``functions``: see :func:`draw`.
    """
    if modules not in MODULE_MODES:
        raise ValueError(f"draw: modules must be one of {MODULE_MODES}, got {modules!r}")
    if functions not in FUNCTIONS:
        raise ValueError(f"draw: functions must be one of {FUNCTIONS}, got {functions!r}")
    if steps and modules is None and len(graph.steps()) > 1:
        # a recurrent graph as one long chain is slow to lay out and hard to read: draw
        # every op, but one column per time step (draw_unrolled's detail='ops')
        return unrolled_scene(Unrolled(graph), detail="ops", show_values=show_values,
                              value_limit=value_limit, show_grad=show_grad, title=title,
                              functions=functions, wrap=wrap, max_width=max_width)
    scene = Scene(title or "", rankdir)
    fold = not show_constants
    loss = loss_symbol(graph)
    collapse = functions == "collapse" or (functions is None and modules == "collapse")
    boxes = FunctionBoxes(graph) if collapse else None

    def skip(nid: str) -> bool:
        t = graph.tensors.get(nid)
        return fold and t is not None and t.folded

    if modules == "collapse":
        _collapsed(scene, graph, _Keys(graph, depth, expand), skip, show_values, value_limit,
                   show_grad, boxes)
        return scene
    cluster_of: dict[str, str | None] = {}
    if modules == "cluster":
        root = module_root(graph)
        for op in graph.ops.values():
            cluster_of[op.id] = _nested_clusters(scene, graph, outside_calls(op.scope), root)
            cluster_of[op.output] = cluster_of[op.id]
        _place_params(graph, cluster_of, scene)
    members, edges = contract(graph, boxes.key if boxes else lambda n: None, skip)
    for k, ids in members.items():
        if k.startswith("fn:"):
            scene.add_node(boxes.node(k, ids, cluster_of.get(ids[0])))
        elif k in graph.ops:
            scene.add_node(op_node(graph.ops[k], graph, fold_constants=fold,
                                   cluster=cluster_of.get(k)))
        else:
            scene.add_node(tensor_node(graph.tensors[k], show_values=show_values,
                                       value_limit=value_limit, show_grad=show_grad,
                                       cluster=cluster_of.get(k), loss=loss))
    for (ks, kd), under in edges.items():
        src = graph.tensors.get(ks)
        attrs = PARAM_EDGE if src is not None and src.role == "parameter" else {}
        for _ in under:
            scene.add_edge(ks, kd, **attrs)
    return scene


def _nested_clusters(scene: Scene, graph: Graph, scope: str | None,
                     root: str | None) -> str | None:
    """Create the clusters for each prefix of ``scope`` below the root; return the innermost."""
    if not scope:
        return None
    segs = scope.split("/")
    start = 1 if root is not None and segs[0] == root else 0
    parent = None
    for i in range(start, len(segs)):
        path = "/".join(segs[:i + 1])
        cid = _cluster_id(path)
        short, cls = _module_title(graph, path)
        scene.add_cluster(cid, f"{short}: {cls}" if cls else short, parent,
                          style="rounded,dashed", color="#674ea7", fontsize="10")
        parent = cid
    return parent


def _place_params(graph: Graph, cluster_of: dict[str, str | None], scene: Scene) -> None:
    """Put each parameter in the innermost cluster that holds all the ops that read it."""
    for n in graph.parameters():
        chains = []
        for op_id in graph.consumers[n.id]:
            chain = []
            c = cluster_of.get(op_id)
            while c is not None:
                chain.append(c)
                c = scene.clusters[c].parent
            chains.append(list(reversed(chain)))
        if not chains:
            continue
        common = None
        for level in zip(*chains):
            if len(set(level)) != 1:
                break
            common = level[0]
        cluster_of[n.id] = common


def _collapsed(scene: Scene, graph: Graph, keys: _Keys, skip: Any, show_values: bool,
               value_limit: int, show_grad: bool, boxes: FunctionBoxes | None = None) -> None:
    box_of_op: dict[str, str | None] = {}
    cluster_of_op: dict[str, str | None] = {}
    for op in graph.ops.values():
        box, inside = keys.of_op(op.scope)
        box_of_op[op.id] = box
        cluster_of_op[op.id] = _expanded_clusters(scene, graph, inside, keys)
    roots = set(graph.roots)

    def key(nid: str) -> str | None:
        if nid in graph.ops:
            b = box_of_op[nid]
            return "mod:" + b if b else boxes.box.get(nid) if boxes else None
        t = graph.tensors[nid]
        if nid in roots:
            return None
        if t.producer is not None:      # a tensor between ops: drawn as the op's arrow
            b = box_of_op[t.producer]
            fn = boxes.box.get(t.producer) if boxes else None
            return "mod:" + b if b else fn or t.producer
        if t.role == "parameter":
            users = {box_of_op[o] for o in graph.consumers[nid]}
            if len(users) == 1 and None not in users:
                return "mod:" + users.pop()
        return None

    members, edges = contract(graph, key, skip)
    for k, ids in members.items():
        if k.startswith("mod:"):
            scene.add_node(_module_box(graph, k, ids, keys, cluster_of_op, show_grad))
        elif k.startswith("fn:"):            # inside its module's cluster when expanded
            first = next((i for i in ids if i in graph.ops), None)
            scene.add_node(boxes.node(k, ids, cluster_of_op.get(first)))
        elif k in graph.ops:
            node = op_node(graph.ops[k], graph, cluster=cluster_of_op[k])
            node.members = list(ids)
            scene.add_node(node)
        else:
            t = graph.tensors[k]
            cl = cluster_of_op.get(t.producer) if t.producer else None
            scene.add_node(tensor_node(t, show_values=show_values, value_limit=value_limit,
                                       show_grad=show_grad, cluster=cl))
    for (ks, kd), under in edges.items():
        attrs: dict[str, str] = {}
        if ks.startswith(("mod:", "fn:")) or ks in graph.ops:
            shapes = []
            for s, _d in under:
                t = graph.tensors.get(s)
                if t is not None and fmt_shape(t.shape) not in shapes:
                    shapes.append(fmt_shape(t.shape))
            if shapes:
                attrs["label"] = " ".join(shapes)
        elif graph.tensors.get(ks) is not None and graph.tensors[ks].role == "parameter":
            attrs.update(PARAM_EDGE)
        scene.add_edge(ks, kd, **attrs)


def _expanded_clusters(scene: Scene, graph: Graph, inside: str | None,
                       keys: _Keys) -> str | None:
    """Clusters for an expanded module and the expanded modules around it."""
    if inside is None:
        return None
    segs = inside.split("/")
    parent = None
    for i in range(keys.base + keys.depth, len(segs) + 1):
        path = "/".join(segs[:i])
        cid = _cluster_id(path)
        short, cls = _module_title(graph, path)
        scene.add_cluster(cid, f"{short}: {cls}" if cls else short, parent,
                          style="rounded,dashed", color="#674ea7")
        parent = cid
    return parent


def _module_box(graph: Graph, key: str, ids: list[str], keys: _Keys,
                cluster_of_op: dict[str, str | None], show_grad: bool) -> VNode:
    path = key[4:]
    short, cls = _module_title(graph, path)
    n_ops = sum(1 for i in ids if i in graph.ops)
    params = [graph.tensors[i] for i in ids if i in graph.tensors
              and graph.tensors[i].role == "parameter"]
    n_params = sum(p.numel for p in params)
    inside = set(ids)
    outs = []
    for i in ids:
        op = graph.ops.get(i)
        if op is None:
            continue
        if op.output not in inside or any(o not in inside for o in graph.consumers[op.output]):
            outs.append(fmt_shape(graph.tensors[op.output].shape))
    head = f"<B>{esc(short)}</B>" + (f" · {esc(cls)}" if cls else "")
    lines = [head, f"{n_ops} ops" + (f" · {n_params:,} params" if params else "")]
    text = f"{short}{' (' + cls + ')' if cls else ''}: {n_ops} ops"
    if params:
        text += f", {n_params:,} params"
    for p in params[:4]:
        pname = p.label.rsplit(".", 1)[-1]
        g = f" ‖∇‖={fmt_norm(p.grad_norm)}" if show_grad and p.grad_norm is not None else ""
        lines.append(f'<FONT POINT-SIZE="9">{esc(pname)} {esc(fmt_shape(p.shape))}{esc(g)}'
                     "</FONT>")
    if len(params) > 4:
        lines.append(f'<FONT POINT-SIZE="9">… {len(params) - 4} more</FONT>')
    if outs:
        lines.append(f'<FONT POINT-SIZE="9">out {esc(" ".join(dict.fromkeys(outs)))}</FONT>')
    first_op = next(i for i in ids if i in graph.ops)
    return VNode(key, "module", text, "<BR/>".join(lines), dict(MODULE_STYLE),
                 cluster_of_op.get(first_op), list(ids))


def gradient_cluster(scene: Scene, graph: Graph, n_forward: int) -> int:
    """Put the nodes that only the gradients' graph has (the ops ``create_graph=True``
    recorded during the backward) into one frame beside the forward graph; the arrows
    from forward tensors into it show what the gradient reuses. Returns how many."""
    forward: set[str] = set()
    stack = list(graph.roots[:n_forward])
    while stack:                                   # everything the forward roots read
        nid = stack.pop()
        if nid in forward:
            continue
        forward.add(nid)
        t = graph.tensors.get(nid)
        if t is not None and t.producer is not None:
            stack.append(t.producer)
        elif nid in graph.ops:
            stack.extend(graph.ops[nid].inputs)
    cid = "cluster_grad"
    scene.add_cluster(cid, "the gradient's own graph (create_graph=True): differentiable again",
                      None, style="rounded,filled", fillcolor="#fdf2f8", color="#a64d79")
    moved = 0
    for n in scene.nodes.values():
        if n.kind != "anchor" and n.members and all(m not in forward for m in n.members):
            n.cluster = cid
            moved += 1
    for (s, d), e in scene.edges.items():
        if scene.nodes[s].cluster != cid and scene.nodes[d].cluster == cid:
            e.attrs.setdefault("style", "dashed")
    return moved


def draw(*roots: Any, params: Any = None, model: Module | None = None,
         modules: str | None = None, depth: int = 1, expand: Iterable[str] = (),
         show_values: bool = False, value_limit: int = 16, show_grad: bool = True,
         show_constants: bool = False, max_nodes: int | None = None, rankdir: str = "TB",
         title: str | None = None, steps: bool = True, functions: str | None = None,
         grads: Iterable[Any] = (), wrap: int | None = None,
         max_width: float | None = None) -> Drawing:
    """Draw the computation graph that produced ``roots`` (or a traced Graph).

    >>> tg.viz.draw(loss, model=net)                        # every op
    >>> tg.viz.draw(loss, model=net, modules="collapse")    # one box per layer
    >>> tg.viz.draw(loss, model=net).render("graph.svg")    # graph.svg + graph.gv

    Options: ``params``/``model`` name the parameters; ``modules`` is None,
    'collapse' or 'cluster' (``depth`` module levels below the model,
    ``expand`` modules to keep open); ``show_values`` writes the values of
    tensors with at most ``value_limit`` elements; ``show_grad`` writes
    ‖∂L/∂t‖ on tensors that have a gradient; ``max_nodes`` keeps the boxes
    nearest the output and folds the rest into one '…' box. ``steps`` draws the ops
    of each time step of a recurrent graph in a cluster of its own, side by side
    (the op graph of a 64-step LSTM stays quick to lay out; ``wrap``/``max_width`` as in
    :func:`~tinygrad_edu.viz.draw_unrolled`). ``functions='collapse'`` draws each
    library-function call (a scope ``'name()'``) and the loss after the model's last
    layer as one box (the default in the module view), ``'expand'`` their ops.
    ``grads``: gradients made with ``create_graph=True`` (``tg.grad(loss, [x],
    create_graph=True)``); their own graph is drawn in a frame beside the forward graph.
    """
    grads = list(grads)
    if grads:
        if len(roots) == 1 and isinstance(roots[0], Graph):
            raise ValueError("draw: grads= needs the tensors, not a traced Graph")
        roots = (*roots, *grads)
    graph = as_graph(roots, params, model, "draw")
    scene = graph_scene(graph, modules=modules, depth=depth, expand=expand,
                        show_values=show_values, value_limit=value_limit, show_grad=show_grad,
                        show_constants=show_constants, rankdir=rankdir, title=title,
                        steps=steps and not grads, functions=functions, wrap=wrap,
                        max_width=max_width)
    if grads:
        gradient_cluster(scene, graph, len(roots) - len(grads))
    if max_nodes is not None:
        scene.cap(max_nodes)
    return to_digraph(scene)
