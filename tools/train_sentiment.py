"""Train an Embedding–LSTM–Linear sentiment classifier on the 3,000 labelled sentences.

    python tools/train_sentiment.py [--epochs 12] [--embed 64] [--hidden 64] [--seed 0]

The UCI "Sentiment Labelled Sentences" (Amazon, IMDb and Yelp reviews, 1,000 each,
half positive) are shuffled with a fixed seed and split 2,100 train / 300
validation / 600 held-out test. Sentences are lower-cased word tokens; the
vocabulary comes from the training split only (other words become <unk>).

Batches group sentences of similar length; each is padded to its longest
sentence and packed with the lengths, so the bidirectional LSTM's final states
are those at each sentence's own last word (padding changes nothing). The two
final states (forward and backward) go through dropout and a linear layer to 2
logits. The epoch with the best validation accuracy is kept, and its held-out
test accuracy is reported.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import Vocab, load_sentiment, word_tokenize
from tinygrad_edu.nn.utils.rnn import pack_padded_sequence, pad_sequence


class SentimentLSTM(nn.Module):
    """ids (T, B) + lengths -> logits (B, 2)."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int,
                 dropout: float = 0.4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embed_dim, hidden_size, bidirectional=True)
        self.fc = nn.Linear(2 * hidden_size, 2)

    def forward(self, ids: tg.Tensor, lengths: list[int]) -> tg.Tensor:
        x = self.drop(self.embed(ids))                                   # (T, B, E)
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)                                  # h_n (2, B, H)
        features = tg.cat([h_n[0], h_n[1]], 1)                           # (B, 2H)
        return self.fc(self.drop(features))                              # (B, 2)


def batches(data: list, batch_size: int, rng: np.random.Generator | None):
    """Yield (ids (T, B), lengths, labels (B,)) batches.

    Sentences of similar length are batched together (sorted by length; when
    training, with random tie-breaks and the batches shuffled by ``rng``), so
    little time goes into padded steps.
    """
    if rng is not None:
        keys = rng.random(len(data))
        order = sorted(range(len(data)), key=lambda i: (len(data[i][0]), keys[i]))
        chunks = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
        chunks = [chunks[i] for i in rng.permutation(len(chunks))]
    else:                                   # evaluation: same grouping, fixed order
        order = sorted(range(len(data)), key=lambda i: len(data[i][0]))
        chunks = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    for chunk in chunks:
        rows = [data[i] for i in chunk]
        ids = pad_sequence([tg.tensor(seq) for seq, _ in rows])          # (T, B), 0 = <pad>
        yield ids, [len(seq) for seq, _ in rows], tg.tensor([y for _, y in rows])


def accuracy(model: SentimentLSTM, data: list) -> float:
    model.eval()
    correct = 0
    with tg.no_grad():
        for ids, lengths, y in batches(data, 200, None):
            correct += int((model(ids, lengths).argmax(1) == y).sum().item())
    model.train()
    return correct / len(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--max-len", type=int, default=50, help="keep the first N words")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    tg.manual_seed(args.seed)
    rows = load_sentiment()
    perm = np.random.default_rng(args.seed).permutation(len(rows))
    rows = [rows[i] for i in perm]
    tokens = [word_tokenize(text)[:args.max_len] or ["<unk>"] for text, _, _ in rows]
    labels = [label for _, label, _ in rows]
    n_train, n_val = 2100, 300
    vocab = Vocab([w for toks in tokens[:n_train] for w in toks])
    data = [(vocab.encode(toks), y) for toks, y in zip(tokens, labels)]
    train, val, test = data[:n_train], data[n_train:n_train + n_val], data[n_train + n_val:]
    print(f"{len(rows)} sentences: train {len(train)}, validation {len(val)}, test {len(test)}; "
          f"vocabulary {len(vocab)} words (from the training split)")

    model = SentimentLSTM(len(vocab), args.embed, args.hidden)
    print(model)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    best = (-1.0, 0, None)
    for epoch in range(1, args.epochs + 1):
        total, count = 0.0, 0
        for ids, lengths, y in batches(train, args.batch, rng):
            loss = F.cross_entropy(model(ids, lengths), y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += loss.item() * len(lengths)
            count += len(lengths)
        train_acc, val_acc = accuracy(model, train), accuracy(model, val)
        if val_acc > best[0]:
            best = (val_acc, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
        print(f"epoch {epoch:2d}  loss {total / count:.3f}  train acc {train_acc:.3f}  "
              f"val acc {val_acc:.3f}  {time.perf_counter() - start:5.0f} s", flush=True)
    train_time = time.perf_counter() - start
    model.load_state_dict(best[2])
    test_acc = accuracy(model, test)
    print(f"FINAL: best validation accuracy {best[0]:.3f} at epoch {best[1]}; held-out test "
          f"accuracy {test_acc:.3f} ({test_acc * len(test):.0f}/{len(test)}); training "
          f"{train_time:.0f} s; goal >= 0.75: {'reached' if test_acc >= 0.75 else 'NOT reached'}")


if __name__ == "__main__":
    main()
