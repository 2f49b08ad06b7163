"""Lesson 20: Bidirectional and deep RNNs. A stacked BiRNN tags B/I/O spans set by what follows."""
from __future__ import annotations

import os
import random

# One BLAS thread unless told otherwise: recurrent layers multiply small matrices, and on
# a busy 2-core machine idle OpenBLAS threads spin and make every step several times slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402  - only for the two directions written out as loops

import tinygrad_edu as tg  # noqa: E402
import tinygrad_edu.functional as F  # noqa: E402
from tinygrad_edu import nn, optim  # noqa: E402

import figures  # noqa: E402
from console import Lesson, run  # noqa: E402

FILLERS = list("abcdefghij")                   # ordinary words
MARKERS = ["1]", "2]", "3]"]                   # "the k words before me were a span"
TOKENS = ["<pad>"] + FILLERS + MARKERS         # ids 0 .. 13
TAGS = ["O", "B", "I"]


def make_data(n: int, length: int, seed: int) -> tuple[list, list]:
    """n token/tag sequences of a fixed length, generated left to right.

    At each free position, with probability 0.3 (and if it fits), emit a span of k = 1..3
    random words tagged B I .. I followed by the marker 'k]' (tagged O); otherwise emit one
    word tagged O. Whether a word starts or continues a span is decided only by the marker
    that comes AFTER it.
    """
    rng = random.Random(seed)
    xs, ys = [], []
    for _ in range(n):
        toks, tags = [], []
        while len(toks) < length:
            k = rng.randint(1, 3)
            if rng.random() < 0.3 and len(toks) + k + 1 <= length:
                toks += [rng.choice(FILLERS) for _ in range(k)] + [f"{k}]"]
                tags += ["B"] + ["I"] * (k - 1) + ["O"]
            else:
                toks.append(rng.choice(FILLERS))
                tags.append("O")
        xs.append([TOKENS.index(t) for t in toks])
        ys.append([TAGS.index(t) for t in tags])
    return xs, ys


def spans(tags: list) -> set:
    """(start, end) of every span in a B/I/O tag list: a B followed by any number of I."""
    out, start = set(), None
    for i, t in enumerate(list(tags) + [0]):
        if start is not None and t != 2:              # the span ends before anything but I
            out.add((start, i))
            start = None
        if t == 1:
            start = i
    return out


def span_f1(pred: list, gold: list) -> float:
    """F1 of exactly matching spans, pooled over all sequences."""
    tp = fp = fn = 0
    for p, g in zip(pred, gold):
        sp, sg = spans(p), spans(g)
        tp, fp, fn = tp + len(sp & sg), fp + len(sp - sg), fn + len(sg - sp)
    return 2 * tp / max(2 * tp + fp + fn, 1)


class Tagger(nn.Module):
    """Embedding -> (bi)directional, stacked RNN -> a linear layer per time step.

    y_t = softmax(U·[h→_t ; h←_t] + c) when bidirectional, else softmax(U·h→_t + c).
    """

    def __init__(self, hidden: int, num_layers: int, bidirectional: bool) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(TOKENS), 16, padding_idx=0)
        self.rnn = nn.RNN(16, hidden, num_layers=num_layers, batch_first=True,
                          bidirectional=bidirectional)
        self.out = nn.Linear(hidden * (2 if bidirectional else 1), len(TAGS))

    def forward(self, ids: tg.Tensor) -> tg.Tensor:
        states, _ = self.rnn(self.embedding(ids))              # (B, T, D·H)
        return self.out(states)                                # (B, T, 3)


def rnn_loop(xs: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray,
             b_hh: np.ndarray) -> np.ndarray:
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_(t−1) + b_hh) over xs (T, I), h before the
    first step 0 -> the states (T, H)."""
    h, out = np.zeros(w_hh.shape[0]), []
    for x_t in xs:
        h = np.tanh(w_ih @ x_t + b_ih + w_hh @ h + b_hh)
        out.append(h)
    return np.stack(out)


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    fast = args.fast
    length, hidden, batch = 16, 32, 32
    train_steps = 80 if fast else 400
    lr = 0.01

    # ------------------------------------------------------------------ the task
    L.step("Labelling spans with B, I and O")
    L.say("Opinion mining marks the words that express an opinion. Each word gets a tag: B "
          "begins a span, I is inside one, O is outside. In our generated language a span is "
          "announced only afterwards: the marker 'k]' says 'the k words before me were a "
          "span'. So whether a word is B, I or O depends on what comes to its right.")
    L.source(make_data)
    with L.code():
        x_train, y_train = make_data(2000 if fast else 4000, length, seed=1)
        x_test, y_test = make_data(500, length, seed=2)
    for toks, tags in zip(x_train[:3], y_train[:3]):
        L.table(["word"] + [TOKENS[t] for t in toks], [["tag"] + [TAGS[t] for t in tags]])
    n_o = sum(t == 0 for row in y_test for t in row) / (500 * length)
    L.say(f"{len(x_train)} training and 500 test sequences of {length} tokens; {n_o:.0%} of "
          "the test tags are O.")
    L.check("spans() reads B I I O O B O as the spans (0, 3) and (5, 6)",
            sorted(spans([1, 2, 2, 0, 0, 1, 0])), [(0, 3), (5, 6)])

    # ------------------------------------------------------------------ the model
    L.step("Two directions, several layers")
    L.say("A bidirectional layer runs two RNNs over the sequence, one left to right and one "
          "right to left, and puts their states side by side; a deep one stacks such layers, "
          "each reading the concatenated states of the layer below (Irsoy & Cardie 2014):\n"
          "    h→_t⁽ⁱ⁾ = f(W→⁽ⁱ⁾·h_t⁽ⁱ⁻¹⁾ + V→⁽ⁱ⁾·h→_(t−1)⁽ⁱ⁾ + b→⁽ⁱ⁾)\n"
          "    h←_t⁽ⁱ⁾ = f(W←⁽ⁱ⁾·h_t⁽ⁱ⁻¹⁾ + V←⁽ⁱ⁾·h←_(t+1)⁽ⁱ⁾ + b←⁽ⁱ⁾)\n"
          "    h_t⁽ⁱ⁾ = (h→_t⁽ⁱ⁾ ; h←_t⁽ⁱ⁾),   h_t⁽⁰⁾ = x_t\n"
          "    y_t = g(U·h_t⁽ᴸ⁾ + c)\n"
          "At step t, h→ has read x_1..x_t and h← has read x_t..x_T: together, the whole "
          "sentence. nn.RNN(..., bidirectional=True) keeps the backward weights under the "
          "suffix _reverse.")
    with L.code():
        bi = nn.RNN(4, 5, bidirectional=True, batch_first=True)
        xb = tg.randn(2, 6, 4)
        out_bi, _ = bi(xb)                                            # (2, 6, 10)
    L.uses(nn.RNN)
    L.say("The same two directions, written out in NumPy with the layer's weights: run the "
          "loop left to right, run it right to left on the reversed sequence and turn its "
          "states back into reading order, then put the two side by side:")
    L.source(rnn_loop)
    with L.code():
        w = {k: v.numpy().astype(np.float64) for k, v in bi.state_dict().items()}
        by_hand = []
        for x in xb.numpy().astype(np.float64):                       # one sequence (6, 4)
            forward = rnn_loop(x, w["weight_ih_l0"], w["weight_hh_l0"], w["bias_ih_l0"],
                               w["bias_hh_l0"])
            backward = rnn_loop(x[::-1], w["weight_ih_l0_reverse"], w["weight_hh_l0_reverse"],
                                w["bias_ih_l0_reverse"], w["bias_hh_l0_reverse"])[::-1]
            by_hand.append(np.concatenate([forward, backward], axis=1))   # (6, 10)
    L.check("bidirectional output = (left-to-right loop ; right-to-left loop), NumPy (1e-6)",
            out_bi, np.stack(by_hand), 1e-6)
    deep = nn.RNN(4, 5, num_layers=2, bidirectional=True, batch_first=True)
    shapes = {k: tuple(v.shape) for k, v in deep.state_dict().items() if "weight_ih" in k}
    L.table(["weight", "shape", "reads"],
            [[k, s, "x_t (4)" if "l0" in k else "(h→ ; h←) of layer 0 (2·5)"]
             for k, s in shapes.items()])
    L.check("layer 1 reads both directions of layer 0: weight_ih_l1 is (5, 10)",
            list(shapes["weight_ih_l1"]), [5, 10])

    # ------------------------------------------------------------------ training
    L.step("Left-to-right against bidirectional, same size, same data")
    L.say(f"Both taggers: embedding 16, 2 stacked tanh RNN layers of {hidden} units, a linear "
          f"layer to 3 tags; Adam (lr {lr}), {train_steps} steps of {batch} sequences, "
          "cross-entropy over every tag.")
    L.source(Tagger)
    xt, yt = tg.tensor(x_train), tg.tensor(y_train)
    xe, ye = tg.tensor(x_test), tg.tensor(y_test)
    results, curves = {}, {}
    with L.code():
        for name, bidir in (("left-to-right RNN", False), ("bidirectional RNN", True)):
            tg.manual_seed(0)
            model = Tagger(hidden, 2, bidir)
            opt = optim.Adam(model.parameters(), lr=lr)
            with L.progress(name, total=train_steps) as bar:
                for step in range(train_steps):
                    idx = tg.randint(0, len(x_train), (batch,))
                    logits = model(xt[idx])                               # (B, T, 3)
                    loss = F.cross_entropy(logits.reshape(-1, 3), yt[idx].reshape(-1))
                    opt.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    opt.step()
                    bar.update(loss=loss.item())
            with tg.no_grad():
                pred = model(xe).argmax(-1)                               # (500, T)
            acc = (pred == ye).float().mean().item()
            f1 = span_f1(pred.tolist(), y_test)
            losses = curves[name] = bar.losses
            n_params = sum(p.numel() for p in model.parameters())
            results[name] = (acc, f1, n_params, sum(losses[:10]) / 10, sum(losses[-10:]) / 10)
            if bidir:
                example = pred[0].tolist()
    L.table(["tagger", "parameters", "tag accuracy", "span F1"],
            [[k, f"{v[2]:,}", f"{v[0]:.1%}", f"{v[1]:.3f}"] for k, v in results.items()])
    L.table(["word"] + [TOKENS[t] for t in x_test[0]],
            [["gold"] + [TAGS[t] for t in y_test[0]],
             ["BiRNN"] + [TAGS[t] for t in example]], title="a test sequence")
    uni, bid = results["left-to-right RNN"], results["bidirectional RNN"]
    L.say("The left-to-right tagger must commit to a word's tag before it reads the marker "
          "that decides it, so it mostly guesses O and finds few spans. The backward direction "
          "has already read the marker, counts back to it and tags the words it covers. (A "
          "left-to-right model could only do this by delaying its answers, i.e. by reading "
          "ahead: the backward layer is exactly that.)")
    for name, v in results.items():
        L.check_true(f"{name}: training loss falls", v[4] < v[3], f"{v[3]:.3f} → {v[4]:.3f}")
    L.check_true("the BiRNN finds spans far better (span F1 at least 0.3 higher)",
                 bid[1] > uni[1] + 0.3, f"{uni[1]:.3f} vs {bid[1]:.3f}")
    L.check_true("the BiRNN tags more words correctly", bid[0] > uni[0],
                 f"{uni[0]:.3f} vs {bid[0]:.3f}")
    if not fast:
        L.check_true("full run: the BiRNN's span F1 is above 0.9", bid[1] > 0.9, f"{bid[1]:.3f}")
    with L.figure("taggers", "Tagging B/I/O spans: left-to-right vs bidirectional", ncols=2,
                  size=(13, 4.8)) as (fig, axes):
        figures.lines(axes[0, 0], curves, "training loss", "Adam step (batch of 32)",
                      "cross-entropy per tag")
        labels, values, colors = [], [], []
        for (k, v), color in zip(results.items(), ("C0", "C1")):    # the colours of the lines
            for what, val in (("tag accuracy", v[0]), ("span F1", v[1])):
                labels.append(f"{k.split()[0]}\n{what}")
                values.append(val)
                colors.append(color)
        figures.bars(axes[0, 1], labels, values, "on 500 test sequences", "score", fmt="{:.2f}",
                     ylim=(0, 1.1), colors=colors)


if __name__ == "__main__":
    run(main, 20, "Bidirectional and deep RNNs")
