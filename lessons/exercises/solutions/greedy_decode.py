"""Reference solution: greedy decoding."""
from __future__ import annotations

import tinygrad_edu as tg


def greedy_decode(model, src: tg.Tensor, max_len: int) -> tg.Tensor:
    with tg.no_grad():
        state = model.encode(src)
        batch = src.shape[1]
        token = tg.full((1, batch), model.sos_idx, dtype=tg.int64)
        done = tg.full((1, batch), False, dtype=tg.bool)
        out = []
        for _ in range(max_len):
            logits, state = model.decode(token, state)          # (1, B, V)
            token = logits.argmax(-1)                           # (1, B)
            token = tg.where(done, model.eos_idx, token)        # finished: keep <eos>
            done = done | (token == model.eos_idx)
            out.append(token)
        return tg.cat(out, 0)                                   # (max_len, B)
