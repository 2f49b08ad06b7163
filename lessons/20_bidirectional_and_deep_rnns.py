"""Lesson 20: Bidirectional and deep RNNs. Spans set by the left, the right, or both together."""
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
from console import Knob, Lesson, run  # noqa: E402

FILLERS = list("abcdefgh")                     # ordinary words
MARKERS = ["1[", "2[", "3[",                   # "the next k words are a span"
           "]1", "]2", "]3",                   # "the k words before me were a span"
           "(", ")", "{", "}"]                 # a span only if the brackets match
TOKENS = ["<pad>"] + FILLERS + MARKERS         # ids 0 .. 18
TAGS = ["O", "B", "I"]
KINDS = ("left", "right", "pair")              # what decides a word's tag


def make_data(n: int, length: int, seed: int) -> tuple[list, list, list]:
    """n sequences of ``length`` tokens with their B/I/O tags, generated left to right, and
    for every token the kind of context that decides its tag ('-' for ordinary words).

    With probability 0.35 (if it fits) a group of k = 1..3 words is written in one of three
    ways: 'k[' before it (announced on the LEFT), ']k' after it (announced on the RIGHT), or
    between brackets, where it is a span only if the brackets MATCH, '( … )' or '{ … }'
    (decided by BOTH sides together). Everything else is an ordinary word tagged O.
    """
    rng = random.Random(seed)
    xs, ys, kinds = [], [], []
    for _ in range(n):
        toks, tags, kind = [], [], []
        while len(toks) < length:
            k = rng.randint(1, 3)
            if rng.random() < 0.35 and len(toks) + k + 2 <= length:
                words = [rng.choice(FILLERS) for _ in range(k)]
                span = ["B"] + ["I"] * (k - 1)
                how = rng.choice(KINDS)
                if how == "left":
                    toks += [f"{k}["] + words
                    tags += ["O"] + span
                    kind += ["-"] + ["left"] * k
                elif how == "right":
                    toks += words + [f"]{k}"]
                    tags += span + ["O"]
                    kind += ["right"] * k + ["-"]
                else:
                    opening, closing = rng.choice("({"), rng.choice(")}")
                    match = (opening == "(") == (closing == ")")
                    toks += [opening] + words + [closing]
                    tags += ["O"] + (span if match else ["O"] * k) + ["O"]
                    kind += ["-"] + ["pair"] * k + ["-"]
            else:
                toks.append(rng.choice(FILLERS))
                tags.append("O")
                kind.append("-")
        xs.append([TOKENS.index(t) for t in toks])
        ys.append([TAGS.index(t) for t in tags])
        kinds.append(kind)
    return xs, ys, kinds


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


def accuracy_by_kind(pred: list, gold: list, kinds: list) -> dict:
    """Tag accuracy over the words whose tag is decided by each kind of context."""
    right, total = dict.fromkeys(KINDS, 0), dict.fromkeys(KINDS, 0)
    for p, g, k in zip(pred, gold, kinds):
        for a, b, c in zip(p, g, k):
            if c in right:
                right[c] += a == b
                total[c] += 1
    return {c: right[c] / max(total[c], 1) for c in KINDS}


class Tagger(nn.Module):
    """Embedding -> (bi)directional, stacked RNN -> a linear layer per time step.

    y_t = softmax(U·[h→_t ; h←_t] + c) when bidirectional, else softmax(U·h→_t + c).
    """

    def __init__(self, hidden: int, num_layers: int, bidirectional: bool,
                 cell: str = "rnn") -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(TOKENS), 16, padding_idx=0)
        layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = layer(16, hidden, num_layers=num_layers, batch_first=True,
                         bidirectional=bidirectional)
        self.out = nn.Linear(hidden * (2 if bidirectional else 1), len(TAGS))

    def forward(self, ids: tg.Tensor) -> tg.Tensor:
        states, _ = self.rnn(self.embedding(ids))              # (B, T, D·H)
        return self.out(states)                                # (B, T, 3)


def n_params(hidden: int, layers: int, bidirectional: bool, cell: str) -> int:
    return sum(p.numel() for p in Tagger(hidden, layers, bidirectional, cell).parameters())


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
    length = 16 if fast else 20
    depth, hidden, cell, batch = args.layers, args.hidden, args.cell, 32
    train_steps, lr = (150, 0.02) if fast else (400, 0.01)

    # ------------------------------------------------------------------ the task
    L.step("Labelling spans with B, I and O", deck=(4, "Example: Opinion Mining"))
    L.say("Opinion mining marks the words that express an opinion. Each word gets a tag: B "
          "begins a span, I is inside one, O is outside. What decides a word's tag can lie on "
          "its left, on its right, or on both sides at once. Our generated language has all "
          "three: 'k[' announces that the next k words are a span (left), ']k' that the k "
          "words before it were one (right), and words between brackets are a span only if "
          "the brackets match, '( … )' or '{ … }' but not '( … }' (both sides together).")
    L.source(make_data)
    with L.code():
        x_train, y_train, _ = make_data(2000 if fast else 4000, length, seed=1)
        x_test, y_test, k_test = make_data(500, length, seed=2)
    for toks, tags in zip(x_train[:3], y_train[:3]):
        L.table(["word"] + [TOKENS[t] for t in toks], [["tag"] + [TAGS[t] for t in tags]])
    counts = {c: sum(row.count(c) for row in k_test) for c in KINDS}
    L.say(f"{len(x_train)} training and 500 test sequences of {length} tokens; in the test "
          f"set {counts['left']} words are decided by the left, {counts['right']} by the "
          f"right and {counts['pair']} by a pair of brackets.")
    L.check("spans() reads B I I O O B O as the spans (0, 3) and (5, 6)",
            sorted(spans([1, 2, 2, 0, 0, 1, 0])), [(0, 3), (5, 6)])
    L.departure((4, "Example: Opinion Mining"),
                "opinion spans in news text (Irsoy & Cardie 2014), where the deep network finds "
                "the spans' boundaries better than the shallow one",
                "a generated language with three kinds of span, each decided by one kind of "
                "context: the left, the right, or both sides together",
                "each kind isolates one question (does a model see the left? the right? can it "
                "combine them?), so the results below can be read kind by kind")

    # ------------------------------------------------------------------ the model
    L.step("Two directions, several layers", deck=[(4, "Deep Bidirectional Recurrent Network"),
                                                   (4, "Bi-directional Recurrent Neural Networks")])
    L.say("A bidirectional layer runs two RNNs over the sequence, one left to right and one "
          "right to left, and puts their states side by side; a deep one stacks such layers, "
          "each reading the concatenated states of the layer below (Irsoy & Cardie 2014):\n"
          "    h→_t⁽ⁱ⁾ = f(W→⁽ⁱ⁾·h_t⁽ⁱ⁻¹⁾ + V→⁽ⁱ⁾·h→_(t−1)⁽ⁱ⁾ + b→⁽ⁱ⁾)\n"
          "    h←_t⁽ⁱ⁾ = f(W←⁽ⁱ⁾·h_t⁽ⁱ⁻¹⁾ + V←⁽ⁱ⁾·h←_(t+1)⁽ⁱ⁾ + b←⁽ⁱ⁾)\n"
          "    h_t⁽ⁱ⁾ = (h→_t⁽ⁱ⁾ ; h←_t⁽ⁱ⁾),   h_t⁽⁰⁾ = x_t\n"
          "    y_t = g(U·h_t⁽ᴸ⁾ + c)\n"
          "At step t, h→ has read x_1..x_t and h← has read x_t..x_T: together, the whole "
          "sentence. Note what one layer can NOT do: its two directions never meet before "
          "the output, which only adds U→·h→ and U←·h← into the scores. From the second layer "
          "on, every unit reads both directions of the layer below and squashes them "
          "together. nn.RNN(..., bidirectional=True) keeps the backward weights under the "
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

    # ------------------------------------------------------------------ same size
    L.step("Three taggers of the same size", deck=(4, "Deep Bidirectional Recurrent Network"))
    target = n_params(hidden, depth, True, cell)
    L.say(f"The comparison is fair only at equal size. The deep bidirectional tagger has "
          f"{depth} layer(s) of {hidden} units per direction: {target:,} parameters. The other "
          "two get the hidden size that brings them closest to that count.")
    with L.code():
        configs = {"left-to-right, 2 layers": (2, False),
                   "bidirectional, 1 layer": (1, True),
                   f"bidirectional, {depth} layer{'s' if depth > 1 else ''}": (depth, True)}
        sizes = {}
        for name, (layers, bidir) in configs.items():
            sizes[name] = hidden if (layers, bidir) == (depth, True) else min(
                range(4, 4 * hidden), key=lambda h: abs(n_params(h, layers, bidir, cell) - target))
    # with --layers 1 the last two names are the same: one shallow bidirectional tagger
    counts_ = {name: n_params(sizes[name], *configs[name], cell) for name in configs}
    L.table(["tagger", "hidden units", "parameters"],
            [[name, sizes[name], f"{counts_[name]:,}"] for name in configs])
    spread = (max(counts_.values()) - min(counts_.values())) / target
    L.check_true("the taggers' parameter counts are within 3% of each other", spread < 0.03,
                 f"{spread:.1%}")

    # ------------------------------------------------------------------ training
    L.step("Who can tag which spans?", deck=[(4, "Example: Opinion Mining"),
                                            (4, "Deep Bidirectional Recurrent Network")])
    L.say(f"Every tagger: embedding 16, {cell.upper()} layers, a linear layer to 3 tags; Adam "
          f"(lr {lr}), {train_steps} steps of {batch} sequences, cross-entropy over every tag.")
    L.source(Tagger)
    q = L.question("Which taggers can tag the words between brackets, a span only when the "
                   "brackets match?", ["all three", "both bidirectional ones",
                                       "only the deep bidirectional one", "none of them"])
    xt, yt = tg.tensor(x_train), tg.tensor(y_train)
    xe = tg.tensor(x_test)
    results, curves, examples = {}, {}, {}
    with L.code():
        for name, (layers, bidir) in configs.items():
            tg.manual_seed(0)
            model = Tagger(sizes[name], layers, bidir, cell)
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
                pred = model(xe).argmax(-1).tolist()                      # (500, T)
            results[name] = accuracy_by_kind(pred, y_test, k_test)
            results[name]["F1"] = span_f1(pred, y_test)
            curves[name], examples[name] = bar.losses, pred[0]
    L.table(["tagger", "left-announced", "right-announced", "between brackets",
             "span F1 (all)"],
            [[name] + [f"{r[c]:.1%}" for c in KINDS] + [f"{r['F1']:.3f}"]
             for name, r in results.items()])
    L.table(["word"] + [TOKENS[t] for t in x_test[0]],
            [["gold"] + [TAGS[t] for t in y_test[0]]]
            + [[("L→R " if name.startswith("left") else "bi ") + name.split(", ")[1].split()[0]]
               + [TAGS[t] for t in ex] for name, ex in examples.items()],
            title="a test sequence (L→R 2: left to right, 2 layers; bi n: bidirectional, n layers)")
    uni = results["left-to-right, 2 layers"]
    deep_name = f"bidirectional, {depth} layer{'s' if depth > 1 else ''}"
    deep_r = results[deep_name]
    good = 0.9 if fast else 0.97
    L.check_true(f"left to right: the left-announced spans are tagged (> {good:.0%})",
                 uni["left"] > good, f"{uni['left']:.1%}")
    L.check_true("left to right: the right-announced words are missed (< 50%): their tag "
                 "depends on a marker it has not read yet", uni["right"] < 0.5,
                 f"{uni['right']:.1%}")
    L.check_true(f"bidirectional: both the left- and right-announced spans (> {good:.0%})",
                 min(deep_r["left"], deep_r["right"]) > good,
                 f"{deep_r['left']:.1%}, {deep_r['right']:.1%}")
    shallow = results.get("bidirectional, 1 layer", deep_r if depth == 1 else None)
    L.check_true("one bidirectional layer cannot tell matching brackets (< 70% between them)",
                 shallow["pair"] < 0.7, f"{shallow['pair']:.1%}")
    if depth >= 2:
        L.check_true(f"{depth} bidirectional layers tag the words between brackets (> {good:.0%})",
                     deep_r["pair"] > good, f"{deep_r['pair']:.1%}")
    can = [name for name, r in results.items() if r["pair"] > 0.9]
    observed = 4 if not can else 3 if can == [deep_name] else \
        2 if all("bidirectional" in n for n in can) else 1
    L.answer(q, observed=observed, expected=3 if depth >= 2 else 4,
             why="a left-to-right tagger has not read the closing bracket; one bidirectional "
                 "layer has read both brackets, but its two directions meet only in the output "
                 "sum U→·h→ + U←·h←, and 'the brackets match' (both round, or both curly) is "
                 "not a sum of a left score and a right score. A second layer reads both "
                 "directions together through a tanh and can compute it.")
    L.say("So the two ideas of the deck do different work: the backward direction brings the "
          "right context, and depth lets the two contexts be combined before the tag is "
          "chosen.")
    with L.figure("taggers", "Tagging B/I/O spans: who sees what", ncols=2,
                  size=(14, 4.8)) as (fig, axes):
        figures.lines(axes[0, 0], curves, "training loss", "Adam step (batch of 32)",
                      "cross-entropy per tag")
        labels, values, colors = [], [], []
        for n_, (name, r) in enumerate(results.items()):
            for c in KINDS:
                shown_kind = {"left": "left-\nannounced", "right": "right-\nannounced",
                              "pair": "between\nbrackets"}[c]
                labels.append(f"{'L→R' if name.startswith('left') else 'bi'} "
                              f"{name.split(', ')[1].split()[0]}\n{shown_kind}")
                values.append(r[c])
                colors.append(f"C{n_}")
        figures.bars(axes[0, 1], labels, values, "tag accuracy on 500 test sequences, by what "
                     "decides the tag", "accuracy", fmt="{:.2f}", ylim=(0, 1.1), colors=colors)
        axes[0, 1].tick_params(axis="x", labelsize=7)


if __name__ == "__main__":
    run(main, 20, "Bidirectional and deep RNNs", knobs=[
        Knob("--layers", 2, "layers of the deep bidirectional tagger (1: it is shallow too)"),
        Knob("--hidden", 32, "its hidden units per direction (the others are matched in size)"),
        Knob("--cell", "rnn", "the recurrent cell of every tagger", choices=("rnn", "gru",
                                                                             "lstm")),
    ])
