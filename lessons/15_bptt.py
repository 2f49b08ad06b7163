"""Lesson 15: Backpropagation through time. The unrolled graph; shared weights sum their copies."""
from __future__ import annotations

import re

import numpy as np   # only for the hand-written BPTT loop that autograd is compared with

import tinygrad_edu as tg
from tinygrad_edu.engine.graph import run_backward
from tinygrad_edu import nn

import figures
from console import Knob, Lesson, run, shown_path


def rnn_loss(xs: list, target: tg.Tensor, W: tg.Tensor, U: tg.Tensor, b: tg.Tensor,
             V: tg.Tensor, copies: list | None = None) -> tuple[tg.Tensor, list]:
    """h_t = tanh(W x_t + U h_{t-1} + b), y = V h_T, E = ½‖y − target‖².

    With ``copies`` (one (W, U, b) triple per step) each step uses its own weights:
    the unrolled net with its weights *untied*.
    """
    h = tg.zeros(U.shape[0], dtype=U.dtype)              # (H,) h_{-1} = 0
    states = []
    for t, x_t in enumerate(xs):
        Wt, Ut, bt = copies[t] if copies is not None else (W, U, b)
        with tg.scope(f"t={t}"):                          # labels the ops with their step
            h = (Wt @ x_t + Ut @ h + bt).tanh()           # (H,)
            h.name = "h"
        states.append(h)
    y = V @ h                                             # (O,)
    return 0.5 * ((y - target) ** 2).sum(), states


def numpy_bptt(xs: np.ndarray, target: np.ndarray, W: np.ndarray, U: np.ndarray,
               b: np.ndarray, V: np.ndarray) -> dict:
    """Backpropagation through time written out: forward loop, then a backward loop.

    δ_t = ∂E/∂h_t. Going back through h_t = tanh(a_t): ∂E/∂a_t = δ_t ⊙ (1 − h_t²);
    every step adds its share to the shared weights, and δ_{t−1} = Uᵀ ∂E/∂a_t.
    """
    T, H = len(xs), U.shape[0]
    hs = [np.zeros(H)]                                    # hs[t + 1] = h_t
    for x_t in xs:
        hs.append(np.tanh(W @ x_t + U @ hs[-1] + b))
    y = V @ hs[-1]
    E = 0.5 * float(np.sum((y - target) ** 2))
    dV = np.outer(y - target, hs[-1])
    delta = V.T @ (y - target)                            # δ_{T−1} = ∂E/∂h_{T−1}
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    deltas, shares = [None] * T, [None] * T
    for t in range(T - 1, -1, -1):
        deltas[t] = delta
        da = delta * (1 - hs[t + 1] ** 2)                 # ∂E/∂a_t
        shares[t] = (np.outer(da, xs[t]), np.outer(da, hs[t]), da)   # step t's (W, U, b) share
        dW += shares[t][0]                                # hs[t] is h_{t−1}
        dU += shares[t][1]
        db += shares[t][2]
        delta = U.T @ da                                  # δ_{t−1}
    return {"E": E, "W": dW, "U": dU, "b": db, "V": dV, "deltas": deltas, "shares": shares}


def numpy_bptt_every_step(xs: np.ndarray, targets: np.ndarray, W: np.ndarray, U: np.ndarray,
                          b: np.ndarray, V: np.ndarray) -> dict:
    """BPTT when every step has a loss: y_t = V h_t, E = Σ_t E_t, E_t = ½‖y_t − target_t‖².
    Going back, δ_t = ∂E/∂h_t collects Vᵀ(y_t − target_t) from its own loss plus what the
    later steps send back through U."""
    T, H = len(xs), U.shape[0]
    hs = [np.zeros(H)]
    for x_t in xs:
        hs.append(np.tanh(W @ x_t + U @ hs[-1] + b))
    ys = [V @ h for h in hs[1:]]
    E = sum(0.5 * float(np.sum((y - t) ** 2)) for y, t in zip(ys, targets))
    dW, dU, db, dV = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b), np.zeros_like(V)
    from_later = np.zeros(H)                              # Uᵀ ∂E/∂a_{t+1}
    for t in range(T - 1, -1, -1):
        err = ys[t] - targets[t]
        dV += np.outer(err, hs[t + 1])
        delta = V.T @ err + from_later                    # δ_t: its own loss + the future
        da = delta * (1 - hs[t + 1] ** 2)
        dW += np.outer(da, xs[t])
        dU += np.outer(da, hs[t])
        db += da
        from_later = U.T @ da
    return {"E": E, "W": dW, "U": dU, "b": db, "V": dV}


def max_diff(a: object, b: object) -> float:
    """Largest absolute elementwise difference (a Tensor or list of Tensors vs arrays)."""
    if isinstance(a, (list, tuple)):
        return max(max_diff(x, y) for x, y in zip(a, b))
    a = a.detach().numpy() if isinstance(a, tg.Tensor) else np.asarray(a)
    return float(np.max(np.abs(a - np.asarray(b))))


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    rng = np.random.default_rng(14)
    T = args.steps or (4 if args.fast else 6)
    I, H, O = 3, 4, 2

    L.step("A recurrent net is a loop; unrolled in time it is a deep feed-forward net",
           deck=[(3, "RNNs"), (4, "Training Recurrent Networks")])
    L.say("The same cell runs at every step with the same weights:\n"
          "    h_t = tanh(W x_t + U h_{t−1} + b)        y = V h_T        E = ½‖y − target‖²\n"
          f"Write the loop out for T = {T} steps and you get a feed-forward network {T} "
          "cells deep, in which W, U and b occur T times. Backpropagation through time (BPTT) "
          "is ordinary backpropagation on that unrolled network.")
    L.source(rnn_loss)
    f64 = tg.float64
    W = nn.Parameter(tg.tensor(rng.normal(0, 0.5, (H, I)), dtype=f64))
    U = nn.Parameter(tg.tensor(rng.normal(0, args.weight_scale, (H, H)), dtype=f64))
    b = nn.Parameter(tg.tensor(rng.normal(0, 0.1, (H,)), dtype=f64))
    V = nn.Parameter(tg.tensor(rng.normal(0, 0.5, (O, H)), dtype=f64))
    xs_np = rng.normal(0, 1, (T, I))
    target_np = np.array([0.5, -0.5])
    xs = []
    for t in range(T):
        x_t = tg.tensor(xs_np[t], dtype=f64)
        x_t.name = "x"
        xs.append(x_t)
    target = tg.tensor(target_np, dtype=f64)
    with L.code():
        E, states = rnn_loss(xs, target, W, U, b, V)
        E.name = "E"                                          # the views write ∂E/∂·
        with tg.retain_grads():                               # keep ∂E/∂h_t on every state
            E.backward(retain_graph=True)                     # keep the values: see step 2
    L.uses(tg.scope, tg.retain_grads, run_backward)
    L.say(f"E = {E.item():.6f}")

    L.step("The unrolled graph: one cluster per time step",
           deck=[(3, "Backpropagation through Time"), (4, "Training Recurrent Networks")])
    with L.code():
        params = {"W": W, "U": U, "b": b, "V": V}
        graph = tg.viz.trace(E, params=params)
        drawing = tg.viz.draw_unrolled(graph, title=f"an RNN unrolled over {T} steps")
        source = drawing.source
    L.uses(tg.viz.trace, tg.viz.draw_unrolled)
    clusters = re.findall(r"subgraph (cluster_t\d+) \{", source)
    L.check("one cluster per time step, in time order",
            [int(c[len("cluster_t"):]) for c in clusters], list(range(T)))
    arrows = {}
    for name in ("W", "U", "b"):
        node = graph.node(params[name]).id
        arrows[name] = len(re.findall(rf"^\s*{node} -> ", source, flags=re.M))
        L.check(f"{name} is drawn once, with one arrow into each of the {T} steps",
                [source.count(f"<B>{name}</B>"), arrows[name]], [1, T])
    L.say("Each step's cell reads W, U and b: the weights are *shared* by the copies. V is "
          "used once, after the loop.")
    figures.write_graph(L, drawing, "unrolled_rnn",
                        f"the RNN unrolled over {T} steps (the SVG zooms in a browser)")
    page = figures.write_explorer(L, E, params, "unrolled_rnn",
                                  "the same graph to explore in a browser")
    L.uses(tg.viz.explore)
    if page is not None:
        L.say(f"Open {shown_path(page)} in a browser (tg.viz.explore(E, params=params).save(...) "
              "wrote it; E.backward(retain_graph=True) kept the values it shows). Click a node "
              "to see its value and its gradient ∂E/∂·: an h in an early step and in the last "
              "one, then W. Step through the backward pass with the arrow keys (→ ←) and "
              f"watch W's gradient collect {T} contributions, one from each step that uses "
              "it, added up as they arrive: the sum that the next step takes apart.")
    L.say("The same picture in the terminal, from E back to the inputs:")
    L.print(tg.viz.tree(E, params=params, modules="collapse", max_depth=8))

    L.step("A shared weight's gradient is the sum over its copies",
           deck=(3, "Backpropagation through Time"))
    q = L.question("W is used at every step. Its gradient ∂E/∂W is …",
                   ["the gradient of the last step's copy", "the sum over all the copies",
                    "the average over the copies"])
    L.say("Untie the weights: give step t its own copy (W_t, U_t, b_t), all equal to W, U, b. "
          "The function does not change, so ∂E/∂W_t is step t's share of the gradient, and "
          "the chain rule for a variable used T times says\n"
          "    ∂E/∂W = Σ_t ∂E/∂W_t        (the same for U and b)")
    with L.code():
        copies = [tuple(nn.Parameter(p.detach().clone()) for p in (W, U, b)) for _ in range(T)]
        E_untied, _ = rnn_loss(xs, target, W, U, b, nn.Parameter(V.detach().clone()), copies)
        E_untied.backward()
    ref = numpy_bptt(xs_np, target_np, W.detach().numpy(), U.detach().numpy(),
                     b.detach().numpy(), V.detach().numpy())
    L.check("the tied net's E equals the NumPy loop's (next step)", E.item(), ref["E"], 1e-14)
    L.check("the untied net computes that same E", E_untied.item(), ref["E"], 1e-14)
    for k, name in enumerate(("W", "U", "b")):
        L.check(f"each copy's ∂E/∂{name}_t equals step t's share in the NumPy loop of the "
                "next step",
                [c[k].grad for c in copies], [s_[k] for s_ in ref["shares"]], 1e-12)
    rows = []
    for t, (Wt, Ut, bt) in enumerate(copies):
        rows.append([t, f"{np.linalg.norm(Wt.grad.numpy()):.6f}",
                     f"{np.linalg.norm(Ut.grad.numpy()):.6f}",
                     f"{np.linalg.norm(bt.grad.numpy()):.6f}"])
    L.table(["step t", "‖∂E/∂W_t‖", "‖∂E/∂U_t‖", "‖∂E/∂b_t‖"], rows)
    for k, name in enumerate(("W", "U", "b")):
        summed = sum(c[k].grad.numpy() for c in copies)
        L.check(f"∂E/∂{name} (shared) equals Σ_t ∂E/∂{name}_t: max |difference|",
                max_diff(params[name].grad, summed), 0.0, 1e-12)
    summed_W = sum(c[0].grad.numpy() for c in copies)
    last_W = copies[-1][0].grad.numpy()
    observed = 2 if max_diff(W.grad, summed_W) < 1e-12 else \
        1 if max_diff(W.grad, last_W) < 1e-12 else 3
    L.answer(q, observed=observed, expected=2,
             why="E depends on W through every step, and the chain rule adds the contributions "
                 "of all the paths from W to E: one per copy.")
    L.departure((3, "Backpropagation through Time"),
                "the update is computed for each copy in the unfolded network, then summed "
                "(or averaged)",
                "summed: that sum is ∂E/∂W, and the optimizer scales it by its learning rate",
                f"the average is the sum divided by T = {T}: a step {T} times shorter, the same "
                "as dividing the learning rate by T (checked)")
    L.check(f"averaging the copies = the sum divided by T = {T}",
            sum(c[0].grad.numpy() for c in copies) / T, W.grad.numpy() / T, 1e-12)

    L.step("BPTT by hand", deck=(3, "Backpropagation through Time"))
    L.say("Going backwards from the loss, δ_t = ∂E/∂h_t obeys\n"
          "    δ_{T−1} = Vᵀ (y − target)\n"
          "    ∂E/∂a_t = δ_t ⊙ (1 − h_t²)            (a_t is the input of tanh)\n"
          "    δ_{t−1} = Uᵀ ∂E/∂a_t\n"
          "and each step adds ∂E/∂a_t x_tᵀ to ∂E/∂W, ∂E/∂a_t h_{t−1}ᵀ to ∂E/∂U and ∂E/∂a_t to "
          "∂E/∂b. A plain NumPy loop does exactly that:")
    L.source(numpy_bptt)
    for name in ("W", "U", "b", "V"):
        L.check(f"NumPy BPTT ∂E/∂{name} equals autograd: max |difference|",
                max_diff(params[name].grad, ref[name]), 0.0, 1e-12)
    L.check("δ_t of the NumPy loop equals ∂E/∂h_t kept by tg.retain_grads(): max |difference|",
            max_diff([s.grad for s in states], ref["deltas"]), 0.0, 1e-12)
    L.print(tg.viz.step_table(graph))
    L.say("The table shows how much the loss cares about each hidden state. It changes "
          "from step to step by the factor Uᵀ diag(1 − h_t²): lesson 16 follows that factor.")
    norms = [float(np.linalg.norm(d)) for d in ref["deltas"]]
    with L.figure("gradient_per_step", "Backpropagation through time, step by step", ncols=2,
                  size=(13, 4.6)) as (fig, axes):
        figures.bars(axes[0, 0], [f"t={t}" for t in range(T)], norms, "‖∂E/∂h_t‖ (δ_t)",
                     "norm", fmt="{:.3f}")
        steps_ = range(T)
        for k, name in enumerate(("W", "U", "b")):
            axes[0, 1].plot(steps_, [np.linalg.norm(c[k].grad.numpy()) for c in copies],
                            marker="o", label=f"‖∂E/∂{name}_t‖")
        axes[0, 1].set_title("each step's share of the shared weights' gradient")
        axes[0, 1].set_xlabel("step t")
        axes[0, 1].set_ylabel("norm")
        axes[0, 1].set_xticks(list(steps_))
        axes[0, 1].grid(True, alpha=0.3)
        axes[0, 1].legend()

    L.step("A loss at every step: E = Σ_t E_t", deck=(3, "Feeding a sequence to an RNN"))
    L.say("So far only the last state had a target. A tagger or a language model has one at "
          "every step: y_t = V·h_t, E_t = Loss(y_t, target_t), and training lowers their sum "
          "E = Σ_t E_t. Going back, each state now gets the gradient of its own loss *plus* "
          "what the later steps send back through U:\n"
          "    δ_t = Vᵀ(y_t − target_t) + Uᵀ ∂E/∂a_{t+1}")
    L.source(numpy_bptt_every_step)
    with L.code():
        targets_np = rng.normal(0, 0.5, (T, O))               # one target per step
        per_step = []                                         # E_t for t = 0..T−1
        h = tg.zeros(H, dtype=f64)
        for t in range(T):
            h = (W @ xs[t] + U @ h + b).tanh()
            per_step.append(0.5 * ((V @ h - tg.tensor(targets_np[t], dtype=f64)) ** 2).sum())
        E_all = per_step[0]
        for E_t in per_step[1:]:
            E_all = E_all + E_t                               # E = Σ_t E_t
        one_by_one = [tg.grad(E_t, [W], retain_graph=True)[0] for E_t in per_step]
        (dW_all,) = tg.grad(E_all, [W], retain_graph=True)
    ref_all = numpy_bptt_every_step(xs_np, targets_np, W.detach().numpy(), U.detach().numpy(),
                                    b.detach().numpy(), V.detach().numpy())
    L.check("E = Σ_t E_t equals the NumPy loop's", E_all.item(), ref_all["E"], 1e-14)
    L.check("∂E/∂W = Σ_t ∂E_t/∂W: the gradient of the sum is the sum of the gradients",
            dW_all, sum(g.numpy() for g in one_by_one), 1e-12)
    L.check("∂E/∂W from autograd = the NumPy BPTT loop with a loss at every step", dW_all,
            ref_all["W"], 1e-12)
    with L.code():
        (dE0_dW,) = tg.grad(per_step[0], [W], retain_graph=True)
        Wn, bn, Vn = W.detach().numpy(), b.detach().numpy(), V.detach().numpy()
        h0 = np.tanh(Wn @ xs_np[0] + bn)                          # h_0 (U·h_{−1} = 0)
        first_step_only = np.outer((1 - h0 ** 2) * (Vn.T @ (Vn @ h0 - targets_np[0])), xs_np[0])
    L.check("E_0 reaches W only through step 0: ∂E_0/∂W = one outer product, by hand",
            dE0_dW, first_step_only, 1e-12)
    norms_t = [float(np.linalg.norm(g.numpy())) for g in one_by_one]
    L.table(["loss", "‖∂E_t/∂W‖", "steps it reaches back through"],
            [[f"E_{t}", f"{n:.4f}", f"0..{t}"] for t, n in enumerate(norms_t)])
    L.say("A later loss reaches back through more steps (E_t through t + 1 copies of the "
          "cell), so it contributes more terms to ∂E/∂W; lesson 16 asks how big the far-back "
          "terms still are.")


if __name__ == "__main__":
    run(main, 15, "Backpropagation through time", knobs=[
        Knob("--steps", 0, "T, the number of steps to unroll (0: 4 with --fast, 6 otherwise)"),
        Knob("--weight-scale", 0.5, "standard deviation of the recurrent weights U"),
    ])
