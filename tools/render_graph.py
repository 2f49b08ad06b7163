"""Render the computation graph of a named example to an image (or print it in the terminal).

    python tools/render_graph.py mlp -o mlp.svg
    python tools/render_graph.py lenet5 -o lenet5.svg                # one box per layer
    python tools/render_graph.py lenet5 --modules none -o full.svg   # every op
    python tools/render_graph.py rnn --steps 5 -o tools/examples/unrolled_rnn.svg
    python tools/render_graph.py lstm --steps 5 --folded -o lstm_folded.png
    python tools/render_graph.py lstm --steps 64 --max-steps 12 -o lstm64.svg
    python tools/render_graph.py rnn --steps 8 --terminal            # no image viewer needed
    python tools/render_graph.py lstm --steps 5 -o lstm.html         # the interactive explorer

The example runs forward and backward (keeping every gradient with
``tg.retain_grads()``), so the picture shows ‖∂L/∂t‖ on the tensors and, for the
recurrent examples, colours each hidden state by ‖∂L/∂h_t‖. The format follows the
file's suffix (.svg, .png, .pdf, or .html for the explorer: hover, collapse, search and
step through the backward pass; one file that opens from disk). Without Graphviz's
``dot`` program the DOT source is still written (next to the image path, as .gv) and the
command says how to install it.

The graph is recorded with the fast lane off (``tg.fast(False)``), so the LSTM's gates
are drawn as the σ, tanh and ⊙ ops of the lecture; ``--fast`` keeps the lane on (one
fused ``lstm_gates`` node per step, labelled with its formula).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, viz
from tinygrad_edu.models import LeNet5

EXAMPLES = ("mlp", "lenet5", "rnn", "lstm")


class SequenceRegressor(nn.Module):
    """A recurrent layer reads a sequence; a linear head maps its last state to one number."""

    def __init__(self, kind: str, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size) if kind == "rnn" else nn.LSTM(input_size,
                                                                                 hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        out, _ = self.rnn(x)                   # (T, B, H)
        return self.head(out[-1])              # (B, 1)


def build(name: str, steps: int, backward: bool = True) -> tuple[tg.Tensor, nn.Module, tg.Tensor]:
    """Run the example forward (and backward unless not ``backward``); return (loss, model,
    input). Hold on to the input: a view of it made without gradient (the window view under
    a convolution) is drawn with its name only while the named tensor is alive."""
    tg.manual_seed(0)
    if name == "mlp":
        model: nn.Module = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        x = tg.randn(5, 4)
        x.name = "x"
        loss = F.cross_entropy(model(x), tg.tensor([0, 2, 1, 1, 0]))
    elif name == "lenet5":
        model = LeNet5()
        x = tg.randn(2, 1, 32, 32)
        x.name = "images"
        loss = F.cross_entropy(model(x), tg.tensor([3, 7]))
    else:
        model = SequenceRegressor(name, 3, 4)
        x = tg.randn(steps, 2, 3)
        x.name = "x"
        target = tg.zeros(2, 1)
        target.name = "target"
        loss = F.mse_loss(model(x), target)
    if backward:
        with tg.retain_grads():
            loss.backward(retain_graph=True)     # (keeps the views' link to the input)
    return loss, model, x


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("example", choices=EXAMPLES)
    ap.add_argument("-o", "--out", default=None,
                    help="image path (.svg, .png or .pdf), or .html for the interactive "
                         "explorer; default <example>.svg")
    ap.add_argument("--steps", type=int, default=5, help="sequence length (rnn, lstm)")
    ap.add_argument("--folded", action="store_true", help="rnn/lstm: one cell with a loop")
    ap.add_argument("--detail", choices=("cell", "ops"), default="cell",
                    help="rnn/lstm unrolled: each step as one cell, or all its ops")
    ap.add_argument("--max-steps", type=int, default=None,
                    help="rnn/lstm: draw the first and last steps, fold the middle")
    ap.add_argument("--modules", choices=("collapse", "cluster", "none"), default=None,
                    help="mlp/lenet5: one box per layer (default for lenet5), clusters, or "
                         "every op (default for mlp)")
    ap.add_argument("--max-nodes", type=int, default=None, help="keep at most this many boxes")
    ap.add_argument("--functions", choices=("collapse", "expand"), default=None,
                    help="the loss (and calls marked as functions) as one box, or their ops "
                         "(default: one box in the module and cell views)")
    ap.add_argument("--wrap", type=int, default=None,
                    help="rnn/lstm: steps per row (default: as many as fit a screen's width)")
    ap.add_argument("--fast", action="store_true",
                    help="record with the fast lane on (fused LSTM gates); off by default")
    ap.add_argument("--values", action="store_true", help="write the values of small tensors")
    ap.add_argument("--terminal", action="store_true", help="print a terminal view instead")
    ap.add_argument("--keep-source", action="store_true", help="keep the .gv DOT source")
    args = ap.parse_args(argv)
    if args.steps < 1:
        ap.error(f"--steps must be >= 1, got {args.steps}")

    out = Path(args.out or f"{args.example}.svg")
    if out.suffix.lower() not in (".svg", ".png", ".pdf", ".html"):
        ap.error(f"--out must end in .svg, .png, .pdf or .html, got {out.name!r}")
    explorer = out.suffix.lower() == ".html"
    with tg.fast(args.fast):         # the plain ops of the lecture unless --fast
        loss, model, _x = build(args.example, args.steps, backward=not explorer)
    lane = "on (--fast)" if args.fast else "off (--fast keeps it on)"
    recurrent = args.example in ("rnn", "lstm")
    if explorer:                     # it runs (and records) the backward pass itself
        start = time.perf_counter()
        try:
            ex = viz.explore(loss, model=model, max_steps=args.max_steps,
                             functions=args.functions,
                             title=f"{args.example}: explore the graph and its backward pass")
        except viz.GraphvizNotFoundError as e:
            print(f"render_graph: {e}", file=sys.stderr)
            return 1
        path = ex.save(out)
        print(f"wrote {path} ({ex.graph}, {len(ex.steps)} backward steps, "
              f"{path.stat().st_size / 1e6:.2f} MB; {time.perf_counter() - start:.2f} s; "
              f"recorded with the fast lane {lane})")
        return 0
    graph = viz.trace(loss, model=model)
    if args.terminal:
        viz.print_graph(graph, view="steps" if recurrent else "tree")
        if not recurrent:
            return 0
        viz.print_graph(graph, view="tree", modules="collapse")
        return 0
    start = time.perf_counter()
    drawing: Any
    if recurrent and args.folded:
        drawing = viz.draw_folded(graph, title=f"{args.example}, folded ({args.steps} steps)")
    elif recurrent:
        drawing = viz.draw_unrolled(graph, detail=args.detail, max_steps=args.max_steps,
                                    show_values=args.values, functions=args.functions,
                                    wrap=args.wrap,
                                    title=f"{args.example} unrolled over {args.steps} steps")
    else:
        modules = args.modules or ("collapse" if args.example == "lenet5" else "none")
        drawing = viz.draw(graph, modules=None if modules == "none" else modules,
                           show_values=args.values, max_nodes=args.max_nodes,
                           functions=args.functions)
    try:
        path = drawing.render(out, cleanup=not args.keep_source)
    except viz.GraphvizNotFoundError as e:
        print(f"render_graph: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({graph}; {time.perf_counter() - start:.2f} s; recorded with the "
          f"fast lane {lane})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
