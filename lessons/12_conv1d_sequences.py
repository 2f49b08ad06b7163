"""Lesson 12: 1-D convolution on sequences. A conv1d finds a word wherever it appears."""
from __future__ import annotations

import itertools
import random

from typing import Callable

from matplotlib.patches import Rectangle

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, TensorDataset

import figures
from console import Knob, Lesson, run

LETTERS = "abcdefghijklmnopqrstuvwxyz"
LENGTH = 24


def decoys_of(word: str) -> list:
    """Every rearrangement of the word's letters except the word itself."""
    return sorted({"".join(p) for p in itertools.permutations(word)} - {word})


def make_text(rng: random.Random, positive: bool, positions: range, word: str,
              decoys: list) -> str:
    """Random letters with ``word`` (positive) or a scrambled decoy (negative) written at a
    random position from ``positions``. Both classes contain the same five letters, so only
    their *order* tells them apart."""
    while True:
        chars = [rng.choice(LETTERS) for _ in range(LENGTH)]
        start = rng.choice(list(positions))
        chars[start:start + 5] = word if positive else rng.choice(decoys)
        text = "".join(chars)
        if (word in text) == positive:
            return text


def make_set(n: int, seed: int, positions: range, word: str) -> tuple:
    rng = random.Random(seed)
    decoys = decoys_of(word)
    texts = [make_text(rng, k % 2 == 1, positions, word, decoys) for k in range(n)]
    return texts, tg.tensor([k % 2 for k in range(n)])


def encode(texts: list) -> tg.Tensor:
    """Strings -> one-hot volume (N, C=26, L): a sequence is a 1-D image whose channels are
    the letters (as an RGB image has 3 colour channels)."""
    idx = tg.tensor([[LETTERS.index(c) for c in t] for t in texts])   # (N, L) int64
    return F.one_hot(idx, len(LETTERS)).float().permute(0, 2, 1)      # (N, 26, L)


class WordSpotter(nn.Module):
    """Conv1d(26 → 8, window 5) → ReLU → max over all positions → Linear(8 → 2).

    The max over time ("global max pooling") keeps how strongly each filter fired, and
    forgets where: the same answer wherever the word stands.
    """

    def __init__(self, filters: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv1d(len(LETTERS), filters, kernel_size=5)
        self.out = nn.Linear(filters, 2)

    def responses(self, x: tg.Tensor) -> tg.Tensor:
        return F.relu(self.conv(x))                                   # (N, 8, L − 4)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        r = self.responses(x)
        pooled = F.max_pool1d(r, kernel_size=r.shape[2]).flatten(1)   # (N, 8)
        return self.out(pooled)                                       # (N, 2)


def batches(x: tg.Tensor, y: tg.Tensor, seed: int) -> DataLoader:
    return DataLoader(TensorDataset(x, y), batch_size=50, shuffle=True, seed=seed)


def fit(model: nn.Module, loader: DataLoader, epochs: int, seed: int,
        report: Callable[..., None]) -> float:
    """Adam (lr 0.02) on the cross-entropy; returns the last batch's loss."""
    tg.manual_seed(seed)
    opt = optim.Adam(model.parameters(), lr=0.02)
    loss = None
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            report(loss=loss.item())
    return loss.item()


def accuracy(model: nn.Module, x: tg.Tensor, y: tg.Tensor) -> float:
    model.eval()
    with tg.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    epochs = 15 if args.fast else 40
    WORD, n_filters = args.word, args.filters
    if len(WORD) != 5 or len(set(WORD)) != 5 or not set(WORD) <= set(LETTERS):
        raise SystemExit(f"--word: give 5 different lowercase letters, got {WORD!r}")
    DECOYS = decoys_of(WORD)

    L.step("A sequence is a 1-D image", deck=[(0, "CNN for sequence classification"),
                                              (0, "1D convolution")])
    L.say("Time (or position in a text) plays the part of an image's width. Encode each "
          "letter as a one-hot vector of 26 channels, and a text of length L becomes a volume "
          "(C=26, L): one row of 'pixels' with 26 channels. A 1-D filter of width K is a "
          "(26, K) block that slides along the text, reading K letters at a time:\n\n"
          "    y(o, i) = b(o) + Σ_c Σ_{u<K} x(c, i + u) · w(o, c, u)")
    L.source(encode)
    with L.code():
        sample = "xxqdeltazzz"
        volume = encode([sample])                                     # (1, 26, 11)
    L.image(encode([sample])[0], f"one-hot image of {sample!r}: 26 channels × {len(sample)}")
    L.check("a text of length 11 becomes a (1, 26, 11) volume", volume.shape, (1, 26, 11))
    L.check("one 1 per position, in the row of its letter", volume[0].argmax(0).tolist(),
            [ord(c) - ord("a") for c in sample])

    L.step(f"The task: does the text contain {WORD!r}?", deck=(0, "1D convolution"))
    L.say(f"Positive texts hold the word {WORD!r} somewhere among random letters; negative "
          f"ones hold a scrambled decoy with the same letters ({', '.join(DECOYS[:4])}, ...), "
          "so counting letters is useless: only their order tells. A window of 5 can learn a "
          "word of length 5.\n\nThe twist: in training the word always starts in positions "
          "0–9; the test texts put it at 12–19, where no training text ever had it.")
    with L.code():
        train_texts, train_y = make_set(400 if args.fast else 1000, seed=1,
                                        positions=range(0, 10), word=WORD)
        test_texts, test_y = make_set(400, seed=2, positions=range(12, 20), word=WORD)
    L.table(["set", "example (positive)", "example (negative)"],
            [["train", train_texts[1], train_texts[0]], ["test", test_texts[1], test_texts[0]]])
    x_train, x_test = encode(train_texts), encode(test_texts)

    L.step("A 1-D CNN", deck=[(0, "1D convolution"), (4, "Convolutional Neural Nets")])
    L.source(WordSpotter)
    L.uses(F.conv1d, F.max_pool1d)
    cnn = WordSpotter(n_filters)
    n_conv = sum(p.numel() for p in cnn.conv.parameters())
    L.say(f"Conv1d(26, {n_filters}, kernel_size=5) has {n_filters}·(26·5 + 1) = {n_conv} "
          "parameters, the same for a text of any length. After ReLU, a max over all positions "
          f"keeps each filter's strongest response; a Linear layer turns the {n_filters} maxima "
          "into two scores.")
    L.check(f"Conv1d(26, {n_filters}, 5) parameters", n_conv, n_filters * (26 * 5 + 1))
    q = L.question(f"Training texts have {WORD!r} only at positions 0–9. Will the CNN find it "
                   "at positions 12–19?", ["yes, about as well", "only sometimes",
                                           "no, it never saw it there"])
    L.source(fit)
    loader = batches(x_train, train_y, seed=0)
    with L.code():
        with L.progress("training the 1-D CNN", total=epochs * len(loader)) as bar:
            loss = fit(cnn, loader, epochs, seed=0, report=bar.update)
        cnn_train, cnn_test = accuracy(cnn, x_train, train_y), accuracy(cnn, x_test, test_y)
    cnn_losses = bar.losses

    L.answer(q, observed=1 if cnn_test >= 0.9 else 2 if cnn_test >= 0.65 else 3, expected=1,
             why="the same filter is applied at every position (weight sharing) and the max "
                 "over positions forgets where it fired: a window seen at position 3 is the same "
                 "window at position 15.")

    L.step("A fully connected network for comparison", beyond="the decks state the position "
           "argument; this step measures it against a model without weight sharing")
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(26 * LENGTH, 64), nn.ReLU(), nn.Linear(64, 2))
    L.say("An MLP on the flattened one-hot text gives every (position, letter) pair its own "
          f"weight: {sum(p.numel() for p in mlp.parameters()):,} parameters. What it learns "
          "about 'd at position 3' says nothing about 'd at position 15'.")
    with L.code():
        loader = batches(x_train, train_y, seed=0)
        with L.progress("training the MLP", total=epochs * len(loader)) as bar:
            fit(mlp, loader, epochs, seed=0, report=bar.update)
        mlp_train, mlp_test = accuracy(mlp, x_train, train_y), accuracy(mlp, x_test, test_y)
    mlp_losses = bar.losses
    L.table(["model", "train (word at 0–9)", "test (word at 12–19)"],
            [["1-D CNN", f"{cnn_train:.1%}", f"{cnn_test:.1%}"],
             ["MLP", f"{mlp_train:.1%}", f"{mlp_test:.1%}"]])
    L.check_true("the CNN learned the training texts", cnn_train >= 0.95,
                 f"{cnn_train:.1%}, last loss {loss:.3f}")
    L.check_true("the CNN finds the word at positions it never saw (≥ 95%)", cnn_test >= 0.95,
                 f"{cnn_test:.1%}")
    L.check_true("the MLP does not transfer to new positions (≥ 20 points worse)",
                 mlp_test <= cnn_test - 0.2, f"MLP {mlp_test:.1%} vs CNN {cnn_test:.1%}")
    L.say("Same data, same optimizer. The CNN applies one filter at every position, so a word "
          "learned at position 3 is recognised at position 15; the MLP memorised positions.")

    L.step("Where do the filters fire?", deck=(0, "1D convolution"))
    L.say("Which filters learned the word? Ask each one on the 400 test texts: its strongest "
          "response (the max over all windows, which is what the network passes on) when the "
          "word is in the text, and when only a scrambled decoy is. A filter that detects the "
          "word answers much more strongly to the word: its *selectivity* is the difference. "
          "Its *vote* is how much its maximum pushes the 'yes' score over the 'no' score.")
    with L.code():
        with tg.no_grad():
            peaks = cnn.responses(x_test).amax(2)                     # (400, F): each max
        on_word = peaks[test_y == 1].mean(0)                          # (F,)
        on_decoy = peaks[test_y == 0].mean(0)                         # (F,)
        selectivity = on_word - on_decoy
        vote = cnn.out.weight.detach()[1] - cnn.out.weight.detach()[0]   # (F,): + means 'yes'
        best = int(selectivity.argmax().item())                       # the word detector
    L.table(["filter", "max response, word", "max response, decoy", "selectivity", "vote"],
            [[o, f"{on_word[o].item():.2f}", f"{on_decoy[o].item():.2f}",
              f"{selectivity[o].item():+.2f}", f"{vote[o].item():+.2f}"]
             for o in range(n_filters)])
    detectors = [o for o in range(n_filters)
                 if selectivity[o].item() > 0.5 * selectivity[best].item()]
    L.check_true(f"the most selective filter ({best}) votes for 'yes'", vote[best].item() > 0,
                 f"vote {vote[best].item():+.2f}")
    text = "qqzkyhwmbr" + WORD + "zzvpjqxwk"
    decoy = text.replace(WORD, WORD[::-1])                          # the word backwards
    with L.code():
        with tg.no_grad():
            r = cnn.responses(encode([text]))[0]                        # (F, L − 4)
            r_decoy = cnn.responses(encode([decoy]))[0]
            p_yes = F.softmax(cnn(encode([text, decoy])), dim=1)[:, 1]  # P('contains the word')
    start = text.index(WORD)
    peak = int(r[best].argmax().item())
    L.say(f"All {n_filters} filters slid along {text!r} (the word starts at position {start}). "
          "Row o, column i is filter o's response to the window of 5 letters starting at i:")
    L.image(r, "filter responses (rows: filters, columns: window start)")
    L.say(" " + "".join(f"{c} " for c in text[: LENGTH - 4]) + "  <- first letter of the window")
    w = cnn.conv.weight.detach()[best]                               # (26, 5)
    liked = "".join(LETTERS[int(w[:, u].argmax().item())] for u in range(5))
    L.say(f"Filter {best}, the most selective, fires hardest on the window "
          f"{text[peak:peak + 5]!r}; its favourite letter at each of its 5 taps spells "
          f"{liked!r}: a learned word fragment (aligned wherever training happened to put it). "
          f"Filters answering the word at least half as selectively: {detectors}.")
    L.check_true("the word detector's strongest window overlaps the word",
                 start - 4 <= peak <= start + 4, f"window at {peak}, word at {start}")
    L.check_true("it answers the word more strongly than the decoy in the same text",
                 r[best].max().item() > r_decoy[best].max().item(),
                 f"{r[best].max().item():.2f} vs {r_decoy[best].max().item():.2f}")
    L.check_true(f"P(yes) is high with {WORD!r} and low when it is scrambled to "
                 f"{decoy[start:start + 5]!r}", p_yes[0].item() > 0.5 > p_yes[1].item(),
                 f"{p_yes[0].item():.3f} vs {p_yes[1].item():.3f}")
    windows = [text[i:i + 5] for i in range(LENGTH - 4)]
    with L.figure("filter_responses", f"Where the {n_filters} learned filters fire along "
                  f"{text!r}", size=(15, 5)) as (fig, axes):
        figures.heatmap(axes[0, 0], r, "ReLU(conv1d) response (cyan: the most selective filter "
                        "at the word; dashed: the other word detectors)",
                        cmap="magma", colorbar="response", xlabel="window of 5 letters",
                        ylabel="filter", xticks=windows)
        axes[0, 0].tick_params(axis="x", labelrotation=90)
        for o in detectors:
            axes[0, 0].add_patch(Rectangle((start - 4.5, o - 0.5), 9, 1, fill=False, lw=1.5,
                                           edgecolor="white", ls="--"))
        axes[0, 0].add_patch(Rectangle((peak - 0.5, best - 0.5), 1, 1, fill=False, lw=2.5,
                                       edgecolor="cyan"))
    with L.figure("cnn_vs_mlp", "The same data, two models", ncols=2,
                  size=(13, 4.6)) as (fig, axes):
        figures.lines(axes[0, 0], {"1-D CNN": cnn_losses, "MLP": mlp_losses},
                      "training loss", "Adam step (batch of 50)", "cross-entropy", logy=True,
                      smooth=20)
        figures.bars(axes[0, 1], ["CNN, train\n(word at 0–9)", "CNN, test\n(word at 12–19)",
                                  "MLP, train\n(word at 0–9)", "MLP, test\n(word at 12–19)"],
                     [cnn_train, cnn_test, mlp_train, mlp_test], "accuracy", "accuracy",
                     colors=["#4c72b0", "#4c72b0", "#c44e52", "#c44e52"], ylim=(0, 1.1))


if __name__ == "__main__":
    run(main, 12, "1-D convolution on sequences", knobs=[
        Knob("--word", "delta", "the five-letter word to spot (5 different letters)"),
        Knob("--filters", 8, "filters of the Conv1d layer"),
    ])
