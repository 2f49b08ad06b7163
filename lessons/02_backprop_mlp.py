"""Lesson 2: Backpropagation in an MLP. Error terms by hand equal autograd; dense layers bloat."""
from __future__ import annotations

import tinygrad_edu as tg
from tinygrad_edu.engine import graph, ops
from tinygrad_edu import nn, optim

import figures
from console import Knob, Lesson, run


def fmt(t: tg.Tensor) -> str:
    """A short printable form of a small tensor's values."""
    return "[" + ", ".join(f"{v:+.6f}" for v in t.detach().numpy().ravel()) + "]"


def forward(x: tg.Tensor, W1: tg.Tensor, b1: tg.Tensor, W2: tg.Tensor,
            b2: tg.Tensor) -> tuple:
    """x (N, 2) -> hidden net/outputs (N, H) -> output net/outputs (N, 1), sigmoid units."""
    net_h = x @ W1 + b1              # (N, H): net_j = Σ_i x_i w_ij + b_j   (b_j = -T_j)
    h = net_h.sigmoid()
    net_o = h @ W2 + b2              # (N, 1)
    o = net_o.sigmoid()
    return net_h, h, net_o, o


def hand_deltas(x: tg.Tensor, t: tg.Tensor, W1: tg.Tensor, b1: tg.Tensor, W2: tg.Tensor,
                b2: tg.Tensor) -> tuple:
    """Steps 1-4 of the algorithm with plain tensor arithmetic (no autograd)."""
    _, h, _, o = forward(x, W1, b1, W2, b2)
    d_out = (t - o) * o * (1 - o)                 # δ_k = (t_k - o_k) o_k (1 - o_k)
    d_hid = h * (1 - h) * (d_out @ W2.T)          # δ_j = h_j (1 - h_j) Σ_k δ_k w_jk
    return h, o, d_out, d_hid


def mlp_params(sizes: list) -> int:
    """Parameters of a stack of dense layers of the given widths: Σ (n_in·n_out + n_out)."""
    return sum(n * m + m for n, m in zip(sizes, sizes[1:]))


def online_epoch(X: tg.Tensor, T: tg.Tensor, params: list, R: float) -> list:
    """The deck's loop as written: for each example, steps 1-4, then update (step 5) before
    the next example is read."""
    for n in range(X.shape[0]):
        x, t = X[n:n + 1], T[n:n + 1]                           # one example, (1, 2) and (1, 1)
        h, _, d_o, d_h = hand_deltas(x, t, *params)
        params = [params[0] + R * (x.T @ d_h), params[1] + R * d_h.sum(0),
                  params[2] + R * (h.T @ d_o), params[3] + R * d_o.sum(0)]
    return params


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    dev = args.device
    f64 = tg.float64
    H = args.hidden

    # ------------------------------------------------------------------ the network
    L.step(f"A 2-{H}-1 network of sigmoid units", deck=(3, "Stack them up"))
    L.say("Each unit adds up its weighted inputs and squashes the sum: o = σ(Σ_i w_i x_i - T).\n"
          f"We write the threshold as a bias b = -T. Two inputs feed {H} hidden unit(s), which\n"
          "feed one output unit. The error on one example is E = ½ Σ_k (t_k - o_k)².\n"
          "Everything runs in float64 so that we can compare numbers to 12 digits.")
    with L.code():
        W1 = tg.randn(2, H, dtype=f64, device=dev)      # w_ij: input i -> hidden j
        b1 = tg.randn(H, dtype=f64, device=dev) * 0.5
        W2 = tg.randn(H, 1, dtype=f64, device=dev)      # w_jk: hidden j -> output k
        b2 = tg.randn(1, dtype=f64, device=dev) * 0.5
        x = tg.tensor([[1.0, 0.0]], dtype=f64, device=dev)
        t = tg.tensor([[1.0]], dtype=f64, device=dev)
    L.source(forward)

    L.step("Backprop steps 1-2: run the example forward and measure the error",
           deck=(3, "The Backpropagation Algorithm"))
    L.source(hand_deltas)
    with L.code():
        h, o, d_out, d_hid = hand_deltas(x, t, W1, b1, W2, b2)
        E = 0.5 * ((t - o) ** 2).sum()
    L.say(f"hidden outputs h = {fmt(h)}\noutput o = {fmt(o)}, target t = 1, "
          f"error E = {E.item():.6f}")

    L.step("Backprop step 3: the output unit's error term",
           deck=(3, "The Backpropagation Algorithm"))
    L.say("For an output unit δ_k = (t_k - o_k)·o_k·(1 - o_k): how far off it is, times the\n"
          "slope of the sigmoid at that point, σ'(net) = o(1 - o). It equals -∂E/∂net_k.")
    with L.code():
        o_ = o.item()                                # plain Python floats from here
        delta_out = (1.0 - o_) * o_ * (1 - o_)       # t = 1
    L.say(f"δ_out = {delta_out:+.8f}")
    L.check("hand_deltas' δ_out = the formula in Python floats", d_out, [[delta_out]], 1e-15)

    L.step("Backprop step 4: the hidden units' error terms, sent backwards",
           deck=(3, "Derivation of Learning Rule"))
    L.say("A hidden unit has no target. Its blame is the blame of the units it feeds,\n"
          "weighted by the connections: δ_j = h_j(1 - h_j)·Σ_k δ_k w_jk. This sum over\n"
          "'downstream' units is the backward pass, one layer at a time.")
    with L.code():
        h_ = h.tolist()[0]
        w_out = [row[0] for row in W2.tolist()]
        delta_hidden = [h_[j] * (1 - h_[j]) * delta_out * w_out[j] for j in range(H)]
    L.table(["hidden unit j", "h_j", "w_j,out", "δ_j = h_j(1-h_j)·δ_out·w_j,out"],
            [[j, f"{h_[j]:.6f}", f"{w_out[j]:+.6f}", f"{delta_hidden[j]:+.8f}"]
             for j in range(H)])
    L.check("hand_deltas' δ_j = the formula in Python floats", d_hid, [delta_hidden], 1e-15)

    L.step("Autograd computes the same error terms", deck=(3, "Derivation of Learning Rule"))
    L.say("Now let the engine differentiate E. Keeping the gradient of the pre-activations\n"
          "(retain_grad) shows that each δ is exactly -∂E/∂net, and the weight gradients\n"
          "are -δ_j·x_i: the input to a connection times the error term at its end.")
    q = L.question(f"The output is too low (δ_out = {delta_out:+.4f} > 0) and hidden unit 0 "
                   f"sends it through the weight {w_out[0]:+.3f}. Which sign will autograd give "
                   "δ_0 = −∂E/∂net_0?", ["positive", "negative", "zero"])
    with L.code():
        P = [nn.Parameter(p.clone()) for p in (W1, b1, W2, b2)]
        net_h, h_ag, net_o, o_ag = forward(x, *P)
        net_h.retain_grad()
        net_o.retain_grad()
        (0.5 * ((t - o_ag) ** 2).sum()).backward()
    L.uses(graph.run_backward, ops.MatMul)
    L.check("output δ = -∂E/∂net_out (autograd)", -net_o.grad, d_out, 1e-12)
    L.check("hidden δ_j = -∂E/∂net_j (autograd)", -net_h.grad, d_hid, 1e-12)
    L.check("∂E/∂w_ij (input->hidden) = -x_i·δ_j", P[0].grad, -(x.T @ d_hid), 1e-12)
    L.check("∂E/∂w_jk (hidden->output) = -h_j·δ_k", P[2].grad, -(h.T @ d_out), 1e-12)
    L.check("∂E/∂b_j = -δ_j", P[1].grad, -d_hid.sum(0), 1e-12)
    got = -net_h.grad[0, 0].item()
    L.answer(q, observed=1 if got > 0 else 2 if got < 0 else 3,
             expected=1 if delta_out * w_out[0] > 0 else 2 if delta_out * w_out[0] < 0 else 3,
             why="δ_0 = h_0(1 − h_0)·δ_out·w_0,out and h_0(1 − h_0) > 0: the blame a hidden "
                 "unit gets has the sign of (output's blame) × (the weight it sends it through).")

    L.step("Backprop step 5: the update Δw_ij = R·δ_j·x_i is one step of gradient descent",
           deck=(3, "The Backpropagation Algorithm"))
    R = args.rate
    L.say(f"With learning rate R = {R}: w ← w + R·δ·x = w - R·∂E/∂w, which is what\n"
          "optim.SGD(lr=R) does with the gradients autograd just filled in.")
    with L.code():
        optim.SGD(P, lr=R).step()
    L.uses(optim.SGD.step)
    L.check("SGD step = hand update of input->hidden weights", P[0], W1 + R * (x.T @ d_hid), 1e-12)
    L.check("SGD step = hand update of hidden->output weights", P[2], W2 + R * (h.T @ d_out),
            1e-12)

    # ------------------------------------------------------------------ XOR
    L.step("The whole algorithm, repeated: learning XOR", deck=(3, "The Backpropagation Algorithm"))
    steps = 600 if args.fast else 2000
    L.say("XOR (output 1 when exactly one input is 1) is the classic problem a single unit\n"
          f"cannot solve (lesson 1) but one hidden layer can. We run steps 1-5 {steps} times on\n"
          "all four examples at once (the δ's of a batch are rows; a weight's update sums over\n"
          "them), once with the hand-written deltas and once with autograd + optim.SGD.")
    L.departure((3, "The Backpropagation Algorithm"),
                "for each example in turn: forward, error terms, update the weights; the next "
                "example already sees the updated weights (online updates)",
                "all four examples at once: their updates are computed at the same weights "
                "and added (batch updates), one step per pass over the data",
                "one batch step equals the sum of the four per-example steps taken at the same "
                "weights (checked next); the deck's loop moves between examples, so the two "
                "runs take different paths (both are run below)")
    with L.code():
        X = tg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=f64, device=dev)
        T = tg.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=f64, device=dev)
        batch_step = R * (X.T @ hand_deltas(X, T, W1, b1, W2, b2)[3])          # (2, H)
        one_by_one = [R * (X[n:n + 1].T @ hand_deltas(X[n:n + 1], T[n:n + 1], W1, b1, W2,
                                                      b2)[3]) for n in range(4)]
    L.check("one batch update of W1 = Σ of the four per-example updates at the same weights",
            batch_step, sum(one_by_one), 1e-12)
    L.source(online_epoch)
    with L.code():
        hand = [W1, b1, W2, b2]
        online = [W1, b1, W2, b2]
        auto = [nn.Parameter(p.clone()) for p in hand]
        opt = optim.SGD(auto, lr=R)
        with L.progress("learning XOR", total=steps) as bar:
            for _ in range(steps):
                hh, oo, d_o, d_h = hand_deltas(X, T, *hand)
                hand = [hand[0] + R * (X.T @ d_h), hand[1] + R * d_h.sum(0),
                        hand[2] + R * (hh.T @ d_o), hand[3] + R * d_o.sum(0)]
                online = online_epoch(X, T, online, R)           # the deck's loop
                opt.zero_grad()
                loss = 0.5 * ((T - forward(X, *auto)[3]) ** 2).sum()
                loss.backward()
                opt.step()
                bar.update(loss=loss.item())
    losses = bar.losses
    out = forward(X, *auto)[3]
    L.table(["x1", "x2", "target", "network output"],
            [[int(a), int(b), int(c), f"{v:.4f}"] for (a, b), c, v in
             zip(X.numpy(), T.numpy().ravel(), out.detach().numpy().ravel())])
    L.say(f"error E: {losses[0]:.4f} → {losses[-1]:.4f}")
    for name, a, b in zip(("W1", "b1", "W2", "b2"), hand, auto):
        L.check(f"{name} after {steps} steps: hand-written backprop = autograd", b, a, 1e-9)
    correct = int(((out > 0.5).to(f64) == T).sum().item())
    online_out = forward(X, *online)[3]
    online_correct = int(((online_out > 0.5).to(f64) == T).sum().item())
    gap = max((a - b).abs().max().item() for a, b in zip(online, hand))
    L.table(["x1", "x2", "target", "batch updates", "the deck's online updates"],
            [[int(a), int(b), int(c), f"{v:.4f}", f"{w:.4f}"] for (a, b), c, v, w in
             zip(X.numpy(), T.numpy().ravel(), out.detach().numpy().ravel(),
                 online_out.numpy().ravel())])
    L.say(f"The two ways of updating end {gap:.3f} apart in their largest weight.")
    L.check_true("batch and online updates take different paths (weights differ by > 0.01)",
                 gap > 0.01, f"{gap:.3f}")
    if H == 1:
        L.say("With a single hidden unit the output is a squashed function of one line w·x + b, "
              "like lesson 1's neuron: the four points cannot be split as XOR wants, whatever "
              "the training does.")
        L.check_true("a 2-1-1 network cannot compute XOR: some output is on the wrong side",
                     correct < 4 and online_correct < 4, f"{correct}/4 and {online_correct}/4")
    else:
        L.check_true("XOR learned by batch updates: all four outputs on the right side of 0.5",
                     correct == 4, f"{correct}/4")
    start_E = 0.5 * ((T - forward(X, W1, b1, W2, b2)[3]) ** 2).sum().item()
    online_E = 0.5 * ((T - online_out) ** 2).sum().item()
    L.check_true("the deck's online loop lowered the error too", online_E < start_E,
                 f"{start_E:.4f} → {online_E:.4f}")
    if online_correct < 4 <= correct:
        L.say(f"The online run ended with {online_correct} of 4 on the right side: it settled in "
              "a different valley of E (XOR's error surface has flat regions and local minima "
              "that catch some starts). Same formulas, different order of updates, different "
              "outcome: that is the consequence of the departure.")
    with tg.no_grad():                                # the output over the whole input square
        n = 61
        grid = tg.linspace(-0.25, 1.25, n, dtype=f64, device=dev)
        pts = tg.stack([grid.reshape(n, 1).expand(n, n), grid.reshape(1, n).expand(n, n)], -1)
        surface = forward(pts.reshape(n * n, 2), *auto)[3].reshape(n, n)    # [x1, x2]
    with L.figure("xor", f"A 2-{H}-1 network learns XOR", ncols=2, size=(12, 4.8)) as (fig, axes):
        ax = axes[0, 0]
        im = ax.imshow(surface.numpy().T, origin="lower", extent=(-0.25, 1.25, -0.25, 1.25),
                       cmap="RdBu_r", vmin=0, vmax=1)
        fig.colorbar(im, ax=ax, label="network output o")
        ax.contour(grid.numpy(), grid.numpy(), surface.numpy().T, levels=[0.5], colors="black")
        for (a, b), tt in zip(X.tolist(), T.numpy().ravel()):
            ax.scatter([a], [b], s=120, c="white" if tt == 0 else "black", edgecolors="black")
            ax.annotate(f"target {tt:g}", (a, b), xytext=(8, 8), textcoords="offset points")
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_title("output over the input square (black: o = 0.5)")
        figures.lines(axes[0, 1], {"E = ½Σ(t − o)² over the 4 examples": losses},
                      "error per step (hand-written and autograd agree)", "step", "error",
                      logy=True)

    # ------------------------------------------------------------------ parameter explosion
    L.step("Parameter explosion in fully connected layers",
           deck=[(0, "Problem with number of layers and number of neurons"),
                 (2, "Problem: high-dimensional image data")])
    L.say("Every unit of a dense layer has its own weight to every input: a layer from n to\n"
          "m units holds n·m weights (plus m biases). Counting the parameters of real layers:")

    with L.code():
        def count(layer: nn.Module) -> int:
            return sum(p.numel() for p in layer.parameters())

        square = count(nn.Linear(1000, 1000, bias=False))
        big = count(nn.Linear(256 * 256, 1000))          # 65,536 pixels -> 1,000 hidden units
        small_mlp = count(nn.Sequential(nn.Linear(30, 20), nn.Tanh(), nn.Linear(20, 20)))
    L.check("1000×1000 layer: n·m weights (the slide's 1,000,000)", square, 1_000_000)
    L.check("256×256 input to 1000 hidden units, with biases (the slide's 65 million)", big,
            65_537_000)
    L.say("Two layers of 15,000 units hold 4 GB of float32 weights: too many to build here. "
          "Count them with the formula instead, after testing it on layers that do exist:")
    L.source(mlp_params)
    L.check("the formula counts nn.Linear(65,536 → 1,000) right", mlp_params([65536, 1000]), big)
    L.check("the formula counts a 30-20-20 nn.Sequential right", mlp_params([30, 20, 20]),
            small_mlp)
    two_hidden = mlp_params([256 * 256, 15000, 15000])
    L.check_true("two hidden layers of 15,000 units: over a billion parameters (the slide)",
                 two_hidden > 10 ** 9, f"{two_hidden:,}")
    L.table(["layer", "formula", "parameters"], [
        ["1000 → 1000 (weights only)", "n·m", f"{square:,}"],
        ["256×256 image → 1000 hidden", "65,536·1,000 + 1,000", f"{big:,}"],
        ["256×256 → 15,000 → 15,000", "mlp_params", f"{two_hidden:,}"],
        ["one 3×3 convolution filter", "3·3 + 1", f"{3 * 3 + 1:,}"],
    ])
    with L.figure("parameter_explosion", "Dense layers bloat; a filter stays small",
                  size=(10, 5)) as (fig, axes):
        figures.bars(axes[0, 0], ["1000 → 1000", "256² → 1000", "256² → 15k → 15k",
                                  "one 3×3 filter + bias"], [square, big, two_hidden, 10],
                     "parameters (log scale)", "parameters", fmt="{:,.0f}", logy=True,
                     colors=["#4c72b0", "#4c72b0", "#c44e52", "#55a868"])
    L.say("A convolution reuses one small filter at every position instead: the idea of the\n"
          "next lessons.")


if __name__ == "__main__":
    run(main, 2, "Backpropagation in an MLP", knobs=[
        Knob("--hidden", 3, "hidden units H of the 2-H-1 network (try 1: XOR becomes impossible)"),
        Knob("--rate", 2.0, "the learning rate R of every update"),
    ])
