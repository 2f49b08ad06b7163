"""Lesson 17: LSTM and GRU. Gates keep the first symbol in memory where a simple RNN forgets it."""
from __future__ import annotations

import math
import os

# One BLAS thread unless told otherwise: recurrent layers multiply small matrices, and on
# a busy 2-core machine idle OpenBLAS threads spin and make every step several times slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import tinygrad_edu as tg  # noqa: E402
import tinygrad_edu.functional as F  # noqa: E402
from tinygrad_edu import nn, optim  # noqa: E402

import figures  # noqa: E402
from console import Lesson, run  # noqa: E402

K = 4            # classes: the first symbol is one of A, B, C, D
V = 8            # alphabet: A B C D (the message) and e f g h (the distractors)
SYMBOLS = "ABCDefgh"


def make_batch(n: int, steps: int, noise: float) -> tuple[tg.Tensor, tg.Tensor]:
    """n sequences of `steps` one-hot symbols; the label is the first symbol.

    Position 0 holds one of A..D; positions 1..T-1 hold random distractors e..h, each
    one-hot vector blurred by Gaussian noise of std `noise`. x (n, T, V), y (n,).
    """
    sym = tg.randint(K, V, (n, steps))                          # (n, T) distractors
    y = tg.randint(0, K, (n,))                                  # (n,) the message
    sym[:, 0] = y
    x = F.one_hot(sym, V).float()                               # (n, T, V)
    later = (tg.arange(steps) > 0).float().reshape(1, steps, 1)  # 0 at t=0, 1 after
    return x + noise * tg.randn(n, steps, V) * later, y


class Reader(nn.Module):
    """A recurrent layer reads the sequence; a linear layer classifies its last state."""

    def __init__(self, kind: str, hidden: int) -> None:
        super().__init__()
        self.rnn = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[kind](V, hidden,
                                                                         batch_first=True)
        self.head = nn.Linear(hidden, K)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        out, _ = self.rnn(x)                                    # (B, T, H)
        return self.head(out[:, -1])                            # (B, K) from the last state


def keep_gate_bias(model: Reader, hidden: int, value: float) -> None:
    """Add `value` to the bias of the gate that keeps the old state: LSTM's forget gate
    f (block 1 of i, f, g, o) and GRU's update gate z (block 1 of r, z, n)."""
    with tg.no_grad():
        b = model.rnn.bias_ih_l0
        b[hidden:2 * hidden] = b[hidden:2 * hidden] + value


def hand_lstm_step(cell: nn.LSTMCell, x: tg.Tensor, h: tg.Tensor, c: tg.Tensor):
    """The LSTM equations written out from the cell's weight blocks (i, f, g, o)."""
    H = cell.hidden_size
    a = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh   # (B, 4H)
    i, f = a[:, :H].sigmoid(), a[:, H:2 * H].sigmoid()
    g, o = a[:, 2 * H:3 * H].tanh(), a[:, 3 * H:].sigmoid()
    c_new = f * c + i * g
    return o * c_new.tanh(), c_new


def hand_gru_step(cell: nn.GRUCell, x: tg.Tensor, h: tg.Tensor) -> tg.Tensor:
    """The GRU equations written out from the cell's weight blocks (r, z, n)."""
    H = cell.hidden_size
    ax = x @ cell.weight_ih.T + cell.bias_ih                     # (B, 3H)
    ah = h @ cell.weight_hh.T + cell.bias_hh                     # (B, 3H)
    r = (ax[:, :H] + ah[:, :H]).sigmoid()
    z = (ax[:, H:2 * H] + ah[:, H:2 * H]).sigmoid()
    n = (ax[:, 2 * H:] + r * ah[:, 2 * H:]).tanh()
    return (1 - z) * n + z * h


def hand_peephole_step(cell: nn.PeepholeLSTMCell, x: tg.Tensor, h: tg.Tensor, c: tg.Tensor):
    """The lecture's peephole equations: the gates also read the cell state."""
    H = cell.hidden_size
    a = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    i = (a[:, :H] + cell.weight_ci * c).sigmoid()
    f = (a[:, H:2 * H] + cell.weight_cf * c).sigmoid()
    c_new = f * c + i * a[:, 2 * H:3 * H].tanh()
    o = (a[:, 3 * H:] + cell.weight_co * c_new).sigmoid()       # sees the new cell c_t
    return o * c_new.tanh(), c_new


def accuracy(model: Reader, x: tg.Tensor, y: tg.Tensor) -> float:
    with tg.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def train(model: Reader, T: int, steps: int, batch: int, noise: float, lr: float,
          report) -> None:
    """Adam on fresh batches, the gradient norm clipped at 1."""
    opt = optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x, y = make_batch(batch, T, noise)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        report(loss=loss.item())


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    fast = args.fast
    steps_T = 30                          # sequence length: the gap to remember
    train_steps = 150
    hidden, batch, noise, lr = 32, 64, 0.5, 0.01

    # ------------------------------------------------------------------ why gates
    L.step("Why a simple RNN forgets")
    L.say("In h_t = tanh(W·x_t + U·h_(t−1) + b) everything the layer knows about x_1 must pass "
          "through T−1 matrix multiplications by U and T−1 squashings by tanh. The gradient that "
          "would teach it to keep x_1 travels back through the same product of Jacobians, "
          "∂h_T/∂h_1 = Π_t diag(1 − h_t²)·U, which shrinks geometrically when U is small "
          "(lesson 16). The LSTM adds a second state, the cell c_t, that is changed only by a "
          "product with a gate and a sum: a conveyor belt that information can ride for many "
          "steps untouched. In numbers, for one unit over 30 steps: a tanh RNN with weight 0.9 "
          "against a cell whose forget gate stays at 0.95:")
    with L.code():
        x1 = tg.tensor(1.0, dtype=tg.float64, requires_grad=True)   # the first input
        h, c, slopes = x1.tanh(), x1 * 1.0, []
        for t in range(29):                                          # 29 more steps, x = 0
            h = (0.9 * h).tanh()
            slopes.append(0.9 * (1 - h.item() ** 2))                 # ∂h_t/∂h_(t−1)
            c = 0.95 * c                                 # c_t = f·c_(t−1) + i·g; f = 0.95, i·g = 0
        (dh,) = tg.grad(h, [x1])
        (dc,) = tg.grad(c, [x1])
    L.check("∂h_30/∂x_1 = (1 − h_1²)·Π ∂h_t/∂h_(t−1) (autograd vs the product in Python)",
            dh, (1 - math.tanh(1.0) ** 2) * math.prod(slopes), 1e-12)
    L.check("∂c_30/∂x_1 = 0.95^29 along the cell", dc, 0.95 ** 29, 1e-12)
    L.say(f"The RNN passes back {dh.item():.1e} of the signal, the cell {dc.item():.2f}.")

    # ------------------------------------------------------------------ LSTM by hand
    L.step("The LSTM cell, gate by gate")
    L.say("Four layers read the pair (x_t, h_(t−1)), in PyTorch's order i, f, g, o (stacked in "
          "weight_ih (4H, I) and weight_hh (4H, H)):\n"
          "    i_t = σ(W_xi·x_t + W_hi·h_(t−1) + b_i)     input gate: how much to write\n"
          "    f_t = σ(W_xf·x_t + W_hf·h_(t−1) + b_f)     forget gate: how much to keep\n"
          "    g_t = tanh(W_xc·x_t + W_hc·h_(t−1) + b_c)  candidate content\n"
          "    o_t = σ(W_xo·x_t + W_ho·h_(t−1) + b_o)     output gate: how much to show\n"
          "    c_t = f_t ⊙ c_(t−1) + i_t ⊙ g_t            the cell state\n"
          "    h_t = o_t ⊙ tanh(c_t)\n"
          "Since ∂c_t/∂c_(t−1) = f_t (elementwise), a forget gate near 1 passes both the memory "
          "and its gradient along. Recompute one step of nn.LSTMCell from these formulas:")
    L.source(hand_lstm_step)
    with L.code():
        x1, h1, c1 = tg.randn(3, V), tg.randn(3, 5), tg.randn(3, 5)
        lstm_cell = nn.LSTMCell(V, 5)
        h_lib, c_lib = lstm_cell(x1, (h1, c1))
        h_hand, c_hand = hand_lstm_step(lstm_cell, x1, h1, c1)
    L.uses(F.lstm_cell, note="the library's cell: the same four gates (a fused fast path may "
                             "replace it; a test proves the two equal)")
    L.check("nn.LSTMCell's h_t equals the gate formulas (1e-6)",
            (h_lib - h_hand).abs().max().item(), 0.0, 1e-6)
    L.check("nn.LSTMCell's c_t equals the gate formulas (1e-6)",
            (c_lib - c_hand).abs().max().item(), 0.0, 1e-6)

    L.step("The GRU: two gates and no separate cell")
    L.say("The gated recurrent unit (Cho et al. 2014) merges cell and state and uses two gates "
          "(PyTorch's order r, z, n):\n"
          "    r_t = σ(W_ir·x_t + b_ir + W_hr·h_(t−1) + b_hr)          reset gate\n"
          "    z_t = σ(W_iz·x_t + b_iz + W_hz·h_(t−1) + b_hz)          update gate\n"
          "    n_t = tanh(W_in·x_t + b_in + r_t ⊙ (W_hn·h_(t−1) + b_hn)) candidate\n"
          "    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_(t−1)\n"
          "z_t near 1 copies the old state forward (the GRU's conveyor belt); r_t near 0 lets "
          "the candidate ignore the past. One step of nn.GRUCell from these formulas:")
    L.source(hand_gru_step)
    with L.code():
        gru_cell = nn.GRUCell(V, 5)
        g_lib, g_hand = gru_cell(x1, h1), hand_gru_step(gru_cell, x1, h1)
    L.uses(F.gru_cell)
    L.check("nn.GRUCell's h_t equals the gate formulas (1e-6)",
            (g_lib - g_hand).abs().max().item(), 0.0, 1e-6)

    L.step("A peek at the peephole LSTM")
    L.say("In the lecture's version (Graves et al. 2013) the gates also look at the cell "
          "through diagonal 'peephole' weights w_c (one number per unit):\n"
          "    i_t = σ(… + w_ci ⊙ c_(t−1))    f_t = σ(… + w_cf ⊙ c_(t−1))    "
          "o_t = σ(… + w_co ⊙ c_t)\n"
          "so a gate can open or close depending on what is stored, e.g. to count. PyTorch "
          "has no such layer; nn.PeepholeLSTMCell adds weight_ci, weight_cf, weight_co (H,) to "
          "an LSTMCell. Note that the output gate reads the new cell c_t.")
    L.source(hand_peephole_step)
    with L.code():
        peep = nn.PeepholeLSTMCell(V, 5)
        hp_lib, cp_lib = peep(x1, (h1, c1))
        hp_hand, cp_hand = hand_peephole_step(peep, x1, h1, c1)
    L.uses(F.peephole_lstm_cell)
    L.check("nn.PeepholeLSTMCell equals the peephole formulas (h and c, 1e-6)",
            max((hp_lib - hp_hand).abs().max().item(), (cp_lib - cp_hand).abs().max().item()),
            0.0, 1e-6)

    I_, H_ = V, hidden
    counts = {"RNN": sum(p.numel() for p in nn.RNNCell(I_, H_).parameters()),
              "GRU": sum(p.numel() for p in nn.GRUCell(I_, H_).parameters()),
              "LSTM": sum(p.numel() for p in nn.LSTMCell(I_, H_).parameters()),
              "peephole LSTM": sum(p.numel() for p in nn.PeepholeLSTMCell(I_, H_).parameters())}
    base = H_ * I_ + H_ * H_ + 2 * H_
    L.table(["cell (I=8, H=32)", "gate blocks", "parameters", "formula"],
            [["RNN", 1, counts["RNN"], "1·(H·I + H·H + 2H)"],
             ["GRU", 3, counts["GRU"], "3·(H·I + H·H + 2H)"],
             ["LSTM", 4, counts["LSTM"], "4·(H·I + H·H + 2H)"],
             ["peephole LSTM", 4, counts["peephole LSTM"], "4·(H·I + H·H + 2H) + 3H"]])
    L.check("parameter counts RNN, GRU, LSTM, peephole = 1344, 4032, 5376, 5472",
            [counts[k] for k in ("RNN", "GRU", "LSTM", "peephole LSTM")],
            [base, 3 * base, 4 * base, 4 * base + 3 * H_])

    # ------------------------------------------------------------------ the task
    L.step(f"A long-range task: remember the first symbol for {steps_T} steps")
    L.say("Each sequence starts with one of A, B, C, D; then come T−1 random distractors "
          "e, f, g, h, each a one-hot vector blurred with Gaussian noise (std 0.5). After the "
          "last step the model must say which letter came first: 4 classes, chance = 25%. "
          "Like 'I grew up in France … I speak fluent ___', the clue is far from where it is "
          "needed, and everything in between is noise.")
    L.source(make_batch)
    with L.code():
        xs, ys = make_batch(3, steps_T, 0.0)
    sample = ["".join(SYMBOLS[j] for j in row) for row in xs.argmax(2).tolist()]
    L.table(["sequence (noise-free symbols)", "label"],
            [[s, SYMBOLS[y]] for s, y in zip(sample, ys.tolist())])

    L.say("All three models get the same budget: hidden size 32, Adam (lr 0.01), gradient "
          f"norm clipped at 1, {train_steps} steps of {batch} fresh sequences. One trick "
          "matters for the gated cells: start the keep-gate (LSTM's f, GRU's z) with bias +3, "
          "so σ(3) ≈ 0.95 and the state is kept by default (Gers et al. 2000, Jozefowicz et "
          "al. 2015). A simple RNN has no such gate to bias.")
    lengths = [steps_T] if fast else [10, 20, steps_T, 40]
    if not fast:
        L.say(f"To see where the simple RNN breaks, repeat the race for gaps of {lengths}.")
    L.source(Reader)
    L.source(train)
    results: dict = {}
    curves: dict = {}
    with L.code():
        for T in lengths:
            tg.manual_seed(0)
            x_test, y_test = make_batch(1000, T, noise)
            for kind in ("RNN", "LSTM", "GRU"):
                tg.manual_seed(1)
                model = Reader(kind, hidden)
                if kind != "RNN":
                    keep_gate_bias(model, hidden, 3.0)
                with L.progress(f"T={T:2d} {kind:4s}", total=train_steps) as bar:
                    train(model, T, train_steps, batch, noise, lr, report=bar.update)
                results[kind, T] = accuracy(model, x_test, y_test)
                curves[kind, T] = bar.losses
                L.say(f"  T={T:2d} {kind:4s}: held-out accuracy {results[kind, T]:.1%}")
    L.table(["model", "parameters"] + [f"accuracy, T={T}" for T in lengths],
            [[k, counts[k]] + [f"{results[k, T]:.1%}" for T in lengths]
             for k in ("RNN", "LSTM", "GRU")])
    T = steps_T
    L.check_true(f"T={T}: the simple RNN fails to learn the task (< 60%)",
                 results["RNN", T] < 0.60, f"{results['RNN', T]:.3f}")
    gap = min(results["LSTM", T], results["GRU", T]) - results["RNN", T]
    L.check_true(f"T={T}: LSTM and GRU both beat the simple RNN by more than 30 points",
                 gap > 0.30, f"{gap:.3f}")
    bar = 0.60 if fast else 0.90
    L.check_true(f"T={T}: the LSTM remembers the first symbol (> {bar:.0%})",
                 results["LSTM", T] > bar, f"{results['LSTM', T]:.3f}")
    L.check_true(f"T={T}: the GRU remembers the first symbol (> {bar:.0%})",
                 results["GRU", T] > bar, f"{results['GRU', T]:.3f}")
    if not fast:
        L.say("The sweep tells the story: over 10 steps the simple RNN is as good as the gated "
              "cells, over 20 it slips, over 30 it is far behind and over 40 it is at chance, "
              "while LSTM and GRU learn every length in the same 150 steps.")
        L.check_true("T=10: over a short gap the simple RNN does fine too (> 90%)",
                     results["RNN", 10] > 0.90, f"{results['RNN', 10]:.3f}")
        L.check_true("T=40: the simple RNN is at chance (< 40%), LSTM and GRU above 90%",
                     results["RNN", 40] < 0.40 and min(results["LSTM", 40],
                                                      results["GRU", 40]) > 0.90,
                     f"{results['RNN', 40]:.3f}, {results['LSTM', 40]:.3f}, "
                     f"{results['GRU', 40]:.3f}")

    # ------------------------------------------------------------------ why
    L.step("Where the gradient goes")
    L.say("Why the difference? Ask each untrained model how strongly its loss reacts to the first "
          "input: ‖∂E/∂x_1‖, computed by autograd through all T steps. The RNN's signal has to "
          "cross T−1 Jacobians of size < 1; the gated cells, with their keep-gates near 1, "
          "deliver it almost intact, so they can learn from it at all.")
    with L.code():
        x, y = make_batch(batch, steps_T, noise)
        norms = {}
        for kind in ("RNN", "LSTM", "GRU"):
            tg.manual_seed(1)
            model = Reader(kind, hidden)
            if kind != "RNN":
                keep_gate_bias(model, hidden, 3.0)
            xg = x.detach().requires_grad_()
            F.cross_entropy(model(xg), y).backward()
            norms[kind] = xg.grad[:, 0].norm().item()
    L.table(["model (untrained)", "‖∂E/∂x_1‖"], [[k, f"{v:.2e}"] for k, v in norms.items()])
    L.check_true("at initialisation the LSTM's gradient at x_1 is > 100× the RNN's",
                 norms["LSTM"] > 100 * norms["RNN"], f"ratio {norms['LSTM'] / norms['RNN']:.0f}")
    colors = {"RNN": "#c44e52", "LSTM": "#4c72b0", "GRU": "#55a868"}
    with L.figure("remember_the_first_symbol", "Remembering the first symbol: RNN vs LSTM vs GRU",
                  ncols=3, size=(18, 4.8)) as (fig, axes):
        figures.lines(axes[0, 0], {k: curves[k, steps_T] for k in ("RNN", "LSTM", "GRU")},
                      f"training loss, gap T = {steps_T}", "Adam step", "cross-entropy",
                      colors=colors)
        axes[0, 0].axhline(math.log(K), color="gray", ls=":", label="chance: ln 4")
        axes[0, 0].legend()
        if len(lengths) > 1:
            figures.lines(axes[0, 1], {k: [results[k, T] for T in lengths]
                                       for k in ("RNN", "LSTM", "GRU")},
                          "held-out accuracy by gap length", "gap T (steps)", "accuracy",
                          x=lengths, markers=True, colors=colors)
            axes[0, 1].set_xticks(lengths)
            axes[0, 1].set_ylim(0, 1.05)
        else:
            figures.bars(axes[0, 1], ["RNN", "LSTM", "GRU"],
                         [results[k, steps_T] for k in ("RNN", "LSTM", "GRU")],
                         f"held-out accuracy, T = {steps_T}", "accuracy",
                         colors=[colors[k] for k in ("RNN", "LSTM", "GRU")], ylim=(0, 1.1))
        axes[0, 1].axhline(1 / K, color="gray", ls=":", label="chance (25%)")
        axes[0, 1].legend(loc="lower left" if len(lengths) > 1 else "upper left")
        figures.bars(axes[0, 2], list(norms), list(norms.values()),
                     "‖∂E/∂x_1‖ at initialisation (log scale)", "gradient norm",
                     fmt="{:.1e}", logy=True, colors=[colors[k] for k in norms])


if __name__ == "__main__":
    run(main, 17, "LSTM and GRU")
