"""Data: the datasets shipped in ``data/``, text tokenizers, and mini-batch loading.

>>> from tinygrad_edu.data import DataLoader, mnist_dataset
>>> loader = DataLoader(mnist_dataset(flatten=True), batch_size=128, shuffle=True, seed=0)
"""
from tinygrad_edu.data.datasets import (FASHION_MNIST_CLASSES, SENTIMENT_SOURCES, data_dir,
                                        load_digits, load_fashion_mnist, load_idx, load_mnist,
                                        load_mnist1d, load_sentiment, load_shakespeare, verify)
from tinygrad_edu.data.loader import (DataLoader, Dataset, Subset, TensorDataset,
                                      default_collate, digits_dataset, fashion_mnist_dataset,
                                      mnist1d_dataset, mnist_dataset, random_split)
from tinygrad_edu.data.sequence import CharStream, batchify, bptt_batches
from tinygrad_edu.data.text import Vocab, char_tokenize, ngrams, word_tokenize

__all__ = [
    "data_dir", "verify", "load_idx", "load_mnist", "load_fashion_mnist", "load_digits",
    "load_mnist1d", "load_shakespeare", "load_sentiment", "FASHION_MNIST_CLASSES",
    "SENTIMENT_SOURCES", "char_tokenize", "word_tokenize", "ngrams", "Vocab",
    "Dataset", "TensorDataset", "Subset", "DataLoader", "random_split", "default_collate",
    "mnist_dataset", "fashion_mnist_dataset", "digits_dataset", "mnist1d_dataset",
    "batchify", "bptt_batches", "CharStream",
]
