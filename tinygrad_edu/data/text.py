"""Turning text into numbers: tokenizers, n-grams and a vocabulary.

A neural network only understands numbers, so text goes through two steps:

1. **Tokenize**: cut the string into units called *tokens*.

   * *Characters* (:func:`char_tokenize`): ``"hi!" -> ["h", "i", "!"]``. The vocabulary is
     tiny (65 symbols for tiny-shakespeare) and no word is ever unknown, but sequences are
     long and the model must learn spelling itself.
   * *Words* (:func:`word_tokenize`): ``"Don't stop!" -> ["don't", "stop"]``. Sequences are
     short and each token carries meaning, but the vocabulary is large and new words
     appear at test time.
   * *n-grams* (:func:`ngrams`): runs of ``n`` consecutive tokens, e.g. the bigrams of
     ``["not", "good", "at", "all"]`` include ``("not", "good")``, which a bag-of-words
     model would otherwise miss.

2. **Numericalize**: map each token to an integer index with a :class:`Vocab`. Tokens
   never seen while building the vocabulary (or seen too rarely) become the special
   *unknown* token ``<unk>``; ``<pad>`` fills the end of short sequences so that a batch is a
   rectangle.

Example::

    >>> toks = word_tokenize("The cat sat. The dog sat!")
    >>> toks
    ['the', 'cat', 'sat', 'the', 'dog', 'sat']
    >>> v = Vocab(toks)
    >>> v.itos
    ['<pad>', '<unk>', 'sat', 'the', 'cat', 'dog']
    >>> v.encode(["the", "cow", "sat"])
    [3, 1, 2]
    >>> v.decode([3, 1, 2])
    ['the', '<unk>', 'sat']

Pure Python: no numpy needed.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Hashable, TypeVar

__all__ = ["char_tokenize", "word_tokenize", "ngrams", "Vocab"]

T = TypeVar("T", bound=Hashable)

# A word is a run of letters/digits ([^\W_] = word characters minus underscore), optionally
# joined by single apostrophes *inside* the word: "don't", "rock'n'roll", "o'clock".
_WORD_RE = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def char_tokenize(s: str) -> list[str]:
    """Split a string into single characters, keeping every one (spaces, newlines too).

    Example::

        >>> char_tokenize("Hi!\\n")
        ['H', 'i', '!', '\\n']
    """
    if not isinstance(s, str):
        raise TypeError(f"s must be a str, got {type(s).__name__}")
    return list(s)


def word_tokenize(s: str) -> list[str]:
    """Lowercase a string and split it into words.

    Words are maximal runs of letters and digits; everything else (spaces, punctuation,
    underscores) separates words and is dropped. An apostrophe (``'`` or ``\u2019``) is kept
    only *between* two letters/digits, so contractions stay whole while quotes are removed.

    Example::

        >>> word_tokenize("Don't panic -- it's 'only' 42 km!")
        ["don't", 'panic', "it's", 'only', '42', 'km']
    """
    if not isinstance(s, str):
        raise TypeError(f"s must be a str, got {type(s).__name__}")
    return _WORD_RE.findall(s.lower())


def ngrams(tokens: Sequence[T], n: int) -> list[tuple[T, ...]]:
    """Return all runs of ``n`` consecutive tokens, as tuples, in order.

    A sequence of length L has ``max(L - n + 1, 0)`` n-grams. ``n=1`` gives unigrams,
    ``n=2`` bigrams, ``n=3`` trigrams. Works on any sequence: word lists, character lists,
    even a plain string (which is a sequence of characters).

    Example::

        >>> ngrams(["not", "good", "at", "all"], 2)
        [('not', 'good'), ('good', 'at'), ('at', 'all')]
        >>> ngrams("abc", 2)
        [('a', 'b'), ('b', 'c')]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    seq = list(tokens)
    return [tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)]


class Vocab:
    """A two-way mapping between tokens and integer indices.

    Built from an iterable of tokens (e.g. every word of the training set, or a string for a
    character vocabulary). The order is deterministic, so the same data always gives the
    same indices:

    1. the ``specials`` first, in the order given (by default ``<pad>`` = 0, ``<unk>`` = 1);
    2. then the other tokens seen at least ``min_freq`` times, most frequent first;
    3. ties broken alphabetically.

    Looking up a token that is not in the vocabulary (never seen, or rarer than
    ``min_freq``) returns the index of ``<unk>``: the model sees "some word I don't know"
    instead of crashing. Raising ``min_freq`` shrinks the vocabulary and teaches the
    model what to do with ``<unk>``, since rare training words get mapped to it too.

    Attributes:
        itos: list, index -> token ("index to string").
        stoi: dict, token -> index ("string to index").
        unk_index: index of ``"<unk>"``, or ``None`` if it is not among the specials (then
            unknown tokens raise ``KeyError``).
        pad_index: index of ``"<pad>"``, or ``None`` if it is not among the specials.
        freqs: ``collections.Counter`` of the token counts the vocabulary was built from.

    Example::

        >>> v = Vocab("abracadabra")          # a character vocabulary
        >>> v.itos
        ['<pad>', '<unk>', 'a', 'b', 'r', 'c', 'd']
        >>> v["r"], v["z"], len(v)
        (4, 1, 7)
        >>> Vocab("abracadabra", min_freq=2).itos
        ['<pad>', '<unk>', 'a', 'b', 'r']
    """

    UNK = "<unk>"
    PAD = "<pad>"

    def __init__(
        self,
        tokens: Iterable[str],
        min_freq: int = 1,
        specials: Sequence[str] = ("<pad>", "<unk>"),
    ) -> None:
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
        if isinstance(specials, str):
            raise ValueError(
                f"specials must be a sequence of strings, got the string {specials!r} "
                f"(did you mean ({specials!r},)?)"
            )
        specials = list(specials)
        if len(set(specials)) != len(specials):
            raise ValueError(f"specials must not contain duplicates, got {specials!r}")
        self.freqs: Counter[str] = Counter(tokens)
        special_set = set(specials)
        kept = [t for t, c in self.freqs.items() if c >= min_freq and t not in special_set]
        kept.sort(key=lambda t: (-self.freqs[t], t))
        self.itos: list[str] = specials + kept
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        self.unk_index: int | None = self.stoi.get(self.UNK)
        self.pad_index: int | None = self.stoi.get(self.PAD)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        """Index of ``token``; unknown tokens map to ``unk_index``."""
        idx = self.stoi.get(token)
        if idx is not None:
            return idx
        if self.unk_index is None:
            raise KeyError(f"token {token!r} is not in the vocabulary and there is no '<unk>'")
        return self.unk_index

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Map tokens to indices (unknown tokens -> ``unk_index``).

        Example::

            >>> Vocab(["a", "b", "b"]).encode(["b", "a", "zzz"])
            [2, 3, 1]
        """
        return [self[t] for t in tokens]

    def decode(self, indices: Iterable[int]) -> list[str]:
        """Map indices back to tokens. Accepts any ints (also numpy integers).

        Example::

            >>> Vocab(["a", "b", "b"]).decode([2, 3, 0])
            ['b', 'a', '<pad>']

        Raises:
            IndexError: an index outside ``0 .. len(self)-1``.
        """
        out = []
        n = len(self.itos)
        for i in indices:
            j = operator.index(i)
            if not 0 <= j < n:
                raise IndexError(f"index {j} out of range for a vocabulary of size {n}")
            out.append(self.itos[j])
        return out

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.itos[:8])
        more = ", ..." if len(self.itos) > 8 else ""
        return f"Vocab(size={len(self)}, itos=[{head}{more}])"
