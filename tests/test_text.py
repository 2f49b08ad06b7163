"""Tests for tinygrad_edu.data.text on small hand-written inputs."""

from __future__ import annotations

import pytest

from tinygrad_edu.data.text import Vocab, char_tokenize, ngrams, word_tokenize


# ---------------------------------------------------------------- tokenizers

def test_char_tokenize() -> None:
    assert char_tokenize("Hi, yo\n") == ["H", "i", ",", " ", "y", "o", "\n"]
    assert char_tokenize("") == []


def test_char_tokenize_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        char_tokenize(["a", "b"])  # type: ignore[arg-type]


def test_word_tokenize_basic() -> None:
    assert word_tokenize("The Cat sat on the MAT.") == ["the", "cat", "sat", "on", "the", "mat"]


def test_word_tokenize_apostrophes() -> None:
    assert word_tokenize("Don't stop, it's rock'n'roll!") == [
        "don't", "stop", "it's", "rock'n'roll"
    ]
    # quotes around a word and dangling apostrophes are not part of words
    assert word_tokenize("'hello' dogs' toys") == ["hello", "dogs", "toys"]
    assert word_tokenize("it\u2019s") == ["it\u2019s"]


def test_word_tokenize_digits_and_separators() -> None:
    assert word_tokenize("R2-D2 has 3.5 stars!!") == ["r2", "d2", "has", "3", "5", "stars"]
    assert word_tokenize("snake_case\tand\nlines") == ["snake", "case", "and", "lines"]
    assert word_tokenize("...!?") == []
    assert word_tokenize("") == []


def test_word_tokenize_unicode_letters() -> None:
    assert word_tokenize("Café NAÏVE") == ["café", "naïve"]


# ---------------------------------------------------------------- n-grams

def test_ngrams_words() -> None:
    toks = ["not", "good", "at", "all"]
    assert ngrams(toks, 1) == [("not",), ("good",), ("at",), ("all",)]
    assert ngrams(toks, 2) == [("not", "good"), ("good", "at"), ("at", "all")]
    assert ngrams(toks, 3) == [("not", "good", "at"), ("good", "at", "all")]
    assert ngrams(toks, 4) == [("not", "good", "at", "all")]
    assert ngrams(toks, 5) == []


def test_ngrams_chars_and_empty() -> None:
    assert ngrams("abcd", 3) == [("a", "b", "c"), ("b", "c", "d")]
    assert ngrams([], 2) == []


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_ngrams_bad_n(bad: object) -> None:
    with pytest.raises(ValueError, match="n must be"):
        ngrams(["a", "b"], bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------- Vocab

def test_vocab_order_and_lookup() -> None:
    # counts: the=3, sat=2, cat=1, dog=1, mat=1
    toks = ["the", "cat", "sat", "the", "dog", "sat", "the", "mat"]
    v = Vocab(toks)
    assert v.itos == ["<pad>", "<unk>", "the", "sat", "cat", "dog", "mat"]
    assert v.stoi == {"<pad>": 0, "<unk>": 1, "the": 2, "sat": 3, "cat": 4, "dog": 5, "mat": 6}
    assert len(v) == 7
    assert v.pad_index == 0 and v.unk_index == 1
    assert v["the"] == 2 and v["mat"] == 6
    assert v["zebra"] == 1
    assert "cat" in v and "zebra" not in v


def test_vocab_ties_alphabetical_and_deterministic() -> None:
    v1 = Vocab(["b", "a", "c", "a", "c"])
    v2 = Vocab(["c", "c", "a", "b", "a"])
    assert v1.itos == ["<pad>", "<unk>", "a", "c", "b"]
    assert v1.itos == v2.itos


def test_vocab_min_freq() -> None:
    v = Vocab(list("abracadabra"), min_freq=2)  # a=5 b=2 r=2 c=1 d=1
    assert v.itos == ["<pad>", "<unk>", "a", "b", "r"]
    assert v["c"] == v.unk_index == 1


def test_vocab_from_string_is_char_vocab() -> None:
    assert Vocab("abba").itos == ["<pad>", "<unk>", "a", "b"]


def test_vocab_encode_decode() -> None:
    v = Vocab(["hi", "there", "hi"])
    assert v.itos == ["<pad>", "<unk>", "hi", "there"]
    assert v.encode(["hi", "you", "there"]) == [2, 1, 3]
    assert v.decode([3, 2, 0, 1]) == ["there", "hi", "<pad>", "<unk>"]
    assert v.encode([]) == [] and v.decode([]) == []


def test_vocab_decode_out_of_range() -> None:
    v = Vocab(["x"])
    with pytest.raises(IndexError):
        v.decode([3])
    with pytest.raises(IndexError):
        v.decode([-1])


def test_vocab_custom_specials() -> None:
    v = Vocab(["a", "<eos>", "a"], specials=("<pad>", "<unk>", "<bos>", "<eos>"))
    # a special token seen in the data keeps its special slot, not a second one
    assert v.itos == ["<pad>", "<unk>", "<bos>", "<eos>", "a"]
    assert v["<eos>"] == 3


def test_vocab_without_unk() -> None:
    v = Vocab(["a", "b"], specials=())
    assert v.itos == ["a", "b"]
    assert v.unk_index is None and v.pad_index is None
    with pytest.raises(KeyError):
        v["zzz"]


def test_vocab_bad_args() -> None:
    with pytest.raises(ValueError, match="min_freq"):
        Vocab(["a"], min_freq=0)
    with pytest.raises(ValueError, match="specials"):
        Vocab(["a"], specials=("<pad>", "<pad>"))
    with pytest.raises(ValueError, match="specials"):
        Vocab(["a"], specials="<unk>")  # type: ignore[arg-type]


def test_vocab_tokenize_pipeline() -> None:
    v = Vocab(word_tokenize("I loved it. I hated it."))
    # counts: i=2, it=2, hated=1, loved=1
    assert v.itos == ["<pad>", "<unk>", "i", "it", "hated", "loved"]
    assert v.encode(word_tokenize("I LOVED the food")) == [2, 5, 1, 1]
