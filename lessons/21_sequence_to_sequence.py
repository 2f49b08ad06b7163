"""Lesson 21: Sequence to sequence. An encoder-decoder learns to reverse unseen strings."""
from __future__ import annotations

import math
import os
import random

# One BLAS thread unless told otherwise: recurrent layers multiply small matrices, and on
# a busy 2-core machine idle OpenBLAS threads spin and make every step several times slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402  - only for the log-probabilities written out

import tinygrad_edu as tg  # noqa: E402
import tinygrad_edu.functional as F  # noqa: E402
from tinygrad_edu import nn, optim  # noqa: E402
from tinygrad_edu.models import Seq2Seq  # noqa: E402

import figures  # noqa: E402
from console import Knob, Lesson, run  # noqa: E402

LETTERS = "abcdefgh"
PAD, SOS, EOS = 0, 1, 2
# source ids: 0 = <pad>, 1..8 = a..h      target ids: 0 <pad>, 1 <sos>, 2 <eos>, 3..10 = a..h
SRC = {c: i + 1 for i, c in enumerate(LETTERS)}
TGT = {c: i + 3 for i, c in enumerate(LETTERS)}
TGT_ITOS = ["·", "<sos>", "<eos>"] + list(LETTERS)


def random_string(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(lo, hi)))


def tensors(words: list, hi: int) -> tuple[tg.Tensor, tg.Tensor, tg.Tensor, list]:
    """src (B, hi) padded letters; tgt_in (B, hi+1) = <sos> y_1..y_n; tgt_out (B, hi+1) =
    y_1..y_n <eos>, padded with -100 (ignored by the loss); and the source lengths."""
    src, tin, tout = [], [], []
    for w in words:
        y = [TGT[c] for c in reversed(w)]
        src.append([SRC[c] for c in w] + [PAD] * (hi - len(w)))
        tin.append([SOS] + y + [PAD] * (hi - len(w)))
        tout.append(y + [EOS] + [-100] * (hi - len(w)))
    return tg.tensor(src), tg.tensor(tin), tg.tensor(tout), [len(w) for w in words]


def decode_text(ids: list) -> str:
    """Target ids up to the first <eos> -> a string."""
    out = []
    for i in ids:
        if i == EOS:
            break
        out.append(TGT_ITOS[i])
    return "".join(out)


def log_softmax_numpy(z: np.ndarray) -> np.ndarray:
    """log softmax of each row: z_j − log Σ_k e^{z_k}, the log-sum-exp taken as
    m + log Σ_k e^{z_k − m} with m = max_k z_k so that no exponential overflows."""
    m = z.max(axis=-1, keepdims=True)
    return z - (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    fast = args.fast
    lo, hi = (3, 5) if fast else (3, 7)
    hidden = args.hidden or (64 if fast else 128)
    cell = args.cell
    train_steps = 250 if fast else 2500
    batch, lr = 64, (1e-2 if fast else 5e-3)

    # ------------------------------------------------------------------ the idea
    L.step("When the output is a sequence too", deck=[(4, "Sequence to Sequence Learning"),
                                                      (4, "Chain Rule")])
    L.say("Translation, speech recognition and summarising map a sequence x_1..x_T to another "
          "sequence y_1..y_T' of a different length. The encoder-decoder (Sutskever et al. "
          "2014, Cho et al. 2014) splits the job:\n"
          "  • an encoder RNN reads x and keeps only its final state v, a fixed-size summary;\n"
          "  • a decoder RNN starts from v and writes y one token at a time, each step reading "
          "the token it wrote before.\n"
          "It models the output with the chain rule,\n"
          "    P(y_1..y_T' | x_1..x_T) = Π_t p(y_t | v, y_1..y_(t−1)),\n"
          "each factor a softmax over the output vocabulary. The output ends when the decoder "
          "writes the token <eos>, so the model chooses T' itself. If the decoder gives its "
          "three tokens (the last one <eos>) the probabilities 0.9, 0.8 and 0.95:")
    with L.code():
        factors = [0.9, 0.8, 0.95]                    # p(y_t | v, y_<t), t = 1, 2, 3
        sentence = math.prod(factors)                 # P(y | x)
        nll = -sum(math.log(p) for p in factors)      # −log P(y | x): what training lowers
    L.check("−log of the product = the sum of the −log factors", nll, -math.log(sentence), 1e-12)

    L.step("The task: reverse a string", deck=(4, "Sequence to Sequence Learning"))
    with L.code():
        rng = random.Random(0)
        test_words = sorted({random_string(rng, lo + 1, hi) for _ in range(600)})[:500]
        held_out = set(test_words)
    L.say(f"Strings of {lo}–{hi} letters from '{LETTERS}'; the answer is the string reversed: "
          "'abc' → 'cba'. The first output letter is the last input letter, so the whole "
          "input must survive in v. We set aside 500 strings of "
          f"{lo + 1}–{hi} letters as a test set and never train on them.")
    L.check_true("500 distinct held-out strings", len(held_out) == 500, f"{len(held_out)}")
    L.source(tensors)
    with L.code():
        src, tin, tout, lens = tensors(["abc", "hgfed"], hi)
    L.table(["tensor", "row for 'abc'", "meaning"],
            [["src", src[0].tolist(), "a b c and padding"],
             ["decoder input", tin[0].tolist(), "<sos> c b a"],
             ["decoder target", tout[0].tolist(), "c b a <eos>, −100 = ignored"]])

    # ------------------------------------------------------------------ the model
    L.step("The model, and teacher forcing", deck=(4, "Sequence to Sequence Learning"))
    with L.code():
        model = Seq2Seq(src_vocab_size=len(LETTERS) + 1, tgt_vocab_size=len(TGT_ITOS),
                        embed_dim=32, hidden_size=hidden, cell=cell, sos_idx=SOS, eos_idx=EOS,
                        batch_first=True)
    L.uses(Seq2Seq)
    n_params = sum(p.numel() for p in model.parameters())
    L.say(f"models.Seq2Seq: embedding (32) + {cell.upper()} ({hidden}) encoder, embedding + "
          f"{cell.upper()} decoder "
          f"started from the encoder's last state, a linear layer to {len(TGT_ITOS)} output "
          f"tokens: {n_params:,} parameters. The encoder skips each source's padding (packed "
          "sequences), so v is the state after the real last letter.\n"
          "Training uses teacher forcing: the decoder reads the TRUE previous letters "
          "(<sos> y_1..y_(n)), so all steps run in one call, and the loss is the cross-entropy "
          "of y_1..y_n <eos>, i.e. −log P(y | x) divided by the number of tokens.")
    q = L.question("With teacher forcing, what does the decoder read at step t while it "
                   "trains?", ["its own guess from step t − 1", "the true letter y_(t−1)",
                               "the encoder's summary v only"])
    with L.code():
        _, tin_abc, tout_abc, _ = tensors(["abc"], hi)
    reads_truth = tin_abc[0, 1:4].tolist() == tout_abc[0, 0:3].tolist()
    L.answer(q, observed=2 if reads_truth else 1, expected=2,
             why="the decoder input is the target shifted by one (<sos> y_1 … y_(n)): at step t it "
                 "reads the true y_(t−1), so every step's input is known in advance and all steps "
                 "run in one call. At test time there is no truth, and greedy decoding feeds "
                 "back its own guesses instead.")
    L.say("Every fifth of the way the model reverses three held-out strings greedily (its best "
          "guess at each step, no training on them):")
    watch = test_words[::200][:3]
    wsrc, _, _, wlens = tensors(watch, hi)
    opt = optim.Adam(model.parameters(), lr=lr)
    curve, first, running = [], None, None
    seen = 0
    with L.code():
        with L.progress("training the encoder-decoder", total=train_steps) as bar:
            for step in range(1, train_steps + 1):
                words = []
                while len(words) < batch:
                    w = random_string(rng, lo, hi)
                    if w not in held_out:
                        words.append(w)
                seen += len(words)
                src, tin, tout, lens = tensors(words, hi)
                logits = model(src, tin, src_lengths=lens)                     # (B, hi+1, V)
                loss = F.cross_entropy(logits.reshape(-1, len(TGT_ITOS)), tout.reshape(-1))
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                first = loss.item() if first is None else first
                running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
                bar.update(loss=loss.item())
                if step % max(train_steps // 5, 1) == 0:
                    curve.append([step, f"{running:.3f}"])
                    got = model.greedy_decode(wsrc, max_len=hi + 1, src_lengths=wlens).tolist()
                    bar.note(f"  step {step:5,}  loss {running:.3f}  " + "   ".join(
                        f"{w} → {decode_text(g)} {'✔' if decode_text(g) == w[::-1] else '✘'}"
                        for w, g in zip(watch, got)))
    train_losses = bar.losses
    L.table(["step", "loss (smoothed)"], curve)
    L.say(f"Started at {first:.3f} ≈ ln {len(TGT_ITOS)} = {math.log(len(TGT_ITOS)):.3f} (a "
          f"uniform guess over the outputs); {seen:,} training strings in all.")
    L.check_true("the training loss falls below half its starting value", running < first / 2,
                 f"{first:.3f} → {running:.3f}")

    # ------------------------------------------------------------------ P(y | x)
    L.step("The chain rule in numbers", deck=(4, "Chain Rule"))
    with L.code():
        word = test_words[250]
        src, tin, tout, lens = tensors([word], hi)
        n = lens[0]
        with tg.no_grad():
            logits = model(src, tin, src_lengths=lens)[0]                   # (hi+1, V)
            ce = F.cross_entropy(logits, tout[0], reduction="sum")
        logp = log_softmax_numpy(logits.numpy().astype(np.float64))        # NumPy, by hand
        want = tout[0].tolist()[:n + 1]
        factors = [math.exp(logp[t, want[t]]) for t in range(n + 1)]
    L.source(log_softmax_numpy)
    L.table(["t", "previous token", "next token", "p(y_t | v, y_<t)"],
            [[t + 1, TGT_ITOS[tin[0, t].item()], TGT_ITOS[want[t]], f"{p:.4f}"]
             for t, p in enumerate(factors)],
            title=f"x = '{word}', y = '{word[::-1]}' + <eos>")
    prob = math.prod(factors)
    L.say(f"P(y | x) = product of the column = {prob:.4f}; −log P(y | x) = {-math.log(prob):.4f}.")
    L.check("F.cross_entropy (summed) equals −log Π_t p(y_t | v, y_<t) from the NumPy "
            "log-softmax", ce.item(), -math.log(prob), 1e-4)
    L.uses(F.cross_entropy)

    # ------------------------------------------------------------------ greedy decoding
    L.step("Greedy decoding on strings it has never seen",
           deck=(4, "Sequence to Sequence Learning"))
    L.say("At test time there are no true previous letters. Greedy decoding feeds the decoder "
          "its own best guess: start with <sos>, take the argmax token, feed it back, stop at "
          "<eos>. (Beam search would keep several candidates; greedy keeps one.)")
    with L.code():
        src, _, _, lens = tensors(test_words, hi)
        ids = model.greedy_decode(src, max_len=hi + 1, src_lengths=lens)    # (500, hi+1)
        preds = [decode_text(row) for row in ids.tolist()]
    L.uses(Seq2Seq.greedy_decode)
    exact = sum(p == w[::-1] for p, w in zip(preds, test_words)) / len(test_words)
    per_char = sum(sum(a == b for a, b in zip(p, w[::-1])) for p, w in zip(preds, test_words))
    per_char /= sum(len(w) for w in test_words)
    L.table(["input", "target", "greedy output", ""],
            [[w, w[::-1], p, "✔" if p == w[::-1] else "✘"]
             for w, p in list(zip(test_words, preds))[::63]])
    L.say(f"Exact match on the 500 held-out strings: {exact:.1%}; letters in the right place: "
          f"{per_char:.1%}. Chance for a 4-letter string would be 8⁻⁴ = 0.02%.")
    bar = (0.3 if fast else 0.9) if hidden >= 64 else 0.05    # a small state holds less
    L.check_true(f"exact-match accuracy on held-out strings above {bar:.0%}", exact > bar,
                 f"{exact:.3f}")
    by_len = {}
    for p, w in zip(preds, test_words):
        ok, n = by_len.get(len(w), (0, 0))
        by_len[len(w)] = (ok + (p == w[::-1]), n + 1)
    L.table(["length", "held-out strings", "exact match"],
            [[k, n, f"{ok / n:.1%}"] for k, (ok, n) in sorted(by_len.items())])
    L.say("The whole input has to fit through v, a vector of fixed size, and the first letters "
          "must survive every encoder step; that is the bottleneck of this design. Attention "
          "(Bahdanau et al. 2015) lets the decoder look back at all encoder states instead of "
          "one summary, which is the road to Transformers.")
    lengths_ = sorted(by_len)
    with L.figure("reversal", "An encoder-decoder learns to reverse strings", ncols=2,
                  size=(13, 4.8)) as (fig, axes):
        figures.lines(axes[0, 0], {"cross-entropy per token": train_losses}, "training loss",
                      "Adam step (batch of 64)", "loss (log scale)", logy=True, smooth=50)
        axes[0, 0].axhline(math.log(len(TGT_ITOS)), color="gray", ls=":",
                           label=f"uniform guess: ln {len(TGT_ITOS)}")
        axes[0, 0].legend()
        figures.bars(axes[0, 1], [f"{k} letters" for k in lengths_],
                     [by_len[k][0] / by_len[k][1] for k in lengths_],
                     "exact match on held-out strings, greedy decoding", "exact match",
                     ylim=(0, 1.1))


if __name__ == "__main__":
    run(main, 21, "Sequence to sequence", knobs=[
        Knob("--cell", "gru", "the encoder's and decoder's cell", choices=("gru", "lstm")),
        Knob("--hidden", 0, "size of the summary v (0: 64 with --fast, 128 otherwise)"),
    ])
