"""Lesson 16: Vanishing and exploding gradients. ‖∂E/∂h_t‖ per step, on the graph; clipping."""
from __future__ import annotations

import re

import numpy as np   # only to build an orthogonal matrix and to multiply Jacobians by hand

import tinygrad_edu as tg
from tinygrad_edu import nn

import figures
from console import Knob, Lesson, run, shown_path


def run_rnn(U: tg.Tensor, W: tg.Tensor, xs: list, activation: str) -> tuple[tg.Tensor, list]:
    """h_t = act(U h_{t−1} + W x_t), E = ½‖h_{T−1}‖²; returns E and the states."""
    h = tg.zeros(U.shape[0], dtype=U.dtype)
    states = []
    for t, x_t in enumerate(xs):
        with tg.scope(f"t={t}"):
            a = U @ h + W @ x_t                                   # (H,)
            h = a.tanh() if activation == "tanh" else a
            h.name = "h"
        states.append(h)
    return 0.5 * (h * h).sum(), states


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    rng = np.random.default_rng(15)
    T, H, I = (12, 6, 3) if args.fast else (30, 8, 3)
    T = args.steps or T
    gamma_k = args.gamma
    f64 = tg.float64
    Q, _ = np.linalg.qr(rng.normal(size=(H, H)))                 # an orthogonal matrix
    W = tg.tensor(rng.normal(0, 0.5, (H, I)), dtype=f64)
    xs = [tg.tensor(x, dtype=f64) for x in rng.normal(0, 1, (T, I))]

    L.step("∂E/∂h_1 is a product of Jacobians", deck=(3, "An Issue With RNNs"))
    L.say("The loss at the last step reaches an early state only through every state in "
          "between:\n"
          "    ∂E/∂h_t = (∂h_{t+1}/∂h_t)ᵀ ∂E/∂h_{t+1} = J_{t+1}ᵀ ··· J_{T−1}ᵀ ∂E/∂h_{T−1}\n"
          "For h_t = U h_{t−1} + W x_t the Jacobian is simply J = U. Take U = γ·Q with Q "
          "orthogonal (it keeps lengths), then each step back multiplies the gradient's norm "
          "by exactly γ:  ‖∂E/∂h_t‖ = γ^(T−1−t) ‖∂E/∂h_{T−1}‖.")
    L.source(run_rnn)
    gammas = sorted({0.5, 1.0, 1.5, gamma_k})
    q = L.question(f"With U = γ·Q and γ = {gamma_k} (--gamma), how does ‖∂E/∂h_0‖ compare with "
                   f"‖∂E/∂h_{T - 1}‖?", ["smaller", "the same", "larger"])
    rows = {}
    with L.code():
        for gamma in gammas:
            U = nn.Parameter(tg.tensor(gamma * Q, dtype=f64))
            E, states = run_rnn(U, W, xs, "linear")
            with tg.retain_grads():
                E.backward()
            norms = tg.viz.step_grad_norms(E)
            rows[gamma] = norms
            ratio = norms[0] / norms[T - 1]
            L.check(f"γ = {gamma}: ‖∂E/∂h_0‖ / ‖∂E/∂h_{T - 1}‖ = γ^{T - 1} (relative 1e-9)",
                    ratio / gamma ** (T - 1), 1.0, 1e-9)
    L.uses(tg.viz.step_grad_norms)
    L.table(["t"] + [f"γ = {g_}" + (" (vanishes)" if g_ < 1 else " (explodes)" if g_ > 1
                                   else "") for g_ in gammas],
            [[t] + [f"{rows[g_][t]:.3e}" for g_ in gammas] for t in range(T)])
    ratio_k = rows[gamma_k][0] / rows[gamma_k][T - 1]
    L.answer(q, observed=1 if ratio_k < 1 - 1e-9 else 3 if ratio_k > 1 + 1e-9 else 2,
             expected=1 if gamma_k < 1 else 3 if gamma_k > 1 else 2,
             why=f"each of the {T - 1} steps back multiplies the norm by γ: γ^{T - 1} = "
                 f"{gamma_k ** (T - 1):.3g}. The deck's hope, each ∂h_t/∂h_(t−1) = 1, is "
                 "γ = 1: the only value at which a long product neither vanishes nor explodes.")

    L.step("With tanh: J_t = diag(1 − h_t²) U", deck=(3, "An Issue With RNNs"))
    L.say("A squashing unit adds a factor 1 − h_t² ≤ 1 per step, so even with γ = 1 the "
          "gradient shrinks on its way back: the long-range signal vanishes. Multiply the "
          f"Jacobians by hand and compare with autograd (U = {gamma_k}·Q).")
    with L.code():
        U = nn.Parameter(tg.tensor(gamma_k * Q, dtype=f64))
        E, states = run_rnn(U, W, xs, "tanh")
        E.name = "E"                                              # the views write ∂E/∂·
        with tg.retain_grads():
            E.backward(retain_graph=True)                         # keep the values: step 3
    with L.code():
        Un = U.detach().numpy()
        hs = [s.detach().numpy() for s in states]
        g = hs[-1].copy()                                           # ∂E/∂h_{T−1} = h_{T−1}
        for t in range(T - 1, 0, -1):                               # ∂E/∂h_{t−1} = J_tᵀ ∂E/∂h_t
            J = np.diag(1 - hs[t] ** 2) @ Un
            g = J.T @ g
    L.check("Jᵀ_1 ··· Jᵀ_{T−1} ∂E/∂h_{T−1} equals ∂E/∂h_0 from autograd: max |difference|",
            float(np.max(np.abs(g - states[0].grad.numpy()))), 0.0, 1e-12)
    norms = tg.viz.step_grad_norms(E)
    L.print(tg.viz.step_table(E))
    if gamma_k <= 1:
        L.check_true("with tanh the gradient at t = 0 is smaller than at the last step",
                     norms[0] < norms[T - 1], f"{norms[0]:.2e} < {norms[T - 1]:.2e}")
    else:
        L.say(f"With γ = {gamma_k} > 1 the two factors pull apart: γ per step against "
              f"1 − h² ≤ 1; here ‖∂E/∂h_0‖ / ‖∂E/∂h_{T - 1}‖ = {norms[0] / norms[T - 1]:.3g}.")
    with L.figure("gradient_norms", "How ‖∂E/∂h_t‖ changes on its way back through time",
                  size=(10, 5.2)) as (fig, axes):
        series = {f"linear, U = {g_}·Q": [rows[g_][t] for t in range(T)] for g_ in rows}
        series[f"tanh, U = {gamma_k}·Q"] = [norms[t] for t in range(T)]
        figures.lines(axes[0, 0], series, "gradient norm per step (the loss is at the last step)",
                      "step t", "‖∂E/∂h_t‖ (log scale)", logy=True, markers=True)

    L.step("The same numbers, coloured on the unrolled graph",
           beyond="the deck gives the product of Jacobians as a formula; the graph view "
                  "shows where along the unrolled net the gradient is lost")
    L.say("Each hidden state is filled with the colour of ‖∂E/∂h_t‖ on a log scale: blue "
          "where the gradient has vanished, red where it is largest; each step's frame "
          "takes the same colour. Beyond 12 steps the middle ones are folded into one '⋯' box "
          "(the table above has them all).")
    with L.code():
        graph = tg.viz.trace(E, params={"U": U})
        drawing = tg.viz.draw_unrolled(graph, max_steps=12,     # the middle folds into ⋯
                                       title="‖∂E/∂h_t‖ along the unrolled tanh RNN")
    L.uses(tg.viz.draw_unrolled)
    scale = tg.viz.ColorScale.from_values(norms.values())
    src = drawing.source
    lo, hi = min(norms, key=norms.get), max(norms, key=norms.get)
    fills = {}
    for t in (lo, hi):
        node = graph.node(states[t]).id
        m = re.search(rf"^\s*{node} \[.*fillcolor=\"(#[0-9a-f]{{6}})\"", src, flags=re.M)
        fills[t] = m.group(1) if m else None
    L.check(f"h_{lo} (smallest gradient) is drawn in the coldest colour, h_{hi} in the "
            "warmest", [fills[lo] == scale(norms[lo]) == "#3b4cc0",
                        fills[hi] == scale(norms[hi]) == "#b40426"], [1, 1])
    figures.write_graph(L, drawing, "gradient_norms_graph",
                        "‖∂E/∂h_t‖ coloured on the unrolled graph")
    page = figures.write_explorer(L, E, {"U": U}, "unrolled_rnn",
                                  f"all {T} steps to explore in a browser", wrap=6)   # 6 a row
    L.uses(tg.viz.explore)
    if page is not None:
        L.say(f"Open {shown_path(page)} in a browser: every one of the {T} steps, 6 to a row "
              "(tg.viz.explore(E, params={'U': U}, wrap=6).save(...) wrote it; "
              "E.backward(retain_graph=True) kept the values it shows). Click the h of the "
              "last step, then of the first one: each shows its value and its gradient "
              "∂E/∂h_t, and the norms are the table's. Step through the backward pass with "
              "the arrow keys (→ ←) and watch the gradient "
              + ("shrink" if gamma_k <= 1 else "change") + " as it goes back through each "
              "tanh.")

    L.step("Clipping bounds an exploding gradient", deck=[(3, "An Issue With RNNs"),
                                                          (3, "Summary")])
    L.say("An exploding gradient makes one SGD step throw the weights far away. Clipping "
          "rescales all gradients together when their joint norm exceeds max_norm:\n"
          "    g ← g · max_norm / ‖g‖        if ‖g‖ > max_norm\n"
          "The direction is kept, only the length is bounded (PyTorch's "
          "nn.utils.clip_grad_norm_, which returns the norm before clipping).")
    with L.code():
        U = nn.Parameter(tg.tensor(1.5 * Q, dtype=f64))
        Wp = nn.Parameter(W.detach().clone())
        E, _ = run_rnn(U, Wp, xs, "linear")
        E.backward()
        before = [p.grad.numpy().copy() for p in (U, Wp)]
        norm_by_hand = float(np.sqrt(sum((g ** 2).sum() for g in before)))
        max_norm = args.max_norm
        total = nn.utils.clip_grad_norm_([U, Wp], max_norm)
        after = [p.grad.numpy() for p in (U, Wp)]
    L.uses(nn.utils.clip_grad_norm_)
    norm_after = float(np.sqrt(sum((g ** 2).sum() for g in after)))
    L.table(["", "‖g‖"], [["before clipping", f"{norm_by_hand:.4e}"],
                          ["after clipping", f"{norm_after:.6f}"]])
    L.check("clip_grad_norm_ returns the norm before clipping (relative 1e-12)",
            float(total.item()) / norm_by_hand, 1.0, 1e-12)
    if norm_by_hand > max_norm:
        L.check("after clipping ‖g‖ = max_norm (1e-6)", norm_after, max_norm, 1e-6)
    else:
        L.check(f"‖g‖ was already below max_norm = {max_norm}: nothing changed", norm_after,
                norm_by_hand, 1e-12)
    cosine = sum((a * b).sum() for a, b in zip(before, after)) / (norm_by_hand * norm_after)
    L.check("the direction is unchanged: cos(g_before, g_after) = 1", float(cosine), 1.0, 1e-12)
    L.departure((3, "An Issue With RNNs"),
                "exploding gradients are controlled by clipping the values to a max value: each "
                "entry g_i ← min(max(g_i, −c), c)",
                "clipping the norm of all gradients together, g ← g·max_norm/‖g‖ "
                "(nn.utils.clip_grad_norm_); clipping values is nn.utils.clip_grad_value_",
                "both bound the step, but value clipping cuts the large entries and keeps the "
                "small ones, so it turns the gradient: it no longer points straight downhill "
                "(the cosine below is less than 1)")
    with L.code():
        for p_, g in zip((U, Wp), before):
            p_.grad = tg.tensor(g.copy(), dtype=f64)             # the unclipped gradient again
        nn.utils.clip_grad_value_([U, Wp], max_norm)
        by_value = [p_.grad.numpy() for p_ in (U, Wp)]
    L.uses(nn.utils.clip_grad_value_)
    L.check("clip_grad_value_ = np.clip(g, −c, c), entry by entry (U and W, flattened)",
            np.concatenate([g.ravel() for g in by_value]),
            np.concatenate([np.clip(g, -max_norm, max_norm).ravel() for g in before]), 1e-12)
    norm_v = float(np.sqrt(sum((g ** 2).sum() for g in by_value)))
    cos_v = sum((a * b).sum() for a, b in zip(before, by_value)) / (norm_by_hand * norm_v)
    cut = sum(int((np.abs(g) > max_norm).sum()) for g in before)
    L.table(["clipping", "‖g‖ after", "cos(before, after)"],
            [["the norm (ours)", f"{norm_after:.4g}", f"{float(cosine):.6f}"],
             ["the values (the deck's)", f"{norm_v:.4g}", f"{float(cos_v):.6f}"]])
    if cut:
        L.check_true(f"clipping {cut} of the {sum(g.size for g in before)} values turned the "
                     "gradient (cosine < 0.999)", float(cos_v) < 0.999, f"cos = {float(cos_v):.6f}")
    else:
        L.say("(No entry exceeds the clip value here: then value clipping changes nothing.)")
    lr = 0.1
    L.say(f"So one SGD step with learning rate {lr} moves the weights by at most "
          f"lr · max_norm = {lr * max_norm}, instead of lr · {norm_by_hand:.2e}.")


if __name__ == "__main__":
    run(main, 16, "Vanishing and exploding gradients", knobs=[
        Knob("--gamma", 1.0, "γ of U = γ·Q: added to the linear table and used for the tanh RNN"),
        Knob("--steps", 0, "T, the length of the sequence (0: 12 with --fast, 30 otherwise)"),
        Knob("--max-norm", 1.0, "the clipping threshold (norm, and value for the deck's way)"),
    ])
