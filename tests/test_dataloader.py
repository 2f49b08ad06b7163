"""Datasets, DataLoader, random_split and the shipped-dataset helpers."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.data import (DataLoader, Dataset, Subset, TensorDataset, default_collate,
                               digits_dataset, load_mnist, mnist1d_dataset, mnist_dataset,
                               random_split)


def _ds(n: int = 10) -> TensorDataset:
    x = tg.tensor(np.arange(n * 2, dtype=np.float32).reshape(n, 2))
    y = tg.tensor(np.arange(n) % 3)
    return TensorDataset(x, y)


class Squares(Dataset):
    """A map-style dataset of Python numbers (the slow, per-item path)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __getitem__(self, i: int) -> tuple:
        return float(i), i * i

    def __len__(self) -> int:
        return self.n


def test_tensor_dataset_items_and_errors() -> None:
    ds = _ds(5)
    assert len(ds) == 5
    x, y = ds[3]
    np.testing.assert_array_equal(x.numpy(), [6.0, 7.0])
    assert y.item() == 0
    with pytest.raises(ValueError, match=r"tensors\[0\] has 5 samples .* tensors\[1\] has 4"):
        TensorDataset(tg.zeros(5, 2), tg.zeros(4))
    with pytest.raises(TypeError, match=r"tensors\[1\] is a list"):
        TensorDataset(tg.zeros(3), [1, 2, 3])
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()


def test_sequential_batches_cover_everything_in_order() -> None:
    loader = DataLoader(_ds(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]),
                                  np.arange(10) % 3)
    dropped = DataLoader(_ds(10), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [b[0].shape[0] for b in dropped] == [4, 4]


def test_shuffle_is_a_permutation_and_reproducible() -> None:
    ds = _ds(50)
    a = DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    b = DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    epoch_a1 = np.concatenate([x.numpy()[:, 0] for x, _ in a]) / 2
    epoch_a2 = np.concatenate([x.numpy()[:, 0] for x, _ in a]) / 2
    epoch_b1 = np.concatenate([x.numpy()[:, 0] for x, _ in b]) / 2
    assert sorted(epoch_a1.tolist()) == list(range(50))
    np.testing.assert_array_equal(epoch_a1, epoch_b1)            # same seed, same order
    assert not np.array_equal(epoch_a1, epoch_a2)                # a new order each epoch
    assert not np.array_equal(epoch_a1, np.arange(50))
    # labels travel with their inputs
    for x, y in a:
        np.testing.assert_array_equal((x.numpy()[:, 0] / 2).astype(np.int64) % 3, y.numpy())
    # an explicit generator, and the library's global seed, are reproducible too
    g1 = [x.numpy() for x, _ in DataLoader(ds, 8, shuffle=True,
                                           generator=np.random.default_rng(5))]
    g2 = [x.numpy() for x, _ in DataLoader(ds, 8, shuffle=True,
                                           generator=np.random.default_rng(5))]
    np.testing.assert_array_equal(np.concatenate(g1), np.concatenate(g2))
    tg.manual_seed(11)
    m1 = np.concatenate([x.numpy() for x, _ in DataLoader(ds, 8, shuffle=True)])
    tg.manual_seed(11)
    m2 = np.concatenate([x.numpy() for x, _ in DataLoader(ds, 8, shuffle=True)])
    np.testing.assert_array_equal(m1, m2)


def test_generic_dataset_uses_default_collate() -> None:
    batches = list(DataLoader(Squares(5), batch_size=2))
    assert len(batches) == 3
    xs, ys = batches[1]
    assert xs.dtype == tg.float64 and ys.dtype == tg.int64
    np.testing.assert_array_equal(xs.numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(ys.numpy(), [4, 9])
    shuffled = DataLoader(Squares(7), batch_size=3, shuffle=True, seed=0)
    got = sorted(np.concatenate([y.numpy() for _, y in shuffled]).tolist())
    assert got == [i * i for i in range(7)]


def test_default_collate_structures_and_errors() -> None:
    out = default_collate([(tg.ones(2), 0), (tg.zeros(2), 1)])
    np.testing.assert_array_equal(out[0].numpy(), [[1, 1], [0, 0]])
    np.testing.assert_array_equal(out[1].numpy(), [0, 1])
    d = default_collate([{"a": 1.5, "s": "x"}, {"a": 2.5, "s": "y"}])
    np.testing.assert_array_equal(d["a"].numpy(), [1.5, 2.5])
    assert d["s"] == ["x", "y"]
    with pytest.raises(RuntimeError, match=r"sample 1 is shape \(3,\) on 'cpu', but sample 0 "
                                           r"has shape \(2,\)"):
        default_collate([tg.ones(2), tg.ones(3)])
    with pytest.raises(TypeError, match="don't know how to batch samples of type object"):
        default_collate([object(), object()])


def test_custom_collate_fn() -> None:
    loader = DataLoader(Squares(4), batch_size=2, collate_fn=lambda s: [y for _, y in s])
    assert list(loader) == [[0, 1], [4, 9]]


def test_loader_errors() -> None:
    with pytest.raises(ValueError, match="batch_size should be a positive integer, got 0"):
        DataLoader(_ds(), batch_size=0)
    with pytest.raises(ValueError, match="batch_size should be a positive integer, got -2"):
        DataLoader(_ds(), batch_size=-2)
    with pytest.raises(TypeError, match="must support len"):
        DataLoader(5, batch_size=2)
    with pytest.raises(ValueError, match="either generator= or seed="):
        DataLoader(_ds(), 2, generator=np.random.default_rng(0), seed=1)
    with pytest.raises(TypeError, match="permutation"):
        DataLoader(_ds(), 2, generator=42)


def test_random_split_and_subset_fast_path() -> None:
    ds = _ds(10)
    a, b = random_split(ds, [7, 3], seed=0)
    assert isinstance(a, Subset) and len(a) == 7 and len(b) == 3
    assert sorted(list(a.indices) + list(b.indices)) == list(range(10))
    xs = np.concatenate([x.numpy() for x, _ in DataLoader(a, batch_size=3)])
    np.testing.assert_array_equal(xs[:, 0] / 2, a.indices)       # fast path keeps the order
    np.testing.assert_array_equal(a[1][0].numpy(), ds[a.indices[1]][0].numpy())
    c, d, e = random_split(ds, [0.5, 0.3, 0.2], seed=1)
    assert (len(c), len(d), len(e)) == (5, 3, 2)
    f, g = random_split(_ds(11), [0.5, 0.5], seed=1)               # leftover dealt round-robin
    assert (len(f), len(g)) == (6, 5)
    with pytest.raises(ValueError, match=r"lengths \[5, 4\] must be non-negative counts summing "
                                         r"to the dataset's length 10"):
        random_split(ds, [5, 4])


def test_device_argument_moves_batches(device: str) -> None:
    x, y = next(iter(DataLoader(_ds(4), batch_size=2, device=device)))
    assert x.device == device and y.device == device
    with pytest.raises(ValueError, match="expected 'cpu' or 'cuda'"):
        DataLoader(_ds(4), batch_size=2, device="tpu")


def test_mnist_dataset_shapes_scaling_and_labels() -> None:
    raw_x, raw_y = load_mnist("test")
    ds = mnist_dataset(train=False)
    assert len(ds) == 10000
    x, y = ds.tensors
    assert x.shape == (10000, 1, 28, 28) and x.dtype == tg.float32 and y.dtype == tg.int64
    np.testing.assert_array_equal(x.numpy()[5, 0], raw_x[5].astype(np.float32) / 255)
    np.testing.assert_array_equal(y.numpy(), raw_y)
    assert float(x.numpy().min()) == 0.0 and float(x.numpy().max()) == 1.0
    flat = mnist_dataset(train=False, flatten=True, limit=100)
    assert flat.tensors[0].shape == (100, 784) and len(flat) == 100
    np.testing.assert_array_equal(flat[0][0].numpy(), x.numpy()[0].reshape(784))
    with pytest.raises(ValueError, match="limit must be a positive number of samples, got 0"):
        mnist_dataset(train=False, limit=0)


def test_small_dataset_helpers() -> None:
    d = digits_dataset(flatten=True)
    assert d.tensors[0].shape == (1797, 64) and float(d.tensors[0].numpy().max()) == 1.0
    m = mnist1d_dataset(train=False)
    assert m.tensors[0].shape == (1000, 40) and m.tensors[1].dtype == tg.int64


def test_cuda_tensors_and_device_batches(fake_cuda) -> None:
    ds = TensorDataset(tg.tensor(np.arange(12.0).reshape(6, 2), device="cuda"),
                       tg.tensor(np.arange(6), device="cuda"))
    xs = [x for x, _ in DataLoader(ds, batch_size=4, shuffle=True, seed=0)]
    assert all(x.device == "cuda" for x in xs)
    got = np.concatenate([x.numpy() for x in xs])
    assert sorted(got[:, 0].tolist()) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    x, y = next(iter(DataLoader(_ds(4), batch_size=4, device="cuda")))
    assert x.device == "cuda" and y.device == "cuda"
    np.testing.assert_array_equal(x.numpy(), _ds(4).tensors[0].numpy())
