"""Lesson 14: RNN: from a NumPy loop to autograd. nn.RNN equals a NumPy loop to float precision."""
from __future__ import annotations

import numpy as np   # only for the plain NumPy loop that the autograd RNN is compared with

import tinygrad_edu as tg
from tinygrad_edu.engine import graph
import tinygrad_edu.functional as F
from tinygrad_edu import nn

import figures
from console import Knob, Lesson, run


def numpy_rnn(inputs: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The recurrence written out as a loop: h_t = tanh(W x_t + U h_{t-1} + b), h_0 = 0.

    inputs (T, I), W (H, I), U (H, H), b (H,) -> every state stacked: (T, H).
    """
    state_t = np.zeros(U.shape[0], dtype=inputs.dtype)            # (H,) the initial state
    successive_outputs = []
    for input_t in inputs:                                        # input_t: (I,)
        output_t = np.tanh(W @ input_t + U @ state_t + b)         # (H,)
        successive_outputs.append(output_t)
        state_t = output_t                                        # the output is the next state
    return np.stack(successive_outputs, axis=0)                   # (T, H)


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    rng = np.random.default_rng(0)

    # ------------------------------------------------------------------ the loop
    L.step("A recurrent layer is a for-loop that carries a state",
           deck=[(1, "RNN USING NUMPY"), (1, "RNN IMPLEMENTATION NUMPY"),
                 (0, "Current state depends on the current symbol and the previous state")])
    L.say("A feed-forward layer sees one input and forgets it. A recurrent layer reads a sequence "
          "x_1 … x_T one element at a time and keeps a state vector h that summarises what it has "
          "read so far:\n"
          "    h_t = tanh(W·x_t + U·h_(t−1) + b)        h_0 = 0\n"
          "W (H×I) looks at the new input, U (H×H) at the previous state, b is a bias. The same "
          "W, U and b are used at every step: the loop shares its weights across time, as a "
          "convolution shares its filter across space. Each h_t is the layer's output at step t "
          "and the state it hands to step t+1.")
    L.source(numpy_rnn)
    timesteps, input_features, output_features = args.timesteps, 32, args.hidden
    T, I, H = timesteps, input_features, output_features
    inputs = rng.random((T, I))                                   # (T, I) noise in [0, 1)

    L.say(f"\nThe lecture's sizes: T = {T} steps of I = {I} features, H = {H} state units. "
          "It also draws W, U, b uniformly from [0, 1). Look at what that does to tanh:")
    with L.code():
        W0, U0, b0 = rng.random((H, I)), rng.random((H, H)), rng.random(H)
        h_slide = numpy_rnn(inputs, W0, U0, b0)
        saturated = float(np.mean(np.abs(h_slide) > 0.999))
    L.say(f"  every pre-activation is a sum of up to {I + H} positive terms (already about "
          f"{float(np.mean(W0 @ inputs[0] + b0)):.1f} at t=1, where h_0 = 0), so {saturated:.1%} "
          "of all states "
          "sit at tanh = 1.0: the layer has stopped listening to its input. Nothing is wrong "
          "with the loop, only with the weights; a real layer draws them from "
          "U(−1/√H, 1/√H) so the pre-activations stay in tanh's sensitive range.")
    L.check_true("with weights from U[0, 1) more than 99% of the states saturate",
                 saturated > 0.99, f"{saturated:.4f}")
    L.departure((1, "RNN IMPLEMENTATION NUMPY"),
                "W, U and b drawn with np.random.random: uniform on [0, 1)",
                "uniform on (−1/√H, 1/√H), what nn.RNN and PyTorch's RNN draw",
                "with all-positive weights every pre-activation is a large positive sum and "
                "tanh sits at 1: more than 99% of the states saturate (checked above); with the "
                "scaled weights fewer than 5% do (checked next)")

    with L.code():
        bound = 1 / np.sqrt(H)
        W = rng.uniform(-bound, bound, (H, I))
        U = rng.uniform(-bound, bound, (H, H))
        b = rng.uniform(-bound, bound, H)
        h_np = numpy_rnn(inputs, W, U, b)                             # (T, H) float64
        spread = float(np.mean(np.abs(h_np) > 0.999))
    L.say(f"With U(−1/√H, 1/√H) weights the states spread over (−1, 1): "
          f"{spread:.1%} saturate, mean |h| = {float(np.mean(np.abs(h_np))):.3f}.")
    L.check_true("with U(−1/√H, 1/√H) weights fewer than 5% of the states saturate",
                 spread < 0.05, f"{spread:.4f}")

    L.departure((1, "RNN IMPLEMENTATION NUMPY"),
                "the outputs are joined with np.concatenate(successive_outputs, axis=0) and the "
                "result is described as a (timesteps, output_features) tensor",
                "np.stack(successive_outputs, axis=0): one row per step",
                f"concatenating {T} vectors of {H} along axis 0 gives one flat vector of "
                f"{T * H} numbers, not a {T}×{H} matrix (checked next)")
    q = L.question(f"What shape does np.concatenate give for {T} outputs of shape ({H},), "
                   "axis 0?", [f"({T}, {H})", f"({T * H},)", f"({H}, {T})"])
    with L.code():
        flat = np.concatenate(list(h_np), axis=0)
    L.table(["how the outputs are collected", "shape"],
            [["np.concatenate(outputs, axis=0)", flat.shape], ["np.stack(outputs, axis=0)",
                                                               h_np.shape]])
    L.check(f"np.concatenate gives T·H = {T * H} numbers in one row", list(flat.shape), [T * H])
    L.answer(q, observed=[(T, H), (T * H,), (H, T)].index(flat.shape) + 1, expected=2,
             why="concatenate joins along an axis that already exists: axis 0 of each "
                 f"({H},) vector, so the lengths add up. stack makes a new axis for the steps.")
    L.check("np.stack gives a (timesteps, output_features) matrix", list(h_np.shape), [T, H])
    with L.figure("rnn_states", f"{T} steps of h_t = tanh(W·x_t + U·h_(t−1) + b), {H} units",
                  ncols=3, size=(18, 5)) as (fig, axes):
        figures.heatmap(axes[0, 0], h_slide.T, "weights from U[0, 1): saturated", cmap="RdBu_r",
                        vmin=-1, vmax=1, colorbar="h", xlabel="step t", ylabel="unit")
        figures.heatmap(axes[0, 1], h_np.T, "weights from U(−1/√H, 1/√H)", cmap="RdBu_r",
                        vmin=-1, vmax=1, colorbar="h", xlabel="step t", ylabel="unit")
        axes[0, 2].hist([h_slide.ravel(), h_np.ravel()], bins=40, range=(-1, 1),
                        label=["U[0, 1) weights", "U(−1/√H, 1/√H) weights"])
        axes[0, 2].set_yscale("log")
        axes[0, 2].set_title(f"all {T * H:,} state values")
        axes[0, 2].set_xlabel("h")
        axes[0, 2].set_ylabel("count (log scale)")
        axes[0, 2].legend()

    # ------------------------------------------------------------------ tensors
    L.step("The same loop with tinygrad_edu tensors",
           deck=(0, "Same activation for all neurons in the recurrent layer"))
    L.say("Replace np.tanh by Tensor.tanh and np.dot by @ and nothing else changes. The "
          "difference is invisible in the values: every tensor op also records itself in a graph, "
          "so the loop can later be differentiated.")
    with L.code():
        x64 = tg.tensor(inputs, dtype=tg.float64)                      # (T, I)
        Wt = tg.tensor(W, dtype=tg.float64, requires_grad=True)        # (H, I)
        Ut = tg.tensor(U, dtype=tg.float64, requires_grad=True)        # (H, H)
        bt = tg.tensor(b, dtype=tg.float64, requires_grad=True)        # (H,)
        h = tg.zeros(H, dtype=tg.float64)
        states = []
        for t in range(T):
            h = (Wt @ x64[t] + Ut @ h + bt).tanh()                     # (H,)
            states.append(h)
        h_loop = tg.stack(states, 0)                                   # (T, H)
    diff = float(np.max(np.abs(h_loop.detach().numpy() - h_np)))
    L.check("tensor loop equals the NumPy loop (float64, max |Δ| ≤ 1e-12)", diff, 0.0, 1e-12)

    # ------------------------------------------------------------------ nn.RNN
    L.step("nn.RNN: the loop as a layer, with the same weights",
           deck=[(1, "RECURRENT LAYER IN KERAS"), (3, "RNN cell"), (4, "Recurrent Networks")])
    L.say("nn.RNN(input_size, hidden_size) holds the weights under PyTorch's names and computes, "
          "for a whole batch of row vectors x_t (B, I),\n"
          "    h_t = tanh(x_t·W_ihᵀ + b_ih + h_(t−1)·W_hhᵀ + b_hh)\n"
          "which is the lecture's formula transposed: W_ih = W, W_hh = U, and the two bias "
          "vectors only ever appear as their sum b = b_ih + b_hh. Load W, U, b into the layer:")
    with L.code():
        rnn64 = nn.RNN(I, H, batch_first=True, dtype=tg.float64)
        rnn64.load_state_dict({"weight_ih_l0": W, "weight_hh_l0": U, "bias_ih_l0": b,
                               "bias_hh_l0": np.zeros(H)})
        out64, h_n64 = rnn64(x64.unsqueeze(0))                         # (1, T, H), (1, 1, H)
    L.uses(nn.RNN, F.rnn_tanh_cell)
    names = ["W", "U", "b", "0 (b is split in two)"]
    L.table(["parameter", "shape", "lecture's name"],
            [[k, tuple(v.shape), n] for (k, v), n in zip(rnn64.state_dict().items(), names)])
    diff64 = float(np.max(np.abs(out64.detach().numpy()[0] - h_np)))
    L.check("nn.RNN equals the NumPy loop in float64 (max |Δ| ≤ 1e-12)", diff64, 0.0, 1e-12)

    rnn32 = nn.RNN(I, H, batch_first=True)                         # float32, the default
    rnn32.load_state_dict({"weight_ih_l0": W, "weight_hh_l0": U, "bias_ih_l0": b,
                           "bias_hh_l0": np.zeros(H)})
    out32, _ = rnn32(tg.tensor(inputs, dtype=tg.float32).unsqueeze(0))
    diff32 = float(np.max(np.abs(out32.detach().numpy()[0] - h_np)))
    L.say(f"In float32 the layer rounds each step to ~7 digits; after {T} steps the largest "
          f"difference to the float64 NumPy loop is {diff32:.2e}.")
    L.check("nn.RNN in float32 equals the NumPy loop to float32 precision (≤ 1e-5)", diff32, 0.0,
            1e-5)
    L.departure((3, "RNN cell"),
                "deck 003: h_t = tanh(W·(x_t ; h_{t−1})), one matrix on the two vectors stacked, "
                "no bias; deck 000: h_t = tanh(W_hh·h_{t−1} + W_xh·x_t), no bias; deck 004: "
                "h_t = φ(U·x + W·h_{t−1} + b_h), with U and W named the other way round",
                "h_t = tanh(W·x_t + U·h_{t−1} + b) (deck 001's names), nn.RNN's weight_ih_l0 = W "
                "and weight_hh_l0 = U",
                "one model: W·(x ; h) with W = [W_x | W_h] is W_x·x + W_h·h, and a zero bias "
                "gives the decks without b (both checked next)")
    with L.code():
        W_cat = np.concatenate([W, U], axis=1)                       # (H, I + H): [W | U]
        h = np.zeros(H)
        for x_t in inputs:
            h = np.tanh(W_cat @ np.concatenate([x_t, h]))            # deck 003: W·(x_t ; h)
        rnn_nobias = nn.RNN(I, H, bias=False, batch_first=True, dtype=tg.float64)
        rnn_nobias.load_state_dict({"weight_ih_l0": W, "weight_hh_l0": U})
        _, h_deck = rnn_nobias(x64.unsqueeze(0))                     # (1, 1, H)
    L.check("the decks' one-matrix, bias-free RNN (NumPy) = nn.RNN(bias=False) with W and U",
            h_deck[0, 0], h, 1e-12)
    L.check("and = our loop with b = 0", h, numpy_rnn(inputs, W, U, np.zeros(H))[-1], 1e-12)

    # ------------------------------------------------------------------ the two modes
    L.step("Batches, and the two ways to read a recurrent layer", deck=(1, "SIMPLE RNN"))
    L.say("Layers take a batch of sequences. With batch_first=True the input is "
          "(batch, timesteps, features). Keras' SimpleRNN has a switch return_sequences; "
          "PyTorch's RNN always returns both answers, and you pick:\n"
          "  • output (B, T, H): the state after every step = return_sequences=True. Use it "
          "to stack another recurrent layer on top, or to label every step.\n"
          "  • h_n (num_layers, B, H): only the last state = return_sequences=False. Use it "
          "when one vector must summarise the whole sequence, e.g. before a Dense classifier.")
    batch = 4
    with L.code():
        xb = tg.randn(batch, 7, I)                                      # (B, T=7, I)
        out, h_n = rnn32(xb)
    L.table(["what", "shape", "Keras"],
            [["input", tuple(xb.shape), "(batch, timesteps, features)"],
             ["output", tuple(out.shape), "return_sequences=True"],
             ["h_n", tuple(h_n.shape), "return_sequences=False, via h_n[-1]"],
             ["h_n[-1]", tuple(h_n[-1].shape), "(batch, output_features)"]])
    L.check("full-sequence output has shape (batch, timesteps, H)", list(out.shape),
            [batch, 7, H])
    L.check("last-state output h_n[-1] has shape (batch, H)", list(h_n[-1].shape), [batch, H])
    loop_last = np.stack([numpy_rnn(xb[i].numpy().astype(np.float64), W, U, b)[-1]
                          for i in range(batch)])                   # (B, H) from the NumPy loop
    L.check("h_n[-1] equals the NumPy loop's last state, sequence by sequence (1e-5)",
            h_n[-1], loop_last, 1e-5)
    L.check("and so does the last row of the full output, out[:, -1] (1e-5)", out[:, -1],
            loop_last, 1e-5)

    deep = nn.RNN(I, H, num_layers=2, batch_first=True)
    out2, h_n2 = deep(xb)
    L.say("Two stacked layers (num_layers=2): the first returns its full sequence to the second; "
          "h_n holds the last state of each layer.")
    L.check("two stacked layers: output (B, T, H), h_n (2, B, H)",
            list(out2.shape) + list(h_n2.shape), [batch, 7, H, 2, batch, H])

    # ------------------------------------------------------------------ what autograd adds
    L.step("What the loop could not do: gradients", deck=(0, "Training RNN"))
    L.say("The NumPy loop only computes forward. The tensor loop recorded a graph of 100 steps, "
          "so backward() gives ∂E/∂U for a loss E of the final state, here E = Σ_j h_T,j "
          "(the sum of the last state's entries). "
          "Check a few entries against a central difference of the plain NumPy loop,\n"
          "    ∂E/∂U_ij ≈ (E(U + εe_ij) − E(U − εe_ij)) / 2ε,   ε = 1e-6:")
    with L.code():
        E = h_loop[-1].sum()
        E.backward()
        gU = Ut.grad.numpy()
    L.uses(graph.run_backward)
    eps = 1e-6
    rows = []
    for (i, j) in [(0, 0), (min(5, H - 1), min(17, H - 1)), (H - 1, min(40, H - 1))]:
        Up, Um = U.copy(), U.copy()
        Up[i, j] += eps
        Um[i, j] -= eps
        num = (numpy_rnn(inputs, W, Up, b)[-1].sum() - numpy_rnn(inputs, W, Um, b)[-1].sum())
        num /= 2 * eps
        rows.append([f"U[{i},{j}]", f"{gU[i, j]:+.10f}", f"{num:+.10f}"])
        L.check(f"autograd ∂E/∂U[{i},{j}] equals the NumPy central difference (1e-7)",
                gU[i, j], num, 1e-7)
    L.table(["entry", "autograd", "central difference"], rows)

    # ------------------------------------------------------------------ parameters
    L.step("How many parameters?", deck=[(1, "SIMPLE RNN"), (0, "How RNN works")])
    L.say("A recurrent layer's size does not grow with the sequence: W (H×I), U (H×H) and the "
          "bias. The lecture's sentiment model uses SimpleRNN(32) after a 32-dim embedding: "
          "Keras counts 32·32 + 32·32 + 32 = 2,080. PyTorch keeps two bias vectors "
          "(b_ih and b_hh) for the same function, so its count is 32 more: 2,112.")
    with L.code():
        r = nn.RNN(32, 32)
        n_params = sum(p.numel() for p in r.parameters())
    L.check("nn.RNN(32, 32) has 32·32 + 32·32 + 2·32 = 2,112 parameters", n_params, 2112)
    L.say("Why may Keras count one bias fewer? Because b_ih and b_hh only ever appear as their "
          "sum: the NumPy loop above, with the single bias b = b_ih + b_hh, computes what the "
          "two-bias layer computes.")
    with L.code():
        sd = {k: v.numpy().astype(np.float64) for k, v in r.state_dict().items()}
        seq = tg.randn(5, 3, 32)                                      # (T, B, I)
        with tg.no_grad():
            out_two = r(seq)[0]                                       # (T, B, H)
        one_bias = sd["bias_ih_l0"] + sd["bias_hh_l0"]
        out_one = np.stack([numpy_rnn(seq[:, i].numpy().astype(np.float64), sd["weight_ih_l0"],
                                      sd["weight_hh_l0"], one_bias) for i in range(3)], axis=1)
        free = sd["weight_ih_l0"].size + sd["weight_hh_l0"].size + one_bias.size  # the loop's
    L.check("nn.RNN with b_ih and b_hh = the NumPy loop with b = b_ih + b_hh (1e-6)", out_two,
            out_one, 1e-6)
    L.check("the one-bias loop's W, U and b: Keras' count for SimpleRNN(32), 2,080", free, 2080)
    L.table(["layer", "parameters"], [["nn.RNN(32, 32)", f"{n_params:,}"],
                                      ["Keras SimpleRNN(32), one bias", f"{free:,}"]])


if __name__ == "__main__":
    run(main, 14, "RNN: from a NumPy loop to autograd", knobs=[
        Knob("--timesteps", 100, "T, the length of the input sequence (the deck's 100)"),
        Knob("--hidden", 64, "H, the number of state units (the deck's output_features, 64)"),
    ])
