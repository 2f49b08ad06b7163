"""Tests for tinygrad_edu.data.datasets against published facts about the real datasets.

Expected values come from the dataset documentation (data/README.md and the original
publications), never from running the loaders.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu.data import datasets as ds

REPO_DATA = Path(__file__).resolve().parents[1] / "data"

# published MNIST train label counts for digits 0..9 (data/README.md)
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
# published MNIST test label counts for digits 0..9
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# UCI optdigits test-part class distribution (= sklearn load_digits)
DIGITS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


@pytest.fixture(autouse=True)
def _default_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the repo's data/ unless a test points TINYGRAD_EDU_DATA elsewhere."""
    monkeypatch.delenv(ds.ENV_VAR, raising=False)


# ---------------------------------------------------------------- data dir and checksums

def test_data_dir_is_repo_data() -> None:
    assert ds.data_dir() == REPO_DATA.resolve()
    assert (ds.data_dir() / "SHA256SUMS").is_file()


def test_data_dir_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ds.ENV_VAR, str(tmp_path))
    assert ds.data_dir() == tmp_path.resolve()


def test_data_dir_env_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    monkeypatch.setenv(ds.ENV_VAR, str(missing))
    with pytest.raises(FileNotFoundError, match="TINYGRAD_EDU_DATA"):
        ds.data_dir()


def test_every_shipped_file_matches_sha256sums() -> None:
    lines = (REPO_DATA / "SHA256SUMS").read_text().split("\n")
    entries = [ln.split() for ln in lines if ln.strip()]
    assert len(entries) == 13
    for digest, rel in entries:
        assert hashlib.sha256((REPO_DATA / rel).read_bytes()).hexdigest() == digest
        assert ds.verify(rel) == ds.data_dir() / rel


def test_published_hashes_in_sums() -> None:
    # the widely published sha256 values of the original files
    text = (REPO_DATA / "SHA256SUMS").read_text()
    assert ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  "
            "mnist/train-images-idx3-ubyte.gz") in text
    assert ("86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed  "
            "tinyshakespeare/input.txt") in text


def _make_corrupt_copy(tmp_path: Path, rel: str) -> Path:
    root = tmp_path / "data"
    (root / rel).parent.mkdir(parents=True)
    shutil.copy(REPO_DATA / "SHA256SUMS", root / "SHA256SUMS")
    raw = bytearray((REPO_DATA / rel).read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (root / rel).write_bytes(bytes(raw))
    return root


def test_checksum_mismatch_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rel = "mnist/train-labels-idx1-ubyte.gz"
    root = _make_corrupt_copy(tmp_path, rel)
    images = "mnist/train-images-idx3-ubyte.gz"  # intact; loaded (and verified) first
    shutil.copy(REPO_DATA / images, root / images)
    monkeypatch.setenv(ds.ENV_VAR, str(root))
    with pytest.raises(ValueError) as exc:
        ds.load_mnist("train")
    msg = str(exc.value)
    assert rel in msg
    assert "mismatch" in msg
    assert "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c" in msg
    actual = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    assert actual in msg


def test_checksum_mismatch_text_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rel = "tinyshakespeare/input.txt"
    root = _make_corrupt_copy(tmp_path, rel)
    monkeypatch.setenv(ds.ENV_VAR, str(root))
    with pytest.raises(ValueError, match=r"tinyshakespeare/input\.txt: sha256 mismatch"):
        ds.load_shakespeare()


def test_verify_recheck_after_modification(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rel = "sentiment_labelled_sentences/readme.txt"
    root = tmp_path / "data"
    (root / rel).parent.mkdir(parents=True)
    shutil.copy(REPO_DATA / "SHA256SUMS", root / "SHA256SUMS")
    shutil.copy(REPO_DATA / rel, root / rel)
    monkeypatch.setenv(ds.ENV_VAR, str(root))
    ds.verify(rel)
    ds.verify(rel)  # cached
    (root / rel).write_bytes((REPO_DATA / rel).read_bytes() + b"extra")
    with pytest.raises(ValueError, match="mismatch"):
        ds.verify(rel)


def test_verify_missing_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shutil.copy(REPO_DATA / "SHA256SUMS", tmp_path / "SHA256SUMS")
    monkeypatch.setenv(ds.ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="mnist/t10k-labels-idx1-ubyte.gz"):
        ds.verify("mnist/t10k-labels-idx1-ubyte.gz")


# ---------------------------------------------------------------- IDX parser

def test_load_idx_bad_magic(tmp_path: Path) -> None:
    import gzip

    p = tmp_path / "bad.gz"
    with gzip.open(p, "wb") as f:
        f.write(b"\x12\x34\x08\x01" + b"\x00" * 16)
    with pytest.raises(ValueError, match="magic"):
        ds.load_idx(p)


def test_load_idx_truncated(tmp_path: Path) -> None:
    p = tmp_path / "short.idx"
    # labels header says 5 items, only 3 bytes follow
    p.write_bytes(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"\x01\x02\x03")
    with pytest.raises(ValueError, match="bytes"):
        ds.load_idx(p)


def test_load_idx_handmade(tmp_path: Path) -> None:
    p = tmp_path / "tiny.idx"
    header = b"\x00\x00\x08\x02" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    p.write_bytes(header + bytes([1, 2, 3, 4, 5, 255]))
    arr = ds.load_idx(p)
    assert arr.dtype == np.uint8
    assert arr.tolist() == [[1, 2, 3], [4, 5, 255]]


# ---------------------------------------------------------------- MNIST / Fashion-MNIST

def test_mnist_train() -> None:
    x, y = ds.load_mnist("train")
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 255
    assert np.bincount(y, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert int(y[0]) == 5  # the famous first training digit is a 5


def test_mnist_test() -> None:
    x, y = ds.load_mnist(split="test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 255
    assert np.bincount(y, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert y[:5].tolist() == [7, 2, 1, 0, 4]


def test_mnist_default_is_train() -> None:
    x, _ = ds.load_mnist()
    assert len(x) == 60000


def test_mnist_bad_split() -> None:
    with pytest.raises(ValueError) as exc:
        ds.load_mnist("validation")
    msg = str(exc.value)
    assert "split" in msg and "'validation'" in msg and "'train'" in msg and "'test'" in msg


def test_fashion_mnist_test() -> None:
    x, y = ds.load_fashion_mnist("test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.int64
    assert np.bincount(y, minlength=10).tolist() == [1000] * 10  # balanced test set
    assert ds.FASHION_MNIST_CLASSES[9] == "Ankle boot"
    assert len(ds.load_fashion_mnist()[0]) == 10000


def test_fashion_mnist_train_unavailable() -> None:
    with pytest.raises(ValueError, match=r"split='train'.*only the test split"):
        ds.load_fashion_mnist("train")


def test_fashion_mnist_bad_split() -> None:
    with pytest.raises(ValueError, match="split"):
        ds.load_fashion_mnist("val")


# ---------------------------------------------------------------- digits / MNIST-1D

def test_digits() -> None:
    x, y = ds.load_digits()
    assert x.shape == (1797, 8, 8) and np.issubdtype(x.dtype, np.floating)
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 16
    assert np.all(x == np.round(x))
    assert np.bincount(y, minlength=10).tolist() == DIGITS_COUNTS


def test_mnist1d() -> None:
    d = ds.load_mnist1d()
    expected = {
        "x": ((4000, 40), np.float64),
        "y": ((4000,), np.int64),
        "x_test": ((1000, 40), np.float64),
        "y_test": ((1000,), np.int64),
        "t": ((40,), np.float64),
        "templates_x": ((10, 12), None),
        "templates_t": ((12,), None),
        "templates_y": ((10,), None),
    }
    assert set(d) == set(expected)
    for name, (shape, dtype) in expected.items():
        assert d[name].shape == shape, name
        if dtype is not None:
            assert d[name].dtype == dtype, name
    assert set(np.unique(d["y"]).tolist()) == set(range(10))
    assert sorted(d["templates_y"].tolist()) == list(range(10))


# ---------------------------------------------------------------- text datasets

def test_shakespeare() -> None:
    text = ds.load_shakespeare()
    assert isinstance(text, str)
    assert len(text) == 1115394
    chars = set(text)
    assert len(chars) == 65
    expected = set("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    assert chars == expected
    assert text.startswith("First Citizen:")


def test_sentiment_all() -> None:
    rows = ds.load_sentiment()
    assert len(rows) == 3000
    assert sum(label for _, label, _ in rows) == 1500
    for src in ("amazon_cells", "imdb", "yelp"):
        sub = [r for r in rows if r[2] == src]
        assert len(sub) == 1000
        assert sum(r[1] for r in sub) == 500
    for text, label, _ in rows:
        assert label in (0, 1)
        assert text == text.strip() and text
        assert "\t" not in text
    # order follows the files, sources in the order asked for
    assert [r[2] for r in rows[::1000]] == ["amazon_cells", "imdb", "yelp"]


def test_sentiment_one_source_first_line() -> None:
    rows = ds.load_sentiment(("yelp",))
    assert len(rows) == 1000
    # first line of yelp_labelled.txt
    assert rows[0] == ("Wow... Loved this place.", 1, "yelp")


def test_sentiment_imdb_trailing_spaces_stripped() -> None:
    rows = ds.load_sentiment(["imdb"])
    assert len(rows) == 1000
    assert all(not t.endswith(" ") for t, _, _ in rows)


def test_sentiment_bad_sources() -> None:
    with pytest.raises(ValueError) as exc:
        ds.load_sentiment(("amazon", "yelp"))
    msg = str(exc.value)
    assert "sources" in msg and "'amazon'" in msg and "'amazon_cells'" in msg
    with pytest.raises(ValueError, match="sources"):
        ds.load_sentiment("yelp")  # a bare string is almost certainly a mistake
    with pytest.raises(ValueError, match="sources"):
        ds.load_sentiment(())
