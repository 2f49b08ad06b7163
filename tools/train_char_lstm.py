"""Train a character-level LSTM language model on tiny Shakespeare.

    python tools/train_char_lstm.py [--steps 6000] [--hidden 256] [--seq-len 64] [--batch 32]
                                    [--time-limit 840] [--lr 3e-3] [--seed 0]

The text is split 90/10 (first 90% train, last 10% held out). Training uses
truncated BPTT: 32 contiguous streams, 64 steps per batch, the LSTM state carried
(detached) from one batch to the next. Prints the training loss, the held-out
loss in nats per character (log(65) = 4.17 is chance) and samples of generated
text at several stages, so you can watch the spelling and the play format appear.
The learning rate follows a cosine from --lr to 0 over --steps or --time-limit,
whichever comes first.
"""
from __future__ import annotations

import argparse
import math
import time

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import CharStream, load_shakespeare


class CharLSTM(nn.Module):
    """Embedding -> LSTM -> Linear over the vocabulary (logits for the next character)."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int,
                 num_layers: int = 1) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: tg.Tensor, state: tuple | None = None) -> tuple[tg.Tensor, tuple]:
        out, state = self.lstm(self.embed(x), state)       # (T, B, H)
        return self.fc(out), state                          # (T, B, V)


def evaluate(model: CharLSTM, ids: list[int], batch: int, seq_len: int, vocab: int) -> float:
    """Mean held-out loss in nats/char over the whole held-out text (state carried)."""
    model.eval()
    total, count, state = 0.0, 0, None
    with tg.no_grad():
        for x, y in CharStream(ids, batch, seq_len):
            logits, state = model(x, state)
            loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1), reduction="sum")
            total += loss.item()
            count += y.numel()
    model.train()
    return total / count


def sample(model: CharLSTM, itos: list[str], stoi: dict[str, int], prime: str, n: int,
           temperature: float = 0.8) -> str:
    """Generate n characters after ``prime``, drawing each from softmax(logits / T)."""
    model.eval()
    out = list(prime)
    with tg.no_grad():
        x = tg.tensor([[stoi[c]] for c in prime])          # (len(prime), 1)
        logits, state = model(x)
        for _ in range(n):
            probs = F.softmax(logits[-1, 0] * (1.0 / temperature), 0)
            cum, r, k = 0.0, tg.rand(1).item(), 0
            for k, p in enumerate(probs.tolist()):
                cum += p
                if r < cum:
                    break
            out.append(itos[k])
            logits, state = model(tg.tensor([[k]]), state)
    model.train()
    return "".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--time-limit", type=float, default=840.0,
                    help="stop after this many seconds (the schedule adapts)")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--sample-len", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    tg.manual_seed(args.seed)
    text = load_shakespeare()
    itos = sorted(set(text))
    stoi = {c: i for i, c in enumerate(itos)}
    ids = [stoi[c] for c in text]
    split = int(0.9 * len(ids))
    train_ids, val_ids = ids[:split], ids[split:]
    vocab = len(itos)
    print(f"tiny shakespeare: {len(text):,} chars, vocabulary {vocab}, "
          f"train {len(train_ids):,} / held out {len(val_ids):,}")

    model = CharLSTM(vocab, args.embed, args.hidden, args.layers)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {model}\n{n_params:,} parameters; batch {args.batch} x {args.seq_len} steps")
    opt = optim.Adam(model.parameters(), lr=args.lr)
    print(f"\n--- sample before training ---\n{sample(model, itos, stoi, 'ROMEO:', 120)}\n")

    stream = CharStream(train_ids, args.batch, args.seq_len, random_offset=True, seed=args.seed)
    start = time.perf_counter()
    step, state, running, epoch = 0, None, None, 0
    best_val = math.inf
    done = False
    while not done:
        epoch += 1
        state = None
        for x, y in stream:
            elapsed = time.perf_counter() - start
            progress = max(step / args.steps, elapsed / args.time_limit)
            if progress >= 1.0:
                done = True
                break
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * progress))
            for group in opt.param_groups:
                group["lr"] = lr
            logits, state = model(x, state)
            state = tuple(s.detach() for s in state)      # truncated BPTT: cut the graph here
            loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            step += 1
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            if step % 100 == 0:
                el = time.perf_counter() - start
                print(f"step {step:5d}  epoch {epoch}  train loss {running:.3f}  lr {lr:.2e}  "
                      f"{el:6.0f} s  ({1e3 * el / step:.0f} ms/step)", flush=True)
            if step % args.eval_every == 0:
                val = evaluate(model, val_ids, 64, 128, vocab)
                best_val = min(best_val, val)
                print(f"== step {step}: held-out loss {val:.3f} nats/char "
                      f"({val / math.log(2):.3f} bits/char)", flush=True)
                if step in (args.eval_every, 4 * args.eval_every):
                    print(f"--- sample at step {step} ---\n"
                          f"{sample(model, itos, stoi, 'ROMEO:', args.sample_len)}\n", flush=True)
    train_time = time.perf_counter() - start
    val = evaluate(model, val_ids, 64, 128, vocab)
    print(f"\n--- final sample (step {step}) ---\n"
          f"{sample(model, itos, stoi, 'ROMEO:', 2 * args.sample_len)}\n")
    print(f"FINAL: {step} steps in {train_time:.0f} s ({1e3 * train_time / max(step, 1):.0f} "
          f"ms/step), held-out loss {val:.3f} nats/char ({val / math.log(2):.3f} bits/char); "
          f"goal <= 1.7: {'reached' if val <= 1.7 else 'NOT reached'}")


if __name__ == "__main__":
    main()
