"""Exercise: greedy decoding with an encoder-decoder.

Lesson "Sequence to sequence", slide "Greedy decoding on strings it has never seen". The
library's own version is ``Seq2Seq.greedy_decode`` (tinygrad_edu/models/seq2seq.py).
Check it: bash tools/course.sh --check greedy_decode
A hint:   bash tools/course.sh --hint greedy_decode
"""
from __future__ import annotations

import tinygrad_edu as tg


def greedy_decode(model, src: tg.Tensor, max_len: int) -> tg.Tensor:
    """Write the output one token at a time, each the most likely one given those before:

        state = model.encode(src)                  the encoder's summary v of the source
        token = <sos> for every sequence           (1, B), model.sos_idx
        repeat max_len times:
            logits, state = model.decode(token, state)     (1, B, V): one decoder step
            token = the argmax over the V scores           (1, B)
            a sequence that has already produced <eos> (model.eos_idx) keeps writing <eos>
        the max_len tokens, stacked: (max_len, B)

    model: a ``tinygrad_edu.models.Seq2Seq`` (time-major: src is (S, B) int64 token ids).
    Returns the token ids, an int64 tensor of shape (max_len, B). No gradients are needed
    (``with tg.no_grad():``). Useful: ``tg.full((1, B), value, dtype=tg.int64)``,
    ``t.argmax(-1)``, ``tg.where(cond, a, b)``, ``tg.cat(list, 0)``.
    """
    raise NotImplementedError("feed <sos>, then each step's argmax token back into model.decode, "
                              "max_len times; a finished sequence keeps <eos>")
