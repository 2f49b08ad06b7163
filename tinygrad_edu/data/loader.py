"""Datasets and the DataLoader: feeding a model mini-batches (``torch.utils.data``'s names).

* A :class:`Dataset` is anything with ``len(ds)`` and ``ds[i] -> sample``; a sample is
  usually a pair ``(input, target)``.
* :class:`TensorDataset` wraps tensors that share their first dimension:
  ``TensorDataset(images, labels)[i] == (images[i], labels[i])``.
* :class:`DataLoader` cuts a dataset into mini-batches, optionally in a fresh random
  order each epoch, and stacks the samples of a batch into tensors::

      train = mnist_dataset(train=True, flatten=True)          # 60000 x (784,), (,)
      loader = DataLoader(train, batch_size=128, shuffle=True, seed=0)
      for x, y in loader:                                      # x: (128, 784), y: (128,)
          ...

  One pass over the loader is one *epoch*; ``len(loader)`` is the number of batches.

For a :class:`TensorDataset` (and a :class:`Subset` of one, e.g. from
:func:`random_split`) a batch is one fancy-index of each tensor with the batch's index
array: no Python loop over samples, which is what keeps an MNIST epoch fast.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Sequence

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.functional import gradients
from tinygrad_edu.data.datasets import load_digits, load_fashion_mnist, load_mnist, load_mnist1d
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.tensor_methods import stack

__all__ = [
    "Dataset", "TensorDataset", "Subset", "DataLoader", "random_split", "default_collate",
    "mnist_dataset", "fashion_mnist_dataset", "digits_dataset", "mnist1d_dataset",
]



class Dataset:
    """Base class of map-style datasets: define ``__getitem__(i)`` and ``__len__()``."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__}: __getitem__ is not implemented")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__}: __len__ is not implemented")


class TensorDataset(Dataset):
    """Samples are rows of tensors that share dimension 0: ``ds[i] = (t0[i], t1[i], ...)``.

    >>> ds = TensorDataset(tg.zeros(100, 784), tg.zeros(100, dtype=tg.int64))
    >>> len(ds), ds[3][0].shape
    (100, (784,))
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor, got none")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: tensors[{i}] is a {type(t).__name__}, expected "
                                f"a Tensor (wrap arrays with tg.tensor(...))")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensors[{i}] is 0-dimensional; every tensor "
                                 f"needs a first dimension indexing the samples")
        n = tensors[0].shape[0]
        for i, t in enumerate(tensors[1:], start=1):
            if t.shape[0] != n:
                raise ValueError(f"TensorDataset: size mismatch between tensors: tensors[0] has "
                                 f"{n} samples (shape {tuple(tensors[0].shape)}) but tensors[{i}] "
                                 f"has {t.shape[0]} (shape {tuple(t.shape)}); all must share "
                                 f"dimension 0")
        self.tensors = tuple(tensors)

    def __getitem__(self, index: int) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _get_batch(self, index: Any) -> list:
        """All tensors indexed at once by a host index array (or a slice): one batch."""
        if isinstance(index, slice):
            return [t[index] for t in self.tensors]
        return [t[Tensor(index, device=t.device)] for t in self.tensors]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (see :func:`random_split`)."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        host = indices.numpy() if isinstance(indices, Tensor) else indices
        self._index = backend.host_array(host, dtype=backend.int64).reshape(-1)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self._index[index])]

    def __len__(self) -> int:
        return len(self._index)

    def _get_batch(self, index: Any) -> list:
        return _fetch(self.dataset, self._index[index])


def random_split(dataset: Any, lengths: Sequence[float], generator: Any = None,
                 seed: int | None = None) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping subsets of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (then
    the counts are floored and the left-over samples dealt out one each, round-robin,
    as PyTorch does). The order comes from ``generator`` (anything with
    ``permutation(n)``), a fresh one seeded with ``seed``, or the library's global
    generator (``tg.manual_seed``).

    >>> train, val = random_split(mnist_dataset(), [0.9, 0.1], seed=0)   # 54000 / 6000
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(0 <= x <= 1 for x in lengths) and math.isclose(sum(lengths), 1) \
            and sum(lengths) != n:
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} must be non-negative counts summing to "
                         f"the dataset's length {n}, or fractions summing to 1")
    perm = _permutation(n, _make_generator(generator, seed))
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + int(length)].tolist()))
        start += int(length)
    return out


def default_collate(samples: list) -> Any:
    """Stack a list of samples into a batch, keeping the samples' structure.

    Tensors (and arrays) are stacked along a new dimension 0; Python ints become an int64
    tensor, floats a float64 tensor (as in PyTorch); tuples/lists are collated field by
    field (giving a list), dicts key by key; strings stay a list.

    >>> default_collate([(tg.ones(2), 0), (tg.zeros(2), 1)])
    [tensor([[1., 1.], [0., 0.]]), tensor([0, 1])]
    """
    first = samples[0]
    if isinstance(first, Tensor):
        for i, s in enumerate(samples):
            if not isinstance(s, Tensor) or s.shape != first.shape or s.device != first.device:
                got = (f"shape {tuple(s.shape)} on '{s.device}'" if isinstance(s, Tensor)
                       else type(s).__name__)
                raise RuntimeError(f"default_collate: sample {i} is {got}, but sample 0 has "
                                   f"shape {tuple(first.shape)} on '{first.device}'; samples "
                                   f"of a batch must match (pad them, or pass a collate_fn)")
        with gradients.no_grad():
            return stack([s.detach() for s in samples])
    if backend.is_array(first):
        return Tensor(backend.module_of(first).stack(samples))
    if isinstance(first, bool):
        return Tensor(samples, dtype=backend.bool_)
    if isinstance(first, int):
        return Tensor(samples, dtype=backend.int64)
    if isinstance(first, float):
        return Tensor(samples, dtype=backend.float64)
    if isinstance(first, str):
        return list(samples)
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise RuntimeError("default_collate: each sample of a batch must have the same "
                               f"number of fields; sample 0 has {len(first)}")
        return [default_collate(list(field)) for field in zip(*samples)]
    if hasattr(first, "dtype") and hasattr(first, "shape"):     # NumPy scalars
        return Tensor(backend.host_array(samples))
    raise TypeError(f"default_collate: don't know how to batch samples of type "
                    f"{type(first).__name__}; pass collate_fn=... to the DataLoader")


# ---------------------------------------------------------------- the loader
def _make_generator(generator: Any, seed: int | None) -> Any:
    if generator is not None and seed is not None:
        raise ValueError("pass either generator= or seed=, not both")
    if generator is not None:
        if not callable(getattr(generator, "permutation", None)):
            raise TypeError(f"generator must have a permutation(n) method (e.g. "
                            f"numpy.random.default_rng(0)), got {type(generator).__name__}")
        return generator
    if seed is not None:
        return backend.host_generator(seed)
    return None


def _permutation(n: int, generator: Any) -> Any:
    """A host int64 permutation of range(n) from ``generator`` or the global generator."""
    if generator is None:
        perm = backend.random_permutation(n, "cpu")
    else:
        perm = generator.permutation(n)
    return backend.host_array(perm, dtype=backend.int64)


def _fetch(dataset: Any, index: Any) -> list:
    """One batch from ``dataset`` at ``index`` (a host int64 array or a slice)."""
    get_batch = getattr(dataset, "_get_batch", None)
    if get_batch is not None:
        return get_batch(index)
    if isinstance(index, slice):
        index = range(index.start, index.stop)
    return default_collate([dataset[int(i)] for i in index])


def _to_device(batch: Any, device: str) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


class DataLoader:
    """Iterate over a dataset in mini-batches.

    Args:
        dataset: a :class:`Dataset` (anything with ``len`` and ``[i]``).
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: a new random order every epoch (every ``iter(loader)``).
        drop_last: skip the last, smaller batch (so every batch has ``batch_size``).
        collate_fn: turns a list of samples into a batch (default :func:`default_collate`);
            not used on the :class:`TensorDataset` fast path.
        generator: where the shuffling order comes from: any object with
            ``permutation(n)`` (e.g. ``numpy.random.default_rng(0)``).
        seed: shorthand for a fresh generator seeded with ``seed``: two loaders built
            with the same seed give the same sequence of epochs. Without generator and
            seed the order comes from the library's generator (``tg.manual_seed``).
        device: move every batch there ('cpu' or 'cuda').

    >>> loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
    >>> len(loader)            # ceil(len(x) / 32), or floor with drop_last=True
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn: Callable[[list], Any] | None = None,
                 generator: Any = None, seed: int | None = None, device: Any = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got "
                             f"{batch_size!r}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must support len() and indexing, got "
                            f"{type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = _make_generator(generator, seed)
        self.device = backend.normalize_device(device) if device is not None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = _permutation(n, self.generator) if self.shuffle else None
        bs = self.batch_size
        for start in range(0, n, bs):
            stop = min(start + bs, n)
            if self.drop_last and stop - start < bs:
                break
            index = order[start:stop] if order is not None else slice(start, stop)
            if self.collate_fn is not None:
                idx = range(start, stop) if order is None else order[start:stop]
                batch = self.collate_fn([self.dataset[int(i)] for i in idx])
            else:
                batch = _fetch(self.dataset, index)
            yield _to_device(batch, self.device) if self.device is not None else batch

    def __repr__(self) -> str:
        return (f"DataLoader(dataset={type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, batches={len(self)})")


# ---------------------------------------------------------------- the shipped datasets
def _images(images: Any, flatten: bool, scale: float, limit: int | None,
            labels: Any, device: Any) -> TensorDataset:
    if limit is not None:
        if limit <= 0:
            raise ValueError(f"limit must be a positive number of samples, got {limit}")
        images, labels = images[:limit], labels[:limit]
    n, h, w = images.shape
    x = images.astype(backend.float32) / scale          # float32 stays float32
    x = x.reshape(n, h * w) if flatten else x.reshape(n, 1, h, w)
    return TensorDataset(Tensor(x, device=device),
                         Tensor(labels.astype(backend.int64), device=device))


def mnist_dataset(train: bool = True, flatten: bool = False, limit: int | None = None,
                  device: Any = None) -> TensorDataset:
    """MNIST as a :class:`TensorDataset` of float32 images in [0, 1] and int64 labels.

    Images are (N, 1, 28, 28) (a one-channel image, for a CNN) or, with
    ``flatten=True``, (N, 784) (for an MLP). N = 60000 (``train=True``) or 10000;
    ``limit`` keeps only the first ``limit`` samples.

    >>> ds = mnist_dataset(train=False, flatten=True)
    >>> x, y = ds[0]; x.shape, int(y)
    ((784,), 7)
    """
    images, labels = load_mnist("train" if train else "test")
    return _images(images, flatten, 255.0, limit, labels, device)


def fashion_mnist_dataset(flatten: bool = False, limit: int | None = None,
                          device: Any = None) -> TensorDataset:
    """Fashion-MNIST's 10000 test images as float32 in [0, 1] with int64 labels
    (only the test split ships with the repository)."""
    images, labels = load_fashion_mnist("test")
    return _images(images, flatten, 255.0, limit, labels, device)


def digits_dataset(flatten: bool = False, device: Any = None) -> TensorDataset:
    """The 1797 UCI 8x8 digits as float32 in [0, 1] (pixel counts 0..16 divided by 16),
    shaped (N, 1, 8, 8) or (N, 64), with int64 labels."""
    images, labels = load_digits()
    return _images(images, flatten, 16.0, None, labels, device)


def mnist1d_dataset(train: bool = True, device: Any = None) -> TensorDataset:
    """MNIST-1D: float32 signals of shape (N, 40) with int64 labels; N = 4000 or 1000."""
    d = load_mnist1d()
    x, y = (d["x"], d["y"]) if train else (d["x_test"], d["y_test"])
    return TensorDataset(Tensor(x.astype(backend.float32), device=device),
                         Tensor(y.astype(backend.int64), device=device))
