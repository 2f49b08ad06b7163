"""Lesson 1: A neuron and its gradient. The delta rule by hand equals what autograd computes."""
from __future__ import annotations

import math

import tinygrad_edu as tg
from tinygrad_edu.engine import graph, ops

import figures
from console import Lesson, run


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)

    L.step("One sigmoid unit")
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

    L.step("The delta rule, derived by hand")
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

    L.step("The same numbers from autograd")
    L.say("E.backward() walks the graph from E back to w and T and applies the chain rule op by "
          "op. The update is then Δw = −R·∂E/∂w.")
    with L.code():
        E.backward()
        dw_auto = (-R * w.grad).tolist()
        dT_auto = (-R * T.grad).item()
    L.uses(graph.run_backward, ops.Sigmoid)
    L.check("Δw by hand equals −R·∂E/∂w from autograd (float64, 1e-12)", dw_hand, dw_auto,
            tol=1e-12)
    L.check("ΔT by hand equals −R·∂E/∂T from autograd (float64, 1e-12)", dT_hand, dT_auto,
            tol=1e-12)

    L.step("Training the neuron with the delta rule: logical AND")
    L.say("Four examples, one weight update per example, repeated. The threshold T plays the "
          "role of a bias. The same loop runs twice side by side, once with autograd and once "
          "with the delta rule in plain Python floats; the weights must come out identical.")
    X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    targets = [0.0, 0.0, 0.0, 1.0]
    epochs = 300 if args.fast else 2000
    with L.code():
        wts = tg.tensor([0.1, -0.1], dtype=tg.float64, requires_grad=True)
        thr = tg.tensor(0.0, dtype=tg.float64, requires_grad=True)
        hand_w, hand_T = [0.1, -0.1], 0.0
        R = 2.0
        with L.progress("training on AND", total=epochs, unit="epochs") as bar:
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
    L.check_true("the neuron computes AND (outputs round to the targets)",
                 [round(v) for v in outs] == [0, 0, 0, 1], str([round(v, 3) for v in outs]))

    with tg.no_grad():                                # the output over the whole input square
        n = 61
        grid = tg.linspace(-0.25, 1.25, n, dtype=tg.float64)
        pts = tg.stack([grid.reshape(n, 1).expand(n, n), grid.reshape(1, n).expand(n, n)], -1)
        surface = ((pts * wts).sum(-1) - thr).sigmoid()              # (n, n): [x1, x2]
    with L.figure("and_neuron", "A sigmoid neuron trained on AND", ncols=2,
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
    run(main, 1, "A neuron and its gradient")
