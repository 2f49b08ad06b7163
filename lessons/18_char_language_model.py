"""Lesson 18: A character-level language model. A char-RNN on Shakespeare; samples improve."""
from __future__ import annotations

import math
import os

# One BLAS thread unless told otherwise: recurrent layers multiply small matrices, and on
# a busy 2-core machine idle OpenBLAS threads spin and make every step several times slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from rich.markup import escape  # noqa: E402

import tinygrad_edu as tg  # noqa: E402
import tinygrad_edu.functional as F  # noqa: E402
from tinygrad_edu import nn, optim  # noqa: E402
from tinygrad_edu.data import Vocab, load_shakespeare  # noqa: E402

import figures  # noqa: E402
from console import Knob, Lesson, run  # noqa: E402


class CharRNN(nn.Module):
    """x_t one-hot (V) -> h_t = tanh(W_xh x_t + W_hh h_(t-1) + b_h) -> o_t = W_ho h_t + b_o."""

    def __init__(self, vocab_size: int, hidden: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = nn.RNN(vocab_size, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, idx: tg.Tensor, h: tg.Tensor | None = None):
        x = F.one_hot(idx, self.vocab_size).float()             # (B, T, V)
        out, h = self.rnn(x, h)                                 # (B, T, H), (1, B, H)
        return self.head(out), h                                # logits (B, T, V)


def sample(model: CharRNN, vocab: Vocab, prime: str, n: int, temperature: float) -> str:
    """Draw n characters one at a time, each fed back as the next input.

    A draw from softmax(o/τ) uses the Gumbel-max trick: argmax(o/τ + g) with
    g = −log(−log u), u ~ U(0, 1), picks class c with probability softmax(o/τ)_c.
    """
    with tg.no_grad():
        idx = tg.tensor([vocab.encode(prime)])                  # (1, len(prime))
        logits, h = model(idx)
        out = []
        for _ in range(n):
            u = tg.rand(model.vocab_size).clamp(1e-12, 1 - 1e-7)
            c = int((logits[0, -1] / temperature - (-(u.log())).log()).argmax().item())
            out.append(c)
            logits, h = model(tg.tensor([[c]]), h)
    return prime + "".join(vocab.decode(out))


def greedy(model: CharRNN, vocab: Vocab, prime: str, n: int) -> str:
    """n characters, each the most likely one given those before: no random draw, so
    watching the model during training changes nothing in it."""
    with tg.no_grad():
        logits, h = model(tg.tensor([vocab.encode(prime)]))
        out = []
        for _ in range(n):
            c = int(logits[0, -1].argmax().item())
            out.append(c)
            logits, h = model(tg.tensor([[c]]), h)
    return prime + "".join(vocab.decode(out))


def word_share(text: str, words: set) -> float:
    """Fraction of the whitespace-separated words of `text` found in the training text."""
    toks = [w.strip(".,;:!?'-").lower() for w in text.split()]
    toks = [w for w in toks if w]
    return sum(w in words for w in toks) / max(len(toks), 1)


def evaluate(model: CharRNN, data: tg.Tensor, seq: int, n_batches: int) -> float:
    """Mean cross-entropy on consecutive windows of `data` (no gradients)."""
    with tg.no_grad():
        usable = (len(data) - 1) // seq * seq
        x = data[:usable].reshape(-1, seq)[:n_batches * 16]
        y = data[1:usable + 1].reshape(-1, seq)[:n_batches * 16]
        logits, _ = model(x)
        return F.cross_entropy(logits.reshape(-1, model.vocab_size), y.reshape(-1)).item()


def main(L: Lesson, args) -> None:
    tg.manual_seed(0)
    fast = args.fast
    text = load_shakespeare()
    n_chars = 200_000 if fast else len(text)
    hidden = args.hidden or (64 if fast else 192)
    tau = args.temperature
    seq, batch = (32, 16) if fast else (64, 32)
    train_steps = 150 if fast else 2500
    early = 30 if fast else 200
    lr = 3e-3 if fast else 2e-3
    n_sample = 100 if fast else 300

    # ------------------------------------------------------------------ data
    L.step("Text as a sequence of characters",
           deck=(4, "Example: RNN to predict next character in string"))
    L.say("The data is tiny Shakespeare: 1,115,394 characters of plays. A character-level "
          "model reads one character at a time and predicts the next one, so the vocabulary "
          "is just the set of characters and no word is ever unknown.")
    with L.code():
        vocab = Vocab(text, specials=())
        V = len(vocab)
    L.check("tiny Shakespeare has 1,115,394 characters and 65 distinct ones", [len(text), V],
            [1115394, 65])
    text = text[:n_chars]
    split = int(0.9 * len(text))
    data = tg.tensor(vocab.encode(text))                        # (N,) int64
    train, val = data[:split], data[split:]
    train_words = {w.strip(".,;:!?'-").lower() for w in text[:split].split()}
    L.say(f"We use {'the first ' + format(n_chars, ',') if fast else 'all'} characters: 90% "
          f"({split:,}) to train and 10% to validate. Most frequent characters: "
          f"{vocab.itos[:12]!r}.")

    L.step("The model: x_t one-hot, h_t recurrent, o_t a score per character",
           deck=[(4, "Example: RNN to predict next character in string"), (4, "Chain Rule")])
    L.say("    x_t = one-hot(char_t)                           (V = 65)\n"
          "    h_t = tanh(W_xh·x_t + W_hh·h_(t−1) + b_h)        "
          f"(H = {hidden})\n"
          "    o_t = W_ho·h_t + b_o                             (65 scores)\n"
          "    P(next char = c | x_1..x_t) = exp(o_t(c)) / Σ_i exp(o_t(i))\n"
          "Training minimises the cross-entropy −log P(true next char), averaged over every "
          "position of every window: each window of T+1 characters gives T predictions at once "
          "(teacher forcing: the model always reads the true previous character). By the chain "
          "rule, P(c_1..c_N) = Π_t P(c_t | c_1..c_(t−1)), so the summed loss is −log P(text).")
    L.source(CharRNN)
    L.uses(nn.RNN, F.cross_entropy)
    with L.code():
        model = CharRNN(V, hidden)
        n_params = sum(p.numel() for p in model.parameters())
        logits, _ = model(train[:seq].reshape(1, seq))
        loss0 = F.cross_entropy(logits.reshape(-1, V), train[1:seq + 1]).item()
    L.say(f"Parameters: {n_params:,}.")
    L.say(f"Before training the scores are small and nearly equal, so the model spreads its "
          f"bet over all 65 characters: loss {loss0:.3f} vs ln 65 = {math.log(65):.3f}.")
    L.check("untrained loss is close to ln 65 = 4.174 (±0.15)", loss0, math.log(65), 0.15 / 4.174)
    L.departure((4, "Example: RNN to predict next character in string"),
                "x_t one-hot over 84 characters, h_t of 100 units, o_t a softmax over 84 "
                "(a text of All's Well That Ends Well); samples after 0, 2,000 and 200,000 "
                "iterations",
                f"65 characters (tiny Shakespeare), h_t of {hidden} units; samples after 0, "
                f"{30 if fast else 200} and {150 if fast else 2500} Adam steps (a few minutes "
                "on a laptop CPU, not hours)",
                "an untrained model starts at ln 65 = 4.17 nats per character, not the deck's "
                "ln 84 = 4.43 (checked above), and the late samples below are those of a "
                "shorter training")
    L.say("The loss is the mean of the per-step losses E_t over every position (lesson 15's "
          "E = Σ_t E_t, divided by the number of positions).")

    # ------------------------------------------------------------------ training
    L.step("Training, with samples along the way",
           deck=[(4, "Training Recurrent Networks"),
                 (4, "Recurrent Neural Network Language Models")])
    L.say(f"Adam (lr {lr}), gradient norm clipped at 5, {train_steps} steps of {batch} random "
          f"windows of {seq + 1} characters. Samples: 'First' followed by {n_sample} drawn "
          f"characters, temperature {tau}. While it trains, every tenth of the way, the model "
          "also writes 60 characters greedily (always its most likely next character):")
    L.source(sample)
    L.source(greedy)
    opt = optim.Adam(model.parameters(), lr=lr)
    samples = {}
    tg.manual_seed(123)
    samples[0] = sample(model, vocab, "First", n_sample, tau)
    val_losses = {0: evaluate(model, val, seq, 4)}
    curve = []
    running = None
    with L.code():
        with L.progress("training the char-RNN", total=train_steps) as bar:
            for step in range(1, train_steps + 1):
                starts = tg.randint(0, split - seq - 1, (batch,))       # (B,)
                offs = starts.reshape(batch, 1) + tg.arange(seq + 1).reshape(1, seq + 1)
                chunk = train[offs]                                     # (B, T+1)
                logits, _ = model(chunk[:, :-1])
                loss = F.cross_entropy(logits.reshape(-1, V), chunk[:, 1:].reshape(-1))
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                opt.step()
                running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
                bar.update(loss=loss.item())
                if step == early or step == train_steps:
                    tg.manual_seed(123)
                    samples[step] = sample(model, vocab, "First", n_sample, tau)
                    val_losses[step] = evaluate(model, val, seq, 4)
                if step % max(train_steps // 10, 1) == 0:
                    curve.append([step, f"{running:.3f}"])
                    text_now = greedy(model, vocab, "First", 60).replace("\n", "⏎")
                    bar.note(f"  step {step:5,}  loss {running:.3f}  [dim]greedy:[/dim] "
                             f"{escape(text_now)}")
    L.table(["step", "training loss (smoothed)"], curve)

    L.step("What the model writes", deck=(4, "Generated strings at different stages of training"))
    L.source(word_share)
    with L.code():
        shares = {step: word_share(s[5:], train_words) for step, s in samples.items()}
    rows = []
    for step, s in samples.items():
        L.say(f"[bold]after {step} steps[/bold] (validation loss {val_losses[step]:.3f}, "
              f"{shares[step]:.0%} of its words are real):")
        L.print(s, markup=False, highlight=False)
        L.say("")
        rows.append([step, f"{val_losses[step]:.3f}", f"{shares[step]:.0%}"])
    L.table(["step", "validation loss", "sampled words found in the training text"], rows)
    L.say("At step 0 the characters are uniform noise. Soon the model learns which characters "
          "are common, that words are separated by spaces and lines by newlines; later it "
          "spells short words, names speakers in capitals and ends lines with punctuation. It "
          "never sees a word or a grammar rule, only 65 symbols and their order.")

    last = train_steps
    L.check_true("validation loss falls during training", val_losses[last] < val_losses[0] - 0.5,
                 f"{val_losses[0]:.3f} → {val_losses[early]:.3f} → {val_losses[last]:.3f}")
    L.check_true("the late sample has more real words than the untrained one",
                 shares[last] > shares[0], f"{shares[0]:.0%} → {shares[last]:.0%}")
    if not fast:
        L.check_true("full run: validation loss below 1.9 nats per character",
                     val_losses[last] < 1.9, f"{val_losses[last]:.3f}")
        L.check_true("full run: more than half of the sampled words are real",
                     shares[last] > 0.5, f"{shares[last]:.2f}")
    L.step("Temperature: how adventurous the samples are",
           deck=(4, "Generated strings at different stages of training"))
    L.say(f"Sampling draws the next character from softmax(o/τ). The samples above used "
          f"τ = {tau}. τ → 0 always picks the most likely character (greedy); τ = 1 draws from "
          "the model's own distribution; τ > 1 flattens it towards uniform.")
    q = L.question("Going from τ = 0.5 to τ = 2, what happens to the entropy (the spread) of the "
                   "next-character distribution?", ["it falls", "it stays", "it rises"])
    with L.code():
        with tg.no_grad():
            logits, _ = model(val[:seq].reshape(1, seq))          # (1, T, V)
        o = logits[0].numpy().astype("float64")                  # (T, V), last model
        entropy = {}
        for t_ in (0.5, 1.0, 2.0):
            z = o / t_
            p_ = [[math.exp(v - max(row)) for v in row] for row in z.tolist()]
            p_ = [[v / sum(row) for v in row] for row in p_]
            entropy[t_] = sum(-sum(v * math.log(v) for v in row if v > 0) for row in p_) / len(p_)
    L.table(["τ", "mean entropy of softmax(o/τ), nats", "(uniform: ln 65 = 4.17)"],
            [[t_, f"{h:.3f}", ""] for t_, h in entropy.items()])
    rises = entropy[0.5] < entropy[1.0] < entropy[2.0]
    L.answer(q, observed=3 if rises else 1 if entropy[0.5] > entropy[2.0] else 2, expected=3,
             why="dividing the scores by τ > 1 shrinks their differences, so the probabilities "
                 "move towards uniform (maximum entropy, ln 65); τ < 1 sharpens them towards "
                 "the single most likely character.")
    with L.figure("training", "A character-level RNN reading tiny Shakespeare",
                  size=(10, 5)) as (fig, axes):
        figures.lines(axes[0, 0], {"training loss (per batch)": bar.losses},
                      "cross-entropy per character", "Adam step", "nats per character",
                      smooth=50)
        axes[0, 0].plot(list(val_losses), list(val_losses.values()), "o-", color="#c44e52",
                        label="validation loss (at the samples)")
        axes[0, 0].axhline(math.log(V), color="gray", ls=":", label=f"uniform guess: ln {V}")
        axes[0, 0].legend()


if __name__ == "__main__":
    run(main, 18, "A character-level language model", knobs=[
        Knob("--hidden", 0, "state units H (0: 64 with --fast, 192 otherwise)"),
        Knob("--temperature", 0.8, "sampling temperature τ: softmax(o/τ)"),
    ])
