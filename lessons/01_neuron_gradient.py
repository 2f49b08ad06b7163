"""Lesson 1: A neuron and its gradient. The delta rule by hand equals what autograd computes."""
from __future__ import annotations

import math

import tinygrad_edu as tg
from tinygrad_edu.engine import graph, ops

import figures
from console import Knob, Lesson, run

TASKS = {"and": [0.0, 0.0, 0.0, 1.0], "or": [0.0, 1.0, 1.0, 1.0], "xor": [0.0, 1.0, 1.0, 0.0]}


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)

    L.step("One sigmoid unit", deck=(3, "Basic Unit : Neuron"))
    L.say("A neuron weighs its inputs, subtracts a threshold T and squashes the result:\n"
          "    net = Σ_i w_i·x_i − T        o = σ(net) = 1 / (1 + e^(−net))\n"
          "We train it on one example (x, t) by making the squared error E = ½(t − o)² smaller.")
    with L.code():
        x = tg.tensor([1.0, 0.5, -1.5], dtype=tg.float64)
        t = 1.0
        w = tg.tensor([0.2, -0.4, 0.1], dtype=tg.float64, requires_grad=True)
        T = tg.tensor(0.3, dtype=tg.float64, requires_grad=True)
        R = 0.5                                                  # the learning rate
        net = (w * x).sum() - T
        o = net.sigmoid()
        E = 0.5 * (t - o) ** 2
    L.table(["x", "w", "T", "net", "o", "E"],
            [[x.tolist(), w.detach().tolist(), T.item(), f"{net.item():.6f}", f"{o.item():.6f}",
              f"{E.item():.6f}"]])
    L.check("net = 0.2·1 − 0.4·0.5 + 0.1·(−1.5) − 0.3 (by hand)", net,
            0.2 * 1.0 - 0.4 * 0.5 + 0.1 * -1.5 - 0.3, 1e-15)
    L.check("o = 1 / (1 + e^(−net)) (math.exp)", o, 1 / (1 + math.exp(-net.item())), 1e-15)

    L.step("The delta rule, derived by hand", deck=(3, "Derivation of Learning Rule"))
    L.say("The chain rule through E = ½(t − o)², o = σ(net) and σ'(net) = o(1 − o) gives\n"
          "    ∂E/∂net = −(t − o)·o·(1 − o) = −δ\n"
          "    ∂E/∂w_i = −δ·x_i            ∂E/∂T = +δ\n"
          "so gradient descent with rate R moves the weights by Δw_i = R·δ·x_i (and T by −R·δ).")
    with L.code():
        o_val = o.item()
        delta = (t - o_val) * o_val * (1 - o_val)
        dw_hand = [R * delta * xi for xi in x.tolist()]
        dT_hand = -R * delta
    L.table(["δ = (t−o)·o·(1−o)", "Δw = R·δ·x", "ΔT = −R·δ"],
            [[f"{delta:.12f}", [f"{v:.12f}" for v in dw_hand], f"{dT_hand:.12f}"]])
    L.say("The deck writes the same rule for a unit j of a network, Δw_ij = R·δ_j·x_i with "
          "δ_j = (t_j − o_j)·o_j·(1 − o_j); with one unit, j drops out.")

    L.step("The same numbers from autograd", deck=(3, "Derivation of Learning Rule"))
    L.say("E.backward() walks the graph from E back to w and T and applies the chain rule op by "
          "op. The update is then Δw = −R·∂E/∂w.")
    q = L.question("The third input is x₃ = −1.5 and the target t = 1 is above o. Which way "
                   "does this update move w₃?", ["up", "down", "it stays"])
    with L.code():
        E.backward()
        dw_auto = (-R * w.grad).tolist()
        dT_auto = (-R * T.grad).item()
    L.uses(graph.run_backward, ops.Sigmoid)
    L.check("Δw by hand equals −R·∂E/∂w from autograd (float64, 1e-12)", dw_hand, dw_auto,
            tol=1e-12)
    L.check("ΔT by hand equals −R·∂E/∂T from autograd (float64, 1e-12)", dT_hand, dT_auto,
            tol=1e-12)
    moved = 1 if dw_auto[2] > 0 else 2 if dw_auto[2] < 0 else 3
    L.answer(q, observed=moved, expected=2 if (t - o.item()) * x[2].item() < 0 else 1,
             why="δ = (t − o)·o·(1 − o) has the sign of t − o (positive here), and Δw₃ = R·δ·x₃ "
                 "takes the sign of x₃: a negative input's weight goes down, so that the "
                 "input pulls net up next time.")

    task = args.task.upper()
    L.step(f"Training the neuron with the delta rule: logical {task}",
           deck=(3, "The Backpropagation Algorithm"))
    L.say("Four examples, one weight update per example, repeated (the deck's loop: for each "
          "example, compute the output, the error term, update). The threshold T plays the "
          "role of a bias. The same loop runs twice side by side, once with autograd and once "
          "with the delta rule in plain Python floats; the weights must come out identical.")
    X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    targets = TASKS[args.task]
    epochs = 300 if args.fast else 2000
    with L.code():
        wts = tg.tensor([0.1, -0.1], dtype=tg.float64, requires_grad=True)
        thr = tg.tensor(0.0, dtype=tg.float64, requires_grad=True)
        hand_w, hand_T = [0.1, -0.1], 0.0
        R = args.rate
        with L.progress(f"training on {task}", total=epochs, unit="epochs") as bar:
            for _ in range(epochs):
                error = 0.0
                for xs, tt in zip(X, targets):
                    # autograd version
                    out = ((wts * tg.tensor(xs, dtype=tg.float64)).sum() - thr).sigmoid()
                    loss = 0.5 * (tt - out) ** 2
                    wts.grad, thr.grad = None, None
                    loss.backward()
                    with tg.no_grad():
                        wts.sub_(R * wts.grad)
                        thr.sub_(R * thr.grad)
                    error += loss.item()
                    # hand version (plain Python floats)
                    net_h = sum(a * b for a, b in zip(hand_w, xs)) - hand_T
                    o_h = 1 / (1 + 2.718281828459045 ** (-net_h))
                    d = (tt - o_h) * o_h * (1 - o_h)
                    hand_w = [wi + R * d * xi for wi, xi in zip(hand_w, xs)]
                    hand_T = hand_T - R * d
                bar.update(loss=error)
    with tg.no_grad():
        outs = [((wts * tg.tensor(xs, dtype=tg.float64)).sum() - thr).sigmoid().item() for xs in X]
    L.table(["x1", "x2", "target", "output"],
            [[a, b, tt, f"{o_:.3f}"] for (a, b), tt, o_ in zip(X, targets, outs)])
    L.check("hand-trained weights equal autograd-trained weights", hand_w + [hand_T],
            wts.detach().tolist() + [thr.item()], tol=1e-9)
    learned = [round(v) for v in outs] == [round(v) for v in targets]
    if args.task == "xor":
        L.say("One unit draws one straight line, σ(w·x − T) = 0.5, across the input square. "
              "XOR wants (0,1) and (1,0) on one side and (0,0), (1,1) on the other: no line "
              "does that, so no weights can. Lesson 2 adds a hidden layer.")
        L.check_true("a single unit cannot compute XOR: some output is on the wrong side",
                     not learned, str([round(v, 3) for v in outs]))
    elif R >= 0.5:
        L.check_true(f"the neuron computes {task} (outputs round to the targets)", learned,
                     str([round(v, 3) for v in outs]))
    else:
        L.say(f"With a rate as small as R = {R}, {epochs} epochs may not be enough to reach "
              "the targets; what is certain is that the error falls.")
        L.check_true("the error fell", bar.losses[-1] < bar.losses[0],
                     f"{bar.losses[0]:.4f} → {bar.losses[-1]:.4f}")

    with tg.no_grad():                                # the output over the whole input square
        n = 61
        grid = tg.linspace(-0.25, 1.25, n, dtype=tg.float64)
        pts = tg.stack([grid.reshape(n, 1).expand(n, n), grid.reshape(1, n).expand(n, n)], -1)
        surface = ((pts * wts).sum(-1) - thr).sigmoid()              # (n, n): [x1, x2]
    with L.figure("and_neuron", f"A sigmoid neuron trained on {task}", ncols=2,
                  size=(12, 4.8)) as (fig, axes):
        ax = axes[0, 0]
        im = ax.imshow(surface.numpy().T, origin="lower", extent=(-0.25, 1.25, -0.25, 1.25),
                       cmap="RdBu_r", vmin=0, vmax=1)
        fig.colorbar(im, ax=ax, label="output o = σ(w·x − T)")
        ax.contour(grid.numpy(), grid.numpy(), surface.numpy().T, levels=[0.5], colors="black")
        for (a, b), tt in zip(X, targets):
            ax.scatter([a], [b], s=120, c="white" if tt == 0 else "black", edgecolors="black")
            ax.annotate(f"target {tt:g}", (a, b), xytext=(8, 8), textcoords="offset points")
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_title("output over the input square (black line: o = 0.5)")
        figures.lines(axes[0, 1], {"½Σ(t − o)² over the 4 examples": bar.losses},
                      "error per epoch", "epoch", "error", logy=True)


if __name__ == "__main__":
    run(main, 1, "A neuron and its gradient", knobs=[
        Knob("--task", "and", "the truth table the neuron learns", choices=tuple(TASKS)),
        Knob("--rate", 2.0, "the learning rate R of the training loop"),
    ])
