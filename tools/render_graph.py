"""Render the computation graph of a named example to an image (or print it in the terminal).

    python tools/render_graph.py mlp -o mlp.svg
    python tools/render_graph.py lenet5 -o lenet5.svg                # one box per layer
    python tools/render_graph.py lenet5 --modules none -o full.svg   # every op
    python tools/render_graph.py rnn --steps 5 -o tools/examples/unrolled_rnn.svg
    python tools/render_graph.py lstm --steps 5 --folded -o lstm_folded.png
    python tools/render_graph.py lstm --steps 64 --max-steps 12 -o lstm64.svg
    python tools/render_graph.py rnn --steps 8 --terminal            # no image viewer needed

The example runs forward and backward (keeping every gradient with
``tg.retain_grads()``), so the picture shows ‖∂L/∂t‖ on the tensors and, for the
recurrent examples, colours each hidden state by ‖∂L/∂h_t‖. The format follows the
file's suffix (.svg, .png, .pdf). Without Graphviz's ``dot`` program the DOT source is
still written (next to the image path, as .gv) and the command says how to install it.
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


def build(name: str, steps: int) -> tuple[tg.Tensor, nn.Module]:
    """Run the example forward and backward; return (loss, model)."""
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
        loss = F.mse_loss(model(x), tg.zeros(2, 1))
    with tg.retain_grads():
        loss.backward()
    return loss, model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("example", choices=EXAMPLES)
    ap.add_argument("-o", "--out", default=None,
                    help="image path (.svg, .png or .pdf); default <example>.svg")
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
    ap.add_argument("--values", action="store_true", help="write the values of small tensors")
    ap.add_argument("--terminal", action="store_true", help="print a terminal view instead")
    ap.add_argument("--keep-source", action="store_true", help="keep the .gv DOT source")
    args = ap.parse_args(argv)
    if args.steps < 1:
        ap.error(f"--steps must be >= 1, got {args.steps}")

    loss, model = build(args.example, args.steps)
    graph = viz.trace(loss, model=model)
    recurrent = args.example in ("rnn", "lstm")
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
                                    show_values=args.values,
                                    title=f"{args.example} unrolled over {args.steps} steps")
    else:
        modules = args.modules or ("collapse" if args.example == "lenet5" else "none")
        drawing = viz.draw(graph, modules=None if modules == "none" else modules,
                           show_values=args.values, max_nodes=args.max_nodes)
    out = Path(args.out or f"{args.example}.svg")
    if out.suffix.lower() not in (".svg", ".png", ".pdf"):
        ap.error(f"--out must end in .svg, .png or .pdf, got {out.name!r}")
    try:
        path = drawing.render(out, cleanup=not args.keep_source)
    except viz.GraphvizNotFoundError as e:
        print(f"render_graph: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({graph}; {time.perf_counter() - start:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
