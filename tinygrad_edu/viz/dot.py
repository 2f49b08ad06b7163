"""Turn a :class:`~tinygrad_edu.viz.scene.Scene` into a ``graphviz.Digraph``.

The result is a :class:`Drawing`, a ``graphviz.Digraph`` that

* shows itself inline in Jupyter (as any ``Digraph`` does),
* ``.source`` is the DOT text (needs no Graphviz program),
* ``.render('graph.svg')`` writes ``graph.gv`` (the DOT source) and
  ``graph.svg``; ``.render('graph', format='png')`` works as in ``graphviz``.

Rendering needs Graphviz's ``dot`` program. Where it is missing, rendering
raises :class:`GraphvizNotFoundError`, which says how to install it; the
DOT source is written first, so nothing is lost.
"""
from __future__ import annotations

import os
import re
from typing import Any

import graphviz

from tinygrad_edu.viz.scene import Cluster, Scene

INSTALL_HINT = ("install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS), `conda install graphviz` or "
                "https://graphviz.org/download/ (Windows: add its bin folder to PATH)")
_IMAGE_SUFFIXES = (".svg", ".png", ".pdf", ".jpg", ".jpeg")


class GraphvizNotFoundError(graphviz.ExecutableNotFound):
    """Graphviz's ``dot`` program is not on PATH, so the graph could not be rendered."""

    def __init__(self, source_path: str | None = None) -> None:
        msg = "rendering the graph needs Graphviz's `dot` program, which is not on PATH; "
        msg += INSTALL_HINT + "."
        if source_path:
            msg += (f" The DOT source was written to {source_path!r}; render it later with "
                    f"`dot -Tsvg {source_path} -o graph.svg`.")
        else:
            msg += " The DOT source is in `.source` (or write it with `.save(path)`)."
        RuntimeError.__init__(self, msg)
        self.source_path = source_path


class Drawing(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering explains a missing ``dot`` program."""

    def render(self, filename: Any = None, directory: Any = None, view: bool = False,
               cleanup: bool = False, format: str | None = None,  # noqa: A002
               **kwargs: Any) -> str:
        """Write the DOT source and render it; returns the path of the image.

        ``render('out/graph.svg')`` renders SVG to that path and keeps the
        source next to it as ``out/graph.gv``; otherwise as ``graphviz``'s
        ``render`` (``render('out/graph', format='png')`` -> ``out/graph.png``).
        """
        if (filename is not None and kwargs.get("outfile") is None
                and os.fspath(filename).lower().endswith(_IMAGE_SUFFIXES)):
            kwargs["outfile"] = filename
            filename = None
        try:
            return super().render(filename, directory=directory, view=view, cleanup=cleanup,
                                  format=format, **kwargs)
        except graphviz.ExecutableNotFound as e:
            raise GraphvizNotFoundError(self.filepath) from e

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        """The rendered image as bytes (or str with ``encoding=``), in memory."""
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound as e:
            raise GraphvizNotFoundError(None) from e

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None,
                          **kwargs: Any) -> dict:
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except GraphvizNotFoundError as e:
            return {"text/plain": f"{e}\n\n{self.source}"}


def _attrs(d: dict) -> dict[str, str]:
    return {k: str(v) for k, v in d.items()}


def to_digraph(scene: Scene, name: str = "graph", ids: bool = False) -> Drawing:
    """Write the scene as DOT: clusters as nested ``subgraph cluster_*``, then the arrows.

    With ``ids`` every node, arrow and cluster gets an ``id`` that the SVG keeps
    (``n_<node>``, ``e_<from>__<to>``, ``c_<cluster>``): the explorer finds them by it.
    """
    with_ids = ids
    ids = _dot_ids(scene)
    g = Drawing(name=name, format="svg")
    g.attr(**_attrs({"fontname": "Helvetica", "newrank": "true", **scene.graph_attr}))
    if scene.title:
        g.attr(label=scene.title, labelloc="t", fontsize="14")
    g.attr("node", fontname="Helvetica", fontsize="11")
    g.attr("edge", fontname="Helvetica", fontsize="9", arrowsize="0.7")
    by_cluster: dict[str | None, list] = {}
    for n in scene.nodes.values():
        cid = n.cluster if n.cluster in scene.clusters else None
        by_cluster.setdefault(cid, []).append(n)
    children: dict[str | None, list[Cluster]] = {}
    for c in scene.clusters.values():
        children.setdefault(c.parent if c.parent in scene.clusters else None, []).append(c)
    nonempty = _nonempty(scene, by_cluster, children)

    def emit(target: graphviz.Digraph, cid: str | None) -> None:
        for n in by_cluster.get(cid, []):
            extra = {"id": "n_" + ids[n.id]} if with_ids else {}
            target.node(ids[n.id], f"<{n.html}>", **_attrs(n.attrs), **extra)
        for c in children.get(cid, []):
            if c.id not in nonempty:
                continue
            with target.subgraph(name=c.id) as sub:
                extra = {"id": "c_" + c.id} if with_ids else {}
                sub.attr(label=c.label, **_attrs(c.attrs), **extra)
                emit(sub, c.id)     # nesting depth = scope depth (a handful)

    emit(g, None)
    for kind, row in scene.ranks:
        row = [ids[n] for n in row if n in ids]
        if row:
            with g.subgraph() as same:
                same.attr(rank=kind)
                for nid in row:
                    same.node(nid)
    for e in scene.edges.values():
        attrs = dict(e.attrs)
        if e.count > 1 and "label" not in attrs and attrs.get("style") != "invis":
            attrs["label"] = f"×{e.count}"
        if with_ids and attrs.get("style") != "invis":
            attrs["id"] = f"e_{ids[e.src]}__{ids[e.dst]}"
        g.edge(ids[e.src], ids[e.dst], **_attrs(attrs))
    return g


def _dot_ids(scene: Scene) -> dict[str, str]:
    """Scene ids as DOT node ids: letters, digits and '_' only (':' would mean a port)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for nid in scene.nodes:
        safe = re.sub(r"\W", "_", nid)
        base, k = safe, 1
        while safe in used:
            safe = f"{base}_{k}"
            k += 1
        used.add(safe)
        out[nid] = safe
    return out


def _nonempty(scene: Scene, by_cluster: dict, children: dict) -> set[str]:
    """Clusters that hold a node somewhere inside (empty ones are not written)."""
    full: set[str] = set()
    for cid, nodes in by_cluster.items():
        c = cid
        while c is not None and nodes and c not in full:
            full.add(c)
            c = scene.clusters[c].parent
            if c not in scene.clusters:
                c = None
    return full
