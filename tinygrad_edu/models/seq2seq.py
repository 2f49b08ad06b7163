"""A small encoder-decoder (sequence-to-sequence) model with greedy decoding.

Sutskever et al. (2014) and Cho et al. (2014) model an output sequence y given
an input sequence x as

    P(y_1 .. y_T' | x_1 .. x_T) = Π_t p(y_t | v, y_1 .. y_{t-1})

where v is a fixed-size summary of x:

* the **encoder** (embedding + GRU/LSTM) reads x and its final state is v;
* the **decoder** (another embedding + GRU/LSTM) starts from v and, at each
  step, reads the previous output token and predicts the next one through a
  linear layer over the target vocabulary.

Training uses **teacher forcing**: the decoder reads the *true* previous token
(``tgt_in = <sos> y_1 .. y_{T'-1}``) and all T' steps run in one call. At test
time the true tokens are unknown, so :meth:`Seq2Seq.greedy_decode` feeds back
its own most likely token, one step at a time, until ``<eos>``.

Shapes are time-major like PyTorch's recurrent layers: src (S, B), tgt (T, B)
int64; logits (T, B, V_tgt). ``batch_first=True`` swaps the first two dims.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.engine import graph
from tinygrad_edu.functional import gradients
from tinygrad_edu.nn.linear import Linear
from tinygrad_edu.nn.module import Module
from tinygrad_edu.nn.rnn import GRU, LSTM
from tinygrad_edu.nn.sparse import Embedding
from tinygrad_edu.nn.utils.rnn import pack_padded_sequence
from tinygrad_edu.engine.backend import int64
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.tensor_methods import cat, where
from tinygrad_edu.functional.creation import full


class Seq2Seq(Module):
    """Embedding + GRU/LSTM encoder, embedding + GRU/LSTM decoder, linear output.

    >>> model = Seq2Seq(src_vocab_size=12, tgt_vocab_size=12, embed_dim=16, hidden_size=32)
    >>> logits = model(src, tgt_in)                 # (T, B, 12), teacher forcing
    >>> ids = model.greedy_decode(src, max_len=10)  # (10, B) int64
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_dim: int = 32,
                 hidden_size: int = 64, num_layers: int = 1, cell: str = "gru",
                 sos_idx: int = 1, eos_idx: int = 2, batch_first: bool = False) -> None:
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"Seq2Seq: cell must be 'gru' or 'lstm', got {cell!r}")
        for name, v in (("sos_idx", sos_idx), ("eos_idx", eos_idx)):
            if not 0 <= v < tgt_vocab_size:
                raise ValueError(f"Seq2Seq: {name}={v} is not a token of the target "
                                 f"vocabulary (size {tgt_vocab_size})")
        rnn = GRU if cell == "gru" else LSTM
        self.cell = cell
        self.sos_idx = sos_idx
        self.eos_idx = eos_idx
        self.batch_first = batch_first
        self.tgt_vocab_size = tgt_vocab_size
        self.src_embed = Embedding(src_vocab_size, embed_dim)
        self.encoder = rnn(embed_dim, hidden_size, num_layers)
        self.tgt_embed = Embedding(tgt_vocab_size, embed_dim)
        self.decoder = rnn(embed_dim, hidden_size, num_layers)
        self.out = Linear(hidden_size, tgt_vocab_size)

    def _time_major(self, ids: Tensor, name: str) -> Tensor:
        if ids.ndim != 2:
            layout = "(batch, time)" if self.batch_first else "(time, batch)"
            raise ValueError(f"Seq2Seq: {name} must be a 2-D {layout} tensor of token ids, "
                             f"got shape {tuple(ids.shape)}")
        return ids.T if self.batch_first else ids

    def encode(self, src: Tensor, src_lengths: Any = None) -> Any:
        """Run the encoder; returns its final state v (h_n, or (h_n, c_n) for an LSTM).

        With ``src_lengths`` the padded tail of each source is skipped (packed input),
        so v is the state at each sequence's own last token.
        """
        x = self.src_embed(self._time_major(src, "src"))             # (S, B, E)
        if src_lengths is not None:
            x = pack_padded_sequence(x, src_lengths, enforce_sorted=False)
        _, state = self.encoder(x)
        return state

    def decode(self, tgt_in: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Decoder steps from ``state`` on the given input tokens (T, B) -> logits, state."""
        out, state = self.decoder(self.tgt_embed(tgt_in), state)    # (T, B, H)
        return self.out(out), state                                  # (T, B, V)

    def forward(self, src: Tensor, tgt_in: Tensor, src_lengths: Any = None) -> Tensor:
        """Teacher forcing: logits for every target position, given the true previous tokens.

        tgt_in starts with <sos> (tgt_in = <sos> y_1 .. y_{T-1}); train with
        cross_entropy(logits, y_1 .. y_T).
        """
        logits, _ = self.decode(self._time_major(tgt_in, "tgt_in"),
                                self.encode(src, src_lengths))
        return logits.transpose(0, 1) if self.batch_first else logits

    def greedy_decode(self, src: Tensor, max_len: int, src_lengths: Any = None) -> Tensor:
        """Generate up to ``max_len`` tokens, each the argmax given the ones before.

        Returns (max_len, B) int64 (or (B, max_len) with batch_first); once a
        sequence has produced <eos>, its remaining positions are <eos> too.
        """
        if not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"greedy_decode: max_len must be a positive integer, got "
                             f"{max_len!r}")
        with gradients.no_grad():
            state = self.encode(src, src_lengths)
            batch = src.shape[0] if self.batch_first else src.shape[1]
            token = full((1, batch), self.sos_idx, dtype=int64, device=src.device)
            done = token != token                                     # (1, B) all False
            outputs = []
            for _ in range(max_len):
                logits, state = self.decode(token, state)            # (1, B, V)
                token = logits.argmax(-1)                             # (1, B)
                token = where(done, self.eos_idx, token)             # keep <eos> once done
                done = done | (token == self.eos_idx)
                outputs.append(token)
            ids = cat(outputs, 0)                                     # (max_len, B)
        return ids.T if self.batch_first else ids


__all__ = ["Seq2Seq"]
